//! What a chain node sends (issue 16): a JSON-RPC reply body goes through `rpc_result`, then
//! its result is read as a list of logs (`decode_logs`), a quantity and a call's return word;
//! a line of the wallet's chain log and an address parse or fail without panicking. A decoded
//! event always names the vault it was asked for.
#![no_main]

use bidtorrent::wallet::chain::abi::{data, decode_logs, decode_word, quantity, rpc_result};
use bidtorrent::wallet::chain::local::ChainEntry;
use bidtorrent::wallet::chain::{Address, VaultEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let vault = Address([0x5f; 20]);
    if let Ok(v) = rpc_result("eth_getLogs", input) {
        if let Ok(events) = decode_logs(&v, &vault) {
            for e in events {
                match e {
                    VaultEvent::Deposit(d) => assert!(d.amount <= u64::MAX),
                    VaultEvent::Withdrawn(w) => assert!(w.amount <= u64::MAX),
                }
            }
        }
        let _ = quantity(&v);
        let _ = decode_word(&v);
        let _ = data(&v);
    }
    let _ = serde_json::from_slice::<ChainEntry>(input);
    if let Ok(s) = std::str::from_utf8(input) {
        let _ = s.parse::<Address>();
    }
});
