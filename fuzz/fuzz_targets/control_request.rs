//! Control-socket requests (one line of JSON from a client) and configuration files never
//! panic when parsed; a parsed request re-serialises and parses back.
#![no_main]

use bidtorrent::rpc::proto::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = serde_json::from_str::<Request>(s) {
            let again = serde_json::to_string(&r).expect("serialise");
            serde_json::from_str::<Request>(&again).expect("round trip");
        }
        let _ = bidtorrent::config::Config::parse(s, std::path::Path::new("fuzz.toml"));
    }
});
