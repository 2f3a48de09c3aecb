//! BEP 52 metainfo: arbitrary bytes, and arbitrary `file tree` / `piece layers` spliced into a
//! valid v2 torrent, never panic; accepted v2 torrents are consistent (every file with data
//! starts on a piece boundary, pieces never span files, layers present are whole and match
//! their roots, the info hashes are the digests of the info bytes).
#![no_main]

use bidtorrent::bencode::{self, Owned};
use bidtorrent::engine::merkle;
use bidtorrent::engine::metainfo::Metainfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(data);
    // The input as a `file tree` and as `piece layers` in an otherwise valid v2 torrent, so
    // the fuzzer spends its time inside the v2 parser rather than on the outer structure.
    if let Ok(v) = bencode::decode(data) {
        let value = Owned::from(&v);
        let info = Owned::dict()
            .with("name", "x")
            .with("piece length", 16384i64)
            .with("meta version", 2i64)
            .with("file tree", value.clone());
        check(&Owned::dict().with("info", info.clone()).encode());
        let fixed_tree = Owned::dict().with(
            "a",
            Owned::dict().with(
                "",
                Owned::dict()
                    .with("length", 40000i64)
                    .with("pieces root", vec![0u8; 32]),
            ),
        );
        let info = info.with("file tree", fixed_tree);
        check(
            &Owned::dict()
                .with("info", info)
                .with("piece layers", value)
                .encode(),
        );
    }
});

fn check(bytes: &[u8]) {
    let Ok(m) = Metainfo::from_bytes(bytes) else {
        return;
    };
    let Some(v2) = m.info.v2.as_ref() else { return };
    assert_eq!(m.info_hash_v2, Some(merkle::sha256(&m.info_bytes)));
    assert_eq!(m.num_pieces(), v2.num_pieces);
    let pl = m.info.piece_length;
    let mut next_piece = 0u32;
    for f in &v2.files {
        let entry = &m.info.files[f.file];
        assert!(!entry.pad);
        assert_eq!(entry.offset % pl, 0, "v2 file off a piece boundary");
        assert_eq!(u64::from(f.first_piece) * pl, entry.offset);
        assert!(f.first_piece >= next_piece, "pieces overlap");
        next_piece = f.first_piece + f.num_pieces;
        // Without a `piece layers` dict the layers are left to be fetched from peers.
        if f.num_pieces > 1 && !f.layer.is_empty() {
            assert_eq!(f.layer.len(), f.num_pieces as usize);
            assert_eq!(merkle::root_from_layer(&f.layer, pl), f.root);
        }
    }
    assert!(next_piece as usize <= m.num_pieces());
    // The saved form (what a magnet's fetched metadata becomes) parses to the same torrent.
    let again = Metainfo::from_bytes(&m.to_torrent_bytes()).expect("our own output parses");
    assert_eq!(again.info, m.info);
    assert_eq!(again.info_hash, m.info_hash);
}
