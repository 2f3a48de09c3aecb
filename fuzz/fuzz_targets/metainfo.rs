//! Metainfo parser: never panics, and what it accepts is self-consistent.
#![no_main]

use bidtorrent::engine::metainfo::Metainfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Metainfo::from_bytes(data) else {
        return;
    };
    let info = &m.info;
    assert!(info.piece_length > 0);
    assert_eq!(
        info.files.iter().map(|f| f.length).sum::<u64>(),
        info.total_length
    );
    let mut offset = 0;
    for f in &info.files {
        assert_eq!(f.offset, offset);
        assert!(!f.path.is_empty());
        offset += f.length;
    }
    assert_eq!(
        info.total_length.div_ceil(info.piece_length),
        info.pieces.len() as u64
    );
    let mut sum = 0;
    for i in 0..info.pieces.len() {
        let s = info.piece_size(i);
        assert!(s > 0 && s <= info.piece_length);
        sum += s;
    }
    assert_eq!(sum, info.total_length);
    // The info bytes alone rebuild the same info (the ut_metadata path).
    let again = Metainfo::from_info_bytes(&m.info_bytes, m.info_hash, m.announce_tiers.clone())
        .expect("info bytes of an accepted torrent are accepted");
    assert_eq!(&again.info, info);
    // Every torrent we accept has a magnet link that we can read back.
    let link = bidtorrent::engine::magnet::magnet_for(&m);
    let back = bidtorrent::engine::magnet::Magnet::parse(&link).expect("own magnet parses");
    assert_eq!(back.info_hash, m.info_hash);
});
