//! HTTP tracker replies (BEP 3, compact peers BEP 23, `peers6` BEP 7): whatever a tracker
//! sends, `parse_reply` never panics, and what it accepts is consistent.
#![no_main]

use bidtorrent::engine::tracker::http::{compact_v4, compact_v6, parse_reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_reply(data) {
        // Port 0 is never handed to the connector.
        assert!(r.peers.iter().all(|p| p.port() != 0));
    }
    // The compact decoders see raw strings of any length.
    assert!(compact_v4(data).count() <= data.len() / 6);
    assert!(compact_v6(data).count() <= data.len() / 18);
});
