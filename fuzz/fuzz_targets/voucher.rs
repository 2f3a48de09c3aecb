//! Voucher decoding (binary and hex) and ledger request parsing never panic, and a decoded
//! voucher re-encodes to exactly the input bytes.
#![no_main]

use bidtorrent::wallet::ledger::proto::{Payload, Request};
use bidtorrent::wallet::{ChannelCertificate, Voucher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Voucher::from_bytes(data) {
        assert_eq!(&v.to_bytes()[..], data);
        // Signature checks on arbitrary keys must not panic either.
        let _ = v.signature_valid(&v.payee);
        if let Ok(c) = ChannelCertificate::from_bytes(&[&[1u8][..], &[0u8; 208][..]].concat()) {
            let _ = v.check(&c, 0);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Voucher::from_hex(s);
        let _ = serde_json::from_str::<Request>(s);
        let _ = serde_json::from_str::<Payload>(s);
    }
});
