//! The little of the Solidity ABI and Ethereum JSON-RPC the vault needs, written here: every
//! argument and event field of the two contracts is one static 32-byte word, so encoding is
//! concatenating words. Everything that reads what a node sent (`rpc_result`, `quantity`,
//! `decode_log`, `decode_word`) refuses bad input with an error and has a fuzz target
//! (fuzz/fuzz_targets/chain_rpc.rs).

use serde_json::Value;
use sha3::{Digest, Keccak256};

use super::{Address, ChainError, Deposit, TxHash, VaultEvent, Withdrawn, Word};
use crate::wallet::keys::{LedgerId, PublicKey};

/// Largest reply body read from a node (a page of logs is far smaller).
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

pub fn keccak(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// The 4-byte selector of a function signature such as `transfer(address,uint256)`.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// The topic of an event signature.
pub fn topic(signature: &str) -> [u8; 32] {
    keccak(signature.as_bytes())
}

pub const DEPOSITED: &str = "Deposited(bytes32,address,uint256)";
pub const WITHDRAWN: &str = "Withdrawn(uint256,address,uint256)";
pub const WITHDRAWAL_TYPE: &str =
    "Withdrawal(address to,uint256 amount,uint256 nonce,uint256 deadline)";
pub const DOMAIN_TYPE: &str = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)";
pub const DOMAIN_NAME: &str = "bidtorrent ledger vault";
pub const DOMAIN_VERSION: &str = "1";

/// One ABI word.
pub fn word_u(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

pub fn word_addr(a: &Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(&a.0);
    w
}

/// Call data: the selector of `signature` followed by `args`.
pub fn call(signature: &str, args: &[[u8; 32]]) -> Vec<u8> {
    let mut d = selector(signature).to_vec();
    for a in args {
        d.extend_from_slice(a);
    }
    d
}

/// A word as an unsigned integer that must fit in u128.
pub fn word_to_u128(w: &[u8]) -> Result<u128, ChainError> {
    let w: &[u8; 32] = w
        .try_into()
        .map_err(|_| ChainError::BadReply(format!("a word of {} bytes, not 32", w.len())))?;
    if w[..16].iter().any(|b| *b != 0) {
        return Err(ChainError::BadReply("a number above 2^128".into()));
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&w[16..]);
    Ok(u128::from_be_bytes(b))
}

pub fn word_to_u64(w: &[u8]) -> Result<u64, ChainError> {
    u64::try_from(word_to_u128(w)?).map_err(|_| ChainError::BadReply("a number above 2^64".into()))
}

pub fn word_to_addr(w: &[u8]) -> Result<Address, ChainError> {
    if w.len() != 32 || w[..12].iter().any(|b| *b != 0) {
        return Err(ChainError::BadReply("not an ABI-encoded address".into()));
    }
    let mut a = [0u8; 20];
    a.copy_from_slice(&w[12..]);
    Ok(Address(a))
}

/// The EIP-712 digest the vault checks for a withdrawal.
pub fn withdrawal_digest(
    chain_id: u64,
    vault: &Address,
    ledger: &LedgerId,
    to: &Address,
    amount: u64,
    nonce: u64,
    deadline: u64,
) -> [u8; 32] {
    let mut d = Vec::with_capacity(6 * 32);
    for w in [
        keccak(DOMAIN_TYPE.as_bytes()),
        keccak(DOMAIN_NAME.as_bytes()),
        keccak(DOMAIN_VERSION.as_bytes()),
        word_u(chain_id.into()),
        word_addr(vault),
        ledger.0,
    ] {
        d.extend_from_slice(&w);
    }
    let domain = keccak(&d);
    let mut s = Vec::with_capacity(5 * 32);
    for w in [
        keccak(WITHDRAWAL_TYPE.as_bytes()),
        word_addr(to),
        word_u(amount.into()),
        word_u(nonce.into()),
        word_u(deadline.into()),
    ] {
        s.extend_from_slice(&w);
    }
    let mut m = vec![0x19, 0x01];
    m.extend_from_slice(&domain);
    m.extend_from_slice(&keccak(&s));
    keccak(&m)
}

/// The `result` of a JSON-RPC 2.0 reply body, or the node's error.
pub fn rpc_result(method: &str, body: &[u8]) -> Result<Value, ChainError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ChainError::BadReply(format!("{method}: not JSON ({e})")))?;
    let Value::Object(mut o) = v else {
        return Err(ChainError::BadReply(format!("{method}: not a JSON object")));
    };
    if let Some(e) = o.get("error").filter(|e| !e.is_null()) {
        let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = e
            .get("message")
            .and_then(Value::as_str)
            .map(crate::units::printable)
            .unwrap_or_else(|| "no message".into());
        return Err(ChainError::Node {
            method: method.into(),
            code,
            message: message.chars().take(300).collect(),
        });
    }
    o.remove("result")
        .ok_or_else(|| ChainError::BadReply(format!("{method}: reply has no result")))
}

/// A JSON-RPC quantity ("0x1a") as u64.
pub fn quantity(v: &Value) -> Result<u64, ChainError> {
    let s = v
        .as_str()
        .ok_or_else(|| ChainError::BadReply("a quantity is not a string".into()))?;
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| ChainError::BadReply("a quantity lacks 0x".into()))?;
    if h.is_empty() || h.len() > 16 {
        return Err(ChainError::BadReply(format!(
            "quantity {:?} is not 1 to 16 hex digits",
            crate::units::printable(s)
        )));
    }
    u64::from_str_radix(h, 16).map_err(|_| {
        ChainError::BadReply(format!(
            "quantity {:?} is not hex",
            crate::units::printable(s)
        ))
    })
}

/// JSON-RPC data ("0x…") as bytes.
pub fn data(v: &Value) -> Result<Vec<u8>, ChainError> {
    let s = v
        .as_str()
        .ok_or_else(|| ChainError::BadReply("data is not a string".into()))?;
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| ChainError::BadReply("data lacks 0x".into()))?;
    crate::units::from_hex(h).ok_or_else(|| ChainError::BadReply("data is not hex".into()))
}

/// The whole return value of an `eth_call` expected to be one word.
pub fn decode_word(v: &Value) -> Result<[u8; 32], ChainError> {
    let d = data(v)?;
    <[u8; 32]>::try_from(d.as_slice())
        .map_err(|_| ChainError::BadReply(format!("a call returned {} bytes, not 32", d.len())))
}

fn field<'a>(log: &'a Value, name: &str) -> Result<&'a Value, ChainError> {
    log.get(name)
        .ok_or_else(|| ChainError::BadReply(format!("a log has no {name}")))
}

/// One log from `eth_getLogs` as a vault event: `Ok(None)` for a log that is not the
/// vault's (another address or topic) or was removed by a reorganisation.
pub fn decode_log(log: &Value, vault: &Address) -> Result<Option<VaultEvent>, ChainError> {
    if log.get("removed").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let address: Address = field(log, "address")?
        .as_str()
        .ok_or_else(|| ChainError::BadReply("a log address is not a string".into()))?
        .parse()
        .map_err(|_| ChainError::BadReply("a log address is malformed".into()))?;
    if address != *vault {
        return Ok(None);
    }
    let topics = field(log, "topics")?
        .as_array()
        .ok_or_else(|| ChainError::BadReply("log topics are not a list".into()))?
        .iter()
        .map(decode_word)
        .collect::<Result<Vec<_>, _>>()?;
    let Some(t0) = topics.first() else {
        return Ok(None);
    };
    let tx: TxHash = TxHash(decode_word(field(log, "transactionHash")?)?);
    let log_index = quantity(field(log, "logIndex")?)?;
    let block = quantity(field(log, "blockNumber")?)?;
    let body = data(field(log, "data")?)?;
    let topic_at = |i: usize| {
        topics
            .get(i)
            .ok_or_else(|| ChainError::BadReply(format!("a vault event lacks topic {i}")))
    };
    if *t0 == topic(DEPOSITED) {
        let amount = word_to_u64(&body)?;
        return Ok(Some(VaultEvent::Deposit(Deposit {
            tx,
            log_index,
            block,
            account: PublicKey(*topic_at(1)?),
            from: word_to_addr(topic_at(2)?)?,
            amount,
        })));
    }
    if *t0 == topic(WITHDRAWN) {
        return Ok(Some(VaultEvent::Withdrawn(Withdrawn {
            tx,
            log_index,
            block,
            nonce: word_to_u64(topic_at(1)?)?,
            to: word_to_addr(topic_at(2)?)?,
            amount: word_to_u64(&body)?,
        })));
    }
    Ok(None)
}

/// Every log of an `eth_getLogs` result that is a vault event, in chain order.
pub fn decode_logs(result: &Value, vault: &Address) -> Result<Vec<VaultEvent>, ChainError> {
    let logs = result
        .as_array()
        .ok_or_else(|| ChainError::BadReply("eth_getLogs did not return a list".into()))?;
    let mut out = Vec::new();
    for l in logs {
        if let Some(e) = decode_log(l, vault)? {
            out.push(e);
        }
    }
    out.sort_by_key(|e| match e {
        VaultEvent::Deposit(d) => (d.block, d.log_index),
        VaultEvent::Withdrawn(w) => (w.block, w.log_index),
    });
    Ok(out)
}

/// A word as it goes into JSON ("0x" + 64 hex digits).
pub fn word_hex(w: &[u8; 32]) -> String {
    Word(*w).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_topics_match_the_known_values() {
        // Published values for the ERC-20 functions.
        assert_eq!(
            selector("transfer(address,uint256)"),
            [0xa9, 0x05, 0x9c, 0xbb]
        );
        assert_eq!(selector("balanceOf(address)"), [0x70, 0xa0, 0x82, 0x31]);
        assert_eq!(
            word_hex(&topic("Transfer(address,address,uint256)")),
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        );
    }

    #[test]
    fn logs_decode_and_bad_ones_are_refused() {
        let vault: Address = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
            .parse()
            .unwrap();
        let account = [7u8; 32];
        let log = serde_json::json!({
            "address": vault.to_string(),
            "topics": [word_hex(&topic(DEPOSITED)), word_hex(&account),
                       word_hex(&word_addr(&Address([9; 20])))],
            "data": word_hex(&word_u(5_000_000)),
            "transactionHash": word_hex(&[1; 32]),
            "logIndex": "0x2", "blockNumber": "0x10", "removed": false,
        });
        let e = decode_log(&log, &vault).unwrap().unwrap();
        assert_eq!(
            e,
            VaultEvent::Deposit(Deposit {
                tx: TxHash([1; 32]),
                log_index: 2,
                block: 16,
                account: PublicKey(account),
                from: Address([9; 20]),
                amount: 5_000_000
            })
        );
        // Another contract's log is not ours; a removed one is ignored.
        assert_eq!(decode_log(&log, &Address([1; 20])).unwrap(), None);
        let mut removed = log.clone();
        removed["removed"] = true.into();
        assert_eq!(decode_log(&removed, &vault).unwrap(), None);
        // An amount that does not fit, a short topic list, garbage: errors, not panics.
        let mut big = log.clone();
        big["data"] = word_hex(&[0xff; 32]).into();
        assert!(decode_log(&big, &vault).is_err());
        let mut short = log.clone();
        short["topics"] = serde_json::json!([word_hex(&topic(DEPOSITED))]);
        assert!(decode_log(&short, &vault).is_err());
        assert!(decode_log(&serde_json::json!(3), &vault).is_err());
        assert!(rpc_result("m", b"{\"error\":{\"code\":-32000,\"message\":\"no\"}}").is_err());
        assert!(quantity(&serde_json::json!("0x")).is_err());
        assert!(quantity(&serde_json::json!("0x11111111111111111")).is_err());
    }
}
