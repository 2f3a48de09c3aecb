//! Protocol encryption (MSE/PE) against real clients over loopback, bytes checked every time:
//! Transmission 3.00 (`encryption 2`, required), aria2 1.36 (`--bt-require-crypto=true
//! --bt-min-crypto-level=arc4`) and libtorrent 2.0 (`out_enc_policy`/`in_enc_policy` forced,
//! RC4 only), each in both directions with bidtorrent in `require` mode; a plaintext-only peer
//! refused in `require` and accepted in `prefer`; and an encrypted transfer over [::1].
//!
//! With encryption required on both ends, a finished transfer proves the MSE handshake worked
//! in that direction: neither side would have accepted anything else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use engine_util::{BIN, Bt, s};
use support::*;

const REQUIRE: &[&str] = &["--encryption", "require"];

fn payload(root: &Path, tracker: &str) -> (PathBuf, PathBuf) {
    payload_torrent(
        root,
        tracker,
        &[
            ("a.bin", 1000),
            ("big.bin", 2_500_000),
            ("sub/c.bin", 77_777),
        ],
        21,
    )
}

fn download_ok(root: &Path, torrent: &Path, dir: &Path, peers: &[&str], extra: &[&str]) {
    let out = Bt::download(root, torrent, dir, peers, extra);
    assert!(
        out.status.success(),
        "bidtorrent failed: {:?}\n{}",
        out.events,
        out.stderr
    );
}

#[test]
fn bidtorrent_leeches_from_transmission_encrypted() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let seeder = Transmission::start_with(
        &torrent,
        &root.path().join("seed"),
        serde_json::json!({ "encryption": 2 }),
    );
    assert!(
        seeder.wait_complete(Duration::from_secs(30)),
        "{}",
        seeder.log_tail()
    );
    let dl = root.path().join("dl");
    let peer = seeder.peer_addr().to_string();
    let out = Bt::download(root.path(), &torrent, &dl, &[&peer], REQUIRE);
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
fn transmission_leeches_from_bidtorrent_encrypted() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    // Transmission drops tracker peers in 127.0.0.0/8, so our seeder dials it (it learns the
    // address from the tracker).
    let _seeder = Bt::seed_with(
        root.path(),
        &torrent,
        &root.path().join("seed"),
        &["--tracker-interval", "1", "--encryption", "require"],
    );
    let dl = root.path().join("dl");
    let leecher = Transmission::start_with(&torrent, &dl, serde_json::json!({ "encryption": 2 }));
    assert!(
        leecher.wait_complete(Duration::from_secs(90)),
        "transmission did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}

fn aria2_require() -> Vec<String> {
    vec![
        "--bt-require-crypto=true".into(),
        "--bt-min-crypto-level=arc4".into(),
    ]
}

#[test]
fn bidtorrent_leeches_from_aria2_encrypted() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let seeder = Aria2::seed_with(&torrent, &root.path().join("seed"), &aria2_require());
    let dl = root.path().join("dl");
    let peer = seeder.peer_addr().to_string();
    let out = Bt::download(root.path(), &torrent, &dl, &[&peer], REQUIRE);
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
fn aria2_leeches_from_bidtorrent_encrypted() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let mut seeder = Bt::seed_with(
        root.path(),
        &torrent,
        &root.path().join("seed"),
        &["--tracker-interval", "2", "--encryption", "require"],
    );
    let ours = SocketAddr::from(([127, 0, 0, 1], seeder.port()));
    let dl = root.path().join("dl");
    // aria2 dials us (from the fixed-answer tracker): our answering side of MSE.
    let leecher = Aria2::leech_with(&torrent, &dl, &[ours], &aria2_require());
    assert!(
        leecher.wait_complete(Duration::from_secs(60)),
        "aria2 did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}

fn lt_forced(seed: bool, peers: Vec<SocketAddr>) -> LtOptions<'static> {
    LtOptions {
        iface: "127.0.0.1",
        seed,
        encryption: "forced",
        tcp: true,
        utp: false,
        peers,
    }
}

#[test]
fn bidtorrent_leeches_from_libtorrent_encrypted() {
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), "http://127.0.0.1:1/announce");
    let seeder = LtPeer::start(
        &torrent,
        &root.path().join("seed"),
        lt_forced(true, Vec::new()),
    );
    assert!(
        seeder.wait_line("seeding", Duration::from_secs(30)),
        "{}",
        seeder.log_tail()
    );
    let dl = root.path().join("dl");
    let peer = format!("127.0.0.1:{}", seeder.port);
    download_ok(root.path(), &torrent, &dl, &[&peer], REQUIRE);
    assert_same_tree(&src, &dl.join("payload"));
    // A short transfer may end between two of the script's polls, so only what it did see
    // is checked: forced encryption on its side already refuses anything else.
    assert!(
        !seeder.output().contains("rc4=0"),
        "libtorrent saw a plaintext connection\n{}",
        seeder.output()
    );
}

#[test]
fn libtorrent_leeches_from_bidtorrent_encrypted() {
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), "http://127.0.0.1:1/announce");
    let mut seeder = Bt::seed_with(
        root.path(),
        &torrent,
        &root.path().join("seed"),
        &["--encryption", "require"],
    );
    let ours = SocketAddr::from(([127, 0, 0, 1], seeder.port()));
    let dl = root.path().join("dl");
    let leecher = LtPeer::start(&torrent, &dl, lt_forced(false, vec![ours]));
    assert!(
        leecher.wait_line("seeding", Duration::from_secs(60)),
        "libtorrent did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
    assert!(leecher.output().contains("rc4=1"), "{}", leecher.output());
}

#[test]
fn plaintext_only_peer_is_refused_in_require_and_accepted_in_prefer() {
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = payload(root.path(), "http://127.0.0.1:1/announce");
    // The plaintext-only peer: bidtorrent with encryption off refuses MSE and dials plaintext.
    let mut seeder = Bt::seed_with(
        root.path(),
        &torrent,
        &root.path().join("seed"),
        &["--encryption", "off"],
    );
    let peer = format!("127.0.0.1:{}", seeder.port());

    let refused = root.path().join("refused");
    let mut dl = Bt::spawn_download(
        root.path(),
        &torrent,
        &refused,
        &[&peer],
        &["--encryption", "require", "--no-dht"],
    );
    let events = {
        std::thread::sleep(Duration::from_secs(8));
        dl.terminate();
        dl.wait_events(Duration::from_secs(5))
    };
    assert!(
        !events.iter().any(|e| e["event"] == "complete"),
        "a plaintext-only peer served a require-mode download: {events:?}"
    );

    let accepted = root.path().join("accepted");
    download_ok(
        root.path(),
        &torrent,
        &accepted,
        &[&peer],
        &["--encryption", "prefer"],
    );
    assert_same_tree(&src, &accepted.join("payload"));
}

/// Runs `bidtorrent` with `args`, JSON events on stdout, killed when dropped.
struct Raw(std::process::Child);

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal BEP 15 tracker on [::1] that answers every announce with `peer` (one 18-byte
/// IPv6 entry); the thread ends with the test process.
fn udp6_tracker(peer: SocketAddr) -> String {
    let sock = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let url = format!("udp://{}/announce", sock.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 16 {
                continue;
            }
            let (action, tid) = (&buf[8..12], &buf[12..16]);
            let mut out = Vec::new();
            if action == [0, 0, 0, 0] {
                out.extend_from_slice(&[0, 0, 0, 0]);
                out.extend_from_slice(tid);
                out.extend_from_slice(&7u64.to_be_bytes());
            } else {
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(tid);
                out.extend_from_slice(&2u32.to_be_bytes()); // interval
                out.extend_from_slice(&0u32.to_be_bytes());
                out.extend_from_slice(&1u32.to_be_bytes());
                let SocketAddr::V6(p) = peer else {
                    panic!("v6 peer")
                };
                out.extend_from_slice(&p.ip().octets());
                out.extend_from_slice(&p.port().to_be_bytes());
            }
            let _ = sock.send_to(&out, from);
        }
    });
    url
}

/// Encrypted (both sides `require`) over [::1], the seeder found through a UDP tracker on
/// [::1] (BEP 15 over IPv6, peers as 18-byte entries).
#[test]
fn encrypted_transfer_over_ipv6_loopback() {
    let root = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("[::1]:{port}");
    let tracker = udp6_tracker(listen.parse().unwrap());
    let (src, torrent) = payload(root.path(), &tracker);
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
        .args(["--listen", &listen, "--json", "--encryption", "require"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    // Dial only once it listens: a refused first dial would back off for 10 s.
    let target: SocketAddr = listen.parse().unwrap();
    assert!(wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(target).is_ok()
    }));
    let dl = root.path().join("dl");
    let dl_state = root.path().join("state-dl");
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            s(&dl_state),
            "download",
            s(&torrent),
            "--dir",
            s(&dl),
        ])
        .args([
            "--listen",
            "[::1]:0",
            "--json",
            "--no-dht",
            "--encryption",
            "require",
        ])
        .args(["--tracker-interval", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(out, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_tree(&src, &dl.join("payload"));
}

fn wait_output(mut child: std::process::Child, timeout: Duration) -> std::process::Output {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}
