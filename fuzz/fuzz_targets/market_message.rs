#![no_main]
//! bt_market messages from a hostile peer: decoding never panics, and a decoded message
//! re-encodes to something that decodes to the same message.

use bidtorrent::bencode;
use bidtorrent::market::proto::{HandshakeInfo, MarketMsg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(m)) = MarketMsg::decode(data) {
        let again = MarketMsg::decode(&m.encode());
        assert!(matches!(again, Ok(Some(_))), "{m:?} does not survive re-encoding");
    }
    if let Ok(v) = bencode::decode(data)
        && let Some(d) = v.as_dict()
    {
        let _ = HandshakeInfo::from_handshake(d);
    }
});
