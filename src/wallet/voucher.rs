//! Vouchers and channel certificates: what they sign, how they travel, how they are checked.
//!
//! Both have a fixed binary layout (`to_bytes`/`from_bytes`) so they can ride inside bencoded
//! BEP 10 messages as byte strings, and a domain-separated signed message so a signature made
//! for one purpose can never be presented as another (research/incentives.md §5 A4, §7).
//!
//! Voucher wire layout (177 bytes):
//! `version(1)=1 ‖ ledger(32) ‖ channel(32) ‖ payee(32) ‖ seq(u64 LE) ‖ cumulative(u64 LE) ‖ sig(64)`;
//! the signature is ed25519 by the channel's buyer over
//! `"bt_market/v1/voucher" ‖ ledger ‖ channel ‖ payee ‖ seq ‖ cumulative`.
//!
//! Certificate wire layout (209 bytes):
//! `version(1)=1 ‖ ledger(32) ‖ channel(32) ‖ buyer(32) ‖ seller(32) ‖ cap(u64 LE) ‖ expiry(u64 LE, Unix s) ‖ sig(64)`;
//! the signature is ed25519 by the ledger key (= ledger id) over
//! `"bt_market/v1/channel" ‖ ledger ‖ channel ‖ buyer ‖ seller ‖ cap ‖ expiry`.

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::amount::Amount;
use super::keys::{ChannelId, LedgerId, PublicKey, from_hex, to_hex};

pub const VOUCHER_TAG: &[u8] = b"bt_market/v1/voucher";
pub const CERTIFICATE_TAG: &[u8] = b"bt_market/v1/channel";
const VERSION: u8 = 1;
pub const VOUCHER_LEN: usize = 1 + 32 * 3 + 8 + 8 + 64;
pub const CERTIFICATE_LEN: usize = 1 + 32 * 4 + 8 + 8 + 64;

/// Why bytes are not a voucher or certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{what} is {got} bytes, expected {want}")]
    Length {
        what: &'static str,
        got: usize,
        want: usize,
    },
    #[error("{what} has unknown version {version}")]
    Version { what: &'static str, version: u8 },
    #[error("{what} is not valid hex")]
    Hex { what: &'static str },
}

/// Why a voucher is refused. Every refusal leaves every balance and every stored voucher
/// exactly as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherRefusal {
    #[error("malformed voucher: {0}")]
    Malformed(#[from] DecodeError),
    #[error("channel certificate is not signed by ledger {0}")]
    BadCertificate(LedgerId),
    #[error("ledger {0} is not one this wallet knows")]
    UnknownLedger(LedgerId),
    #[error("channel {0} pays another key, not this wallet")]
    NotPayee(ChannelId),
    #[error("voucher belongs to another channel, ledger or payee than certificate {0}")]
    WrongChannel(ChannelId),
    #[error("voucher signature does not verify against the buyer's key")]
    BadSignature,
    #[error("channel {channel} expired at {expiry} (now {now})")]
    Expired {
        channel: ChannelId,
        expiry: u64,
        now: u64,
    },
    #[error("voucher of {cumulative} exceeds the channel cap of {cap}")]
    OverCap { cumulative: Amount, cap: Amount },
    #[error("replayed voucher: sequence {seq} is not above the stored {stored}")]
    Replayed { seq: u64, stored: u64 },
    #[error("voucher cumulative {cumulative} does not rise above the stored {stored}")]
    NotIncreasing { cumulative: Amount, stored: Amount },
    #[error("channel {0} is closed")]
    Closed(ChannelId),
    #[error("wallet storage failed: {0}")]
    Storage(String),
}

impl VoucherRefusal {
    /// A stable machine-readable code (CLI `--json`, ledger error codes, BEP 10 reject reasons).
    pub fn code(&self) -> &'static str {
        match self {
            VoucherRefusal::Malformed(_) => "malformed",
            VoucherRefusal::BadCertificate(_) => "bad_certificate",
            VoucherRefusal::UnknownLedger(_) => "unknown_ledger",
            VoucherRefusal::NotPayee(_) => "not_payee",
            VoucherRefusal::WrongChannel(_) => "wrong_channel",
            VoucherRefusal::BadSignature => "bad_signature",
            VoucherRefusal::Expired { .. } => "expired",
            VoucherRefusal::OverCap { .. } => "over_cap",
            VoucherRefusal::Replayed { .. } => "replayed",
            VoucherRefusal::NotIncreasing { .. } => "not_increasing",
            VoucherRefusal::Closed(_) => "closed",
            VoucherRefusal::Storage(_) => "storage",
        }
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn take<const N: usize>(b: &[u8], at: &mut usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[*at..*at + N]);
    *at += N;
    a
}

fn verify(key: &PublicKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    // verify_strict rejects small-order keys and non-canonical signatures, so a voucher has
    // exactly one valid encoding (research §5 A7: no malleability to dodge replay checks).
    match key.verifying_key() {
        Some(vk) => vk.verify_strict(msg, &Signature::from_bytes(sig)).is_ok(),
        None => false,
    }
}

/// The wire layout vouchers and receipts share (177 bytes):
/// `version ‖ ledger ‖ channel ‖ payee ‖ seq (u64 LE) ‖ cumulative (u64 LE) ‖ signature`.
fn encode_layout(
    ledger: &LedgerId,
    channel: &ChannelId,
    payee: &PublicKey,
    seq: u64,
    cumulative: Amount,
    signature: &[u8; 64],
) -> [u8; VOUCHER_LEN] {
    let mut v = Vec::with_capacity(VOUCHER_LEN);
    v.push(VERSION);
    v.extend_from_slice(&ledger.0);
    v.extend_from_slice(&channel.0);
    v.extend_from_slice(&payee.0);
    put_u64(&mut v, seq);
    put_u64(&mut v, cumulative.0);
    v.extend_from_slice(signature);
    let mut out = [0u8; VOUCHER_LEN];
    out.copy_from_slice(&v);
    out
}

type Layout = (LedgerId, ChannelId, PublicKey, u64, Amount, [u8; 64]);

/// Decodes [`encode_layout`]'s bytes; `what` names the kind in errors. Never panics.
fn decode_layout(b: &[u8], what: &'static str) -> Result<Layout, DecodeError> {
    if b.len() != VOUCHER_LEN {
        return Err(DecodeError::Length {
            what,
            got: b.len(),
            want: VOUCHER_LEN,
        });
    }
    if b[0] != VERSION {
        return Err(DecodeError::Version {
            what,
            version: b[0],
        });
    }
    let mut at = 1;
    Ok((
        PublicKey(take(b, &mut at)),
        ChannelId(take(b, &mut at)),
        PublicKey(take(b, &mut at)),
        u64::from_le_bytes(take(b, &mut at)),
        Amount(u64::from_le_bytes(take(b, &mut at))),
        take(b, &mut at),
    ))
}

/// A buyer's signed promise: "of channel `channel`, `payee` may redeem `cumulative` in total".
/// Each new voucher replaces the previous one (higher `seq`, higher `cumulative`).
#[derive(Clone, PartialEq, Eq)]
pub struct Voucher {
    pub ledger: LedgerId,
    pub channel: ChannelId,
    pub payee: PublicKey,
    pub seq: u64,
    pub cumulative: Amount,
    pub signature: [u8; 64],
}

impl std::fmt::Debug for Voucher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Voucher(channel {} seq {} cumulative {})",
            self.channel, self.seq, self.cumulative
        )
    }
}

impl Voucher {
    /// The exact bytes the buyer signs.
    pub fn signed_message(
        ledger: &LedgerId,
        channel: &ChannelId,
        payee: &PublicKey,
        seq: u64,
        cumulative: Amount,
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(VOUCHER_TAG.len() + 96 + 16);
        m.extend_from_slice(VOUCHER_TAG);
        m.extend_from_slice(&ledger.0);
        m.extend_from_slice(&channel.0);
        m.extend_from_slice(&payee.0);
        put_u64(&mut m, seq);
        put_u64(&mut m, cumulative.0);
        m
    }

    /// Signs a voucher with the buyer's key. Callers persist the spend first (see `Wallet::pay`).
    pub fn sign(
        buyer: &SigningKey,
        ledger: LedgerId,
        channel: ChannelId,
        payee: PublicKey,
        seq: u64,
        cumulative: Amount,
    ) -> Voucher {
        let msg = Voucher::signed_message(&ledger, &channel, &payee, seq, cumulative);
        let signature = buyer.sign(&msg).to_bytes();
        Voucher {
            ledger,
            channel,
            payee,
            seq,
            cumulative,
            signature,
        }
    }

    /// Whether the signature is the buyer's over this voucher's fields.
    pub fn signature_valid(&self, buyer: &PublicKey) -> bool {
        let msg = Voucher::signed_message(
            &self.ledger,
            &self.channel,
            &self.payee,
            self.seq,
            self.cumulative,
        );
        verify(buyer, &msg, &self.signature)
    }

    /// Every check that needs no stored state: bound to this certificate's ledger, channel and
    /// payee, signed by its buyer, within its cap, before its expiry. The rising-counter check
    /// needs the highest stored voucher and is done by the wallet and the ledger.
    pub fn check(&self, cert: &ChannelCertificate, now: u64) -> Result<(), VoucherRefusal> {
        if self.ledger != cert.ledger || self.channel != cert.channel || self.payee != cert.seller {
            return Err(VoucherRefusal::WrongChannel(cert.channel));
        }
        if !self.signature_valid(&cert.buyer) {
            return Err(VoucherRefusal::BadSignature);
        }
        if self.cumulative > cert.cap {
            return Err(VoucherRefusal::OverCap {
                cumulative: self.cumulative,
                cap: cert.cap,
            });
        }
        if now >= cert.expiry {
            return Err(VoucherRefusal::Expired {
                channel: cert.channel,
                expiry: cert.expiry,
                now,
            });
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> [u8; VOUCHER_LEN] {
        encode_layout(
            &self.ledger,
            &self.channel,
            &self.payee,
            self.seq,
            self.cumulative,
            &self.signature,
        )
    }

    /// Decodes the fixed layout. Never panics; checks nothing cryptographic.
    pub fn from_bytes(b: &[u8]) -> Result<Voucher, DecodeError> {
        let (ledger, channel, payee, seq, cumulative, signature) = decode_layout(b, "voucher")?;
        Ok(Voucher {
            ledger,
            channel,
            payee,
            seq,
            cumulative,
            signature,
        })
    }

    pub fn to_hex(&self) -> String {
        to_hex(&self.to_bytes())
    }

    pub fn from_hex(s: &str) -> Result<Voucher, DecodeError> {
        Voucher::from_bytes(&from_hex(s.trim()).ok_or(DecodeError::Hex { what: "voucher" })?)
    }
}

/// The ledger's signed statement that `cap` is escrowed from `buyer` for `seller` until `expiry`.
/// A seller checks it offline with the ledger's key before serving a bidder.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelCertificate {
    pub ledger: LedgerId,
    pub channel: ChannelId,
    pub buyer: PublicKey,
    pub seller: PublicKey,
    pub cap: Amount,
    /// Unix seconds; vouchers are redeemable strictly before it.
    pub expiry: u64,
    pub signature: [u8; 64],
}

impl std::fmt::Debug for ChannelCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ChannelCertificate(channel {} {} -> {} cap {} expiry {})",
            self.channel, self.buyer, self.seller, self.cap, self.expiry
        )
    }
}

impl ChannelCertificate {
    pub fn signed_message(
        ledger: &LedgerId,
        channel: &ChannelId,
        buyer: &PublicKey,
        seller: &PublicKey,
        cap: Amount,
        expiry: u64,
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(CERTIFICATE_TAG.len() + 128 + 16);
        m.extend_from_slice(CERTIFICATE_TAG);
        m.extend_from_slice(&ledger.0);
        m.extend_from_slice(&channel.0);
        m.extend_from_slice(&buyer.0);
        m.extend_from_slice(&seller.0);
        put_u64(&mut m, cap.0);
        put_u64(&mut m, expiry);
        m
    }

    /// Issued by the ledger (its key is the ledger id).
    pub fn sign(
        ledger_key: &SigningKey,
        channel: ChannelId,
        buyer: PublicKey,
        seller: PublicKey,
        cap: Amount,
        expiry: u64,
    ) -> ChannelCertificate {
        let ledger = PublicKey::of(ledger_key);
        let msg =
            ChannelCertificate::signed_message(&ledger, &channel, &buyer, &seller, cap, expiry);
        let signature = ledger_key.sign(&msg).to_bytes();
        ChannelCertificate {
            ledger,
            channel,
            buyer,
            seller,
            cap,
            expiry,
            signature,
        }
    }

    /// Checks that this certificate names `ledger` and carries its valid signature.
    pub fn verify(&self, ledger: &LedgerId) -> Result<(), VoucherRefusal> {
        let msg = ChannelCertificate::signed_message(
            &self.ledger,
            &self.channel,
            &self.buyer,
            &self.seller,
            self.cap,
            self.expiry,
        );
        if self.ledger != *ledger || !verify(ledger, &msg, &self.signature) {
            return Err(VoucherRefusal::BadCertificate(*ledger));
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> [u8; CERTIFICATE_LEN] {
        let mut v = Vec::with_capacity(CERTIFICATE_LEN);
        v.push(VERSION);
        v.extend_from_slice(&self.ledger.0);
        v.extend_from_slice(&self.channel.0);
        v.extend_from_slice(&self.buyer.0);
        v.extend_from_slice(&self.seller.0);
        put_u64(&mut v, self.cap.0);
        put_u64(&mut v, self.expiry);
        v.extend_from_slice(&self.signature);
        let mut out = [0u8; CERTIFICATE_LEN];
        out.copy_from_slice(&v);
        out
    }

    /// Decodes the fixed layout. Never panics; checks nothing cryptographic.
    pub fn from_bytes(b: &[u8]) -> Result<ChannelCertificate, DecodeError> {
        if b.len() != CERTIFICATE_LEN {
            return Err(DecodeError::Length {
                what: "certificate",
                got: b.len(),
                want: CERTIFICATE_LEN,
            });
        }
        if b[0] != VERSION {
            return Err(DecodeError::Version {
                what: "certificate",
                version: b[0],
            });
        }
        let mut at = 1;
        Ok(ChannelCertificate {
            ledger: PublicKey(take(b, &mut at)),
            channel: ChannelId(take(b, &mut at)),
            buyer: PublicKey(take(b, &mut at)),
            seller: PublicKey(take(b, &mut at)),
            cap: Amount(u64::from_le_bytes(take(b, &mut at))),
            expiry: u64::from_le_bytes(take(b, &mut at)),
            signature: take(b, &mut at),
        })
    }

    pub fn to_hex(&self) -> String {
        to_hex(&self.to_bytes())
    }

    pub fn from_hex(s: &str) -> Result<ChannelCertificate, DecodeError> {
        ChannelCertificate::from_bytes(&from_hex(s.trim()).ok_or(DecodeError::Hex {
            what: "certificate",
        })?)
    }
}

// Both travel as hex strings in JSON (ledger protocol, wallet records, payment files).
macro_rules! hex_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
hex_serde!(Voucher);
hex_serde!(ChannelCertificate);

/// What `wallet pay` emits and `wallet accept` reads: one JSON object per line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    pub certificate: ChannelCertificate,
    pub voucher: Voucher,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::keys::generate_key;

    fn setup() -> (SigningKey, SigningKey, SigningKey, ChannelCertificate) {
        let (ledger, buyer, seller) = (generate_key(), generate_key(), generate_key());
        let cert = ChannelCertificate::sign(
            &ledger,
            ChannelId([7; 32]),
            PublicKey::of(&buyer),
            PublicKey::of(&seller),
            Amount(1000),
            2000,
        );
        (ledger, buyer, seller, cert)
    }

    #[test]
    fn round_trip_and_verify() {
        let (ledger, buyer, _seller, cert) = setup();
        let b = cert.to_bytes();
        assert_eq!(b.len(), CERTIFICATE_LEN);
        let back = ChannelCertificate::from_bytes(&b).unwrap();
        assert_eq!(back, cert);
        back.verify(&PublicKey::of(&ledger)).unwrap();
        assert!(back.verify(&PublicKey::of(&buyer)).is_err());
        let v = Voucher::sign(
            &buyer,
            cert.ledger,
            cert.channel,
            cert.seller,
            1,
            Amount(10),
        );
        let vb = Voucher::from_bytes(&v.to_bytes()).unwrap();
        assert_eq!(vb, v);
        vb.check(&cert, 1000).unwrap();
        assert_eq!(Voucher::from_hex(&v.to_hex()).unwrap(), v);
    }

    #[test]
    fn stateless_refusals() {
        let (ledger, buyer, seller, cert) = setup();
        let ok = Voucher::sign(
            &buyer,
            cert.ledger,
            cert.channel,
            cert.seller,
            1,
            Amount(10),
        );
        // Forged: signed by someone other than the buyer.
        let forged = Voucher::sign(
            &seller,
            cert.ledger,
            cert.channel,
            cert.seller,
            1,
            Amount(10),
        );
        assert_eq!(forged.check(&cert, 0), Err(VoucherRefusal::BadSignature));
        // Tampered amount after signing.
        let mut t = ok.clone();
        t.cumulative = Amount(11);
        assert_eq!(t.check(&cert, 0), Err(VoucherRefusal::BadSignature));
        // Moved to another channel.
        let mut moved = ok.clone();
        moved.channel = ChannelId([8; 32]);
        assert!(matches!(
            moved.check(&cert, 0),
            Err(VoucherRefusal::WrongChannel(_))
        ));
        let other = ChannelCertificate::sign(
            &ledger,
            ChannelId([9; 32]),
            cert.buyer,
            cert.seller,
            cert.cap,
            cert.expiry,
        );
        assert!(matches!(
            ok.check(&other, 0),
            Err(VoucherRefusal::WrongChannel(_))
        ));
        let over = Voucher::sign(
            &buyer,
            cert.ledger,
            cert.channel,
            cert.seller,
            2,
            Amount(1001),
        );
        assert!(matches!(
            over.check(&cert, 0),
            Err(VoucherRefusal::OverCap { .. })
        ));
        assert!(matches!(
            ok.check(&cert, 2000),
            Err(VoucherRefusal::Expired { .. })
        ));
        // Decoding errors.
        assert!(Voucher::from_bytes(&[]).is_err());
        let mut bad = ok.to_bytes();
        bad[0] = 2;
        assert!(matches!(
            Voucher::from_bytes(&bad),
            Err(DecodeError::Version { .. })
        ));
        assert!(ChannelCertificate::from_hex("zz").is_err());
    }
}

pub const RECEIPT_TAG: &[u8] = b"bt_market/v1/receipt";
/// Receipts use the voucher's layout.
pub const RECEIPT_LEN: usize = VOUCHER_LEN;

/// A seller's signed acknowledgement of the highest voucher it stored on a channel: the buyer's
/// proof of what it paid (research §7). Layout (177 bytes):
/// `version(1)=1 ‖ ledger(32) ‖ channel(32) ‖ payee(32) ‖ seq(u64 LE) ‖ cumulative(u64 LE) ‖ sig(64)`,
/// `sig = ed25519(payee_key, "bt_market/v1/receipt" ‖ ledger ‖ channel ‖ payee ‖ seq ‖ cumulative)`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Receipt {
    pub ledger: LedgerId,
    pub channel: ChannelId,
    pub payee: PublicKey,
    pub seq: u64,
    pub cumulative: Amount,
    pub signature: [u8; 64],
}

impl Receipt {
    fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(RECEIPT_TAG.len() + 96 + 16);
        m.extend_from_slice(RECEIPT_TAG);
        m.extend_from_slice(&self.ledger.0);
        m.extend_from_slice(&self.channel.0);
        m.extend_from_slice(&self.payee.0);
        put_u64(&mut m, self.seq);
        put_u64(&mut m, self.cumulative.0);
        m
    }

    /// Signs a receipt for `voucher` with the payee's key.
    pub fn sign(payee: &SigningKey, voucher: &Voucher) -> Receipt {
        let mut r = Receipt {
            ledger: voucher.ledger,
            channel: voucher.channel,
            payee: PublicKey::of(payee),
            seq: voucher.seq,
            cumulative: voucher.cumulative,
            signature: [0u8; 64],
        };
        r.signature = payee.sign(&r.message()).to_bytes();
        r
    }

    /// Whether the payee named in the receipt signed it.
    pub fn signature_valid(&self) -> bool {
        verify(&self.payee, &self.message(), &self.signature)
    }

    pub fn to_bytes(&self) -> [u8; RECEIPT_LEN] {
        encode_layout(
            &self.ledger,
            &self.channel,
            &self.payee,
            self.seq,
            self.cumulative,
            &self.signature,
        )
    }

    /// Decodes the fixed layout. Never panics; checks nothing cryptographic.
    pub fn from_bytes(b: &[u8]) -> Result<Receipt, DecodeError> {
        let (ledger, channel, payee, seq, cumulative, signature) = decode_layout(b, "receipt")?;
        Ok(Receipt {
            ledger,
            channel,
            payee,
            seq,
            cumulative,
            signature,
        })
    }
}
