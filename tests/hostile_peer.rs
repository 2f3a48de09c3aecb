//! Hostile peers over real loopback sockets: each is disconnected, and nothing bad reaches the
//! disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::sync::Arc;
use std::time::Duration;

use bidtorrent::engine::metainfo::Metainfo;
use bidtorrent::engine::session::{Session, SessionConfig};
use bidtorrent::engine::torrent::{Torrent, TorrentEvent, TorrentOptions};
use bidtorrent::engine::transport::{Encryption, NetOptions};
use bidtorrent::engine::types::PeerId;
use bidtorrent::engine::wire::{BlockRef, Handshake, Message};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PIECE: usize = 16 * 1024;

struct Fixture {
    _tmp: tempfile::TempDir,
    meta: Metainfo,
    session: Arc<Session>,
    torrent: Arc<Torrent>,
    src: std::path::PathBuf,
    dir: std::path::PathBuf,
}

async fn fixture(seeding: bool, peers: Vec<std::net::SocketAddr>) -> Fixture {
    fixture_on("127.0.0.1:0", seeding, peers).await
}

async fn fixture_on(listen: &str, seeding: bool, peers: Vec<std::net::SocketAddr>) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = engine_util::make_torrent(tmp.path(), "h.bin", &[("h.bin", 8 * PIECE)], PIECE);
    let meta = Metainfo::from_file(&t).expect("torrent");
    let src = tmp.path().join("src");
    let dir = if seeding {
        src.clone()
    } else {
        tmp.path().join("dl")
    };
    let session = Session::start(SessionConfig {
        listen: listen.parse().expect("addr"),
        data_dir: tmp.path().join("state"),
        download_limit: 0,
        upload_limit: 0,
    })
    .await
    .expect("session");
    // The hand-rolled peers below speak plaintext only and take a single connection: dial
    // plaintext first (an encrypted first attempt would use up that connection).
    session.set_network(NetOptions {
        encryption: Encryption::Allow,
        ..NetOptions::default()
    });
    let torrent = session
        .add(
            meta.clone(),
            TorrentOptions {
                download_dir: dir.clone(),
                peers,
                ..TorrentOptions::default()
            },
        )
        .await
        .expect("add");
    Fixture {
        _tmp: tmp,
        meta,
        session,
        torrent,
        src,
        dir,
    }
}

async fn handshake(f: &Fixture) -> TcpStream {
    let mut s = TcpStream::connect(f.session.listen_addr())
        .await
        .expect("connect");
    let hs = Handshake::new(f.meta.info_hash, PeerId(*b"-XX0001-hostilepeer1"));
    s.write_all(&hs.encode()).await.expect("send handshake");
    let mut back = [0u8; 68];
    s.read_exact(&mut back).await.expect("handshake back");
    s
}

async fn send(s: &mut TcpStream, m: Message) {
    let mut b = BytesMut::new();
    m.encode(&mut b);
    s.write_all(&b).await.expect("send");
}

/// Reads until the peer closes the connection; false if it is still open after `secs`.
async fn closed_within(s: &mut TcpStream, secs: u64) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let r = tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    r.is_ok()
}

/// Reads messages until `pred` matches one.
async fn until(s: &mut TcpStream, buf: &mut BytesMut, pred: impl Fn(&Message) -> bool) -> Message {
    loop {
        if let Some(m) = Message::decode(buf).expect("valid message") {
            if pred(&m) {
                return m;
            }
            continue;
        }
        let n = tokio::time::timeout(Duration::from_secs(15), s.read_buf(buf))
            .await
            .expect("message in time")
            .expect("read");
        assert!(n > 0, "connection closed while waiting");
    }
}

#[tokio::test]
async fn oversized_length_prefix_is_disconnected() {
    let f = fixture(true, vec![]).await;
    let mut s = handshake(&f).await;
    s.write_all(&[0xff, 0xff, 0xff, 0xf0, 7, 0, 0, 0])
        .await
        .expect("send");
    assert!(closed_within(&mut s, 5).await, "still connected");
    assert_eq!(f.torrent.stats().peers, 0);
}

#[tokio::test]
async fn request_out_of_range_is_disconnected_and_a_good_one_served() {
    let f = fixture(true, vec![]).await;
    let mut s = handshake(&f).await;
    let mut buf = BytesMut::new();
    send(&mut s, Message::Interested).await;
    until(&mut s, &mut buf, |m| matches!(m, Message::Unchoke)).await;

    // A well-formed request is answered with the right bytes first.
    let good = BlockRef {
        index: 2,
        begin: 0,
        length: 1024,
    };
    send(&mut s, Message::Request(good)).await;
    let Message::Piece { index, begin, data } =
        until(&mut s, &mut buf, |m| matches!(m, Message::Piece { .. })).await
    else {
        unreachable!()
    };
    let want = std::fs::read(f.src.join("h.bin")).expect("read");
    assert_eq!((index, begin), (2, 0));
    assert_eq!(&data[..], &want[2 * PIECE..2 * PIECE + 1024]);

    // Then one past the end of the piece.
    send(
        &mut s,
        Message::Request(BlockRef {
            index: 7,
            begin: PIECE as u32 - 10,
            length: 1024,
        }),
    )
    .await;
    assert!(closed_within(&mut s, 5).await, "still connected");

    // A request for a piece that does not exist.
    let mut s2 = handshake(&f).await;
    send(
        &mut s2,
        Message::Request(BlockRef {
            index: 999,
            begin: 0,
            length: 16384,
        }),
    )
    .await;
    assert!(closed_within(&mut s2, 5).await, "still connected");
}

#[tokio::test]
async fn wrong_block_is_detected_peer_dropped_and_nothing_bad_written() {
    // The hostile "seeder" listens; our downloader dials it.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let f = fixture(false, vec![addr]).await;
    let mut events = f.torrent.subscribe();
    let (mut s, _) = tokio::time::timeout(Duration::from_secs(15), listener.accept())
        .await
        .expect("dialled in time")
        .expect("accept");
    let mut hs = [0u8; 68];
    s.read_exact(&mut hs).await.expect("their handshake");
    let ours = Handshake::new(f.meta.info_hash, PeerId(*b"-XX0001-hostilepeer2"));
    s.write_all(&ours.encode()).await.expect("handshake");
    send(&mut s, Message::HaveAll).await;
    send(&mut s, Message::Unchoke).await;

    // Answer every request with garbage until we are thrown out.
    let mut buf = BytesMut::new();
    let dropped = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match Message::decode(&mut buf) {
                Ok(Some(Message::Request(b))) => {
                    let mut out = BytesMut::new();
                    Message::Piece {
                        index: b.index,
                        begin: b.begin,
                        data: Bytes::from(vec![0xAB; b.length as usize]),
                    }
                    .encode(&mut out);
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(dropped.is_ok(), "hostile seeder was not disconnected");

    let mut failed = false;
    while let Ok(ev) = events.try_recv() {
        if matches!(ev, TorrentEvent::HashFailed { .. }) {
            failed = true;
        }
        assert!(
            !matches!(ev, TorrentEvent::PieceVerified(_)),
            "garbage verified"
        );
    }
    assert!(failed, "no hash failure reported");
    assert_eq!(f.torrent.stats().have_pieces, 0);
    let on_disk = std::fs::read(f.dir.join("h.bin")).expect("file");
    assert!(!on_disk.contains(&0xAB), "garbage reached the disk");

    // An honest seeder then completes the download with the right bytes. It lives on another
    // loopback address: the hostile peer's address may well be banned by now.
    let honest = fixture_on("127.0.0.2:0", true, vec![]).await;
    std::fs::copy(honest.src.join("h.bin"), f.src.join("h.bin")).ok();
    f.torrent.add_peers([honest.session.listen_addr()]);
    let done = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(TorrentEvent::Complete) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(
        done,
        Ok(true),
        "download did not complete from the honest seeder"
    );
    let good = std::fs::read(honest.src.join("h.bin")).expect("src");
    assert_eq!(std::fs::read(f.dir.join("h.bin")).expect("dl"), good);
}

/// The extended handshakes of the hardening probe: 256 KiB of distinct keys (it cost the
/// seeder 1.5 CPU-seconds each, on the async runtime, and the connection stayed), nesting past
/// the decoder's depth limit, and bytes that are not bencode. Each closes the connection, and
/// soon; a well-formed one afterwards still gets an answer.
#[tokio::test]
async fn hostile_extended_handshakes_are_disconnected() {
    let f = fixture(true, vec![]).await;
    let many_keys = {
        let body: String = (0..256 * 1024 / 8)
            .map(|i| format!("4:{i:04x}0:"))
            .collect();
        format!("d{body}e").into_bytes()
    };
    assert!(many_keys.len() >= 256 * 1024);
    let deep = {
        let mut v = b"d1:m".to_vec();
        v.extend(std::iter::repeat_n(b'l', 200));
        v.extend(std::iter::repeat_n(b'e', 201));
        v
    };
    for (what, payload) in [
        ("256 KiB of keys", many_keys),
        ("200 levels deep", deep),
        ("not bencode", b"d1:mi1e".to_vec()),
    ] {
        let mut s = handshake(&f).await;
        let started = std::time::Instant::now();
        send(
            &mut s,
            Message::Extended {
                id: 0,
                payload: Bytes::from(payload),
            },
        )
        .await;
        assert!(closed_within(&mut s, 5).await, "{what}: still connected");
        eprintln!("{what}: closed after {:?}", started.elapsed());
    }

    // The seeder is still healthy: a plain peer is unchoked and served.
    let mut s = handshake(&f).await;
    let mut buf = BytesMut::new();
    send(&mut s, Message::Interested).await;
    until(&mut s, &mut buf, |m| matches!(m, Message::Unchoke)).await;
    assert_eq!(f.torrent.stats().peers, 1);
}
