//! ut_metadata (BEP 9) messages: parsing never panics, what parses re-encodes to something that
//! parses the same, and the fetch-side extended handshake and piece assembly never panic.
#![no_main]

use bidtorrent::engine::metadata::Assembly;
use bidtorrent::engine::ut_metadata::MetadataMsg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MetadataMsg::parse(data) {
        let again = m.encode();
        assert_eq!(MetadataMsg::parse(&again).as_ref(), Ok(&m));
        // Feed data pieces into an assembly sized from the first bytes: any outcome but a panic.
        if let MetadataMsg::Data { piece, total_size, data: d } = m {
            let mut a = Assembly::default();
            let size = (data.first().copied().unwrap_or(1) as usize + 1) * 97;
            if a.start(size).is_ok() {
                let _ = a.add(piece, total_size, d);
            }
        }
    }
});
