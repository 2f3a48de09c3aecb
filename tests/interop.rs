//! bidtorrent against real clients over 127.0.0.1, through a real opentracker: Transmission
//! 3.00 and aria2 1.36 seeding to us and leeching from us, bytes checked every time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

/// A multi-file payload with nested folders, a zero-length file and odd names, made into a
/// torrent by the real mktorrent.
fn payload(root: &Path, tracker: &str) -> (PathBuf, PathBuf) {
    payload_torrent(
        root,
        tracker,
        &[
            ("a.bin", 1000),
            ("big.bin", 3_000_000),
            ("sub/dir/with space.bin", 123_457),
            ("sub/empty", 0),
            ("ünïcödé.txt", 5000),
        ],
        7,
    )
}

fn bt_download(root: &Path, torrent: &Path, dir: &Path) -> engine_util::Finished {
    engine_util::Bt::download(root, torrent, dir, &[], &["--tracker-interval", "2"])
}

#[test]
fn bidtorrent_leeches_from_transmission_over_a_udp_tracker() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().expect("tempdir");
    let (src, torrent) = payload(root.path(), &ot.udp_url());
    ot.whitelist(&info_hash(&torrent));
    let seeder = Transmission::seed(&torrent, &root.path().join("seed"));
    assert!(
        seeder.wait_complete(Duration::from_secs(30)),
        "transmission did not verify its data\n{}",
        seeder.log_tail()
    );
    let dl = root.path().join("dl");
    let out = bt_download(root.path(), &torrent, &dl);
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
fn bidtorrent_leeches_from_aria2() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().expect("tempdir");
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let seeder = Aria2::seed(&torrent, &root.path().join("seed"));
    let dl = root.path().join("dl");
    let out = bt_download(root.path(), &torrent, &dl);
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
fn transmission_leeches_from_bidtorrent() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().expect("tempdir");
    let (src, torrent) = payload(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    // Transmission ignores loopback peers from trackers, so our seeder must dial it: it
    // learns Transmission's address from the tracker on a short interval.
    let _seeder = engine_util::Bt::seed_with(
        root.path(),
        &torrent,
        &root.path().join("seed"),
        &["--tracker-interval", "1"],
    );
    let dl = root.path().join("dl");
    let leecher = Transmission::leech(&torrent, &dl);
    assert!(
        leecher.wait_complete(Duration::from_secs(90)),
        "transmission did not finish\n{}\n{}",
        leecher.info(),
        leecher.log_tail()
    );
    assert_same_tree_ignoring_empty(&src, &dl.join("payload"));
}

#[test]
fn aria2_leeches_from_bidtorrent() {
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
    let leecher = Aria2::leech(&torrent, &dl, &[]);
    assert!(
        leecher.wait_complete(Duration::from_secs(60)),
        "aria2 did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &dl.join("payload"));
}

/// A single-file torrent (no directory level), made by mktorrent.
fn single_file(root: &Path, tracker: &str) -> (PathBuf, PathBuf) {
    let seed = root.join("seed");
    write_payload(&seed, &[("single file.iso", 2_500_001)], 11);
    let torrent = root.join("single.torrent");
    mktorrent(&seed.join("single file.iso"), &torrent, tracker, 15);
    (seed.join("single file.iso"), torrent)
}

#[test]
fn single_file_both_ways_with_aria2_and_transmission() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().expect("tempdir");
    let (src, torrent) = single_file(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));

    // aria2 seeds, bidtorrent leeches.
    let aria = Aria2::seed(&torrent, &root.path().join("seed"));
    let dl = root.path().join("bt-dl");
    let out = bt_download(root.path(), &torrent, &dl);
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.events,
        aria.log_tail()
    );
    assert_same_tree(&src, &dl.join("single file.iso"));
    drop(aria);

    // bidtorrent (now holding the file) seeds, Transmission leeches.
    let _seeder =
        engine_util::Bt::seed_with(root.path(), &torrent, &dl, &["--tracker-interval", "1"]);
    let tr_dl = root.path().join("tr-dl");
    let leecher = Transmission::leech(&torrent, &tr_dl);
    assert!(
        leecher.wait_complete(Duration::from_secs(90)),
        "transmission did not finish\n{}",
        leecher.log_tail()
    );
    assert_same_tree(&src, &tr_dl.join("single file.iso"));
}
