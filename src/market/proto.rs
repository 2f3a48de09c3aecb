//! The `bt_market` wire format (PROTOCOL.md): the handshake entry and the six message types,
//! to and from bencode. Decoding is strict — a known message with a missing or ill-typed field
//! is an error that drops the peer — bounded, and never panics; an unknown `type` is ignored
//! so later versions can add messages (BEP 10's rule for unknown names).

use crate::bencode::{self, Dict, Owned, Value};
use crate::wallet::{Amount, ChannelCertificate, LedgerId, PublicKey, Receipt, Voucher};

/// The extension's name in the BEP 10 `m` dictionary.
pub const EXTENSION: &str = "bt_market";
/// Protocol version carried in the handshake.
pub const VERSION: i64 = 1;
/// Largest market message we accept; the biggest real one (a bid with its certificate) is
/// under 400 bytes.
pub const MAX_MESSAGE: usize = 4096;
/// At most this many ledgers are read from a handshake.
pub const MAX_LEDGERS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("market message of {0} bytes is over the {MAX_MESSAGE}-byte limit")]
    TooLarge(usize),
    #[error("market message is not bencode: {0}")]
    Bencode(String),
    #[error("market message is not a dictionary")]
    NotDict,
    #[error("market message has no `type`")]
    NoType,
    #[error("`{msg}` message: field `{field}` {problem}")]
    Field {
        msg: &'static str,
        field: &'static str,
        problem: &'static str,
    },
    #[error("`{msg}` message: {detail}")]
    Invalid { msg: &'static str, detail: String },
}

/// Reason codes of a `reject` (PROTOCOL.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    BelowReserve,
    BadCert,
    Expired,
    Banned,
    NoSlot,
    Outbid,
    NotSelling,
    Unpaid,
    BadVoucher,
    UnknownLedger,
    Other,
}

impl RejectReason {
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::BelowReserve => "below_reserve",
            RejectReason::BadCert => "bad_cert",
            RejectReason::Expired => "expired",
            RejectReason::Banned => "banned",
            RejectReason::NoSlot => "no_slot",
            RejectReason::Outbid => "outbid",
            RejectReason::NotSelling => "not_selling",
            RejectReason::Unpaid => "unpaid",
            RejectReason::BadVoucher => "bad_voucher",
            RejectReason::UnknownLedger => "unknown_ledger",
            RejectReason::Other => "other",
        }
    }

    /// Unknown codes from newer peers map to `Other` rather than an error.
    pub fn from_code(s: &str) -> RejectReason {
        match s {
            "below_reserve" => RejectReason::BelowReserve,
            "bad_cert" => RejectReason::BadCert,
            "expired" => RejectReason::Expired,
            "banned" => RejectReason::Banned,
            "no_slot" => RejectReason::NoSlot,
            "outbid" => RejectReason::Outbid,
            "not_selling" => RejectReason::NotSelling,
            "unpaid" => RejectReason::Unpaid,
            "bad_voucher" => RejectReason::BadVoucher,
            "unknown_ledger" => RejectReason::UnknownLedger,
            _ => RejectReason::Other,
        }
    }
}

/// What a peer puts under `bt_market` in its extended handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeInfo {
    pub version: i64,
    pub public_key: PublicKey,
    /// Ledgers whose certificates and vouchers the peer accepts (first = preferred).
    pub ledgers: Vec<LedgerId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketMsg {
    /// Seller → buyer: terms of sale.
    Ask {
        /// Reserve price, micro-tokens per MiB: bids below it are rejected.
        price: Amount,
        /// The price winners pay now (uniform price; informational for other strategies).
        clearing: Amount,
        /// Market (auctioned) upload slots.
        slots: u32,
        ledger: LedgerId,
        public_key: PublicKey,
        /// Credit window in bytes: how far delivery may run ahead of payment.
        window: u64,
    },
    /// Buyer → seller. `price` 0 withdraws the bid (the certificate may then be absent).
    Bid {
        price: Amount,
        max_spend: Amount,
        cert: Option<ChannelCertificate>,
    },
    /// Seller → buyer: the buyer won a slot at `price` per MiB; an unchoke follows.
    Award {
        price: Amount,
        window: u64,
    },
    Reject {
        reason: RejectReason,
        detail: Option<String>,
    },
    Voucher(Voucher),
    Receipt(Receipt),
}

impl MarketMsg {
    pub fn kind(&self) -> &'static str {
        match self {
            MarketMsg::Ask { .. } => "ask",
            MarketMsg::Bid { .. } => "bid",
            MarketMsg::Award { .. } => "award",
            MarketMsg::Reject { .. } => "reject",
            MarketMsg::Voucher(_) => "voucher",
            MarketMsg::Receipt(_) => "receipt",
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let d = Owned::dict().with("type", self.kind());
        let d = match self {
            MarketMsg::Ask {
                price,
                clearing,
                slots,
                ledger,
                public_key,
                window,
            } => d
                .with("price", price.micro())
                .with("clearing", clearing.micro())
                .with("slots", *slots)
                .with("ledger", ledger.0.to_vec())
                .with("pk", public_key.0.to_vec())
                .with("window", *window),
            MarketMsg::Bid {
                price,
                max_spend,
                cert,
            } => {
                let mut d = d
                    .with("price", price.micro())
                    .with("max_spend", max_spend.micro());
                if let Some(c) = cert {
                    d.insert("cert", c.to_bytes().to_vec());
                }
                d
            }
            MarketMsg::Award { price, window } => {
                d.with("price", price.micro()).with("window", *window)
            }
            MarketMsg::Reject { reason, detail } => {
                let mut d = d.with("reason", reason.code());
                if let Some(t) = detail {
                    d.insert("detail", t.as_str());
                }
                d
            }
            MarketMsg::Voucher(v) => d.with("voucher", v.to_bytes().to_vec()),
            MarketMsg::Receipt(r) => d.with("receipt", r.to_bytes().to_vec()),
        };
        d.encode()
    }

    /// `Ok(None)` for a well-formed message of a type we do not know.
    pub fn decode(payload: &[u8]) -> Result<Option<MarketMsg>, ProtoError> {
        if payload.len() > MAX_MESSAGE {
            return Err(ProtoError::TooLarge(payload.len()));
        }
        let v = bencode::decode(payload).map_err(|e| ProtoError::Bencode(e.to_string()))?;
        let d = v.as_dict().ok_or(ProtoError::NotDict)?;
        let kind = d.get_str("type").ok_or(ProtoError::NoType)?;
        let m = match kind {
            "ask" => MarketMsg::Ask {
                price: amount(d, "ask", "price")?,
                clearing: amount(d, "ask", "clearing")?,
                slots: u32::try_from(uint(d, "ask", "slots")?).map_err(|_| ProtoError::Field {
                    msg: "ask",
                    field: "slots",
                    problem: "is too large",
                })?,
                ledger: PublicKey(key32(d, "ask", "ledger")?),
                public_key: PublicKey(key32(d, "ask", "pk")?),
                window: uint(d, "ask", "window")?,
            },
            "bid" => {
                let price = amount(d, "bid", "price")?;
                let cert = match d.get_bytes("cert") {
                    Some(b) => Some(ChannelCertificate::from_bytes(b).map_err(|e| {
                        ProtoError::Invalid {
                            msg: "bid",
                            detail: format!("cert: {e}"),
                        }
                    })?),
                    None if price.is_zero() => None,
                    None => {
                        return Err(ProtoError::Field {
                            msg: "bid",
                            field: "cert",
                            problem: "is missing (required unless price is 0)",
                        });
                    }
                };
                MarketMsg::Bid {
                    price,
                    max_spend: amount(d, "bid", "max_spend")?,
                    cert,
                }
            }
            "award" => MarketMsg::Award {
                price: amount(d, "award", "price")?,
                window: uint(d, "award", "window")?,
            },
            "reject" => {
                let reason = d.get_str("reason").ok_or(ProtoError::Field {
                    msg: "reject",
                    field: "reason",
                    problem: "is missing or not a string",
                })?;
                MarketMsg::Reject {
                    reason: RejectReason::from_code(reason),
                    detail: d
                        .get_str("detail")
                        .map(|s| s.chars().take(200).collect::<String>()),
                }
            }
            "voucher" => {
                let b = bytes(d, "voucher", "voucher")?;
                MarketMsg::Voucher(Voucher::from_bytes(b).map_err(|e| ProtoError::Invalid {
                    msg: "voucher",
                    detail: e.to_string(),
                })?)
            }
            "receipt" => {
                let b = bytes(d, "receipt", "receipt")?;
                MarketMsg::Receipt(Receipt::from_bytes(b).map_err(|e| ProtoError::Invalid {
                    msg: "receipt",
                    detail: e.to_string(),
                })?)
            }
            _ => return Ok(None),
        };
        Ok(Some(m))
    }
}

impl HandshakeInfo {
    pub fn to_owned_dict(&self) -> Owned {
        Owned::dict()
            .with("v", self.version)
            .with("pk", self.public_key.0.to_vec())
            .with(
                "ledgers",
                Owned::List(
                    self.ledgers
                        .iter()
                        .map(|l| Owned::from(l.0.to_vec()))
                        .collect(),
                ),
            )
    }

    /// Reads the `bt_market` entry of a peer's extended handshake; `None` if absent or
    /// malformed (the peer is then treated as a plain peer, never as an error).
    pub fn from_handshake(hs: &Dict<'_>) -> Option<HandshakeInfo> {
        let d = hs.get_dict(EXTENSION)?;
        let version = d.get_int("v")?;
        let public_key = PublicKey(<[u8; 32]>::try_from(d.get_bytes("pk")?).ok()?);
        let ledgers = d
            .get_list("ledgers")
            .unwrap_or(&[])
            .iter()
            .take(MAX_LEDGERS)
            .filter_map(Value::as_bytes)
            .filter_map(|b| <[u8; 32]>::try_from(b).ok())
            .map(PublicKey)
            .collect();
        Some(HandshakeInfo {
            version,
            public_key,
            ledgers,
        })
    }
}

fn uint(d: &Dict<'_>, msg: &'static str, field: &'static str) -> Result<u64, ProtoError> {
    let v = d.get_int(field).ok_or(ProtoError::Field {
        msg,
        field,
        problem: "is missing or not an integer",
    })?;
    u64::try_from(v).map_err(|_| ProtoError::Field {
        msg,
        field,
        problem: "is negative",
    })
}

fn amount(d: &Dict<'_>, msg: &'static str, field: &'static str) -> Result<Amount, ProtoError> {
    uint(d, msg, field).map(Amount::from_micro)
}

fn bytes<'a>(d: &Dict<'a>, msg: &'static str, field: &'static str) -> Result<&'a [u8], ProtoError> {
    d.get_bytes(field).ok_or(ProtoError::Field {
        msg,
        field,
        problem: "is missing or not a byte string",
    })
}

fn key32(d: &Dict<'_>, msg: &'static str, field: &'static str) -> Result<[u8; 32], ProtoError> {
    <[u8; 32]>::try_from(bytes(d, msg, field)?).map_err(|_| ProtoError::Field {
        msg,
        field,
        problem: "is not 32 bytes",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::ChannelId;
    use ed25519_dalek::SigningKey;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn every_message_round_trips() {
        let ledger = key(1);
        let buyer = key(2);
        let seller = key(3);
        let cert = ChannelCertificate::sign(
            &ledger,
            ChannelId([9; 32]),
            PublicKey::of(&buyer),
            PublicKey::of(&seller),
            Amount(5_000_000),
            4_000_000_000,
        );
        let v = Voucher::sign(
            &buyer,
            cert.ledger,
            cert.channel,
            cert.seller,
            3,
            Amount(1234),
        );
        let msgs = vec![
            MarketMsg::Ask {
                price: Amount(10),
                clearing: Amount(20),
                slots: 3,
                ledger: cert.ledger,
                public_key: cert.seller,
                window: 1 << 20,
            },
            MarketMsg::Bid {
                price: Amount(99),
                max_spend: Amount(5_000_000),
                cert: Some(cert.clone()),
            },
            MarketMsg::Bid {
                price: Amount(0),
                max_spend: Amount(0),
                cert: None,
            },
            MarketMsg::Award {
                price: Amount(42),
                window: 1 << 20,
            },
            MarketMsg::Reject {
                reason: RejectReason::Outbid,
                detail: Some("x".into()),
            },
            MarketMsg::Voucher(v.clone()),
            MarketMsg::Receipt(Receipt::sign(&seller, &v)),
        ];
        for m in msgs {
            let b = m.encode();
            assert_eq!(MarketMsg::decode(&b), Ok(Some(m)));
        }
    }

    #[test]
    fn strict_and_bounded() {
        assert!(MarketMsg::decode(b"garbage").is_err());
        assert!(MarketMsg::decode(b"le").is_err());
        assert_eq!(MarketMsg::decode(b"d4:type5:hellee"), Ok(None));
        assert!(MarketMsg::decode(b"d5:pricei1e4:type5:awarde").is_err());
        assert!(MarketMsg::decode(b"d6:windowi1e5:pricei-1e4:type5:awarde").is_err());
        // a priced bid without a certificate
        assert!(MarketMsg::decode(b"d9:max_spendi1e5:pricei1e4:type3:bide").is_err());
        assert!(MarketMsg::decode(&vec![b'x'; MAX_MESSAGE + 1]).is_err());
        // truncated voucher bytes
        assert!(MarketMsg::decode(b"d4:type7:voucher7:voucher3:abce").is_err());
    }

    #[test]
    fn handshake_info_round_trips_and_tolerates_junk() {
        let h = HandshakeInfo {
            version: 1,
            public_key: PublicKey([7; 32]),
            ledgers: vec![PublicKey([8; 32])],
        };
        let hs = Owned::dict().with(EXTENSION, h.to_owned_dict()).encode();
        let v = bencode::decode(&hs).expect("bencode");
        let d = v.as_dict().expect("dict");
        assert_eq!(HandshakeInfo::from_handshake(d), Some(h));
        let junk = Owned::dict().with(EXTENSION, 5i64).encode();
        let v = bencode::decode(&junk).expect("bencode");
        assert_eq!(
            HandshakeInfo::from_handshake(v.as_dict().expect("dict")),
            None
        );
    }
}
