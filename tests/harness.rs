//! Self-tests of the real-peer harness (tests/support): each proves one real program works
//! on loopback the way later integration tests rely on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bidtorrent::engine::tracker::{
    AnnounceEvent, AnnounceRequest, TrackerError, TrackerTiers, announce,
};
use bidtorrent::engine::types::{InfoHash, PeerId};
use support::*;

fn req(h: InfoHash, port: u16) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: h,
        peer_id: PeerId::generate(),
        port,
        uploaded: 0,
        downloaded: 0,
        left: 1000,
        event: AnnounceEvent::Started,
        num_want: 50,
        key: rand::random(),
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn opentracker_answers_http_and_udp_announces() {
    let ot = Opentracker::start();
    let h = InfoHash(rand::random());
    ot.whitelist(&h);
    let t = Duration::from_secs(5);

    let first = announce(&ot.http_url(), &req(h, 40001), t)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", ot.log_tail()));
    assert!(first.interval > Duration::ZERO);
    // opentracker includes the announcing peer itself in the reply; nothing else is there.
    assert!(first.peers.iter().all(|p| *p == local(40001)), "{first:?}");

    let second = announce(&ot.udp_url(), &req(h, 40002), t)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", ot.log_tail()));
    assert!(second.peers.contains(&local(40001)), "{second:?}");
    assert_eq!(second.leechers, Some(2), "{second:?}");

    // Both transports through the multitracker, in one tier.
    let mut tiers = TrackerTiers::new(vec![vec![ot.udp_url(), ot.http_url()]]);
    let (_, third) = tiers.announce(&req(h, 40003), t).await.unwrap();
    assert!(third.peers.contains(&local(40001)), "{third:?}");
    assert!(third.peers.contains(&local(40002)), "{third:?}");
}

#[tokio::test]
async fn opentracker_refuses_hash_not_whitelisted() {
    let ot = Opentracker::start();
    let listed = InfoHash(rand::random());
    ot.whitelist(&listed);
    let other = InfoHash(rand::random());
    let t = Duration::from_secs(5);

    let e = announce(&ot.http_url(), &req(other, 40010), t)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, TrackerError::Failure { .. }), "{msg}");
    assert!(msg.contains(&ot.http_url()), "{msg}");
    assert!(msg.contains("not authorized"), "{msg}");

    // Over UDP opentracker refuses too; whatever the form, it must be an error naming the URL.
    match announce(&ot.udp_url(), &req(other, 40011), t).await {
        Err(e) => assert!(e.to_string().contains(&ot.udp_url()), "{e}"),
        Ok(r) => panic!("UDP announce of a non-whitelisted hash succeeded: {r:?}"),
    }
}

/// A small multi-file payload (one file smaller than a piece, one spanning pieces, one in a
/// subdirectory) and its torrent made by mktorrent, announcing to `tracker`.
fn make_torrent(root: &std::path::Path, tracker: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = root.join("seed").join("payload");
    write_payload(
        &src,
        &[
            ("a.bin", 1000),
            ("big.bin", 700_000),
            ("sub/dir/c.bin", 123_457),
        ],
        42,
    );
    let torrent = root.join("payload.torrent");
    mktorrent(&src, &torrent, tracker, 16);
    (src, torrent)
}

#[test]
fn aria2_seeds_to_aria2_through_opentracker() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = make_torrent(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));

    let seeder = Aria2::seed(&torrent, &root.path().join("seed"));
    let leech_dir = root.path().join("leech");
    let leecher = Aria2::leech(&torrent, &leech_dir, &[]);
    assert!(
        leecher.wait_complete(Duration::from_secs(45)),
        "aria2 leecher did not finish\n{}\n{}\n{}",
        leecher.log_tail(),
        seeder.log_tail(),
        ot.log_tail()
    );
    assert_same_tree(&src, &leech_dir.join("payload"));
}

#[test]
fn transmission_seeds_to_aria2() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    // aria2 1.36 cannot use UDP trackers with DHT off ("udp is not supported yet").
    let (src, torrent) = make_torrent(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));

    let seeder = Transmission::seed(&torrent, &root.path().join("seed"));
    assert!(
        seeder.wait_complete(Duration::from_secs(20)),
        "transmission did not verify its data\n{}",
        seeder.log_tail()
    );
    let leech_dir = root.path().join("leech");
    let leecher = Aria2::leech(&torrent, &leech_dir, &[]);
    assert!(
        leecher.wait_complete(Duration::from_secs(50)),
        "aria2 leecher did not finish\n{}\n{}",
        leecher.log_tail(),
        seeder.log_tail()
    );
    assert_same_tree(&src, &leech_dir.join("payload"));
}

#[test]
fn aria2_gets_extra_peers_from_fake_tracker() {
    // The torrent's own tracker is dead: the leecher can only learn the seeder from the
    // harness's FakeTracker.
    let root = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}/announce", free_port());
    let (src, torrent) = make_torrent(root.path(), &dead);
    let seeder = Aria2::seed(&torrent, &root.path().join("seed"));
    let leech_dir = root.path().join("leech");
    let leecher = Aria2::leech(&torrent, &leech_dir, &[seeder.peer_addr()]);
    assert!(
        leecher.wait_complete(Duration::from_secs(45)),
        "aria2 leecher did not finish\n{}\n{}",
        leecher.log_tail(),
        seeder.log_tail()
    );
    assert_same_tree(&src, &leech_dir.join("payload"));
}

#[test]
fn payload_is_deterministic_and_tree_compare_catches_differences() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let files = [("x", 10), ("d/y", 100_001), ("empty", 0)];
    write_payload(a.path(), &files, 7);
    write_payload(b.path(), &files, 7);
    assert_same_tree(a.path(), b.path());
    std::fs::remove_file(b.path().join("empty")).unwrap();
    assert_same_tree_ignoring_empty(a.path(), b.path());
    write_payload(b.path(), &[("d/y", 100_001)], 8);
    let r = std::panic::catch_unwind(|| assert_same_tree_ignoring_empty(a.path(), b.path()));
    assert!(r.is_err());
    let p = free_port();
    assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
}

/// Transmission ignores tracker peers on loopback, so this works only because the aria2
/// seeder learns Transmission from opentracker and dials it.
#[test]
fn aria2_seeds_to_transmission() {
    let ot = Opentracker::start();
    let root = tempfile::tempdir().unwrap();
    let (src, torrent) = make_torrent(root.path(), &ot.http_url());
    ot.whitelist(&info_hash(&torrent));
    let seeder = Aria2::seed(&torrent, &root.path().join("seed"));
    let leech_dir = root.path().join("leech");
    let leecher = Transmission::leech(&torrent, &leech_dir);
    assert!(
        leecher.wait_complete(Duration::from_secs(40)),
        "{}\n{}",
        leecher.log_tail(),
        seeder.log_tail()
    );
    assert_same_tree(&src, &leech_dir.join("payload"));
}
