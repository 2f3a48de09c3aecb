//! The wallet: an ed25519 identity and a sled database of known ledgers, balances, channels
//! in both directions, the highest voucher per incoming channel, and a history of payments.
//!
//! Write discipline (SPEC §5, research §5 A6): a spend is flushed to disk before its voucher
//! is signed, and a received voucher is flushed before it is counted as earned. Because
//! vouchers are cumulative, a voucher lost in a crash after the flush is covered by the next
//! one, and a voucher stored twice counts once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::amount::Amount;
use super::keys::{self, ChannelId, LedgerId, PublicKey};
use super::ledger::{
    AccountSummary, Action, ChannelInfo, ChannelState, LedgerClient, LedgerError, Outcome, Side,
};
use super::voucher::{ChannelCertificate, Voucher, VoucherRefusal};

const KEY_SECRET: &[u8] = b"secret_key";
const KEY_DEFAULT_LEDGER: &[u8] = b"default_ledger";

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("wallet storage: {0}")]
    Storage(String),
    #[error("wallet I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("no channel {0} in this wallet")]
    UnknownChannel(ChannelId),
    #[error("channel {0} is not open")]
    NotOpen(ChannelId),
    #[error("channel {channel} expired at {expiry}")]
    Expired { channel: ChannelId, expiry: u64 },
    #[error("paying {amount} would exceed the channel cap: {spent} of {cap} already spent")]
    OverCap {
        spent: Amount,
        amount: Amount,
        cap: Amount,
    },
    #[error("amount must be positive")]
    ZeroAmount,
    #[error("no ledger known yet: connect to one first (--ledger ADDR)")]
    NoLedger,
    #[error("ledger certificate check failed: {0}")]
    Certificate(VoucherRefusal),
}

impl From<sled::Error> for WalletError {
    fn from(e: sled::Error) -> Self {
        WalletError::Storage(e.to_string())
    }
}

/// A channel this wallet pays into (buyer side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutChannel {
    pub certificate: ChannelCertificate,
    /// Sequence of the last voucher signed (0: none yet).
    pub seq: u64,
    /// Cumulative amount of the last voucher signed: the most the seller can redeem.
    pub spent: Amount,
    pub state: ChannelState,
    pub refunded: Amount,
    /// What the seller redeemed of it, as the ledger last reported.
    #[serde(default)]
    pub redeemed: Amount,
    /// The ledger's redemption deadline, once known (earlier than the expiry after a close
    /// request); 0 when not learnt yet.
    #[serde(default)]
    pub deadline: u64,
}

/// A channel this wallet is paid through (seller side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InChannel {
    pub certificate: ChannelCertificate,
    /// The highest voucher accepted; redeemable at the ledger.
    pub highest: Option<Voucher>,
    /// What the ledger has paid out on this channel so far.
    pub redeemed: Amount,
    pub state: ChannelState,
}

impl InChannel {
    /// Everything earned on this channel (the highest voucher's cumulative).
    pub fn earned(&self) -> Amount {
        self.highest
            .as_ref()
            .map(|v| v.cumulative)
            .unwrap_or(Amount::ZERO)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownLedger {
    pub ledger: LedgerId,
    pub addr: String,
    /// Balance last reported by this ledger.
    pub balance: Amount,
    /// When (Unix seconds) the balance was last fetched; 0 if never.
    pub updated: u64,
    /// The account summary last reported (live channels and escrow on each side, minted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<AccountSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// Escrowed `amount` into a new outgoing channel.
    Opened,
    /// Signed a voucher adding `amount`.
    Paid,
    /// Accepted a voucher adding `amount`.
    Earned,
    /// The ledger paid `amount` for our vouchers.
    Redeemed,
    /// The ledger refunded `amount` of an outgoing channel.
    Refunded,
    /// Asked the ledger to close a channel.
    CloseRequested,
    /// The ledger's admin minted `amount` into this account (seen at a refresh; its
    /// `channel` is `NO_CHANNEL`).
    Minted,
}

/// The `channel` of history entries about the account rather than a channel (`minted`).
pub const NO_CHANNEL: ChannelId = ChannelId([0; 32]);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: u64,
    pub time: u64,
    pub kind: HistoryKind,
    pub channel: ChannelId,
    pub amount: Amount,
    /// Voucher sequence, for `paid` and `earned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Channel total after this entry (spent, earned or redeemed).
    pub total: Amount,
}

/// The result of accepting a voucher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earned {
    pub channel: ChannelId,
    pub seq: u64,
    pub cumulative: Amount,
    /// Newly earned by this voucher (0 for an exact duplicate of the stored one).
    pub delta: Amount,
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    pub channel: ChannelId,
    pub paid: Amount,
    pub redeemed: Amount,
}

/// Everything in the wallet except the secret key (`wallet export`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalletExport {
    pub public_key: PublicKey,
    pub ledgers: Vec<KnownLedger>,
    pub outgoing: Vec<OutChannel>,
    pub incoming: Vec<InChannel>,
    pub history: Vec<HistoryEntry>,
}

pub struct Wallet {
    dir: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    out_ch: sled::Tree,
    in_ch: sled::Tree,
    ledgers: sled::Tree,
    history: sled::Tree,
    key: SigningKey,
    /// Serialises read-modify-write sequences that span a transaction and a flush.
    lock: Mutex<()>,
}

fn tx_abort<T, E>(e: E) -> Result<T, ConflictableTransactionError<E>> {
    Err(ConflictableTransactionError::Abort(e))
}

fn decode<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, WalletError> {
    serde_json::from_slice(b).map_err(|e| WalletError::Storage(format!("corrupt record: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Our record types always serialise; an empty record would be reported as corrupt on read.
    serde_json::to_vec(v).unwrap_or_default()
}

fn tx_history(
    h: &TransactionalTree,
    kind: HistoryKind,
    channel: ChannelId,
    amount: Amount,
    seq: Option<u64>,
    total: Amount,
) -> Result<(), sled::transaction::UnabortableTransactionError> {
    let id = h.generate_id()?;
    let e = HistoryEntry {
        id,
        time: keys::now_secs(),
        kind,
        channel,
        amount,
        seq,
        total,
    };
    h.insert(&id.to_be_bytes(), encode(&e))?;
    Ok(())
}

impl Wallet {
    /// Opens the wallet in `dir`, creating the directory (0700), the database and the
    /// identity on first use.
    pub fn open(dir: &Path) -> Result<Wallet, WalletError> {
        keys::create_private_dir(dir)?;
        let db = sled::Config::new().path(dir.join("db")).open()?;
        let meta = db.open_tree("meta")?;
        let key = match meta.get(KEY_SECRET)? {
            Some(b) => SigningKey::from_bytes(
                &<[u8; 32]>::try_from(b.as_ref())
                    .map_err(|_| WalletError::Storage("corrupt secret key".into()))?,
            ),
            None => {
                let k = keys::generate_key();
                meta.insert(KEY_SECRET, &k.to_bytes())?;
                db.flush()?;
                k
            }
        };
        keys::restrict_tree(dir)?;
        Ok(Wallet {
            dir: dir.to_path_buf(),
            out_ch: db.open_tree("out_channels")?,
            in_ch: db.open_tree("in_channels")?,
            ledgers: db.open_tree("ledgers")?,
            history: db.open_tree("history")?,
            db,
            meta,
            key,
            lock: Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::of(&self.key)
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // sled transactions are atomic, so state behind a poisoned lock is still whole.
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn flush(&self) -> Result<(), WalletError> {
        self.db.flush()?;
        Ok(())
    }

    // ---- ledgers -------------------------------------------------------------------------

    pub fn known_ledgers(&self) -> Result<Vec<KnownLedger>, WalletError> {
        self.ledgers.iter().map(|r| decode(&r?.1)).collect()
    }

    pub fn known_ledger(&self, id: &LedgerId) -> Result<Option<KnownLedger>, WalletError> {
        self.ledgers.get(id.0)?.map(|b| decode(&b)).transpose()
    }

    /// The ledger used last, if any.
    pub fn default_ledger(&self) -> Result<Option<KnownLedger>, WalletError> {
        match self.meta.get(KEY_DEFAULT_LEDGER)? {
            Some(b) => match <[u8; 32]>::try_from(b.as_ref()) {
                Ok(id) => self.known_ledger(&PublicKey(id)),
                Err(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Records `ledger` at `addr` as trusted (certificates it signs are accepted) and makes
    /// it the default.
    pub fn trust_ledger(&self, ledger: LedgerId, addr: &str) -> Result<KnownLedger, WalletError> {
        let _g = self.guard();
        let mut k = self.known_ledger(&ledger)?.unwrap_or(KnownLedger {
            ledger,
            addr: addr.to_string(),
            balance: Amount::ZERO,
            updated: 0,
            summary: None,
        });
        k.addr = addr.to_string();
        self.ledgers.insert(ledger.0, encode(&k))?;
        self.meta.insert(KEY_DEFAULT_LEDGER, &ledger.0)?;
        self.flush()?;
        Ok(k)
    }

    /// Learns the id of the ledger `client` talks to and trusts it (trust on first use:
    /// the operator chose the address).
    /// A ledger already trusted at this address is pinned: its replies must then be signed
    /// by that ledger's key, so a server or a man in the middle answering with another key
    /// there is refused rather than trusted anew.
    pub async fn connect(&self, client: &LedgerClient) -> Result<KnownLedger, WalletError> {
        let default = self.default_ledger()?.map(|k| k.ledger);
        let pinned = self
            .known_ledgers()?
            .into_iter()
            .filter(|k| k.addr == client.addr())
            .max_by_key(|k| (Some(k.ledger) == default, k.updated));
        if let Some(k) = pinned {
            client.pin(k.ledger);
        }
        let id = client.ledger_id().await?;
        self.trust_ledger(id, client.addr())
    }

    /// The balance last reported by the default ledger (no network).
    pub fn balance(&self) -> Result<Amount, WalletError> {
        Ok(self
            .default_ledger()?
            .map(|l| l.balance)
            .unwrap_or(Amount::ZERO))
    }

    /// Fetches the balance and summary from the ledger, stores them, and reconciles channels
    /// with the ledger's view: adopts an outgoing channel whose reply was lost in a crash,
    /// records refunds, redemptions and mints we did not see. The ledger lists only live
    /// channels, so each channel this wallet still holds as live but the ledger no longer
    /// lists is looked up by id (bounded by this wallet's own channels, not by what others
    /// open to it). Likewise the channels that pay this wallet are listed only when it
    /// holds one live: channels it never received a voucher on are not its business (the
    /// summary counts them).
    pub async fn refresh(&self, client: &LedgerClient) -> Result<Amount, WalletError> {
        let known = self.connect(client).await?;
        let mut view = client.account_side(&self.key, Some(Side::Paying)).await?;
        let paid_live = self
            .in_channels()?
            .iter()
            .any(|c| c.certificate.ledger == known.ledger && c.state != ChannelState::Closed);
        if paid_live {
            let paid = client.account_side(&self.key, Some(Side::PaidBy)).await?;
            view.channels.extend(paid.channels);
        }
        let me = self.public_key();
        let listed: std::collections::HashSet<ChannelId> =
            view.channels.iter().map(|c| c.channel).collect();
        let mut settled = Vec::new();
        let gone = self
            .out_channels()?
            .into_iter()
            .map(|c| (c.certificate, c.state))
            .chain(
                self.in_channels()?
                    .into_iter()
                    .map(|c| (c.certificate, c.state)),
            )
            .filter(|(cert, state)| {
                cert.ledger == known.ledger
                    && *state != ChannelState::Closed
                    && !listed.contains(&cert.channel)
            })
            .map(|(cert, _)| cert.channel)
            .collect::<Vec<_>>();
        for id in gone {
            match client.channel(id).await {
                Ok(c) => settled.push(c),
                Err(LedgerError::Remote { code, .. }) if code == "unknown_channel" => {}
                Err(e) => return Err(e.into()),
            }
        }
        let _g = self.guard();
        let mut k = self.known_ledger(&known.ledger)?.unwrap_or(known);
        let minted_before = k.summary.map(|s| s.minted).unwrap_or(Amount::ZERO);
        k.balance = view.balance;
        k.updated = keys::now_secs();
        if let Some(s) = view.summary {
            k.summary = Some(s);
        }
        if let Some(delta) = view
            .summary
            .and_then(|s| s.minted.checked_sub(minted_before))
            .filter(|d| !d.is_zero())
        {
            let total = view.summary.map(|s| s.minted).unwrap_or(delta);
            let r = self.history.transaction(|h| {
                tx_history(h, HistoryKind::Minted, NO_CHANNEL, delta, None, total)?;
                Ok::<_, ConflictableTransactionError<WalletError>>(())
            });
            tx_result(r)?;
        }
        self.ledgers.insert(k.ledger.0, encode(&k))?;
        for c in view
            .channels
            .iter()
            .chain(settled.iter())
            .filter(|c| c.certificate.ledger == k.ledger)
        {
            if c.buyer == me {
                self.reconcile_out(c)?;
            }
            if c.seller == me {
                self.reconcile_in(c)?;
            }
        }
        self.flush()?;
        Ok(view.balance)
    }

    fn reconcile_out(&self, c: &ChannelInfo) -> Result<(), WalletError> {
        let id = c.channel;
        let r = (&self.out_ch, &self.history).transaction(|(out, h)| {
            let mut rec = match out.get(id.0)? {
                Some(b) => match decode::<OutChannel>(&b) {
                    Ok(r) => r,
                    Err(e) => return tx_abort(e),
                },
                None => {
                    // Escrowed at the ledger but never recorded here: no voucher was signed
                    // for it (that needs the record), so nothing is spent.
                    tx_history(h, HistoryKind::Opened, id, c.cap, None, c.cap)?;
                    OutChannel {
                        certificate: c.certificate.clone(),
                        seq: 0,
                        spent: Amount::ZERO,
                        state: ChannelState::Open,
                        refunded: Amount::ZERO,
                        redeemed: Amount::ZERO,
                        deadline: c.deadline,
                    }
                }
            };
            if rec.state != ChannelState::Closed && c.state == ChannelState::Closed {
                tx_history(h, HistoryKind::Refunded, id, c.refunded, None, c.refunded)?;
                rec.refunded = c.refunded;
            }
            rec.state = c.state;
            rec.redeemed = c.redeemed;
            rec.deadline = c.deadline;
            out.insert(&id.0, encode(&rec))?;
            Ok(())
        });
        tx_result(r)
    }

    fn reconcile_in(&self, c: &ChannelInfo) -> Result<(), WalletError> {
        let id = c.channel;
        let r = (&self.in_ch, &self.history).transaction(|(inc, h)| {
            let Some(b) = inc.get(id.0)? else {
                return Ok(());
            };
            let mut rec: InChannel = match decode(&b) {
                Ok(r) => r,
                Err(e) => return tx_abort(e),
            };
            if let Some(delta) = c
                .redeemed
                .checked_sub(rec.redeemed)
                .filter(|d| !d.is_zero())
            {
                tx_history(h, HistoryKind::Redeemed, id, delta, None, c.redeemed)?;
                rec.redeemed = c.redeemed;
            }
            rec.state = c.state;
            inc.insert(&id.0, encode(&rec))?;
            Ok(())
        });
        tx_result(r)
    }

    // ---- buyer side ----------------------------------------------------------------------

    /// Escrows `cap` at the ledger for `seller` until `expiry` (Unix seconds) and records the
    /// channel. Returns the ledger's certificate, to send to the seller with the bid.
    pub async fn open_channel(
        &self,
        client: &LedgerClient,
        seller: PublicKey,
        cap: Amount,
        expiry: u64,
    ) -> Result<ChannelCertificate, WalletError> {
        let ledger = self.connect(client).await?;
        let certificate = match client
            .signed(
                &self.key,
                Action::Open {
                    seller,
                    cap,
                    expiry,
                },
            )
            .await?
        {
            Outcome::Opened { certificate } => certificate,
            o => return Err(LedgerError::Protocol(format!("unexpected reply {o:?}")).into()),
        };
        certificate
            .verify(&ledger.ledger)
            .map_err(WalletError::Certificate)?;
        let _g = self.guard();
        let rec = OutChannel {
            certificate: certificate.clone(),
            seq: 0,
            spent: Amount::ZERO,
            state: ChannelState::Open,
            refunded: Amount::ZERO,
            redeemed: Amount::ZERO,
            deadline: certificate.expiry,
        };
        let id = certificate.channel;
        let r = (&self.out_ch, &self.history).transaction(|(out, h)| {
            out.insert(&id.0, encode(&rec))?;
            tx_history(h, HistoryKind::Opened, id, cap, None, cap)?;
            Ok(())
        });
        tx_result::<()>(r)?;
        self.flush()?;
        Ok(certificate)
    }

    pub fn out_channel(&self, id: &ChannelId) -> Result<Option<OutChannel>, WalletError> {
        self.out_ch.get(id.0)?.map(|b| decode(&b)).transpose()
    }

    pub fn out_channels(&self) -> Result<Vec<OutChannel>, WalletError> {
        self.out_ch.iter().map(|r| decode(&r?.1)).collect()
    }

    /// Pays `amount` more on an outgoing channel: raises the cumulative spend and sequence,
    /// flushes that to disk, and only then signs the voucher.
    pub fn pay(&self, channel: &ChannelId, amount: Amount) -> Result<Voucher, WalletError> {
        self.pay_at(channel, amount, keys::now_secs())
    }

    /// `pay` at a given time (Unix seconds), for tests and simulations.
    pub fn pay_at(
        &self,
        channel: &ChannelId,
        amount: Amount,
        now: u64,
    ) -> Result<Voucher, WalletError> {
        if amount.is_zero() {
            return Err(WalletError::ZeroAmount);
        }
        let _g = self.guard();
        let id = *channel;
        let r = (&self.out_ch, &self.history).transaction(|(out, h)| {
            let Some(b) = out.get(id.0)? else {
                return tx_abort(WalletError::UnknownChannel(id));
            };
            let mut rec: OutChannel = match decode(&b) {
                Ok(r) => r,
                Err(e) => return tx_abort(e),
            };
            if rec.state != ChannelState::Open {
                return tx_abort(WalletError::NotOpen(id));
            }
            if now >= rec.certificate.expiry {
                return tx_abort(WalletError::Expired {
                    channel: id,
                    expiry: rec.certificate.expiry,
                });
            }
            let over = || WalletError::OverCap {
                spent: rec.spent,
                amount,
                cap: rec.certificate.cap,
            };
            let Some(spent) = rec
                .spent
                .checked_add(amount)
                .filter(|s| *s <= rec.certificate.cap)
            else {
                return tx_abort(over());
            };
            let Some(seq) = rec.seq.checked_add(1) else {
                return tx_abort(over());
            };
            rec.spent = spent;
            rec.seq = seq;
            out.insert(&id.0, encode(&rec))?;
            tx_history(h, HistoryKind::Paid, id, amount, Some(seq), spent)?;
            Ok(rec)
        });
        let rec = tx_result(r)?;
        // The spend is durable before a signature over it exists.
        self.flush()?;
        let c = &rec.certificate;
        Ok(Voucher::sign(
            &self.key, c.ledger, c.channel, c.seller, rec.seq, rec.spent,
        ))
    }

    /// The voucher for the current spend on an outgoing channel, re-signed (ed25519 is
    /// deterministic, so it is byte-identical to the one `pay` returned). For resending after
    /// a crash or a lost message. `None` before the first payment.
    pub fn current_voucher(&self, channel: &ChannelId) -> Result<Option<Voucher>, WalletError> {
        let rec = self
            .out_channel(channel)?
            .ok_or(WalletError::UnknownChannel(*channel))?;
        if rec.seq == 0 {
            return Ok(None);
        }
        let c = &rec.certificate;
        Ok(Some(Voucher::sign(
            &self.key, c.ledger, c.channel, c.seller, rec.seq, rec.spent,
        )))
    }

    // ---- seller side ---------------------------------------------------------------------

    /// Accepts a voucher for an incoming channel if its certificate is signed by a known
    /// ledger and names us, the voucher is bound to it and signed by its buyer, within cap,
    /// unexpired, and both its sequence and cumulative rise above the stored voucher. The
    /// voucher is flushed to disk before the earning is returned.
    pub fn accept_voucher(
        &self,
        voucher: &Voucher,
        cert: &ChannelCertificate,
    ) -> Result<Earned, VoucherRefusal> {
        self.accept_voucher_at(voucher, cert, keys::now_secs())
    }

    /// `accept_voucher` at a given time (Unix seconds).
    pub fn accept_voucher_at(
        &self,
        voucher: &Voucher,
        cert: &ChannelCertificate,
        now: u64,
    ) -> Result<Earned, VoucherRefusal> {
        let storage = |e: WalletError| VoucherRefusal::Storage(e.to_string());
        if self.known_ledger(&cert.ledger).map_err(storage)?.is_none() {
            return Err(VoucherRefusal::UnknownLedger(cert.ledger));
        }
        cert.verify(&cert.ledger)?;
        if cert.seller != self.public_key() {
            return Err(VoucherRefusal::NotPayee(cert.channel));
        }
        voucher.check(cert, now)?;
        let _g = self.guard();
        let id = cert.channel;
        let r = (&self.in_ch, &self.history).transaction(|(inc, h)| {
            let mut rec = match inc.get(id.0)? {
                Some(b) => match decode::<InChannel>(&b) {
                    Ok(r) => r,
                    Err(e) => return tx_abort(storage(e)),
                },
                None => InChannel {
                    certificate: cert.clone(),
                    highest: None,
                    redeemed: Amount::ZERO,
                    state: ChannelState::Open,
                },
            };
            if rec.certificate != *cert {
                return tx_abort(VoucherRefusal::WrongChannel(id));
            }
            if rec.state == ChannelState::Closed {
                return tx_abort(VoucherRefusal::Closed(id));
            }
            let (prev_seq, prev_cum) = match &rec.highest {
                Some(h) if h == voucher => {
                    return Ok(Earned {
                        channel: id,
                        seq: h.seq,
                        cumulative: h.cumulative,
                        delta: Amount::ZERO,
                        duplicate: true,
                    });
                }
                Some(h) => (h.seq, h.cumulative),
                None => (0, Amount::ZERO),
            };
            if voucher.seq <= prev_seq {
                return tx_abort(VoucherRefusal::Replayed {
                    seq: voucher.seq,
                    stored: prev_seq,
                });
            }
            let Some(delta) = voucher
                .cumulative
                .checked_sub(prev_cum)
                .filter(|d| !d.is_zero())
            else {
                return tx_abort(VoucherRefusal::NotIncreasing {
                    cumulative: voucher.cumulative,
                    stored: prev_cum,
                });
            };
            rec.highest = Some(voucher.clone());
            inc.insert(&id.0, encode(&rec))?;
            tx_history(
                h,
                HistoryKind::Earned,
                id,
                delta,
                Some(voucher.seq),
                voucher.cumulative,
            )?;
            Ok(Earned {
                channel: id,
                seq: voucher.seq,
                cumulative: voucher.cumulative,
                delta,
                duplicate: false,
            })
        });
        let earned = match r {
            Ok(e) => e,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => {
                return Err(VoucherRefusal::Storage(e.to_string()));
            }
        };
        // Durable before anyone counts it.
        self.flush().map_err(storage)?;
        Ok(earned)
    }

    /// Signs a receipt for a voucher this wallet accepted (the `receipt` market message).
    pub fn sign_receipt(&self, voucher: &Voucher) -> super::voucher::Receipt {
        super::voucher::Receipt::sign(&self.key, voucher)
    }

    pub fn in_channel(&self, id: &ChannelId) -> Result<Option<InChannel>, WalletError> {
        self.in_ch.get(id.0)?.map(|b| decode(&b)).transpose()
    }

    pub fn in_channels(&self) -> Result<Vec<InChannel>, WalletError> {
        self.in_ch.iter().map(|r| decode(&r?.1)).collect()
    }

    /// The highest voucher accepted on an incoming channel.
    pub fn highest_voucher(&self, id: &ChannelId) -> Result<Option<Voucher>, WalletError> {
        Ok(self.in_channel(id)?.and_then(|c| c.highest))
    }

    /// Redeems, at `client`'s ledger, every incoming channel whose highest voucher is worth
    /// more than what was already redeemed. Idempotent: the ledger pays only the difference.
    pub async fn redeem_all(&self, client: &LedgerClient) -> Result<Vec<Redemption>, WalletError> {
        let ledger = self.connect(client).await?.ledger;
        let mut done = vec![];
        for c in self.in_channels()? {
            let Some(v) = c.highest.clone() else { continue };
            if c.certificate.ledger != ledger
                || c.state == ChannelState::Closed
                || v.cumulative <= c.redeemed
            {
                continue;
            }
            match client
                .signed(&self.key, Action::Redeem { voucher: v })
                .await
            {
                Ok(Outcome::Redeemed {
                    channel,
                    paid,
                    redeemed,
                }) => {
                    self.record_redeemed(&channel, redeemed)?;
                    done.push(Redemption {
                        channel,
                        paid,
                        redeemed,
                    });
                }
                Ok(o) => {
                    return Err(LedgerError::Protocol(format!("unexpected reply {o:?}")).into());
                }
                Err(LedgerError::Remote { code, message })
                    if code == "channel_closed" || code == "expired" =>
                {
                    tracing::warn!(channel = %c.certificate.channel, "cannot redeem: {message}");
                    if let Ok(info) = client.channel(c.certificate.channel).await {
                        let _g = self.guard();
                        self.reconcile_in(&info)?;
                        self.flush()?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    fn record_redeemed(&self, id: &ChannelId, redeemed: Amount) -> Result<(), WalletError> {
        let _g = self.guard();
        let id = *id;
        let r = (&self.in_ch, &self.history).transaction(|(inc, h)| {
            let Some(b) = inc.get(id.0)? else {
                return Ok(());
            };
            let mut rec: InChannel = match decode(&b) {
                Ok(r) => r,
                Err(e) => return tx_abort(e),
            };
            // The ledger reports the channel's total; count only what is new to us, so a
            // retried redemption is never counted twice.
            if let Some(delta) = redeemed.checked_sub(rec.redeemed).filter(|d| !d.is_zero()) {
                tx_history(h, HistoryKind::Redeemed, id, delta, None, redeemed)?;
                rec.redeemed = redeemed;
                inc.insert(&id.0, encode(&rec))?;
            }
            Ok(())
        });
        tx_result(r)?;
        self.flush()
    }

    /// Closes a channel at the ledger. As seller: redeems the highest voucher and closes at
    /// once. As buyer: closes if expired, else starts the ledger's close grace period.
    pub async fn close_channel(
        &self,
        client: &LedgerClient,
        channel: &ChannelId,
    ) -> Result<ChannelInfo, WalletError> {
        self.connect(client).await?;
        let voucher = if let Some(c) = self.in_channel(channel)? {
            c.highest
        } else if self.out_channel(channel)?.is_some() {
            None
        } else {
            return Err(WalletError::UnknownChannel(*channel));
        };
        let info = match client
            .signed(
                &self.key,
                Action::Close {
                    channel: *channel,
                    voucher,
                },
            )
            .await?
        {
            Outcome::Closed(info) => info,
            o => return Err(LedgerError::Protocol(format!("unexpected reply {o:?}")).into()),
        };
        let _g = self.guard();
        if info.buyer == self.public_key() {
            if info.state != ChannelState::Closed {
                let id = info.channel;
                let r = self.history.transaction(|h| {
                    tx_history(
                        h,
                        HistoryKind::CloseRequested,
                        id,
                        Amount::ZERO,
                        None,
                        Amount::ZERO,
                    )?;
                    Ok::<_, ConflictableTransactionError<WalletError>>(())
                });
                tx_result(r)?;
            }
            self.reconcile_out(&info)?;
        } else {
            self.reconcile_in(&info)?;
        }
        self.flush()?;
        Ok(info)
    }

    // ---- history and export --------------------------------------------------------------

    pub fn history(&self) -> Result<Vec<HistoryEntry>, WalletError> {
        self.history.iter().map(|r| decode(&r?.1)).collect()
    }

    pub fn export(&self) -> Result<WalletExport, WalletError> {
        Ok(WalletExport {
            public_key: self.public_key(),
            ledgers: self.known_ledgers()?,
            outgoing: self.out_channels()?,
            incoming: self.in_channels()?,
            history: self.history()?,
        })
    }

    /// Writes the secret key (hex) to a new owner-only file. Never over the network.
    pub fn export_secret_key(&self, path: &Path) -> Result<(), WalletError> {
        keys::write_private_file(path, keys::to_hex(&self.key.to_bytes()).as_bytes())?;
        Ok(())
    }
}

fn tx_result<T>(r: Result<T, TransactionError<WalletError>>) -> Result<T, WalletError> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => WalletError::Storage(e.to_string()),
    })
}

impl Drop for Wallet {
    fn drop(&mut self) {
        // sled may have created files since open; keep everything owner-only.
        let _ = self.db.flush();
        let _ = keys::restrict_tree(&self.dir);
    }
}
