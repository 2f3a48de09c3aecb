//! ut_pex (BEP 11) messages and BEP 14 local discovery announces: never panic, respect limits,
//! and PEX round-trips what it accepts.
#![no_main]

use bidtorrent::engine::lsd::Announce;
use bidtorrent::engine::pex::{MAX_ENTRIES, PexMsg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = PexMsg::parse(data, MAX_ENTRIES) {
        assert!(m.added.len() <= MAX_ENTRIES && m.dropped.len() <= MAX_ENTRIES);
        let back = PexMsg::parse(&m.encode(), MAX_ENTRIES).expect("our own encoding parses");
        assert_eq!(back.added.len(), m.added.len());
    }
    let _ = Announce::parse(data);
});
