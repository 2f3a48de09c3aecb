#![no_main]
//! Peer wire frames from a hostile peer: decoding a stream of frames must never panic, and
//! every frame that decodes must re-encode to the same bytes.

use bidtorrent::engine::bitfield::Bitfield;
use bidtorrent::engine::wire::{Handshake, Message};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 68 {
        let mut hs = [0u8; 68];
        hs.copy_from_slice(&data[..68]);
        let _ = Handshake::decode(&hs);
    }
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.clone();
        match Message::decode(&mut buf) {
            Ok(Some(m)) => {
                let used = before.len() - buf.len();
                let mut out = BytesMut::new();
                m.encode(&mut out);
                assert_eq!(&out[..], &before[..used], "re-encoding differs for {m:?}");
                if let Message::Bitfield(b) = &m {
                    let _ = Bitfield::from_bytes(b, b.len() * 8);
                    let _ = Bitfield::from_bytes(b, (b.len() * 8).saturating_sub(3));
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
});
