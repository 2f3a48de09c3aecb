//! The ledger: accounts, escrow channels and settlement (SPEC §5): its rules (`engine`)
//! over a storage interface with a sled and a PostgreSQL implementation (`store`), a TCP
//! server whose every reply is signed (`bidtorrent ledger serve`, or embedded in-process),
//! an async client that checks those signatures, and the admin tools (migrate, audit, bench).

pub mod admin;
pub mod bench;
pub mod client;
pub mod engine;
pub mod limits;
pub mod proto;
pub mod server;
pub mod store;

/// Where a ledger listens unless told otherwise (loopback only).
pub const DEFAULT_LEDGER: &str = "127.0.0.1:7171";

pub use client::LedgerClient;
pub use engine::{Ledger, LedgerConfig};
pub use proto::{
    AccountSummary, Action, Audit, ChannelInfo, ChannelState, ClosedCursor, LedgerInfo, Outcome,
    PartySummary, Side,
};
pub use server::EmbeddedLedger;
pub use store::LedgerStore;

use super::amount::Amount;
use super::keys::{ChannelId, LedgerId, PublicKey};
use super::voucher::VoucherRefusal;

/// Everything a ledger request can fail with. Refused requests change no state (the only
/// write is burning the request's nonce so it cannot be replayed later).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger storage: {0}")]
    Storage(String),
    #[error("ledger I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("request signature does not verify against account {0}")]
    BadSignature(PublicKey),
    #[error("request is for ledger {got}, this is ledger {ours}")]
    WrongLedger { got: LedgerId, ours: LedgerId },
    #[error("replayed or stale request: nonce {nonce} is not above {last}")]
    StaleNonce { nonce: u64, last: u64 },
    #[error("only the ledger admin key may mint")]
    NotAdmin,
    #[error("insufficient funds: balance {balance}, needed {needed}")]
    InsufficientFunds { balance: Amount, needed: Amount },
    #[error("no such channel {0}")]
    UnknownChannel(ChannelId),
    #[error("account {0} is not a party to this channel in that role")]
    NotParty(PublicKey),
    #[error("channel {0} is closed")]
    ChannelClosed(ChannelId),
    #[error("channel {channel} is past its redemption deadline {deadline}")]
    Expired { channel: ChannelId, deadline: u64 },
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("amount overflow")]
    Overflow,
    #[error("voucher refused: {0}")]
    Voucher(VoucherRefusal),
    #[error("ledger refused: {message} ({code})")]
    Remote { code: String, message: String },
    #[error("ledger protocol: {0}")]
    Protocol(String),
    #[error(
        "account {account} already has {limit} live channels as {role}, the ledger's limit per \
         key; close some first"
    )]
    TooManyChannels {
        account: PublicKey,
        role: &'static str,
        limit: u64,
    },
    #[error("too many requests from account {0}; slow down")]
    RateLimited(PublicKey),
    #[error("ledger at {addr} sent a reply that fails verification: {why}")]
    BadReply {
        addr: String,
        why: proto::ReplyRefusal,
    },
}

impl LedgerError {
    /// The stable code sent on the wire.
    pub fn code(&self) -> String {
        match self {
            LedgerError::Storage(_) => "storage",
            LedgerError::Io(_) => "io",
            LedgerError::Malformed(_) => "malformed",
            LedgerError::BadSignature(_) => "bad_signature",
            LedgerError::WrongLedger { .. } => "wrong_ledger",
            LedgerError::StaleNonce { .. } => "stale_nonce",
            LedgerError::NotAdmin => "not_admin",
            LedgerError::InsufficientFunds { .. } => "insufficient_funds",
            LedgerError::UnknownChannel(_) => "unknown_channel",
            LedgerError::NotParty(_) => "not_party",
            LedgerError::ChannelClosed(_) => "channel_closed",
            LedgerError::Expired { .. } => "expired",
            LedgerError::Invalid(_) => "invalid",
            LedgerError::Overflow => "overflow",
            LedgerError::Voucher(v) => return format!("voucher_{}", v.code()),
            LedgerError::Remote { code, .. } => return code.clone(),
            LedgerError::Protocol(_) => "protocol",
            LedgerError::TooManyChannels { .. } => "too_many_channels",
            LedgerError::RateLimited(_) => "rate_limited",
            LedgerError::BadReply { .. } => "bad_reply",
        }
        .to_string()
    }

    /// Whether a state change was refused for a business reason (so the nonce is burned),
    /// as opposed to a storage or authentication failure.
    fn burns_nonce(&self) -> bool {
        !matches!(
            self,
            LedgerError::Storage(_)
                | LedgerError::Io(_)
                | LedgerError::Malformed(_)
                | LedgerError::BadSignature(_)
                | LedgerError::WrongLedger { .. }
                | LedgerError::StaleNonce { .. }
                | LedgerError::RateLimited(_)
        )
    }
}
