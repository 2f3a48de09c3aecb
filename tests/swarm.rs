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

    // First run is slowed down and stopped with SIGTERM part way: once a verified piece is on
    // disk (a condition, not a guess at how long that takes).
    let mut first = Bt::spawn_download(tmp.path(), &t, &dl, &[&peer], &["--limit-down", "1M"]);
    let src = std::fs::read(tmp.path().join("src/resume.bin")).expect("source");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let on_disk = std::fs::read(dl.join("resume.bin")).unwrap_or_default();
        let piece_written = on_disk
            .chunks(64 * 1024)
            .zip(src.chunks(64 * 1024))
            .any(|(a, b)| a == b && a.iter().any(|&x| x != 0));
        if piece_written {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no piece written");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let start = |i: usize, peers: Vec<std::net::SocketAddr>| {
        let (meta, tmp) = (meta.clone(), tmp.path().to_path_buf());
        async move {
            let s = Session::start(SessionConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                data_dir: tmp.join(format!("state{i}")),
                download_limit: 0,
                upload_limit: 0,
            })
            .await
            .expect("session");
            let tor = s
                .add(
                    meta,
                    TorrentOptions {
                        download_dir: tmp.join("src"),
                        peers,
                        ..TorrentOptions::default()
                    },
                )
                .await
                .expect("add");
            (s, tor)
        }
    };
    let (first, first_t) = start(0, vec![]).await;

    // The second seed dials the first through a relay that reports every connection: the
    // test must see that they did connect (passing because they never met proves nothing).
    // The relay has the first seed's port on another loopback address, so the address dialled
    // is the peer's IP with its advertised port, as on a direct connection. (On a different
    // port the engine marks ip:advertised-port as a seed, not the address it dialled, and
    // redials it every few seconds: a known gap, reported with issue 17.)
    let relay = tokio::net::TcpListener::bind(("127.0.0.2", first.listen_addr().port()))
        .await
        .expect("relay");
    let relay_addr = relay.local_addr().expect("addr");
    let target = first.listen_addr();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let relay_task = tokio::spawn(async move {
        while let Ok((mut a, _)) = relay.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut b) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let copied = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                let _ = tx.send(copied.unwrap_or((0, 0)));
            });
        }
    });
    let (_second, second_t) = start(1, vec![relay_addr]).await;

    let (up, down) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the seeds never connected, or never hung up")
        .expect("relay");
    // Both BitTorrent handshakes (68 bytes each) crossed before the hang-up.
    assert!(
        up >= 68 && down >= 68,
        "handshakes: {up} B out, {down} B back"
    );
    for t in [&first_t, &second_t] {
        assert_eq!(t.stats().peers, 0, "seeds still connected");
    }
    // An observation window for what must not happen: nobody redials.
    // Then a window in which no connection between them may last. One redial does happen:
    // only the side that hangs up marks the other as a seed, so the other side dials once
    // more (found by this test; the old one sampled twice and missed it). A connection kept
    // open, or a redial every few seconds, fails here.
    let window = std::time::Instant::now() + Duration::from_secs(10);
    let mut connected_since: Option<std::time::Instant> = None;
    let mut relayed = 1;
    while std::time::Instant::now() < window {
        while rx.try_recv().is_ok() {
            relayed += 1;
        }
        let any = first_t.stats().peers + second_t.stats().peers > 0;
        match (any, connected_since) {
            (true, None) => connected_since = Some(std::time::Instant::now()),
            (true, Some(t)) => assert!(
                t.elapsed() < Duration::from_secs(5),
                "two seeds stayed connected for {:?}",
                t.elapsed()
            ),
            (false, _) => connected_since = None,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        relayed <= 2,
        "{relayed} connections through the relay: seeds keep redialling"
    );
    for t in [&first_t, &second_t] {
        assert_eq!(t.stats().peers, 0, "seeds connected at the end");
    }
    relay_task.abort();
}

/// Pages of `path` in the page cache (mincore(2) over a read-only mapping).
fn cached_pages(path: &std::path::Path) -> (usize, usize) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).expect("open");
    let len = f.metadata().expect("meta").len() as usize;
    // SAFETY: a private read-only mapping of a file we keep open; mincore only reads it.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        let pages = len.div_ceil(4096);
        let mut vec = vec![0u8; pages];
        assert_eq!(libc::mincore(p, len, vec.as_mut_ptr()), 0, "mincore");
        libc::munmap(p, len);
        (vec.iter().filter(|&&b| b & 1 == 1).count(), pages)
    }
}

/// Whether the filesystem under `dir` takes O_DIRECT (tmpfs on older kernels does not).
fn takes_o_direct(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let probe = dir.join("o_direct_probe");
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// `[disk] write_through` (issue 19): a download's verified pieces go straight to the disk, so
/// the finished file is (almost) not in the page cache; `--page-cache` puts it there as
/// before. Both copies are byte-identical to the source.
#[test]
fn write_through_keeps_a_download_out_of_the_page_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if !takes_o_direct(tmp.path()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the test directory's filesystem refuses O_DIRECT"
        );
        eprintln!("skipped: this filesystem refuses O_DIRECT");
        return;
    }
    let size = 8 << 20;
    let t = make_torrent(tmp.path(), "wt.bin", &[("wt.bin", size)], 256 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let mut resident = Vec::new();
    for (dir, extra) in [("dl-direct", &[][..]), ("dl-cached", &["--page-cache"][..])] {
        let dl = tmp.path().join(dir);
        let out = Bt::download(tmp.path(), &t, &dl, &[&peer], extra);
        assert!(out.status.success(), "download failed: {}", out.stderr);
        // Counted before the comparison, which reads the file into the cache.
        resident.push(cached_pages(&dl.join("wt.bin")));
        assert_same_tree(&tmp.path().join("src/wt.bin"), &dl.join("wt.bin"));
        let _ = std::fs::remove_dir_all(tmp.path().join("state-dl"));
    }
    let (direct, pages) = resident[0];
    assert!(
        direct < pages / 10,
        "write-through left {direct} of {pages} pages cached"
    );
    let (cached, _) = resident[1];
    assert!(
        cached > pages / 2,
        "--page-cache left only {cached} of {pages} pages cached"
    );
}
