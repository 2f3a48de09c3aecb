//! bidtorrent ↔ bidtorrent over 127.0.0.1 through the real binary: transfers, fast resume,
//! recheck of corrupted data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::time::Duration;

use engine_util::*;

#[test]
fn multi_file_transfer_with_odd_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files: &[(&str, usize)] = &[
        ("top.bin", 300_000),
        ("nested/deeper/with space.dat", 70_000),
        ("nested/empty", 0),
        ("ünïcödé ☃.txt", 12_345),
    ];
    let t = make_torrent(tmp.path(), "odd set", files, 32 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let port = seeder.port();
    let dl = tmp.path().join("dl");
    let out = Bt::download(tmp.path(), &t, &dl, &[&format!("127.0.0.1:{port}")], &[]);
    assert!(out.status.success(), "download failed: {}", out.stderr);
    assert!(out.events.iter().any(|e| e["event"] == "complete"));
    assert_same_tree(&tmp.path().join("src/odd set"), &dl.join("odd set"));
}

#[test]
fn stop_and_restart_resumes_without_refetching_verified_pieces() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let size = 4 * 1024 * 1024;
    let t = make_torrent(tmp.path(), "resume.bin", &[("resume.bin", size)], 64 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let dl = tmp.path().join("dl");

    // First run is slowed down and stopped with SIGTERM part way.
    let mut first = Bt::spawn_download(tmp.path(), &t, &dl, &[&peer], &["--limit-down", "1M"]);
    std::thread::sleep(Duration::from_millis(2500));
    first.terminate();
    let events = first.wait_events(Duration::from_secs(20));
    assert!(
        events.iter().all(|e| e["event"] != "complete"),
        "finished too soon"
    );

    let second = Bt::download(tmp.path(), &t, &dl, &[&peer], &[]);
    assert!(second.status.success(), "{}", second.stderr);
    let checked = second
        .events
        .iter()
        .find(|e| e["event"] == "checked")
        .expect("checked event");
    let have = checked["have"].as_u64().expect("have");
    assert!(have > 0, "no pieces kept from the first run: {checked}");
    assert_eq!(
        checked["hashed"], 0,
        "clean stop must not rehash: {checked}"
    );
    let complete = second
        .events
        .iter()
        .find(|e| e["event"] == "complete")
        .expect("complete");
    let downloaded = complete["downloaded"].as_u64().expect("downloaded");
    assert!(
        downloaded <= size as u64 - have * 64 * 1024,
        "second run downloaded {downloaded} bytes though {have} pieces were kept"
    );
    assert_same_tree(&tmp.path().join("src/resume.bin"), &dl.join("resume.bin"));
}

#[test]
fn recheck_finds_a_corrupted_piece_and_fetches_it_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let piece = 32 * 1024;
    let t = make_torrent(tmp.path(), "c.bin", &[("c.bin", 10 * piece)], piece);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let dl = tmp.path().join("dl");
    let first = Bt::download(tmp.path(), &t, &dl, &[&peer], &[]);
    assert!(first.status.success(), "{}", first.stderr);

    // Corrupt piece 3 behind the client's back and lose the resume data (a crash).
    flip_byte(&dl.join("c.bin"), 3 * piece as u64 + 100);
    std::fs::remove_dir_all(tmp.path().join("state-dl/resume")).expect("remove resume");

    let second = Bt::download(tmp.path(), &t, &dl, &[&peer], &[]);
    assert!(second.status.success(), "{}", second.stderr);
    let checked = second
        .events
        .iter()
        .find(|e| e["event"] == "checked")
        .expect("checked");
    assert_eq!(checked["have"], 9, "{checked}");
    let complete = second
        .events
        .iter()
        .find(|e| e["event"] == "complete")
        .expect("complete");
    assert_eq!(complete["downloaded"], piece as u64);
    assert_same_tree(&tmp.path().join("src/c.bin"), &dl.join("c.bin"));
}

#[test]
fn bad_torrent_is_one_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bad.torrent");
    std::fs::write(&bad, b"d4:infoi3ee").expect("write");
    let out = Bt::download(tmp.path(), &bad, &tmp.path().join("dl"), &[], &[]);
    assert!(!out.status.success());
    let err = out
        .events
        .iter()
        .find(|e| e["event"] == "error")
        .expect("error event");
    let msg = err["message"].as_str().expect("message");
    assert!(msg.contains("bad.torrent") && msg.contains("info"), "{msg}");
}

#[tokio::test]
async fn two_seeds_do_not_stay_connected() {
    use bidtorrent::engine::metainfo::Metainfo;
    use bidtorrent::engine::session::{Session, SessionConfig};
    use bidtorrent::engine::torrent::TorrentOptions;

    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(tmp.path(), "s.bin", &[("s.bin", 100_000)], 16384);
    let meta = Metainfo::from_file(&t).expect("torrent");
    let mut sessions = Vec::new();
    let mut torrents = Vec::new();
    for i in 0..2 {
        let s = Session::start(SessionConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: tmp.path().join(format!("state{i}")),
            download_limit: 0,
            upload_limit: 0,
        })
        .await
        .expect("session");
        let peers = sessions
            .iter()
            .map(|s: &std::sync::Arc<Session>| s.listen_addr())
            .collect();
        let tor = s
            .add(
                meta.clone(),
                TorrentOptions {
                    download_dir: tmp.path().join("src"),
                    peers,
                    ..TorrentOptions::default()
                },
            )
            .await
            .expect("add");
        sessions.push(s);
        torrents.push(tor);
    }
    // The second seed dials the first; both see a seed and hang up, and nobody redials.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for t in &torrents {
        assert_eq!(t.stats().peers, 0, "seeds still connected");
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    for t in &torrents {
        assert_eq!(t.stats().peers, 0, "a seed redialled a seed");
    }
}
