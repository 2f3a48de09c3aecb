//! Connection caps, rate limits and seeding to a ratio, over real loopback sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::time::{Duration, Instant};

use bidtorrent::engine::metainfo::Metainfo;
use bidtorrent::engine::session::{Session, SessionConfig};
use bidtorrent::engine::torrent::TorrentOptions;
use bidtorrent::engine::types::PeerId;
use bidtorrent::engine::wire::Handshake;
use engine_util::daemon::Daemon;
use engine_util::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn session_connection_cap_refuses_extra_peers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(tmp.path(), "cap.bin", &[("cap.bin", 50_000)], 16384);
    let meta = Metainfo::from_file(&t).expect("torrent");
    let session = Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: tmp.path().join("state"),
        download_limit: 0,
        upload_limit: 0,
    })
    .await
    .expect("session");
    session.set_max_connections(2);
    session
        .add(
            meta.clone(),
            TorrentOptions {
                download_dir: tmp.path().join("src"),
                ..TorrentOptions::default()
            },
        )
        .await
        .expect("add");

    let mut conns = Vec::new();
    for i in 0..3u8 {
        let mut s = tokio::net::TcpStream::connect(session.listen_addr())
            .await
            .expect("connect");
        let mut id = *b"-XX0001-capcapcapcap";
        id[19] = b'0' + i;
        s.write_all(&Handshake::new(meta.info_hash, PeerId(id)).encode())
            .await
            .expect("handshake");
        conns.push(s);
        if i < 2 {
            // Each of the first two is registered before the next one dials.
            let deadline = Instant::now() + Duration::from_secs(10);
            while session.connections() < usize::from(i) + 1 {
                assert!(Instant::now() < deadline, "peer {i} never registered");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    // The third was closed right after the handshake exchange.
    let third = conns.last_mut().expect("third");
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut b = vec![0u8; 1024];
        loop {
            match third.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "peer over the cap still connected");
    assert_eq!(session.connections(), 2);
}

#[test]
fn download_limit_holds_the_rate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let size = 3 * 1024 * 1024;
    let t = make_torrent(tmp.path(), "rate.bin", &[("rate.bin", size)], 64 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let t0 = Instant::now();
    let out = Bt::download(
        tmp.path(),
        &t,
        &tmp.path().join("dl"),
        &[&peer],
        &["--limit-down", "1M"],
    );
    let secs = t0.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", out.stderr);
    let rate = size as f64 / secs / (1024.0 * 1024.0);
    // The bucket allows a quarter-second burst; the rest must follow the limit.
    assert!(
        rate < 1.5,
        "downloaded at {rate:.2} MiB/s under a 1 MiB/s limit"
    );
    assert_same_tree(
        &tmp.path().join("src/rate.bin"),
        &tmp.path().join("dl/rate.bin"),
    );
}

#[test]
fn seed_ratio_keeps_seeding_until_reached_then_exits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let size = 1024 * 1024;
    let t = make_torrent(tmp.path(), "ratio.bin", &[("ratio.bin", size)], 32 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let seed_peer = format!("127.0.0.1:{}", seeder.port());

    // A downloads from the seeder and must then upload half the torrent before exiting.
    let a_state = tmp.path().join("a");
    std::fs::create_dir_all(&a_state).expect("mkdir");
    let mut a = Bt::spawn_download(
        &a_state,
        &t,
        &tmp.path().join("dl-a"),
        &[&seed_peer],
        &["--seed-ratio", "0.5"],
    );
    a.wait_for("complete", Duration::from_secs(30));
    let a_port = a.port();
    drop(seeder);

    // B can only get the data from A.
    let b_state = tmp.path().join("b");
    std::fs::create_dir_all(&b_state).expect("mkdir");
    let b = Bt::download(
        &b_state,
        &t,
        &tmp.path().join("dl-b"),
        &[&format!("127.0.0.1:{a_port}")],
        &[],
    );
    assert!(b.status.success(), "{}", b.stderr);
    let reached = a.wait_for("ratio_reached", Duration::from_secs(30));
    assert!(reached["uploaded"].as_u64().expect("uploaded") >= size as u64 / 2);
    let events = a.wait_events(Duration::from_secs(10));
    assert!(events.iter().any(|e| e["event"] == "ratio_reached"));
    assert_same_tree(
        &tmp.path().join("src/ratio.bin"),
        &tmp.path().join("dl-b/ratio.bin"),
    );
}

/// Polls `ls --json` of `d` until `pred` holds for torrent #1; returns it and when it held.
fn wait_row(
    d: &Daemon,
    within: Duration,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> (serde_json::Value, Instant) {
    let deadline = Instant::now() + within;
    loop {
        let row = d.ls().into_iter().next().expect("one torrent");
        if pred(&row) {
            return (row, Instant::now());
        }
        assert!(Instant::now() < deadline, "{what}: {row}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 17: `limit --down 1` then `limit --down 0` left the download stalled for good (the
/// block already reserved at 1 B/s slept for hours). Lifting the limit must resume it at once.
#[test]
fn lifting_a_download_limit_resumes_a_stalled_download() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(tmp.path(), "lift.bin", &[("lift.bin", 1 << 20)], 16 * 1024);
    let seeder = Daemon::start(&tmp.path().join("seeder"), None);
    let src = tmp.path().join("src");
    let out = seeder.cli(&["add", s(&t), "--dir", s(&src)]);
    assert!(out.status.success(), "{}", daemon::stderr(&out));
    seeder.wait_seeding(Duration::from_secs(30));
    let peer = format!("127.0.0.1:{}", seeder.port());

    let leecher = Daemon::start(&tmp.path().join("leecher"), None);
    let out = leecher.cli(&["limit", "--down", "1"]);
    assert!(out.status.success(), "{}", daemon::stderr(&out));
    let dl = tmp.path().join("dl");
    let out = leecher.cli(&["add", s(&t), "--dir", s(&dl), "--peer", &peer]);
    assert!(out.status.success(), "{}", daemon::stderr(&out));

    // The seeder has sent blocks: the leecher's reader holds one and is asleep on the limit.
    wait_row(
        &seeder,
        Duration::from_secs(30),
        "seeder never uploaded",
        |r| r["uploaded"].as_u64() > Some(0),
    );
    let (row, _) = wait_row(&leecher, Duration::from_secs(30), "no peer", |r| {
        r["peers"].as_u64() >= Some(1)
    });
    assert_eq!(row["downloaded"], 0, "1 B/s let a block through: {row}");

    let out = leecher.cli(&["limit", "--down", "0"]);
    assert!(out.status.success(), "{}", daemon::stderr(&out));
    let lifted = Instant::now();
    // A second is the target; the bound is generous for a loaded 2-core machine, and the
    // regression it catches stalls for hours.
    let (_, moved) = wait_row(&leecher, Duration::from_secs(10), "still stalled", |r| {
        r["downloaded"].as_u64() > Some(0)
    });
    eprintln!("resumed {:?} after the limit was lifted", moved - lifted);
    wait_row(&leecher, Duration::from_secs(60), "not complete", |r| {
        r["phase"] == "seeding"
    });
    assert_same_tree(&src.join("lift.bin"), &dl.join("lift.bin"));
}
