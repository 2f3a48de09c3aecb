//! uTP yields to TCP (BEP 29, LEDBAT): a uTP bulk flow and a TCP bulk flow through one real
//! bottleneck. Loopback has no queue, so the sender runs in a network namespace that reaches
//! us through a router namespace (veth pairs), whose link to us is shaped to 4 Mbit/s with a
//! 250 ms queue (`tc tbf`). The uTP flow starts alone and must fill the link; once TCP joins
//! and fills the queue (delay above LEDBAT's 100 ms target), TCP must get the large majority.
//!
//! Needs root and iproute2 (`ip netns`, `tc`): outside CI the test is skipped with a loud
//! message when they are missing; under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bidtorrent::engine::utp::UtpSocket;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bottleneck, bytes per second (4 Mbit/s). Slow on purpose: LEDBAT leaves TCP a queue
/// of 100 ms, which TCP's additive increase (a packet per round trip) has to outgrow once
/// its slow start is over; at 4 Mbit/s that is about 36 packets, a few seconds.
const RATE: f64 = 500_000.0;
/// When the sender starts its TCP flow, after the uTP one.
const TCP_JOINS: Duration = Duration::from_secs(4);
const ROLE_ENV: &str = "BIDTORRENT_UTP_YIELD_TARGET";

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces, the sender's and a router's, between the sender and us: sender ⇄ router
/// ⇄ host over veth pairs, the router forwarding and shaping what it sends us. (Shaping the
/// sender's own interface would not do: the kernel keeps a local TCP socket from filling its
/// own qdisc (TCP small queues), so TCP would never build the queue a real bottleneck has.)
/// Removed, with the pairs and our route, on drop.
struct Bottleneck {
    sender_ns: String,
    router_ns: String,
    /// Our address, and the sender's.
    host_ip: String,
    sender_ip: String,
    route: String,
}

impl Bottleneck {
    fn create() -> Result<Bottleneck, String> {
        let id = std::process::id();
        let (sender_ns, router_ns) = (format!("btys{id}"), format!("btyr{id}"));
        // Two private /30s per process, so parallel runs do not collide.
        let (a, base) = ((id >> 5) & 0xff, (id & 0x1f) * 8);
        let ip = |n: u32| format!("10.251.{a}.{}", base + n);
        let (sender_ip, host_ip) = (ip(1), ip(6));
        let route = format!("{}/30", ip(0));
        let (vs, vrs, vrh, vh) = (
            format!("bys{id}"),
            format!("byrs{id}"),
            format!("byrh{id}"),
            format!("byh{id}"),
        );
        sh(&["ip", "netns", "add", &sender_ns])?;
        let mut bn = Bottleneck {
            sender_ns: sender_ns.clone(),
            router_ns: String::new(),
            host_ip: host_ip.clone(),
            sender_ip: sender_ip.clone(),
            route: String::new(),
        };
        sh(&["ip", "netns", "add", &router_ns])?;
        bn.router_ns = router_ns.clone();
        let at = |ns: &str, args: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", ns];
            v.extend_from_slice(args);
            sh(&v)
        };
        sh(&[
            "ip", "link", "add", &vs, "netns", &sender_ns, "type", "veth", "peer", "name", &vrs,
            "netns", &router_ns,
        ])?;
        sh(&[
            "ip", "link", "add", &vh, "type", "veth", "peer", "name", &vrh, "netns", &router_ns,
        ])?;
        at(
            &sender_ns,
            &["ip", "addr", "add", &format!("{sender_ip}/30"), "dev", &vs],
        )?;
        at(&sender_ns, &["ip", "link", "set", &vs, "up"])?;
        at(&sender_ns, &["ip", "link", "set", "lo", "up"])?;
        at(
            &sender_ns,
            &["ip", "route", "add", "default", "via", &ip(2)],
        )?;
        at(
            &router_ns,
            &["ip", "addr", "add", &format!("{}/30", ip(2)), "dev", &vrs],
        )?;
        at(
            &router_ns,
            &["ip", "addr", "add", &format!("{}/30", ip(5)), "dev", &vrh],
        )?;
        at(&router_ns, &["ip", "link", "set", &vrs, "up"])?;
        at(&router_ns, &["ip", "link", "set", &vrh, "up"])?;
        at(&router_ns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        // The bottleneck: what the router sends us, 4 Mbit/s with a queue of up to 250 ms.
        at(
            &router_ns,
            &[
                "tc", "qdisc", "add", "dev", &vrh, "root", "tbf", "rate", "4mbit", "burst", "32kb",
                "latency", "250ms",
            ],
        )?;
        sh(&["ip", "addr", "add", &format!("{host_ip}/30"), "dev", &vh])?;
        sh(&["ip", "link", "set", &vh, "up"])?;
        sh(&["ip", "route", "add", &route, "via", &ip(5), "dev", &vh])?;
        bn.route = route;
        Ok(bn)
    }
}

impl Drop for Bottleneck {
    fn drop(&mut self) {
        if !self.route.is_empty() {
            let _ = sh(&["ip", "route", "del", &self.route]);
        }
        // Deleting a namespace deletes its veth ends, and with them their peers.
        for ns in [&self.sender_ns, &self.router_ns] {
            if !ns.is_empty() {
                let _ = sh(&["ip", "netns", "del", ns]);
            }
        }
    }
}

/// The sender, run by the test in the namespace: uTP at once, TCP after [`TCP_JOINS`], both
/// writing as fast as they are let until the process is killed.
#[test]
#[ignore = "run by utp_yields_to_tcp inside its network namespace"]
fn utp_yield_sender() {
    let target: SocketAddr = std::env::var(ROLE_ENV).unwrap().parse().unwrap();
    let local: SocketAddr = std::env::var("BIDTORRENT_UTP_YIELD_LOCAL")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let sock = UtpSocket::bind(local).await.unwrap();
        let mut utp = sock.connect(target).await.unwrap();
        let chunk = vec![0x5au8; 64 * 1024];
        let utp_flow = async {
            let mut last = Instant::now();
            loop {
                if utp.write_all(&chunk).await.is_err() {
                    return;
                }
                if last.elapsed() > Duration::from_secs(1) {
                    last = Instant::now();
                    let (cwnd, delay) = utp.congestion();
                    eprintln!("uTP sender: window {cwnd} B, queuing delay {delay:?}");
                }
            }
        };
        let tcp_flow = async {
            tokio::time::sleep(TCP_JOINS).await;
            let mut tcp = tokio::net::TcpStream::connect(target).await.unwrap();
            loop {
                if tcp.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        };
        tokio::join!(utp_flow, tcp_flow);
    });
}

/// Kills the sender on drop.
struct Sender(std::process::Child);

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn drain<R: tokio::io::AsyncRead + Unpin>(mut r: R, count: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            return;
        }
        count.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utp_yields_to_tcp() {
    let bn = match Bottleneck::create() {
        Ok(b) => b,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("a network namespace with a shaped veth is needed (root, iproute2): {e}");
            }
            eprintln!(
                "\n*** SKIPPED utp_yields_to_tcp: cannot build the bottleneck (needs root and \
                 iproute2): {e} ***\n"
            );
            return;
        }
    };
    let listen: SocketAddr = format!("{}:0", bn.host_ip).parse().unwrap();
    let tcp = tokio::net::TcpListener::bind(listen).await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let utp = UtpSocket::bind(addr).await.unwrap();

    let exe = std::env::current_exe().unwrap();
    let _sender = Sender(
        Command::new("ip")
            .args(["netns", "exec", &bn.sender_ns])
            .arg(&exe)
            .args(["--ignored", "--exact", "utp_yield_sender", "--nocapture"])
            .env(ROLE_ENV, addr.to_string())
            .env("BIDTORRENT_UTP_YIELD_LOCAL", format!("{}:0", bn.sender_ip))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let utp_bytes = Arc::new(AtomicU64::new(0));
    let tcp_bytes = Arc::new(AtomicU64::new(0));
    let s = tokio::time::timeout(Duration::from_secs(10), utp.accept())
        .await
        .expect("the sender's uTP connection")
        .unwrap();
    let t0 = Instant::now();
    tokio::spawn(drain(s, utp_bytes.clone()));
    let tb = tcp_bytes.clone();
    tokio::spawn(async move {
        if let Ok((s, _)) = tcp.accept().await {
            drain(s, tb).await;
        }
    });
    let at = |secs: f64| t0 + Duration::from_secs_f64(secs);
    let snap = || {
        (
            utp_bytes.load(Ordering::Relaxed),
            tcp_bytes.load(Ordering::Relaxed),
        )
    };
    // uTP alone, after a second to grow its window.
    tokio::time::sleep_until(at(1.5).into()).await;
    let a0 = snap();
    tokio::time::sleep_until(at(3.5).into()).await;
    let a1 = snap();
    // Both, after TCP had a few seconds to fill the queue.
    tokio::time::sleep_until(at(TCP_JOINS.as_secs_f64() + 3.0).into()).await;
    let b0 = snap();
    tokio::time::sleep_until(at(TCP_JOINS.as_secs_f64() + 7.0).into()).await;
    let b1 = snap();

    let alone = (a1.0 - a0.0) as f64 / 2.0;
    let (u, t) = ((b1.0 - b0.0) as f64, (b1.1 - b0.1) as f64);
    let tcp_share = t / (u + t).max(1.0);
    eprintln!(
        "uTP alone: {:.0} KB/s ({:.0}% of the link); both: TCP {:.0} KB/s, uTP {:.0} KB/s, \
         TCP's share {:.0}%",
        alone / 1000.0,
        100.0 * alone / RATE,
        t / 4000.0,
        u / 4000.0,
        100.0 * tcp_share
    );
    assert!(
        alone > 0.7 * RATE,
        "uTP alone used {:.0}% of the link",
        100.0 * alone / RATE
    );
    assert!(
        (u + t) / 4.0 > 0.7 * RATE,
        "the two flows together used {:.0}% of the link",
        100.0 * (u + t) / 4.0 / RATE
    );
    assert!(
        tcp_share > 0.8,
        "uTP did not yield: TCP got {:.0}% of the bottleneck",
        100.0 * tcp_share
    );
}
