//! The ledger wire protocol (documented in PROTOCOL-LEDGER.md): length-prefixed JSON over TCP.
//!
//! Each frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, at
//! most `MAX_FRAME`. A client sends one `Request` frame and reads one `Reply` frame; it may
//! send several requests, one after another, on the same connection.

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, ChannelId, LedgerId, PublicKey};
use crate::wallet::voucher::{ChannelCertificate, Voucher};

/// Largest frame either side accepts; a request is well under 2 KiB.
pub const MAX_FRAME: usize = 64 * 1024;
/// Domain tag of a signed request: the signature covers `REQUEST_TAG ‖ payload bytes`.
pub const REQUEST_TAG: &[u8] = b"bt_market/v1/ledger-request";
/// Domain tag of a signed reply: the signature covers
/// `REPLY_TAG ‖ u32be(len(request)) ‖ request frame ‖ body`, binding the reply to the exact
/// request it answers (an old reply cannot be replayed as the answer to a new request).
pub const REPLY_TAG: &[u8] = b"bt_market/v1/ledger-reply";
/// Channels per `balance` / `closed_channels` reply page; a page of channel records stays
/// well under `MAX_FRAME`.
pub const BALANCE_PAGE: usize = 40;

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
    /// The signer's balance, its account summary, and one page of the live (open or
    /// closing) channels it is party to, in channel-id order after `after`. Closed channels
    /// are never in it (see `ClosedChannels`), so however many channels an account has had,
    /// the reply stays one bounded page and the number of pages is bounded by the ledger's
    /// limit on open channels per key.
    Balance {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<ChannelId>,
        /// Only the channels on this side (absent: both).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        side: Option<Side>,
    },
    /// One page of the channels the signer is party to that were closed at or after `since`
    /// (Unix seconds), in (closed_at, channel id) order after `after`.
    ClosedChannels {
        since: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<ClosedCursor>,
    },
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
    /// When it was settled (Unix seconds); absent until closed, and in records written
    /// before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<u64>,
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

/// A side of a channel, from one account's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The account is the buyer: it pays into the channel.
    Paying,
    /// The account is the seller: the channel pays it.
    PaidBy,
}

/// Where a `closed_channels` page ends: the (closed_at, channel) of its last channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedCursor {
    pub closed_at: u64,
    pub channel: ChannelId,
}

/// An account's channels on one side, as counted by the ledger: how many are live (open
/// or closing) and how much they still hold in escrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PartySummary {
    pub live: u64,
    pub escrowed: Amount,
}

/// An account in a few numbers, whatever its number of channels: kept by the ledger as
/// counters updated in the same transaction as the channels, so reading it costs the same
/// for one channel or a million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountSummary {
    /// Channels this account pays into (buyer); `escrowed` is its own money held there.
    pub paying: PartySummary,
    /// Channels that pay this account (seller); `escrowed` is the most it could still
    /// redeem from them.
    pub paid_by: PartySummary,
    /// Everything ever minted into this account (counted since ledger schema 2).
    pub minted: Amount,
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
        /// Absent from ledgers older than this field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<AccountSummary>,
        channels: Vec<ChannelInfo>,
        /// Set when more channels follow: ask again with `after` = this id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<ChannelId>,
    },
    ClosedChannels {
        account: PublicKey,
        channels: Vec<ChannelInfo>,
        /// Set when more channels follow: ask again with `after` = this cursor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<ClosedCursor>,
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

/// What the ledger actually sends: a `Reply` as JSON text (`body`) and the ledger's ed25519
/// signature (`sig`, 128 hex digits) over `reply_message(request, body)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReply {
    pub body: String,
    pub sig: String,
}

/// The bytes a reply signature covers.
pub fn reply_message(request: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(REPLY_TAG.len() + 4 + request.len() + body.len());
    m.extend_from_slice(REPLY_TAG);
    // Frames are at most MAX_FRAME bytes, so the length always fits.
    m.extend_from_slice(&(request.len() as u32).to_be_bytes());
    m.extend_from_slice(request);
    m.extend_from_slice(body);
    m
}

/// Signs `reply` as the answer to `request` (the raw request frame) with the ledger key.
pub fn sign_reply(key: &SigningKey, request: &[u8], reply: &Reply) -> Vec<u8> {
    // Serialising these plain types cannot fail; an empty body would fail verification.
    let body = serde_json::to_string(reply).unwrap_or_default();
    let sig = keys::to_hex(
        &key.sign(&reply_message(request, body.as_bytes()))
            .to_bytes(),
    );
    serde_json::to_vec(&SignedReply { body, sig }).unwrap_or_default()
}

/// Why a reply frame was refused by the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyRefusal {
    #[error("reply is not a signed ledger reply ({0})")]
    Unreadable(String),
    #[error("reply signature is malformed")]
    MalformedSignature,
    #[error("reply is not signed by ledger {0} (forged or altered in transit)")]
    BadSignature(LedgerId),
    #[error("signed reply body is unreadable ({0})")]
    BadBody(String),
}

/// Checks a reply frame against the ledger key `ledger` and the request it answers, and
/// decodes it. `ledger = None` is trust on first use for `info`: the reply must be signed by
/// the ledger id it announces.
pub fn open_reply(
    ledger: Option<LedgerId>,
    request: &[u8],
    frame: &[u8],
) -> Result<Reply, ReplyRefusal> {
    let env: SignedReply =
        serde_json::from_slice(frame).map_err(|e| ReplyRefusal::Unreadable(e.to_string()))?;
    let sig = keys::from_hex(&env.sig)
        .and_then(|v| <[u8; 64]>::try_from(v).ok())
        .ok_or(ReplyRefusal::MalformedSignature)?;
    let reply: Reply =
        serde_json::from_str(&env.body).map_err(|e| ReplyRefusal::BadBody(e.to_string()))?;
    let signer = match (ledger, &reply) {
        (Some(l), _) => l,
        (None, Reply::Ok(o)) => match o.as_ref() {
            Outcome::Info(i) => i.ledger,
            _ => return Err(ReplyRefusal::BadBody("no ledger id pinned yet".into())),
        },
        (None, Reply::Error(_)) => {
            return Err(ReplyRefusal::BadBody("no ledger id pinned yet".into()));
        }
    };
    let vk = signer
        .verifying_key()
        .ok_or(ReplyRefusal::BadSignature(signer))?;
    vk.verify_strict(
        &reply_message(request, env.body.as_bytes()),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| ReplyRefusal::BadSignature(signer))?;
    Ok(reply)
}

/// Builds and signs a request payload (used by the client, the bench and tests).
pub fn sign_request(key: &SigningKey, ledger: LedgerId, nonce: u64, action: Action) -> Request {
    let payload = Payload {
        ledger,
        account: PublicKey::of(key),
        nonce,
        action,
    };
    // Serialising these plain types cannot fail; fall back to an unsignable payload if it did.
    let payload = serde_json::to_string(&payload).unwrap_or_default();
    let mut msg = REQUEST_TAG.to_vec();
    msg.extend_from_slice(payload.as_bytes());
    let sig = keys::to_hex(&key.sign(&msg).to_bytes());
    Request::Signed { payload, sig }
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
    // One write: a separate 4-byte write followed by the body meets Nagle's algorithm and
    // the peer's delayed ACK, and every request then waits ~40 ms.
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    w.write_all(&frame).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_bound_to_its_request_and_its_signer() {
        let k = keys::generate_key();
        let id = PublicKey::of(&k);
        let reply = Reply::Error(ErrorBody {
            code: "insufficient_funds".into(),
            message: "no".into(),
        });
        let f = sign_reply(&k, b"request one", &reply);
        assert_eq!(open_reply(Some(id), b"request one", &f).unwrap(), reply);
        // Replayed as the answer to another request.
        assert_eq!(
            open_reply(Some(id), b"request two", &f),
            Err(ReplyRefusal::BadSignature(id))
        );
        // Checked against another ledger.
        let other = PublicKey::of(&keys::generate_key());
        assert_eq!(
            open_reply(Some(other), b"request one", &f),
            Err(ReplyRefusal::BadSignature(other))
        );
        // Nothing pinned yet: only a self-signed `info` is acceptable.
        assert!(open_reply(None, b"request one", &f).is_err());
        let info = Reply::Ok(Box::new(Outcome::Info(LedgerInfo {
            ledger: id,
            admin: id,
            now: 1,
            close_grace_secs: 1,
        })));
        let f = sign_reply(&k, b"info", &info);
        assert_eq!(open_reply(None, b"info", &f).unwrap(), info);
        let forged = sign_reply(&keys::generate_key(), b"info", &info);
        assert!(open_reply(None, b"info", &forged).is_err());
    }
}
