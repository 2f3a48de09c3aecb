//! BEP 19 web seeds over 127.0.0.1: Debian's nginx as the server, and a lying one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;
mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

fn bt_create(src: &Path, out: &Path, extra: &[&str]) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bidtorrent"))
        .args(["create", engine_util::s(src), "-o", engine_util::s(out)])
        .args(["--piece-size", "32K", "--no-date", "-q"])
        .args(extra)
        .output()
        .expect("run create");
    assert!(o.status.success(), "create: {o:?}");
}

/// No peer, no tracker: nginx alone delivers single- and multi-file torrents, v1, v2 and
/// hybrid, and every byte matches.
#[test]
fn nginx_alone_completes_single_and_multi_file_torrents() {
    let root = world_readable_tempdir("webseed");
    let www = root.path().join("www");
    write_payload(
        &www.join("payload"),
        &[
            ("a.bin", 1000),
            ("big.bin", 400_001),
            ("sub/c d.bin", 70_000),
            ("sub/empty", 0),
        ],
        19,
    );
    write_payload(&www, &[("single.iso", 250_000)], 20);
    let nginx = Nginx::serve(&www);
    let cases: [(&str, &str, String); 4] = [
        ("multi-v1", "payload", nginx.url()),
        ("multi-v2", "payload", nginx.url()),
        ("multi-hybrid", "payload", nginx.url()),
        // A URL naming the file itself (BEP 19's single-file form).
        (
            "single-v1",
            "single.iso",
            format!("{}single.iso", nginx.url()),
        ),
    ];
    for (name, what, url) in cases {
        let torrent = root.path().join(format!("{name}.torrent"));
        let mut extra = vec!["--web-seed", url.as_str()];
        if name.ends_with("v2") {
            extra.push("--v2");
        } else if name.ends_with("hybrid") {
            extra.push("--hybrid");
        }
        bt_create(&www.join(what), &torrent, &extra);
        let dl = root.path().join(format!("dl-{name}"));
        let state = root.path().join(name);
        let out = engine_util::Bt::download(&state, &torrent, &dl, &[], &[]);
        assert!(
            out.status.success(),
            "{name}: {:?}\n{}\n{}",
            out.events,
            out.stderr,
            nginx.log_tail()
        );
        if what == "payload" {
            assert_same_tree(&www.join("payload"), &dl.join("payload"));
        } else {
            assert_eq!(
                std::fs::read(www.join(what)).unwrap(),
                std::fs::read(dl.join(what)).unwrap()
            );
        }
    }
}

/// A web seed that flips one byte of one range: the piece fails its check, the server is
/// dropped (it gets no request after the lie) and a peer, which only comes up after the
/// failure, supplies that piece. The lying bytes never reach the disk.
#[test]
fn a_web_seed_serving_wrong_bytes_is_dropped_and_a_peer_fills_in() {
    let root = world_readable_tempdir("webseed-bad");
    let www = root.path().join("www");
    write_payload(
        &www.join("payload"),
        &[("a.bin", 50_000), ("big.bin", 300_000)],
        21,
    );
    let bad = BadWebSeed::start(
        &www,
        Lie::FlipAt {
            file: "big.bin",
            file_offset: 100_000,
        },
    );
    let torrent = root.path().join("t.torrent");
    bt_create(
        &www.join("payload"),
        &torrent,
        &["--hybrid", "--web-seed", &bad.url()],
    );
    // The peer's address is known from the start, but nothing listens there yet.
    let peer_port = free_port();
    let peer = format!("127.0.0.1:{peer_port}");
    let dl = root.path().join("dl");
    let mut bt = engine_util::Bt::spawn_download(root.path(), &torrent, &dl, &[&peer], &[]);
    let failed = bt.wait_for("hash_failed", Duration::from_secs(30));
    // 100 000 is in piece 4 of big.bin, which starts at piece 2 (a.bin is padded to 64 KiB).
    assert_eq!(failed["piece"], 2 + 100_000 / (32 * 1024));
    let lies = bad.requests.lock().unwrap().len();
    let _seeder = Libtorrent::seed_on(&torrent, &www, peer_port);
    bt.wait_for("complete", Duration::from_secs(60));
    assert_same_tree(&www.join("payload"), &dl.join("payload"));
    let reqs = bad.requests.lock().unwrap().clone();
    assert!(reqs.iter().any(|r| r.3), "the server never lied: {reqs:?}");
    assert_eq!(
        reqs.len(),
        lies,
        "a dropped web seed was asked again: {reqs:?}"
    );
    // After the lie, only the rest of that piece (big.bin bytes 98304..131072) was asked for.
    let at = reqs.iter().position(|r| r.3).unwrap();
    for r in &reqs[at + 1..] {
        assert!(
            r.0.ends_with("big.bin") && r.1 >= 98_304 && r.2 < 131_072,
            "asked for {r:?} after lying: {reqs:?}"
        );
    }
}

/// A web seed answering 503 is backed off, and peers finish the download.
#[test]
fn an_erroring_web_seed_does_not_stop_peers() {
    let root = world_readable_tempdir("webseed-503");
    let www = root.path().join("www");
    write_payload(
        &www.join("payload"),
        &[("a.bin", 200_000), ("b.bin", 5)],
        22,
    );
    let bad = BadWebSeed::start(&www, Lie::Error);
    let torrent = root.path().join("t.torrent");
    bt_create(
        &www.join("payload"),
        &torrent,
        &["--v2", "--web-seed", &bad.url()],
    );
    let seeder = Libtorrent::seed(&torrent, &www);
    let dl = root.path().join("dl");
    let peer = seeder.peer_addr().to_string();
    let out = engine_util::Bt::download(root.path(), &torrent, &dl, &[&peer], &[]);
    assert!(out.status.success(), "{:?}\n{}", out.events, out.stderr);
    assert_same_tree(&www.join("payload"), &dl.join("payload"));
    // Backed off after the first 503: not hammered once a second.
    let n = bad.requests.lock().unwrap().len();
    assert!((1..=3).contains(&n), "{n} requests to an erroring web seed");
}

/// A web seed that accepts and never answers does not hold the download up: peers finish it
/// while the server's one request is still waiting.
#[test]
fn a_stalling_web_seed_does_not_stop_peers() {
    let root = world_readable_tempdir("webseed-stall");
    let www = root.path().join("www");
    write_payload(
        &www.join("payload"),
        &[("a.bin", 200_000), ("b.bin", 5)],
        23,
    );
    let bad = BadWebSeed::start(&www, Lie::Stall);
    let torrent = root.path().join("t.torrent");
    bt_create(
        &www.join("payload"),
        &torrent,
        &["--hybrid", "--web-seed", &bad.url()],
    );
    let seeder = Libtorrent::seed(&torrent, &www);
    let dl = root.path().join("dl");
    let peer = seeder.peer_addr().to_string();
    let started = std::time::Instant::now();
    let out = engine_util::Bt::download(root.path(), &torrent, &dl, &[&peer], &[]);
    assert!(out.status.success(), "{:?}\n{}", out.events, out.stderr);
    assert_same_tree(&www.join("payload"), &dl.join("payload"));
    // Well inside the web seed's 15 s request timeout: nobody waited for it.
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(bad.requests.lock().unwrap().len(), 1);
}
