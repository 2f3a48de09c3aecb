//! Magnet parser: never panics on any UTF-8, and what it accepts survives `to_uri` unchanged.
#![no_main]

use bidtorrent::engine::magnet::Magnet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // Also try it as the query of a magnet link, so the fuzzer need not find the prefix.
    for input in [s.to_string(), format!("magnet:?{s}")] {
        if let Ok(m) = Magnet::parse(&input) {
            let uri = m.to_uri();
            let back = Magnet::parse(&uri).expect("our own URI parses");
            assert_eq!(back, m, "{uri}");
        }
    }
});
