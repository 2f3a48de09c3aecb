//! Channel certificate decoding (binary and hex) never panics, a decoded certificate
//! re-encodes to exactly the input bytes, and verifying it against any key never panics.
#![no_main]

use bidtorrent::wallet::ChannelCertificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = ChannelCertificate::from_bytes(data) {
        assert_eq!(&c.to_bytes()[..], data);
        let _ = c.verify(&c.ledger);
        let _ = c.verify(&c.buyer);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ChannelCertificate::from_hex(s);
        let _ = serde_json::from_str::<bidtorrent::wallet::Payment>(s);
    }
});
