//! uTP (BEP 29) against real clients over loopback, bytes checked: bidtorrent with `--no-tcp`
//! (it neither dials nor accepts TCP, so the transfer can only be uTP) against Transmission 3.00
//! (libutp) and libtorrent 2.0 (TCP off in its settings), both directions each, and a
//! bidtorrent pair over [::1].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use engine_util::{BIN, Bt, s};
use support::*;

const UTP_ONLY: &[&str] = &["--no-tcp"];

fn payload(root: &Path, tracker: &str) -> (PathBuf, PathBuf) {
    payload_torrent(
        root,
        tracker,
        &[
            ("a.bin", 1000),
            ("big.bin", 2_500_000),
            ("sub/c.bin", 77_777),
        ],
        33,
    )
}

fn utp_transmission() -> serde_json::Value {
    serde_json::json!({ "utp-enabled": true })
}

#[test]
fn bidtorrent_leeches_from_transmission_over_utp() {
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), "http://127.0.0.1:1/announce");
    let seeder = Transmission::start_with(&torrent, &root.path().join("seed"), utp_transmission());
    assert!(
        seeder.wait_complete(Duration::from_secs(30)),
        "{}",
        seeder.log_tail()
    );
    let dl = root.path().join("dl");
    let peer = seeder.peer_addr().to_string();
    let out = Bt::download(root.path(), &torrent, &dl, &[&peer], UTP_ONLY);
    assert!(
        out.status.success(),
        "{:?}\n{}\n{}",
        out.events,
        out.stderr,
        seeder.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}

#[test]
fn transmission_leeches_from_bidtorrent_over_utp() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    // Transmission drops tracker peers in 127.0.0.0/8: our seeder dials it, over uTP.
    let _seeder = Bt::seed_with(
        root.path(),
        &torrent,
        &root.path().join("seed"),
        &["--tracker-interval", "1", "--no-tcp"],
    );
    let dl = root.path().join("dl");
    let leecher = Transmission::start_with(&torrent, &dl, utp_transmission());
    assert!(
        leecher.wait_complete(Duration::from_secs(90)),
        "transmission did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}

fn lt_utp_only(seed: bool, peers: Vec<SocketAddr>) -> LtOptions<'static> {
    LtOptions {
        iface: "127.0.0.1",
        seed,
        encryption: "enabled",
        tcp: false,
        utp: true,
        peers,
    }
}

#[test]
fn bidtorrent_leeches_from_libtorrent_over_utp() {
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), "http://127.0.0.1:1/announce");
    let seeder = LtPeer::start(
        &torrent,
        &root.path().join("seed"),
        lt_utp_only(true, Vec::new()),
    );
    assert!(
        seeder.wait_line("seeding", Duration::from_secs(30)),
        "{}",
        seeder.log_tail()
    );
    let dl = root.path().join("dl");
    let peer = format!("127.0.0.1:{}", seeder.port);
    let out = Bt::download(root.path(), &torrent, &dl, &[&peer], UTP_ONLY);
    assert!(
        out.status.success(),
        "{:?}\n{}\n{}",
        out.events,
        out.stderr,
        seeder.output()
    );
    assert_same_tree(&src, &dl.join("payload"));
    // The transfer may end between two of the script's polls: check what it saw.
    assert!(!seeder.output().contains("utp=0"), "{}", seeder.output());
}

#[test]
fn libtorrent_leeches_from_bidtorrent_over_utp() {
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), "http://127.0.0.1:1/announce");
    let mut seeder = Bt::seed_with(root.path(), &torrent, &root.path().join("seed"), UTP_ONLY);
    let ours = SocketAddr::from(([127, 0, 0, 1], seeder.port()));
    let dl = root.path().join("dl");
    // libtorrent dials us over uTP: our accepting side.
    let leecher = LtPeer::start(&torrent, &dl, lt_utp_only(false, vec![ours]));
    assert!(
        leecher.wait_line("seeding", Duration::from_secs(60)),
        "libtorrent did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
    assert!(leecher.output().contains("utp=1"), "{}", leecher.output());
}

/// Runs `bidtorrent`, killed when dropped.
struct Raw(std::process::Child);

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// uTP only, encryption required, over [::1]: a bidtorrent pair.
#[test]
fn encrypted_utp_transfer_over_ipv6_loopback() {
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), "http://[::1]:1/announce");
    let port = free_port();
    let listen = format!("[::1]:{port}");
    let state = root.path().join("state-seed");
    let seed_dir = root.path().join("seed");
    let _seeder = Raw(Command::new(BIN)
        .args([
            "--data-dir",
            s(&state),
            "seed",
            s(&torrent),
            "--dir",
            s(&seed_dir),
        ])
        .args([
            "--listen",
            &listen,
            "--json",
            "--no-tcp",
            "--encryption",
            "require",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    // Give the seeder time to check its data and bind: a first dial that fails backs off.
    std::thread::sleep(Duration::from_secs(2));
    let dl = root.path().join("dl");
    let dl_state = root.path().join("state-dl");
    let child = Command::new(BIN)
        .args([
            "--data-dir",
            s(&dl_state),
            "download",
            s(&torrent),
            "--dir",
            s(&dl),
        ])
        .args(["--listen", "[::1]:0", "--json", "--no-dht", "--no-tcp"])
        .args(["--encryption", "require", "--peer", &listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut child = child;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_tree(&src, &dl.join("payload"));
}

/// The rate limits act on payload whatever carries it: a 1 MiB/s download limit holds over
/// uTP as over TCP (tests/limits.rs), and so does the seeder's 1 MiB/s upload limit.
#[test]
fn rate_limits_hold_over_utp() {
    for (seed_extra, dl_extra) in [
        (&["--no-tcp"][..], &["--no-tcp", "--limit-down", "1M"][..]),
        (&["--no-tcp", "--limit-up", "1M"][..], &["--no-tcp"][..]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let size = 3 * 1024 * 1024;
        let t = engine_util::make_torrent(tmp.path(), "rate.bin", &[("rate.bin", size)], 65536);
        let mut seeder = Bt::seed_with(tmp.path(), &t, &tmp.path().join("src"), seed_extra);
        let peer = format!("127.0.0.1:{}", seeder.port());
        let t0 = std::time::Instant::now();
        let out = Bt::download(tmp.path(), &t, &tmp.path().join("dl"), &[&peer], dl_extra);
        let secs = t0.elapsed().as_secs_f64();
        assert!(out.status.success(), "{:?}\n{}", out.events, out.stderr);
        let rate = size as f64 / secs / (1024.0 * 1024.0);
        assert!(
            rate < 1.5,
            "{seed_extra:?} -> {dl_extra:?}: {rate:.2} MiB/s under a 1 MiB/s limit"
        );
        engine_util::assert_same_tree(
            &tmp.path().join("src/rate.bin"),
            &tmp.path().join("dl/rate.bin"),
        );
    }
}
