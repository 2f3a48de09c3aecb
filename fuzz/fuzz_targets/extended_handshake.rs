//! The BEP 10 extended handshake, as the peer connection and the magnet fetcher read it:
//! never panics, refuses what is too big or not a dictionary, and keeps only usable ids.
#![no_main]

use bidtorrent::engine::metadata::parse_handshake;
use bidtorrent::engine::peer::{MAX_EXTENDED_HANDSHAKE, parse_extended_handshake};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_extended_handshake(data) {
        Ok(hs) => {
            assert!(data.len() <= MAX_EXTENDED_HANDSHAKE);
            assert!(hs.ids.values().all(|&id| id != 0));
            assert!(hs.client.as_ref().is_none_or(|c| c.chars().count() <= 64));
        }
        Err(_) => {}
    }
    if let Ok((id, size)) = parse_handshake(data) {
        assert!(id != 0 && size > 0);
    }
});
