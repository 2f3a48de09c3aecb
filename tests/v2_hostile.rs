//! Hostile BitTorrent v2 input: metadata that lies (a tree escaping the download dir, a piece
//! layer of the wrong length or not matching its root) is refused before anything is written,
//! and a peer's hash requests are answered with proofs that check out, or rejected, never
//! with a crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use bidtorrent::bencode::{self, Owned};
use bidtorrent::engine::merkle;
use bidtorrent::engine::metainfo::Metainfo;
use bidtorrent::engine::types::PeerId;
use bidtorrent::engine::wire::{Handshake, HashRequest, Message};
use bytes::BytesMut;

fn make_v2(root: &Path) -> std::path::PathBuf {
    let src = root.join("seed").join("payload");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("big.bin"), engine_util::payload(300_000, 5)).unwrap();
    std::fs::write(src.join("small.bin"), engine_util::payload(100, 6)).unwrap();
    let torrent = root.join("t.torrent");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bidtorrent"))
        .args([
            "create",
            engine_util::s(&src),
            "-o",
            engine_util::s(&torrent),
        ])
        .args(["--v2", "--piece-size", "32K", "--no-date", "-q"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    torrent
}

fn rewrite(torrent: &Path, out: &Path, f: impl FnOnce(&mut Owned)) {
    let bytes = std::fs::read(torrent).unwrap();
    let mut o = Owned::from(&bencode::decode(&bytes).unwrap());
    f(&mut o);
    std::fs::write(out, o.encode()).unwrap();
}

fn get<'a>(o: &'a mut Owned, key: &str) -> &'a mut Owned {
    match o {
        Owned::Dict(m) => m.get_mut(key.as_bytes()).expect(key),
        _ => panic!("not a dict"),
    }
}

#[test]
fn lying_v2_metadata_is_refused_and_nothing_is_written() {
    let root = tempfile::tempdir().unwrap();
    let torrent = make_v2(root.path());
    type Edit = Box<dyn FnOnce(&mut Owned)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "escape",
            Box::new(|o: &mut Owned| {
                let leaf = Owned::dict().with(
                    "",
                    Owned::dict()
                        .with("length", 100i64)
                        .with("pieces root", merkle::sha256(b"x").to_vec()),
                );
                let tree = Owned::dict().with("..", Owned::dict().with("evil", leaf));
                if let Owned::Dict(info) = get(o, "info") {
                    info.insert(b"file tree".to_vec(), tree);
                }
            }),
            "unsafe name",
        ),
        (
            "short layer",
            Box::new(|o: &mut Owned| {
                if let Owned::Dict(layers) = get(o, "piece layers") {
                    for v in layers.values_mut() {
                        if let Owned::Bytes(b) = v {
                            b.truncate(b.len() - 32);
                        }
                    }
                }
            }),
            "piece layer is",
        ),
        (
            "wrong layer",
            Box::new(|o: &mut Owned| {
                if let Owned::Dict(layers) = get(o, "piece layers") {
                    for v in layers.values_mut() {
                        if let Owned::Bytes(b) = v {
                            b[5] ^= 0x40;
                        }
                    }
                }
            }),
            "does not hash",
        ),
    ];
    for (name, f, want) in cases {
        let bad = root.path().join(format!("{name}.torrent"));
        rewrite(&torrent, &bad, f);
        let dl = root.path().join("jail").join("dl");
        std::fs::create_dir_all(&dl).unwrap();
        let out =
            engine_util::Bt::download(&root.path().join(format!("st-{name}")), &bad, &dl, &[], &[]);
        assert!(!out.status.success(), "{name}: accepted");
        let said = format!("{:?}{}", out.events, out.stderr);
        assert!(said.contains(want), "{name}: {said}");
        let written: Vec<_> = std::fs::read_dir(root.path().join("jail"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(written, vec![std::ffi::OsString::from("dl")], "{name}");
        assert_eq!(
            std::fs::read_dir(&dl).unwrap().count(),
            0,
            "{name}: wrote files"
        );
    }
}

fn read_msg(s: &mut TcpStream, buf: &mut BytesMut) -> Message {
    loop {
        if let Some(m) = Message::decode(buf).expect("valid frame") {
            return m;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "seeder hung up");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until a BEP 52 answer arrives (skipping the bitfield, extended handshake, ...).
fn next_hash_answer(s: &mut TcpStream, buf: &mut BytesMut) -> Message {
    loop {
        if let m @ (Message::Hashes { .. } | Message::HashReject(_)) = read_msg(s, buf) {
            return m;
        }
    }
}

#[test]
fn hash_requests_get_proofs_that_verify_or_a_reject() {
    let root = tempfile::tempdir().unwrap();
    let torrent = make_v2(root.path());
    let meta = Metainfo::from_file(&torrent).unwrap();
    let v2 = meta.info.v2.clone().unwrap();
    let big = v2.files.iter().find(|f| f.num_pieces > 1).unwrap().clone();
    let mut seeder = engine_util::Bt::seed(root.path(), &torrent, &root.path().join("seed"));
    let port = seeder.port();

    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let hs = Handshake::new(meta.info_hash, PeerId(*b"-XX0001-abcdefghijkl")).with_v2();
    s.write_all(&hs.encode()).unwrap();
    let mut theirs = [0u8; 68];
    s.read_exact(&mut theirs).unwrap();
    let theirs = Handshake::decode(&theirs).unwrap();
    assert!(
        theirs.supports_v2(),
        "a v2 torrent's handshake carries the v2 bit"
    );
    let mut buf = BytesMut::new();
    let send = |s: &mut TcpStream, m: Message| {
        let mut out = BytesMut::new();
        m.encode(&mut out);
        s.write_all(&out).unwrap();
    };

    // The piece layer (layer 1 for 32 KiB pieces), two hashes with a full proof.
    let good = HashRequest {
        pieces_root: big.root,
        base_layer: 1,
        index: 2,
        length: 2,
        proof_layers: 10,
    };
    send(&mut s, Message::HashRequest(good));
    match next_hash_answer(&mut s, &mut buf) {
        Message::Hashes { req, hashes } => {
            assert_eq!(req, good);
            let width = merkle::layer_width(big.length, 1);
            let (base, uncles) = hashes.split_at(2);
            assert!(merkle::verify_proof(&big.root, base, 2, uncles, width));
            assert_eq!(base, &big.layer[2..4]);
        }
        other => panic!("expected hashes, got {other:?}"),
    }
    // Unknown root, leaf layer, unaligned, absurd lengths: rejected, connection kept.
    for bad in [
        HashRequest {
            pieces_root: [9; 32],
            ..good
        },
        HashRequest {
            base_layer: 0,
            ..good
        },
        HashRequest { index: 1, ..good },
        HashRequest {
            index: u32::MAX,
            length: u32::MAX,
            proof_layers: u32::MAX,
            ..good
        },
    ] {
        send(&mut s, Message::HashRequest(bad));
        assert_eq!(next_hash_answer(&mut s, &mut buf), Message::HashReject(bad));
    }
    // Unsolicited hashes with a bogus proof change nothing and do not end the connection.
    send(
        &mut s,
        Message::Hashes {
            req: good,
            hashes: vec![[7; 32]; 5],
        },
    );
    send(&mut s, Message::HashRequest(good));
    assert!(matches!(
        next_hash_answer(&mut s, &mut buf),
        Message::Hashes { .. }
    ));
}
