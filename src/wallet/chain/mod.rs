//! Tokens that exist outside the ledger (issue 16): a vault contract on a public chain holds
//! them; the ledger credits deposits into it and signs withdrawals out of it.
//!
//! Everything chain-specific sits behind [`Chain`], so another kind of chain can be added
//! beside the EVM one ([`evm::EvmChain`]): the ledger and the wallet only see deposits,
//! withdrawals, balances and transaction hashes. What a TRON client would need is in the
//! README ("Tokens on a chain").
//!
//! Amounts on chain are in the token's smallest unit; one unit is one micro-token in the
//! ledger (the test token has six decimals), and the vault refuses amounts above `i64::MAX`.

pub mod abi;
pub mod contracts;
pub mod evm;
pub mod local;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use k256::ecdsa::SigningKey as SecpKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wallet::keys::{self, LedgerId, PublicKey};

pub use evm::EvmChain;

/// Everything talking to a chain can fail with. Nothing a node sends can panic us.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("chain node at {url} unreachable: {why}")]
    Unreachable { url: String, why: String },
    #[error("chain node refused {method}: {message} (code {code})")]
    Node {
        method: String,
        code: i64,
        message: String,
    },
    #[error("chain node sent a malformed reply: {0}")]
    BadReply(String),
    #[error("transaction {tx} reverted")]
    Reverted { tx: TxHash },
    #[error("transaction {tx} not mined within {secs} s")]
    NotMined { tx: TxHash, secs: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error("chain key: {0}")]
    Key(#[from] std::io::Error),
}

macro_rules! hex_bytes {
    ($(#[$doc:meta])* $name:ident, $n:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; $n]);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "0x{}", keys::to_hex(&self.0))
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
        impl FromStr for $name {
            type Err = ChainError;
            fn from_str(s: &str) -> Result<Self, ChainError> {
                let t = s.trim();
                let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
                keys::from_hex(t)
                    .and_then(|v| <[u8; $n]>::try_from(v).ok())
                    .map($name)
                    .ok_or_else(|| {
                        ChainError::Invalid(format!(
                            "{} {:?} is not 0x and {} hex digits",
                            $what,
                            crate::units::printable(s),
                            2 * $n
                        ))
                    })
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_bytes!(
    /// A 20-byte EVM account or contract address.
    Address,
    20,
    "address"
);
hex_bytes!(
    /// A transaction hash.
    TxHash,
    32,
    "transaction hash"
);
hex_bytes!(
    /// A 32-byte word (signature halves, hashes).
    Word,
    32,
    "32-byte word"
);

/// Where the vault is: the `[chain]` section of the config, and the ledger's `--chain-*` flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC endpoint of a node, e.g. http://127.0.0.1:8545.
    pub rpc_url: String,
    pub chain_id: u64,
    pub vault: Address,
    pub token: Address,
    /// Blocks a deposit must be buried under before the ledger credits it.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// The ledger reads vault events from this block on (the vault's deployment block:
    /// nothing before it can concern the vault).
    #[serde(default)]
    pub from_block: u64,
}

fn default_confirmations() -> u64 {
    12
}

/// A deposit into the vault, as its event says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub tx: TxHash,
    pub log_index: u64,
    pub block: u64,
    /// The ledger account to credit (an ed25519 public key).
    pub account: PublicKey,
    pub from: Address,
    pub amount: u64,
}

/// A withdrawal paid by the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawn {
    pub tx: TxHash,
    pub log_index: u64,
    pub block: u64,
    pub nonce: u64,
    pub to: Address,
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VaultEvent {
    Deposit(Deposit),
    Withdrawn(Withdrawn),
}

impl VaultEvent {
    pub fn block(&self) -> u64 {
        match self {
            VaultEvent::Deposit(d) => d.block,
            VaultEvent::Withdrawn(w) => w.block,
        }
    }
}

/// A withdrawal the ledger authorised: whoever submits it to the vault, `amount` goes to `to`
/// once (the vault remembers `nonce`), if submitted by `deadline` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalAuth {
    pub chain_id: u64,
    pub vault: Address,
    pub to: Address,
    pub amount: u64,
    pub nonce: u64,
    pub deadline: u64,
    /// The ledger's signature (secp256k1, recoverable: v is 27 or 28).
    pub v: u8,
    pub r: Word,
    pub s: Word,
}

/// A secp256k1 chain identity: the ledger's signing key, or a wallet's account key.
#[derive(Clone)]
pub struct ChainKey(SecpKey);

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainKey({})", self.address())
    }
}

impl ChainKey {
    /// A fresh random key.
    pub fn generate() -> ChainKey {
        loop {
            // Almost every 32 random bytes are a valid scalar; retry the rest.
            if let Ok(k) = SecpKey::from_slice(&rand::random::<[u8; 32]>()) {
                return ChainKey(k);
            }
        }
    }

    pub fn from_bytes(b: &[u8; 32]) -> Result<ChainKey, ChainError> {
        SecpKey::from_slice(b)
            .map(ChainKey)
            .map_err(|_| ChainError::Invalid("not a valid secp256k1 secret key".into()))
    }

    /// Parses 64 hex digits (with or without 0x).
    pub fn from_hex(s: &str) -> Result<ChainKey, ChainError> {
        let w: Word = s
            .parse()
            .map_err(|_| ChainError::Invalid("a chain key is 64 hex digits".into()))?;
        ChainKey::from_bytes(&w.0)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    /// The EVM address: the last 20 bytes of keccak256 of the uncompressed public key.
    pub fn address(&self) -> Address {
        let point = self.0.verifying_key().to_encoded_point(false);
        let h = abi::keccak(point.as_bytes().get(1..).unwrap_or_default());
        let mut a = [0u8; 20];
        a.copy_from_slice(&h[12..]);
        Address(a)
    }

    /// Signs a 32-byte digest: (v = 27 + recovery id, r, s) with s in the lower half.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<(u8, Word, Word), ChainError> {
        let (sig, rid) = self
            .0
            .sign_prehash_recoverable(digest)
            .map_err(|e| ChainError::Invalid(format!("signing failed: {e}")))?;
        let (sig, rid) = match sig.normalize_s() {
            Some(low) => (low, k256::ecdsa::RecoveryId::new(!rid.is_y_odd(), false)),
            None => (sig, rid),
        };
        let bytes = sig.to_bytes();
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..]);
        Ok((27 + rid.to_byte(), Word(r), Word(s)))
    }

    /// Reads the hex key file at `path`, creating it (owner-only) with a fresh key on first use.
    pub fn load_or_create(path: &Path) -> Result<ChainKey, ChainError> {
        if path.exists() {
            return ChainKey::read(path);
        }
        let k = ChainKey::generate();
        keys::write_private_file(path, keys::to_hex(&k.to_bytes()).as_bytes())?;
        Ok(k)
    }

    pub fn read(path: &Path) -> Result<ChainKey, ChainError> {
        let text = std::fs::read_to_string(path)?;
        ChainKey::from_hex(&text).map_err(|_| {
            ChainError::Invalid(format!(
                "{} does not hold a 64-hex-digit secp256k1 secret key",
                path.display()
            ))
        })
    }
}

/// What the ledger and the wallet need from a chain. Calls block (they are network round
/// trips): call them from a blocking thread.
pub trait Chain: Send + Sync {
    /// "evm", for logs and reports.
    fn kind(&self) -> &'static str;
    fn config(&self) -> &ChainConfig;
    /// The newest block number.
    fn head(&self) -> Result<u64, ChainError>;
    /// The timestamp (Unix seconds) of block `block`.
    fn block_time(&self, block: u64) -> Result<u64, ChainError>;
    /// The vault's deposit and withdrawal events in blocks `from..=to`, in chain order.
    fn vault_events(&self, from: u64, to: u64) -> Result<Vec<VaultEvent>, ChainError>;
    /// Token units `holder` owns, at block `at` (`None`: the newest).
    fn token_balance(&self, holder: &Address, at: Option<u64>) -> Result<u128, ChainError>;
    /// The vault's (signer, ledger id), so a ledger can check it is the vault's ledger.
    fn vault_binding(&self) -> Result<(Address, LedgerId), ChainError>;
    /// Whether the vault has paid the authorisation `nonce` (at the newest block).
    fn nonce_used(&self, nonce: u64) -> Result<bool, ChainError>;
    /// Locks `amount` of `key`'s tokens in the vault for ledger `account` (approving the
    /// vault first); returns the deposit transaction once mined.
    fn deposit(
        &self,
        key: &ChainKey,
        amount: u64,
        account: PublicKey,
    ) -> Result<TxHash, ChainError>;
    /// Submits a withdrawal authorisation from `key`'s account; returns it once mined.
    fn withdraw(&self, key: &ChainKey, auth: &WithdrawalAuth) -> Result<TxHash, ChainError>;
    /// The ledger signs a withdrawal in this chain's format.
    fn authorise(
        &self,
        ledger_key: &ChainKey,
        ledger: LedgerId,
        to: Address,
        amount: u64,
        nonce: u64,
        deadline: u64,
    ) -> Result<WithdrawalAuth, ChainError>;
}

/// Opens the client for `config` (only EVM chains today).
pub fn connect(config: &ChainConfig) -> Result<Box<dyn Chain>, ChainError> {
    Ok(Box::new(EvmChain::new(config.clone())?))
}

/// How long a sent transaction may take to be mined before we give up waiting.
pub const MINE_TIMEOUT: Duration = Duration::from_secs(120);
