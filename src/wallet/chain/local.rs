//! The wallet's side of the chain: its secp256k1 key (`DIR/chain.key`, hex, 0600, created on
//! first use, like the ed25519 one) and a log of its deposits and withdrawals
//! (`DIR/chain.jsonl`, one JSON object a line, owner-only, appended).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Address, ChainError, ChainKey, TxHash};
use crate::wallet::amount::Amount;

pub fn key_path(wallet_dir: &Path) -> PathBuf {
    wallet_dir.join("chain.key")
}

fn log_path(wallet_dir: &Path) -> PathBuf {
    wallet_dir.join("chain.jsonl")
}

/// The wallet's chain key, created on first use.
pub fn wallet_key(wallet_dir: &Path) -> Result<ChainKey, ChainError> {
    ChainKey::load_or_create(&key_path(wallet_dir))
}

/// One line of the wallet's chain log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainEntry {
    /// Tokens locked in the vault for this wallet's account (credited after confirmations).
    Deposit {
        time: u64,
        amount: Amount,
        tx: TxHash,
        from: Address,
    },
    /// A withdrawal the ledger authorised (`tx` once this wallet submitted it). Written again
    /// when it changes; the last line of a nonce wins.
    Withdrawal {
        time: u64,
        amount: Amount,
        nonce: u64,
        to: Address,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx: Option<TxHash>,
    },
}

pub fn append(wallet_dir: &Path, e: &ChainEntry) -> Result<(), ChainError> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log_path(wallet_dir))?;
    let line = serde_json::to_string(e).map_err(|e| ChainError::Invalid(e.to_string()))?;
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// The log, each withdrawal once (its latest line), in order of first appearance. A line
/// that does not parse (a torn write) is skipped.
pub fn entries(wallet_dir: &Path) -> Result<Vec<ChainEntry>, ChainError> {
    let text = match std::fs::read_to_string(log_path(wallet_dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e.into()),
    };
    let mut out: Vec<ChainEntry> = Vec::new();
    for line in text.lines() {
        let Ok(e) = serde_json::from_str::<ChainEntry>(line) else {
            continue;
        };
        if let ChainEntry::Withdrawal { nonce, .. } = &e {
            let n = *nonce;
            if let Some(slot) = out
                .iter_mut()
                .find(|x| matches!(x, ChainEntry::Withdrawal { nonce, .. } if *nonce == n))
            {
                *slot = e;
                continue;
            }
        }
        out.push(e);
    }
    Ok(out)
}
