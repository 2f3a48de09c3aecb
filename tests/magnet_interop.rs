//! Magnet links against real clients over 127.0.0.1 through a real opentracker: bidtorrent
//! fetches metadata and data from Transmission and aria2 seeders, and aria2 fetches the
//! metadata by magnet from a bidtorrent seeder. Bytes checked every time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

fn payload(root: &Path, tracker: &str) -> (PathBuf, PathBuf) {
    payload_torrent(
        root,
        tracker,
        &[
            ("a.bin", 1000),
            ("big.bin", 1_500_000),
            ("sub/dir/with space.bin", 123_457),
        ],
        11,
    )
}

fn magnet_uri(torrent: &Path, tracker: &str) -> String {
    let h = info_hash(torrent);
    let tr: String = url::form_urlencoded::byte_serialize(tracker.as_bytes()).collect();
    format!("magnet:?xt=urn:btih:{}&dn=payload&tr={tr}", h.to_hex())
}

fn bt_download_magnet(root: &Path, uri: &str, dir: &Path) -> engine_util::Finished {
    engine_util::Bt::download(root, Path::new(uri), dir, &[], &["--tracker-interval", "2"])
}

#[test]
fn bidtorrent_fetches_a_magnet_from_transmission() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().expect("tempdir");
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let seeder = Transmission::seed(&torrent, &root.path().join("seed"));
    assert!(
        seeder.wait_complete(Duration::from_secs(30)),
        "transmission did not verify its data\n{}",
        seeder.log_tail()
    );
    let dl = root.path().join("dl");
    let out = bt_download_magnet(root.path(), &magnet_uri(&torrent, &ot.http_url()), &dl);
    assert!(
        out.status.success(),
        "bidtorrent failed: {:?}\n{}\n{}",
        out.events,
        out.stderr,
        seeder.log_tail()
    );
    assert!(out.events.iter().any(|e| e["event"] == "metadata_received"));
    assert_same_tree(&src, &dl.join("payload"));
}

#[test]
fn bidtorrent_fetches_a_magnet_from_aria2() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().expect("tempdir");
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let seeder = Aria2::seed(&torrent, &root.path().join("seed"));
    let dl = root.path().join("dl");
    let out = bt_download_magnet(root.path(), &magnet_uri(&torrent, &ot.http_url()), &dl);
    assert!(
        out.status.success(),
        "bidtorrent failed: {:?}\n{}\n{}",
        out.events,
        out.stderr,
        seeder.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}

#[test]
fn aria2_fetches_metadata_by_magnet_from_bidtorrent() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().expect("tempdir");
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let _seeder = engine_util::Bt::seed_with(
        root.path(),
        &torrent,
        &root.path().join("seed"),
        &["--tracker-interval", "2"],
    );
    let dl = root.path().join("dl");
    let uri = magnet_uri(&torrent, &ot.http_url());
    let leecher = Aria2::leech(Path::new(&uri), &dl, &[]);
    assert!(
        leecher.wait_complete(Duration::from_secs(60)),
        "aria2 did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}

/// aria2's DHT confined to a loopback test network (its only entry point is a local `mainline`
/// node and it has no saved nodes, so it never reaches a public router): it seeds a torrent
/// whose tracker is dead, and bidtorrent finds it through the DHT from a bare magnet.
#[test]
fn bidtorrent_finds_an_aria2_seeder_through_the_dht() {
    let net = mainline::Testnet::builder(5).build().expect("testnet");
    let root = tempfile::tempdir().expect("tempdir");
    // Nothing listens on port 9: the only way to find the seeder is the DHT.
    let (src, torrent) = payload(root.path(), "http://127.0.0.1:9/announce");
    let dht_port = free_port();
    let seeder = Aria2::seed_with(
        &torrent,
        &root.path().join("seed"),
        &[
            "--enable-dht=true".into(),
            format!("--dht-listen-port={dht_port}"),
            format!("--dht-entry-point={}", net.bootstrap[0]),
            format!(
                "--dht-file-path={}",
                root.path().join("aria2-dht.dat").display()
            ),
        ],
    );
    let uri = format!("magnet:?xt=urn:btih:{}", info_hash(&torrent).to_hex());
    let dl = root.path().join("dl");
    let mut extra = vec!["--tracker-interval", "2"];
    for b in &net.bootstrap {
        extra.push("--dht-bootstrap");
        extra.push(b);
    }
    let out = engine_util::Bt::download(root.path(), Path::new(&uri), &dl, &[], &extra);
    assert!(
        out.status.success(),
        "bidtorrent failed: {:?}\n{}\n{}",
        out.events,
        out.stderr,
        seeder.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}
