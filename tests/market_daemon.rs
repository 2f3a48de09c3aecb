//! The market through the daemon and the CLI, with the real binary: a real `ledger serve`,
//! two daemons with `[market] enabled = true` (a rate-limited seeder and a leecher bidding
//! with `add --strategy fixed --param price=…`), strategies read and changed while running,
//! tokens paid = tokens earned read through `wallet --json`, strategies surviving a restart,
//! and a daemon whose ledger is down still serving plain BitTorrent and saying why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use engine_util::daemon::{Daemon, stderr};
use engine_util::*;
use serde_json::Value;

struct Ledger {
    child: Child,
    addr: SocketAddr,
    db: PathBuf,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_ledger(db: &Path) -> Ledger {
    let mut child = Command::new(BIN)
        .args([
            "ledger",
            "serve",
            "--json",
            "--listen",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ledger");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ledger line");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let addr: SocketAddr = v["addr"].as_str().expect("addr").parse().expect("addr");
    let t = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(t.elapsed() < Duration::from_secs(5), "ledger not listening");
        std::thread::sleep(Duration::from_millis(5));
    }
    Ledger {
        child,
        addr,
        db: db.to_path_buf(),
    }
}

/// The wallet's public key, created now (before its daemon takes the wallet's lock).
fn wallet_address(dir: &Path) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.join("state"))
        .args(["wallet", "address", "--json"])
        .env_remove("BIDTORRENT_LEDGER")
        .output()
        .expect("wallet address");
    assert!(out.status.success(), "wallet address: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["public_key"].as_str().expect("key").to_string()
}

fn mint(l: &Ledger, account: &str, tokens: &str) {
    let out = Command::new(BIN)
        .args(["ledger", "mint", "--json", "--ledger", &l.addr.to_string()])
        .arg("--db")
        .arg(&l.db)
        .args([account, tokens])
        .output()
        .expect("mint");
    assert!(out.status.success(), "mint: {}", stderr(&out));
}

fn market_config(ledger: &str, extra: &str) -> String {
    format!("[market]\nenabled = true\nledger = \"{ledger}\"\n{extra}")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn strategies_and_payments_through_the_daemon() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ledger = start_ledger(&tmp.path().join("ledger"));
    let laddr = ledger.addr.to_string();
    let (sdir, ldir) = (tmp.path().join("seeder"), tmp.path().join("leecher"));
    let _seller_key = wallet_address(&sdir);
    let buyer_key = wallet_address(&ldir);
    mint(&ledger, &buyer_key, "50");
    let torrent = make_torrent(
        tmp.path(),
        "payload.bin",
        &[("payload.bin", 3 << 20)],
        65536,
    );

    // The seeder's upload is the bottleneck.
    let seeder = Daemon::start(
        &sdir,
        Some(&format!(
            "[limits]\nupload = \"384K\"\n{}",
            market_config(&laddr, "[market.seller]\nnon_market_share = 0.1\n")
        )),
    );
    let st = seeder.json(&["status", "--json"]);
    assert_eq!(st["market"], "on", "{st}");
    seeder.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&tmp.path().join("src")),
        "--json",
    ]);
    seeder.wait_seeding(Duration::from_secs(20));
    let peer = format!("127.0.0.1:{}", seeder.port());

    // The leecher bids on this torrent only; globally it does not.
    let mut leecher = Daemon::start(
        &ldir,
        Some(&market_config(
            &laddr,
            "[market.buyer]\nstrategy = \"off\"\n",
        )),
    );
    let added = leecher.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&ldir.join("dl")),
        "--peer",
        &peer,
        "--strategy",
        "fixed",
        "--param",
        "price=0.2",
        "--json",
    ]);
    assert_eq!(added["results"][0]["ok"], true, "{added}");
    let mine = leecher.json(&["strategy", "1", "--json"]);
    assert_eq!(mine["scope"], "1");
    assert_eq!(mine["buyer"]["strategy"], "fixed", "{mine}");
    assert_eq!(mine["buyer"]["price"], "0.200000", "{mine}");
    let global = leecher.json(&["strategy", "--json"]);
    assert_eq!(global["buyer"]["strategy"], "off", "{global}");

    // Switch the seller while it runs: shows in `strategy` and in the market report.
    let set = seeder.json(&["strategy", "1", "proportional", "--json"]);
    assert_eq!(set["seller"]["strategy"], "proportional", "{set}");
    let shown = seeder.json(&["strategy", "1", "--json"]);
    assert_eq!(shown["seller"]["strategy"], "proportional", "{shown}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = seeder.json(&["info", "1", "--json"]);
        if info["market_report"]["seller_strategy"] == "proportional" {
            break;
        }
        assert!(Instant::now() < deadline, "report: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Mistakes name what is wrong and change nothing.
    let bad = seeder.cli(&["strategy", "1", "foo"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown strategy \"foo\""),
        "{}",
        stderr(&bad)
    );
    let bad = seeder.cli(&["strategy", "--param", "price=abc"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("price"), "{}", stderr(&bad));
    let bad = leecher.cli(&["add", s(&torrent), "--strategy", "fast"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("\"fast\""), "{}", stderr(&bad));

    leecher.wait_seeding(Duration::from_secs(40));
    let ls = leecher.json(&["ls", "--json"]);
    assert!(ls[0]["market"].is_object(), "{ls}");
    let human = leecher.cli(&["ls"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("ROLE"));

    // Settlement in band: the two daemons stay connected after the leecher completes until
    // the last vouchers are acknowledged, so every token the buyer signed over is a token the
    // seller holds.
    // Local figures: `--offline`, so a slow ledger fetch on a loaded machine cannot fail it.
    let totals = || {
        let b = leecher.json(&["wallet", "show", "--offline", "--json"]);
        let s = seeder.json(&["wallet", "show", "--offline", "--json"]);
        (
            b["paid"].as_u64().expect("paid"),
            s["earned"].as_u64().expect("earned"),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(25);
    let (mut paid, mut earned) = totals();
    while paid != earned && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        (paid, earned) = totals();
    }
    assert!(paid > 0, "the leecher paid nothing");
    assert_eq!(
        paid, earned,
        "in band: paid by the buyer != earned by the seller"
    );
    // The out-of-band route (`wallet payments` → `wallet accept`) for a seller that left for
    // good finds nothing more to count.
    let payments = leecher.cli(&["wallet", "payments"]);
    assert!(payments.status.success(), "{}", stderr(&payments));
    let accepted = seeder.cli_input(&["wallet", "accept", "-"], &payments.stdout);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert_eq!(totals(), (paid, earned), "a voucher was counted twice");
    let info = seeder.json(&["info", "1", "--json"]);
    assert_eq!(info["market_report"]["seller_strategy"], "proportional");

    // Per-torrent and global choices survive a restart.
    let g = leecher.json(&["strategy", "budget", "--param", "budget=2", "--json"]);
    assert_eq!(g["scope"], "global");
    assert_eq!(g["buyer"]["strategy"], "budget", "{g}");
    leecher.terminate();
    let (data, socket, config) = (
        leecher.data.clone(),
        leecher.socket.clone(),
        leecher.config.clone(),
    );
    drop(leecher);
    let leecher = Daemon::spawn(data, socket, config);
    let mine = leecher.json(&["strategy", "1", "--json"]);
    assert_eq!(mine["buyer"]["strategy"], "fixed", "{mine}");
    assert_eq!(mine["buyer"]["price"], "0.200000", "{mine}");
    let g = leecher.json(&["strategy", "--json"]);
    assert_eq!(g["buyer"]["strategy"], "budget", "{g}");
    assert_eq!(g["buyer"]["budget"], "2.000000", "{g}");
}

#[test]
fn ledger_down_means_plain_bittorrent_and_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let torrent = make_torrent(tmp.path(), "plain.bin", &[("plain.bin", 1 << 20)], 65536);
    let seeder = Daemon::start(&tmp.path().join("seeder"), Some(""));
    seeder.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&tmp.path().join("src")),
        "--json",
    ]);
    seeder.wait_seeding(Duration::from_secs(20));
    let peer = format!("127.0.0.1:{}", seeder.port());

    let down = format!("127.0.0.1:{}", closed_port());
    let ldir = tmp.path().join("leecher");
    let leecher = Daemon::start(&ldir, Some(&market_config(&down, "")));
    let st = leecher.json(&["status", "--json"]);
    let market = st["market"].as_str().expect("market");
    assert!(market.starts_with("unavailable: "), "{st}");
    assert!(market.contains(&down), "{st}");
    let human = leecher.cli(&["status"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("market unavailable"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
    let bad = leecher.cli(&["strategy"]);
    assert!(
        stderr(&bad).contains("market unavailable"),
        "{}",
        stderr(&bad)
    );

    leecher.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&ldir.join("dl")),
        "--peer",
        &peer,
        "--json",
    ]);
    leecher.wait_seeding(Duration::from_secs(30));
    assert_same_tree(
        &tmp.path().join("src").join("plain.bin"),
        &ldir.join("dl").join("plain.bin"),
    );
}

#[test]
fn config_check_names_a_bad_strategy_and_its_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[market]\nenabled = true\n\n[market.buyer]\nstrategy = \"cheap\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .expect("config check");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("config.toml:5:"), "{err}");
    assert!(err.contains("unknown buyer strategy \"cheap\""), "{err}");
    assert!(err.contains("target-rate"), "{err}");
    std::fs::write(
        &cfg,
        "[market]\nenabled = true\n[market.seller]\nslots = 0\n",
    )
    .expect("w");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .expect("config check");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("config.toml:4:"), "{}", stderr(&out));
}

/// The seeding action `keep-while-earning`: past its ratio limit a seeder keeps seeding while
/// the buyer pays at least the set price per MiB, and stops once a whole window pays less
/// (here: nothing, when the buyer is done).
#[test]
fn keep_while_earning_seeds_while_paid_then_stops() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ledger = start_ledger(&tmp.path().join("ledger"));
    let laddr = ledger.addr.to_string();
    let (sdir, ldir) = (tmp.path().join("seeder"), tmp.path().join("leecher"));
    let _seller_key = wallet_address(&sdir);
    let buyer_key = wallet_address(&ldir);
    mint(&ledger, &buyer_key, "50");
    let torrent = make_torrent(tmp.path(), "paid.bin", &[("paid.bin", 6 << 20)], 65536);
    // Each buyer pays its own bid (0.2 per MiB), well above the 0.01 the seeder asks to keep
    // seeding; the upload limit makes the transfer last several earning windows.
    let seeder = Daemon::start(
        &sdir,
        Some(&format!(
            "[limits]\nupload = \"512K\"\n[seeding]\naction = \"keep-while-earning 0.01\"\nearning_window_secs = 3\n{}",
            market_config(
                &laddr,
                "[market.seller]\nstrategy = \"highest-bid\"\nnon_market_share = 0.1\n"
            )
        )),
    );
    seeder.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&tmp.path().join("src")),
        "--json",
    ]);
    seeder.wait_seeding(Duration::from_secs(20));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let leecher = Daemon::start(&ldir, Some(&market_config(&laddr, "")));
    leecher.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&ldir.join("dl")),
        "--peer",
        &peer,
        "--strategy",
        "fixed",
        "--param",
        "price=0.2",
        "--json",
    ]);
    // Once payments flow, the seeder's ratio limit is reached at once (0): from then on only
    // the market keeps it seeding.
    let deadline = Instant::now() + Duration::from_secs(30);
    while leecher.ls()[0]["left_bytes"].as_u64().expect("left") > (5 << 20) {
        assert!(Instant::now() < deadline, "the buyer made no progress");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = seeder.cli(&["seeding", "1", "--ratio", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut kept = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while leecher.ls()[0]["left_bytes"] != 0 {
        let t = &seeder.ls()[0];
        assert_eq!(t["paused"], false, "stopped while the buyer pays: {t}");
        kept |= t["seed_limit"]
            .as_str()
            .is_some_and(|n| n.contains("while the market pays"));
        assert!(Instant::now() < deadline, "the buyer did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(kept, "the rule never said it keeps seeding for the market");
    // Done buying: the next whole window earns nothing, and the seeder stops.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = seeder.ls()[0].clone();
        if t["paused"] == true {
            let note = t["seed_limit"].as_str().expect("recorded").to_string();
            assert!(note.contains("below 0.010000"), "{note}");
            break;
        }
        assert!(Instant::now() < deadline, "still seeding unpaid: {t}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
