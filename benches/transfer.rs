//! Transfer benchmark (SPEC §7): one torrent over 127.0.0.1, bidtorrent against real clients,
//! every pair measured in the same run on the same machine, with the machine's bound (the
//! slower of SHA-1 hashing and loopback TCP) measured alongside.
//!
//!     cargo bench --bench transfer                       # 1 GiB, every pair
//!     BENCH_MIB=256 cargo bench --bench transfer          # smaller
//!     BENCH_PAIRS=bt-bt,aria2-aria2 cargo bench --bench transfer
//!     BENCH_TR_MIB=256                                    # payload for pairs with Transmission
//!
//! Throughput is payload bytes over the leecher's wall time from start to verified completion
//! (the seeder is up and verified before the clock starts). Peak RSS is sampled from
//! /proc/PID/status every 20 ms: `anon` is RssAnon (the heap; the page cache is not counted),
//! `rss` is VmRSS. Each leecher's download is deleted before the next run so the page cache
//! recycles its pages for every pair alike. CPU is user + system time from /proc/PID/stat over
//! the same window, per GiB moved, for the leecher and the seeder: encryption (RC4) costs CPU,
//! so the `-enc` rows (both ends requiring MSE/PE) are set beside the plaintext ones. The
//! `-utp` rows run uTP only (bidtorrent `--no-tcp`; libtorrent, from Debian's
//! python3-libtorrent, with TCP off).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");

struct Row {
    pair: String,
    mib: u64,
    secs: f64,
    leecher_anon: u64,
    leecher_rss: u64,
    seeder_anon: u64,
    /// CPU seconds (user + system) over the transfer.
    leecher_cpu: f64,
    seeder_cpu: f64,
}

/// Samples a process's peak RssAnon and VmRSS (KiB) until stopped.
struct RssProbe {
    stop: Arc<AtomicBool>,
    anon: Arc<AtomicU64>,
    rss: Arc<AtomicU64>,
    /// utime + stime in clock ticks: first and latest sample.
    cpu_first: Arc<AtomicU64>,
    cpu_last: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised name; utime and stime are the 14th and 15th overall.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl RssProbe {
    fn start(pid: u32) -> RssProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let anon = Arc::new(AtomicU64::new(0));
        let rss = Arc::new(AtomicU64::new(0));
        let first = cpu_ticks(pid).unwrap_or(0);
        let cpu_first = Arc::new(AtomicU64::new(first));
        let cpu_last = Arc::new(AtomicU64::new(first));
        let (s, a, r, c) = (stop.clone(), anon.clone(), rss.clone(), cpu_last.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(t) = cpu_ticks(pid) {
                    c.store(t, Ordering::Relaxed);
                }
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                    return;
                };
                for line in status.lines() {
                    let kib = |l: &str| {
                        l.split_whitespace()
                            .nth(1)
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    if line.starts_with("RssAnon:") {
                        a.fetch_max(kib(line), Ordering::Relaxed);
                    } else if line.starts_with("VmRSS:") {
                        r.fetch_max(kib(line), Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssProbe {
            stop,
            anon,
            rss,
            cpu_first,
            cpu_last,
            thread: Some(thread),
        }
    }

    /// (peak anon, peak rss) in KiB, and CPU seconds since the probe started.
    fn finish(mut self) -> (u64, u64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let ticks = self
            .cpu_last
            .load(Ordering::Relaxed)
            .saturating_sub(self.cpu_first.load(Ordering::Relaxed));
        (
            self.anon.load(Ordering::Relaxed),
            self.rss.load(Ordering::Relaxed),
            ticks as f64 / hz,
        )
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `mib` MiB of incompressible bytes (xorshift) to `path`.
fn write_big(path: &Path, mib: u64) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut f = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).expect("create payload"),
    );
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).expect("write payload");
    }
    f.flush().expect("flush");
}

struct BtProc {
    child: Child,
    port: u16,
}

impl Drop for BtProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a bidtorrent seeder and waits until it has verified its data.
fn bt_seed(torrent: &Path, dir: &Path, state: &Path, extra: &[&str]) -> BtProc {
    let mut child = Command::new(BIN)
        .args([
            "-q",
            "--data-dir",
            s(state),
            "seed",
            s(torrent),
            "--dir",
            s(dir),
        ])
        .args(["--listen", "127.0.0.1:0", "--json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn seeder");
    let mut out = child.stdout.take().expect("stdout");
    let mut text = String::new();
    let mut port = 0;
    let mut buf = [0u8; 4096];
    while !text.contains("\"seeding\"") {
        let n = out.read(&mut buf).expect("read seeder");
        assert!(n > 0, "seeder exited: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                && v["event"] == "listening"
            {
                port = v["port"].as_u64().unwrap_or(0) as u16;
            }
        }
    }
    // Keep draining stdout so the seeder never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        while matches!(out.read(&mut sink), Ok(n) if n > 0) {}
    });
    BtProc { child, port }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

struct Bench {
    root: PathBuf,
    torrent: PathBuf,
    src_dir: PathBuf,
    mib: u64,
    /// Kept alive for the whole set: every pair announces to it.
    _tracker: Opentracker,
}

impl Bench {
    fn fresh_dir(&self, name: &str) -> PathBuf {
        let d = self.root.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    fn check(&self, dl: &Path) {
        let a = std::fs::metadata(self.src_dir.join("payload.bin")).expect("src");
        let b = std::fs::metadata(dl.join("payload.bin")).expect("downloaded file");
        assert_eq!(a.len(), b.len(), "size differs");
        assert_same_tree(&self.src_dir.join("payload.bin"), &dl.join("payload.bin"));
    }

    fn bt_leech(&self, peer: Option<u16>, label: &str, seeder_pid: u32, extra: &[&str]) -> Row {
        let dl = self.fresh_dir("dl");
        let state = self.fresh_dir("state-dl");
        let mut cmd = Command::new(BIN);
        cmd.args([
            "-q",
            "--data-dir",
            s(&state),
            "download",
            s(&self.torrent),
            "--dir",
            s(&dl),
        ])
        // No DHT: a benchmark on loopback must not reach the public routers.
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tracker-interval",
            "2",
            "--no-dht",
        ]);
        if let Some(p) = peer {
            cmd.args(["--peer", &format!("127.0.0.1:{p}")]);
        }
        cmd.args(extra);
        let seeder_probe = RssProbe::start(seeder_pid);
        let t0 = Instant::now();
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn leecher");
        let probe = RssProbe::start(child.id());
        let status = child.wait().expect("wait leecher");
        let secs = t0.elapsed().as_secs_f64();
        let (anon, rss, cpu) = probe.finish();
        let (seed_anon, _, seed_cpu) = seeder_probe.finish();
        assert!(status.success(), "{label}: bidtorrent download failed");
        self.check(&dl);
        Row {
            pair: label.into(),
            mib: self.mib,
            secs,
            leecher_anon: anon,
            leecher_rss: rss,
            seeder_anon: seed_anon,
            leecher_cpu: cpu,
            seeder_cpu: seed_cpu,
        }
    }

    fn aria2_leech(
        &self,
        label: &str,
        seeder_pid: u32,
        extra: &[std::net::SocketAddr],
        args: &[String],
    ) -> Row {
        let dl = self.fresh_dir("dl");
        let seeder_probe = RssProbe::start(seeder_pid);
        let t0 = Instant::now();
        let leecher = Aria2::leech_with(&self.torrent, &dl, extra, args);
        let probe = RssProbe::start(leecher.pid());
        assert!(
            leecher.wait_complete(Duration::from_secs(1800)),
            "{label}: aria2 leecher did not finish\n{}",
            leecher.log_tail()
        );
        let secs = t0.elapsed().as_secs_f64();
        let (anon, rss, cpu) = probe.finish();
        let (seed_anon, _, seed_cpu) = seeder_probe.finish();
        self.check(&dl);
        Row {
            pair: label.into(),
            mib: self.mib,
            secs,
            leecher_anon: anon,
            leecher_rss: rss,
            seeder_anon: seed_anon,
            leecher_cpu: cpu,
            seeder_cpu: seed_cpu,
        }
    }
}

/// SHA-1 over 256 MiB in 1 MiB pieces, MiB/s.
fn sha1_bound() -> f64 {
    use sha1::{Digest, Sha1};
    let block = vec![0x5au8; 1 << 20];
    let t0 = Instant::now();
    for _ in 0..256 {
        std::hint::black_box(Sha1::digest(&block));
    }
    256.0 / t0.elapsed().as_secs_f64()
}

/// One TCP stream over 127.0.0.1 moving 2 GiB, MiB/s.
fn tcp_bound() -> f64 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let reader = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 18];
        let mut total = 0u64;
        while let Ok(n) = c.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    let block = vec![0u8; 1 << 18];
    let t0 = Instant::now();
    for _ in 0..(2048 * 4) {
        c.write_all(&block).expect("write");
    }
    drop(c);
    let total = reader.join().expect("reader");
    total as f64 / (1 << 20) as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing of ours. Only run
    // the (minutes-long) benchmark when asked through cargo bench.
    if !std::env::args().any(|a| a == "--bench") {
        println!("transfer benchmark: run it with `cargo bench --bench transfer`");
        return;
    }
    let mib = env_u64("BENCH_MIB", 1024);
    let tr_mib = env_u64("BENCH_TR_MIB", 256);
    let pairs: Vec<String> = std::env::var("BENCH_PAIRS")
        .unwrap_or_else(|_| {
            "bt-bt,bt-bt-enc,bt-bt-utp,aria2-aria2,aria2-aria2-enc,aria2-bt,aria2-bt-enc,bt-aria2,\
             lt-lt-utp,lt-bt-utp,tr-bt,bt-tr"
                .into()
        })
        .split(',')
        .map(|p| p.trim().to_string())
        .collect();
    let base = std::env::var("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::temp_dir().join(format!("bidtorrent-bench-{}", std::process::id()))
        });

    println!("machine bound: measuring SHA-1 and loopback TCP ...");
    let sha = sha1_bound();
    let tcp = tcp_bound();
    let bound = sha.min(tcp);
    println!("  SHA-1 {sha:.0} MiB/s, loopback TCP {tcp:.0} MiB/s -> bound {bound:.0} MiB/s\n");

    let mut rows = Vec::new();
    let run_set = |mib: u64, wanted: &[&str], rows: &mut Vec<Row>| {
        if !wanted.iter().any(|p| pairs.iter().any(|x| x == p)) {
            return;
        }
        let root = base.join(format!("{mib}m"));
        let _ = std::fs::remove_dir_all(&root);
        let tracker = Opentracker::start();
        let src_dir = root.join("seed");
        println!("preparing {mib} MiB payload ...");
        write_big(&src_dir.join("payload.bin"), mib);
        let torrent = root.join("payload.torrent");
        mktorrent(
            &src_dir.join("payload.bin"),
            &torrent,
            &tracker.http_url(),
            20,
        );
        tracker.whitelist(&info_hash(&torrent));
        let b = Bench {
            root: root.clone(),
            torrent,
            src_dir,
            mib,
            _tracker: tracker,
        };
        let want = |p: &str| wanted.contains(&p) && pairs.iter().any(|x| x == p);
        let seed_state = root.join("state-seed");
        if want("bt-bt") {
            let seeder = bt_seed(&b.torrent, &b.src_dir, &seed_state, &[]);
            rows.push(b.bt_leech(
                Some(seeder.port),
                "bidtorrent -> bidtorrent",
                seeder.child.id(),
                &[],
            ));
            print_row(rows.last().expect("row"), bound);
        }
        if want("bt-bt-enc") {
            let seeder = bt_seed(&b.torrent, &b.src_dir, &seed_state, ENC);
            rows.push(b.bt_leech(
                Some(seeder.port),
                "bidtorrent -> bidtorrent enc",
                seeder.child.id(),
                ENC,
            ));
            print_row(rows.last().expect("row"), bound);
        }
        if want("bt-bt-utp") {
            let seeder = bt_seed(&b.torrent, &b.src_dir, &seed_state, UTP);
            rows.push(b.bt_leech(
                Some(seeder.port),
                "bidtorrent -> bidtorrent uTP",
                seeder.child.id(),
                UTP,
            ));
            print_row(rows.last().expect("row"), bound);
        }
        if want("lt-lt-utp") || want("lt-bt-utp") {
            let seeder = LtPeer::start(&b.torrent, &b.src_dir, lt_utp(true, Vec::new()));
            assert!(
                seeder.wait_line("seeding", Duration::from_secs(600)),
                "libtorrent seeder\n{}",
                seeder.log_tail()
            );
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], seeder.port));
            if want("lt-lt-utp") {
                let dl = b.fresh_dir("dl");
                let seeder_probe = RssProbe::start(seeder.pid());
                let t0 = Instant::now();
                let leecher = LtPeer::start(&b.torrent, &dl, lt_utp(false, vec![addr]));
                let probe = RssProbe::start(leecher.pid());
                assert!(
                    leecher.wait_line("seeding", Duration::from_secs(1800)),
                    "libtorrent leecher\n{}",
                    leecher.log_tail()
                );
                let secs = t0.elapsed().as_secs_f64();
                let (anon, rss, cpu) = probe.finish();
                let (seed_anon, _, seed_cpu) = seeder_probe.finish();
                b.check(&dl);
                rows.push(Row {
                    pair: "libtorrent -> libtorrent uTP".into(),
                    mib,
                    secs,
                    leecher_anon: anon,
                    leecher_rss: rss,
                    seeder_anon: seed_anon,
                    leecher_cpu: cpu,
                    seeder_cpu: seed_cpu,
                });
                print_row(rows.last().expect("row"), bound);
            }
            if want("lt-bt-utp") {
                rows.push(b.bt_leech(
                    Some(seeder.port),
                    "libtorrent -> bidtorrent uTP",
                    seeder.pid(),
                    UTP,
                ));
                print_row(rows.last().expect("row"), bound);
            }
        }
        if want("aria2-aria2") || want("aria2-bt") {
            let seeder = Aria2::seed(&b.torrent, &b.src_dir);
            if want("aria2-aria2") {
                rows.push(b.aria2_leech("aria2 -> aria2", seeder.pid(), &[], &[]));
                print_row(rows.last().expect("row"), bound);
            }
            if want("aria2-bt") {
                rows.push(b.bt_leech(None, "aria2 -> bidtorrent", seeder.pid(), &[]));
                print_row(rows.last().expect("row"), bound);
            }
        }
        if want("aria2-aria2-enc") || want("aria2-bt-enc") {
            let seeder = Aria2::seed_with(&b.torrent, &b.src_dir, &aria2_enc());
            if want("aria2-aria2-enc") {
                rows.push(b.aria2_leech("aria2 -> aria2 enc", seeder.pid(), &[], &aria2_enc()));
                print_row(rows.last().expect("row"), bound);
            }
            if want("aria2-bt-enc") {
                rows.push(b.bt_leech(None, "aria2 -> bidtorrent enc", seeder.pid(), ENC));
                print_row(rows.last().expect("row"), bound);
            }
        }
        if want("bt-aria2") {
            let seeder = bt_seed(
                &b.torrent,
                &b.src_dir,
                &seed_state,
                &["--tracker-interval", "2"],
            );
            rows.push(b.aria2_leech("bidtorrent -> aria2", seeder.child.id(), &[], &[]));
            print_row(rows.last().expect("row"), bound);
        }
        if want("tr-bt") {
            let seeder = Transmission::seed(&b.torrent, &b.src_dir);
            assert!(
                seeder.wait_complete(Duration::from_secs(300)),
                "transmission verify"
            );
            rows.push(b.bt_leech(
                Some(seeder.port),
                "Transmission -> bidtorrent",
                seeder.pid(),
                &[],
            ));
            print_row(rows.last().expect("row"), bound);
        }
        if want("bt-tr") {
            // Transmission ignores loopback tracker peers, so our seeder dials it.
            let dl = b.fresh_dir("dl");
            let leecher = Transmission::leech(&b.torrent, &dl);
            let seeder = bt_seed(
                &b.torrent,
                &b.src_dir,
                &seed_state,
                &["--peer", &format!("127.0.0.1:{}", leecher.port)],
            );
            let seeder_probe = RssProbe::start(seeder.child.id());
            let probe = RssProbe::start(leecher.pid());
            let t0 = Instant::now();
            assert!(
                leecher.wait_complete(Duration::from_secs(1800)),
                "transmission leech"
            );
            let secs = t0.elapsed().as_secs_f64();
            let (anon, rss, cpu) = probe.finish();
            let (seed_anon, _, seed_cpu) = seeder_probe.finish();
            b.check(&dl);
            rows.push(Row {
                pair: "bidtorrent -> Transmission".into(),
                mib,
                secs,
                leecher_anon: anon,
                leecher_rss: rss,
                seeder_anon: seed_anon,
                leecher_cpu: cpu,
                seeder_cpu: seed_cpu,
            });
            print_row(rows.last().expect("row"), bound);
        }
        drop(b);
        let _ = std::fs::remove_dir_all(&root);
    };
    println!(
        "{:<30} {:>6} {:>8} {:>9} {:>8} {:>12} {:>11} {:>12} {:>13} {:>12}",
        "seeder -> leecher",
        "MiB",
        "secs",
        "MiB/s",
        "×bound",
        "leech anon",
        "leech rss",
        "seed anon",
        "leech cpu/GiB",
        "seed cpu/GiB"
    );
    // Only medians over several runs mean anything on a shared machine: the whole matrix runs
    // BENCH_RUNS times (interleaved, so a noisy minute hits every pair alike).
    let runs = env_u64("BENCH_RUNS", 3).max(1);
    for run in 1..=runs {
        println!("-- run {run} of {runs}");
        run_set(
            mib,
            &[
                "bt-bt",
                "bt-bt-enc",
                "bt-bt-utp",
                "lt-lt-utp",
                "lt-bt-utp",
                "aria2-aria2",
                "aria2-aria2-enc",
                "aria2-bt",
                "aria2-bt-enc",
                "bt-aria2",
            ],
            &mut rows,
        );
        run_set(tr_mib, &["tr-bt", "bt-tr"], &mut rows);
    }
    let _ = std::fs::remove_dir_all(&base);
    print_medians(&rows, bound);

    println!("\nsummary of the last run:");
    let rows: Vec<Row> = {
        // The last run's rows (a pair appears once per run).
        let mut last: Vec<Row> = Vec::new();
        for r in rows.into_iter().rev() {
            if !last.iter().any(|l| l.pair == r.pair) {
                last.push(r);
            }
        }
        last.reverse();
        last
    };
    let rate = |r: &Row| r.mib as f64 / r.secs;
    if let Some(bt) = rows.iter().find(|r| r.pair == "bidtorrent -> bidtorrent") {
        for r in rows.iter().filter(|r| r.pair != bt.pair && r.mib == bt.mib) {
            println!(
                "  bidtorrent pair / {:<28} {:.2}×",
                r.pair,
                rate(bt) / rate(r)
            );
        }
        println!(
            "  bidtorrent pair / machine bound           {:.2}× (target ≥ 0.5×)",
            rate(bt) / bound
        );
        println!(
            "  bidtorrent leecher peak anonymous RSS     {:.1} MiB (target < 32 MiB)",
            bt.leecher_anon as f64 / 1024.0
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One pair's medians over the runs.
struct Med {
    pair: String,
    runs: usize,
    mib_s: f64,
    leech_cpu: f64,
    seed_cpu: f64,
    leech_anon: f64,
    seed_anon: f64,
}

/// "A -> B suffix" as (A, B, suffix).
fn ends(pair: &str) -> (&str, &str, &str) {
    let (a, rest) = pair.split_once(" -> ").unwrap_or((pair, ""));
    let (b, sfx) = rest.split_once(' ').unwrap_or((rest, ""));
    (a, b, sfx)
}

/// Medians per pair (MiB/s over the whole process, CPU-s per GiB and peak anonymous RSS per
/// role), then bidtorrent against the best real client in each role, from those medians.
fn print_medians(rows: &[Row], bound: f64) {
    let mut pairs: Vec<&str> = Vec::new();
    for r in rows {
        if !pairs.contains(&r.pair.as_str()) {
            pairs.push(&r.pair);
        }
    }
    let meds: Vec<Med> = pairs
        .iter()
        .map(|p| {
            let of: Vec<&Row> = rows.iter().filter(|r| r.pair == *p).collect();
            let gib = |r: &Row| r.mib as f64 / 1024.0;
            Med {
                pair: p.to_string(),
                runs: of.len(),
                mib_s: median(of.iter().map(|r| r.mib as f64 / r.secs).collect()),
                leech_cpu: median(of.iter().map(|r| r.leecher_cpu / gib(r)).collect()),
                seed_cpu: median(of.iter().map(|r| r.seeder_cpu / gib(r)).collect()),
                leech_anon: median(of.iter().map(|r| r.leecher_anon as f64 / 1024.0).collect()),
                seed_anon: median(of.iter().map(|r| r.seeder_anon as f64 / 1024.0).collect()),
            }
        })
        .collect();
    println!("\nmedians over the runs:");
    println!(
        "{:<30} {:>4} {:>9} {:>8} {:>13} {:>12} {:>12} {:>12}",
        "seeder -> leecher",
        "runs",
        "MiB/s",
        "×bound",
        "leech cpu/GiB",
        "seed cpu/GiB",
        "leech anon",
        "seed anon"
    );
    for m in &meds {
        println!(
            "{:<30} {:>4} {:>9.1} {:>8.2} {:>11.2} s {:>10.2} s {:>8.1} MiB {:>8.1} MiB",
            m.pair,
            m.runs,
            m.mib_s,
            m.mib_s / bound,
            m.leech_cpu,
            m.seed_cpu,
            m.leech_anon,
            m.seed_anon
        );
    }
    const BT: &str = "bidtorrent";
    println!("\nbidtorrent / best real client in the same role (medians):");
    for m in &meds {
        let (a, b, sfx) = ends(&m.pair);
        // Which role bidtorrent plays here, and the real rows it is measured against.
        let (role, rivals): (&str, Vec<&Med>) = match (a == BT, b == BT) {
            (true, true) => (
                "pair",
                meds.iter()
                    .filter(|o| {
                        let (x, y, s) = ends(&o.pair);
                        x == y && x != BT && s == sfx
                    })
                    .collect(),
            ),
            (false, true) => (
                "leecher",
                meds.iter()
                    .filter(|o| {
                        let (x, y, s) = ends(&o.pair);
                        x == a && y != BT && s == sfx
                    })
                    .collect(),
            ),
            (true, false) => (
                "seeder",
                meds.iter()
                    .filter(|o| {
                        let (x, y, s) = ends(&o.pair);
                        y == b && x != BT && s == sfx
                    })
                    .collect(),
            ),
            (false, false) => continue,
        };
        let Some(best) = rivals.iter().max_by(|x, y| x.mib_s.total_cmp(&y.mib_s)) else {
            continue;
        };
        let cpu = |x: &Med| {
            if role == "seeder" {
                x.seed_cpu
            } else {
                x.leech_cpu
            }
        };
        println!(
            "  as {role:<8} {:<30} vs {:<28} {:.2}× MiB/s, {:.2}× CPU per GiB",
            m.pair,
            best.pair,
            m.mib_s / best.mib_s,
            cpu(m) / cpu(best)
        );
    }
}

fn print_row(r: &Row, bound: f64) {
    let rate = r.mib as f64 / r.secs;
    let gib = r.mib as f64 / 1024.0;
    println!(
        "{:<30} {:>6} {:>8.2} {:>9.1} {:>8.2} {:>9.1} MiB {:>7.1} MiB {:>8.1} MiB {:>11.2} s {:>10.2} s",
        r.pair,
        r.mib,
        r.secs,
        rate,
        rate / bound,
        r.leecher_anon as f64 / 1024.0,
        r.leecher_rss as f64 / 1024.0,
        r.seeder_anon as f64 / 1024.0,
        r.leecher_cpu / gib,
        r.seeder_cpu / gib
    );
}

/// Both bidtorrent ends on uTP only.
const UTP: &[&str] = &["--no-tcp"];

/// A libtorrent peer on uTP only (TCP off both ways), encryption as libtorrent defaults.
fn lt_utp(seed: bool, peers: Vec<std::net::SocketAddr>) -> LtOptions<'static> {
    LtOptions {
        iface: "127.0.0.1",
        seed,
        encryption: "enabled",
        tcp: false,
        utp: true,
        peers,
    }
}

/// Both bidtorrent ends require MSE/PE (RC4).
const ENC: &[&str] = &["--encryption", "require"];

/// aria2 requiring RC4, as in tests/encryption.rs.
fn aria2_enc() -> Vec<String> {
    vec![
        "--bt-require-crypto=true".into(),
        "--bt-min-crypto-level=arc4".into(),
    ]
}
