//! UDP tracker replies (BEP 15): connect and announce replies of any bytes never panic, a
//! reply for another transaction is ignored, and accepted peers fit the datagram.
#![no_main]

use bidtorrent::engine::tracker::udp::{parse_announce_reply, parse_connect_reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The transaction id the reply must carry: the bytes at 4..8 when present, so the fuzzer
    // reaches past the header, and a different one to check that a stray reply is ignored.
    let tid = data
        .get(4..8)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let _ = parse_connect_reply(data, tid);
    for v6 in [false, true] {
        if let Ok(Some(r)) = parse_announce_reply(data, tid, v6) {
            let per = if v6 { 18 } else { 6 };
            assert!(r.peers.len() <= data.len().saturating_sub(20) / per);
        }
        if data.len() >= 8 {
            assert!(matches!(
                parse_announce_reply(data, tid.wrapping_add(1), v6),
                Ok(None)
            ));
        }
    }
});
