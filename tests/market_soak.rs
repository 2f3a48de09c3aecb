//! The soak test of issue 11: a real `ledger serve` and three real daemons with the market
//! on, channels that expire after 20 s and go idle after 4 s, repeated downloads for about
//! a minute and a half while the ledger and the daemons are killed -9 at random moments
//! (seeded; the seed is printed, `BIDTORRENT_SOAK_SEED=N` replays it) and restarted. One
//! daemon sells every torrent, two buy each of them. At the end, with the daemons still
//! running: every seller's earnings are redeemed, no funds sit in any channel, Σ paid =
//! Σ earned = Σ redeemed, minted = balances + escrowed, and each buyer holds minted − paid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine_util::daemon::Daemon;
use engine_util::ledger::{Ledger, market_config, wallet_address};
use engine_util::*;
use serde_json::Value;

/// How long torrents are added and processes killed.
const CHAOS: Duration = Duration::from_secs(90);
/// How long the books may take to settle after the last kill.
const SETTLE: Duration = Duration::from_secs(60);
const MINT: u64 = 20_000_000;
/// The daemons log at debug level, so a stall's report shows what the peers did.
const LOG: &str = "[log]\nlevel = \"debug\"\n";

/// xorshift64*, seeded: the kills reproduce from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A daemon on a fixed peer port, so its peers find it again after a restart.
struct Node {
    name: &'static str,
    dir: PathBuf,
    port: u16,
    daemon: Option<Daemon>,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Node {
    fn start(name: &'static str, root: &Path, config: &str) -> Node {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("config.toml"), config).expect("config");
        let mut n = Node {
            name,
            dir,
            port: free_port(),
            daemon: None,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let (data, socket, config) = (
            self.dir.join("state"),
            self.dir.join("run").join("ctl.sock"),
            self.dir.join("config.toml"),
        );
        let _ = std::fs::remove_file(&socket);
        let child = Command::new(BIN)
            .args(["--data-dir", s(&data), "--socket", s(&socket)])
            .args(["--config", s(&config), "daemon", "--no-dht", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .env_remove("BIDTORRENT_LEDGER")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn daemon");
        let mut d = Daemon {
            child,
            data,
            socket,
            config,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&d.socket).is_err() {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!("{}: daemon exited early: {st}", self.name);
            }
            assert!(Instant::now() < deadline, "{}: daemon not up", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
        let st = d.json(&["status", "--json"]);
        assert_eq!(st["market"], "on", "{}: {st}", self.name);
        self.daemon = Some(d);
    }

    fn d(&self) -> &Daemon {
        self.daemon.as_ref().expect("running")
    }

    fn kill9(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wallet(&self) -> Value {
        self.d().json(&["wallet", "show", "--json"])
    }

    /// Whether the torrent named `name` is complete here.
    fn seeding(&self, name: &str) -> bool {
        let out = self.d().cli(&["ls", "--json"]);
        if !out.status.success() {
            return false;
        }
        let ls: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        ls.iter()
            .any(|t| t["name"] == name && t["phase"] == "seeding")
    }
}

/// On a stalled download: what each node sees of the torrent (its `ls` line, its peers, its
/// market columns) and the tail of each daemon's log.
fn stall_report(nodes: &[Node], name: &str) {
    for n in nodes {
        println!("==== {} (peer port {}) ====", n.name, n.port);
        let Some(d) = n.daemon.as_ref() else {
            println!("(not running)");
            continue;
        };
        let out = d.cli(&["ls", "--json"]);
        let ls: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        match ls.iter().find(|t| t["name"] == name) {
            Some(t) => {
                println!("ls: {t}");
                let id = t["id"].to_string();
                for args in [&["peers", &id, "--json"][..], &["peers", &id][..]] {
                    let out = d.cli(args);
                    println!(
                        "{args:?}: {}{}",
                        String::from_utf8_lossy(&out.stdout).trim(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
            None => println!("{name} not in ls: {}", String::from_utf8_lossy(&out.stdout)),
        }
        let log = std::fs::read_to_string(d.data.join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        println!("-- last 80 of {} log lines --", lines.len());
        for l in &lines[lines.len().saturating_sub(80)..] {
            println!("{l}");
        }
    }
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn money_survives_weeks_compressed_into_minutes_of_kill_9() {
    let seed = std::env::var("BIDTORRENT_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("soak seed {seed} (BIDTORRENT_SOAK_SEED={seed} replays the kills)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::start(&tmp.path().join("ledger"), "127.0.0.1:0", 10);
    let lifecycle = "redeem_interval_secs = 2\nredeem_threshold = \"0.05\"\n\
                     channel_secs = 20\nchannel_idle_secs = 4\nchannel_cap = \"0.3\"\n";
    let seller_cfg = format!(
        "{LOG}[limits]\nupload = \"2M\"\n{}",
        market_config(
            &ledger.addr,
            &format!(
                "{lifecycle}[market.buyer]\nstrategy = \"off\"\n\
                 [market.seller]\nstrategy = \"highest-bid\"\nnon_market_share = 0.1\n"
            )
        )
    );
    // Buyers upload at the seller's rate too: unlimited, they fed each other a whole file over
    // loopback before any bid was settled, and a run could end with nothing paid at all.
    let buyer_cfg = format!("{LOG}[limits]\nupload = \"2M\"\n")
        + &market_config(
            &ledger.addr,
            &format!(
                "{lifecycle}[market.buyer]\nstrategy = \"fixed\"\nprice = \"0.05\"\n\
             [market.seller]\nstrategy = \"tit-for-tat\"\n"
            ),
        );
    for n in ["seller", "buyer1", "buyer2"] {
        let key = wallet_address(&tmp.path().join(n));
        if n != "seller" {
            ledger.mint(&key, "20");
        }
    }
    let mut nodes = [
        Node::start("seller", tmp.path(), &seller_cfg),
        Node::start("buyer1", tmp.path(), &buyer_cfg),
        Node::start("buyer2", tmp.path(), &buyer_cfg),
    ];

    let start = Instant::now();
    let mut next_kill = start + Duration::from_secs(3 + rng.below(8));
    let mut kills: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut round = 0;
    while start.elapsed() < CHAOS {
        round += 1;
        let name = format!("soak{round}.bin");
        let t = make_torrent(
            &tmp.path().join(format!("t{round}")),
            &name,
            &[(&name, (1 << 20) + (rng.below(4) as usize) * (256 << 10))],
            65536,
        );
        let src = tmp.path().join(format!("t{round}")).join("src");
        nodes[0]
            .d()
            .json(&["add", s(&t), "--dir", s(&src), "--json"]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nodes[0].seeding(&name) {
            assert!(Instant::now() < deadline, "the seller did not check {name}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let peer = nodes[0].addr();
        for b in &nodes[1..] {
            let dl = b.dir.join("dl");
            b.d()
                .json(&["add", s(&t), "--dir", s(&dl), "--peer", &peer, "--json"]);
        }
        names.push(name.clone());
        // Wait for both buyers, killing something now and then.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if Instant::now() >= next_kill && start.elapsed() < CHAOS {
                let who = rng.below(4) as usize;
                if who == 3 {
                    ledger.crash_and_restart();
                    kills.push(format!("{:.1}s ledger", start.elapsed().as_secs_f64()));
                } else {
                    nodes[who].kill9();
                    // Sometimes it stays down a moment; the ledger keeps running.
                    std::thread::sleep(Duration::from_millis(rng.below(1500)));
                    nodes[who].spawn();
                    kills.push(format!(
                        "{:.1}s {}",
                        start.elapsed().as_secs_f64(),
                        nodes[who].name
                    ));
                }
                next_kill = Instant::now() + Duration::from_secs(4 + rng.below(9));
            }
            if nodes[1..].iter().all(|b| b.seeding(&name)) {
                break;
            }
            if Instant::now() >= deadline {
                stall_report(&nodes, &name);
                // Keep the daemons' logs and state for a post-mortem.
                let kept = tmp.keep();
                panic!(
                    "{name} not downloaded by both buyers (kills: {kills:?}); dirs kept in {}",
                    kept.display()
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    println!(
        "{round} downloads by two buyers in {:.0} s; kill -9 at {kills:?}",
        start.elapsed().as_secs_f64()
    );
    // Every download is whole.
    for name in &names {
        let round: usize = name
            .trim_start_matches("soak")
            .trim_end_matches(".bin")
            .parse()
            .expect("round");
        let src = tmp.path().join(format!("t{round}")).join("src").join(name);
        for b in &nodes[1..] {
            assert_same_tree(&src, &b.dir.join("dl").join(name));
        }
    }

    // The books settle with every process running and nothing killed any more.
    let settle_start = Instant::now();
    let (wallets, audit) = loop {
        let wallets: Vec<Value> = nodes.iter().map(|n| n.wallet()).collect();
        let audit = ledger.audit();
        let all_closed = wallets[1..].iter().all(|w| {
            w["outgoing"]
                .as_array()
                .is_some_and(|a| a.iter().all(|c| c["state"] == "closed"))
        });
        let done =
            num(&wallets[0], "unredeemed") == 0 && all_closed && num(&audit, "escrowed") == 0;
        if done {
            break (wallets, audit);
        }
        assert!(
            settle_start.elapsed() < SETTLE,
            "not settled after {SETTLE:?}: seller {}, audit {audit}",
            wallets[0]
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let paid: u64 = wallets[1..].iter().map(|w| num(w, "paid")).sum();
    let earned = num(&wallets[0], "earned");
    let redeemed = num(&wallets[0], "redeemed");
    let channels: usize = wallets[1..]
        .iter()
        .map(|w| w["outgoing"].as_array().map_or(0, |a| a.len()))
        .sum();
    println!(
        "settled in {:.1} s: Σ paid {paid} µ, Σ earned {earned} µ, Σ redeemed {redeemed} µ over \
         {channels} channels; ledger minted {}, balances {}, escrowed {}; buyers hold {} and {}",
        settle_start.elapsed().as_secs_f64(),
        num(&audit, "minted"),
        num(&audit, "balances"),
        num(&audit, "escrowed"),
        num(&wallets[1], "available"),
        num(&wallets[2], "available"),
    );
    assert!(paid > 0, "nobody paid anything");
    assert_eq!(paid, earned, "Σ paid != Σ earned");
    assert_eq!(earned, redeemed, "Σ earned != Σ redeemed");
    assert_eq!(num(&wallets[0], "available"), redeemed);
    assert_eq!(audit["consistent"], true, "{audit}");
    assert_eq!(num(&audit, "minted"), 2 * MINT);
    assert_eq!(
        num(&audit, "minted"),
        num(&audit, "balances") + num(&audit, "escrowed")
    );
    for w in &wallets[1..] {
        assert_eq!(
            num(w, "available"),
            MINT - num(w, "paid"),
            "a buyer's balance is not minted − paid: {w}"
        );
        assert_eq!(num(w, "escrowed"), 0);
    }
}
