//! The ledger wire protocol (documented in PROTOCOL-LEDGER.md): length-prefixed JSON over TCP.
//!
//! Each frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, at
//! most `MAX_FRAME`. A client sends one `Request` frame and reads one `Reply` frame; it may
//! send several requests, one after another, on the same connection.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::wallet::amount::Amount;
use crate::wallet::keys::{ChannelId, LedgerId, PublicKey};
use crate::wallet::voucher::{ChannelCertificate, Voucher};

/// Largest frame either side accepts; a request is well under 2 KiB.
pub const MAX_FRAME: usize = 64 * 1024;
/// Domain tag of a signed request: the signature covers `REQUEST_TAG ‖ payload bytes`.
pub const REQUEST_TAG: &[u8] = b"bt_market/v1/ledger-request";

/// A request. `info`, `audit` and `channel` are public reads; everything that touches an
/// account goes in `signed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    // Empty struct variants rather than unit variants: serde enforces deny_unknown_fields
    // only on those, so `{"op":"info","x":1}` is refused as malformed.
    Info {},
    Audit {},
    Channel {
        channel: ChannelId,
    },
    /// `payload` is the JSON text of a `Payload`, kept as a string so the signature covers
    /// the exact bytes the signer produced (no JSON canonicalisation needed).
    Signed {
        payload: String,
        sig: String,
    },
}

/// What an account signs: which ledger, who, a nonce that must rise, and the action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub ledger: LedgerId,
    pub account: PublicKey,
    /// Must be greater than every nonce this account used before on this ledger (replay
    /// protection, persisted by the ledger). Clients use Unix microseconds.
    pub nonce: u64,
    pub action: Action,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Create `amount` new tokens in `account`. Only the ledger's admin key may sign it.
    Mint { account: PublicKey, amount: Amount },
    /// The signer's balance and the channels it is party to.
    Balance,
    /// Escrow `cap` from the signer (buyer) for `seller` until `expiry` (Unix seconds).
    Open {
        seller: PublicKey,
        cap: Amount,
        expiry: u64,
    },
    /// Seller only: be paid `voucher.cumulative − already redeemed`.
    Redeem { voucher: Voucher },
    /// Seller: (optionally redeem `voucher`, then) close now. Buyer: close now if expired,
    /// else start the close grace period, after which the rest is refunded.
    Close {
        channel: ChannelId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voucher: Option<Voucher>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    /// Redeemable until `deadline`.
    Open,
    /// The buyer asked to close; still redeemable until `deadline`, then refunded.
    Closing,
    /// Settled: `redeemed` went to the seller, `refunded` back to the buyer.
    Closed,
}

/// A channel as the ledger sees it (also its stored record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub channel: ChannelId,
    pub buyer: PublicKey,
    pub seller: PublicKey,
    pub cap: Amount,
    pub expiry: u64,
    /// Redemption stops at this time: `expiry`, or earlier once the buyer asked to close.
    pub deadline: u64,
    pub redeemed: Amount,
    pub refunded: Amount,
    pub state: ChannelState,
    pub certificate: ChannelCertificate,
}

impl ChannelInfo {
    /// Funds still held in escrow for this channel.
    pub fn escrowed(&self) -> Amount {
        if self.state == ChannelState::Closed {
            Amount::ZERO
        } else {
            self.cap.checked_sub(self.redeemed).unwrap_or(Amount::ZERO)
        }
    }
}

/// The books: `consistent` is the invariant minted = balances + escrowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub ledger: LedgerId,
    pub minted: Amount,
    pub balances: Amount,
    pub escrowed: Amount,
    pub accounts: u64,
    pub open_channels: u64,
    pub consistent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerInfo {
    pub ledger: LedgerId,
    pub admin: PublicKey,
    pub now: u64,
    pub close_grace_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    Info(LedgerInfo),
    Audit(Audit),
    Channel(ChannelInfo),
    Minted {
        account: PublicKey,
        amount: Amount,
        balance: Amount,
    },
    Balance {
        account: PublicKey,
        balance: Amount,
        channels: Vec<ChannelInfo>,
    },
    Opened {
        certificate: ChannelCertificate,
    },
    Redeemed {
        channel: ChannelId,
        paid: Amount,
        redeemed: Amount,
    },
    Closed(ChannelInfo),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// `{"ok": <Outcome>}` or `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    // Boxed: an outcome (with a certificate) is far larger than an error.
    Ok(Box<Outcome>),
    Error(ErrorBody),
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

pub async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, body: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(body).await?;
    w.flush().await
}
