//! The ledger's state in sled. Every state change is one sled transaction across the trees
//! it touches, flushed before the reply leaves, so the books balance after any crash:
//! minted = Σ balances + Σ escrowed.
//!
//! Directory layout: `DIR/db/` (sled), `DIR/admin.key` (hex secret of the admin key, 0600).
//! The admin key lives in a plain file rather than in sled because sled locks its database
//! to one process, and `ledger mint` must be able to read it while the server runs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::{Signature, SigningKey};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::LedgerError;
use super::proto::{
    Action, Audit, ChannelInfo, ChannelState, LedgerInfo, Outcome, Payload, REQUEST_TAG, Request,
};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, ChannelId, LedgerId, PublicKey};
use crate::wallet::voucher::{ChannelCertificate, Voucher, VoucherRefusal};

const KEY_LEDGER: &[u8] = b"ledger_key";
const KEY_ADMIN: &[u8] = b"admin";
const KEY_MINTED: &[u8] = b"minted";
/// Longest channel a buyer may open, so escrow is never locked away for ever.
pub const MAX_CHANNEL_SECS: u64 = 366 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// After a buyer asks to close an unexpired channel, how long the seller still has to
    /// redeem before the rest is refunded.
    pub close_grace_secs: u64,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            close_grace_secs: 300,
        }
    }
}

pub struct LedgerStore {
    dir: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    accounts: sled::Tree,
    channels: sled::Tree,
    nonces: sled::Tree,
    key: SigningKey,
    admin: PublicKey,
    config: LedgerConfig,
    /// Serialises writers and audits, so an audit sees no half-applied request.
    lock: Mutex<()>,
}

type TxResult<T> = Result<T, ConflictableTransactionError<LedgerError>>;

fn abort<T>(e: LedgerError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn u64_of(v: Option<sled::IVec>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn tx_u64(t: &TransactionalTree, k: &[u8]) -> TxResult<u64> {
    Ok(u64_of(t.get(k)?))
}

fn tx_add(t: &TransactionalTree, k: &[u8], add: Amount) -> TxResult<Amount> {
    let now = tx_u64(t, k)?;
    let Some(new) = now.checked_add(add.0) else {
        return abort(LedgerError::Overflow);
    };
    t.insert(k, &new.to_be_bytes())?;
    Ok(Amount(new))
}

fn tx_channel(t: &TransactionalTree, id: &ChannelId) -> TxResult<ChannelInfo> {
    match t.get(id.0)? {
        Some(b) => match serde_json::from_slice(&b) {
            Ok(c) => Ok(c),
            Err(e) => abort(LedgerError::Storage(format!(
                "corrupt channel record {id}: {e}"
            ))),
        },
        None => abort(LedgerError::UnknownChannel(*id)),
    }
}

fn tx_put_channel(t: &TransactionalTree, c: &ChannelInfo) -> TxResult<()> {
    match serde_json::to_vec(c) {
        Ok(b) => {
            t.insert(&c.channel.0, b)?;
            Ok(())
        }
        Err(e) => abort(LedgerError::Storage(e.to_string())),
    }
}

fn tx_map<T>(r: Result<T, TransactionError<LedgerError>>) -> Result<T, LedgerError> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => LedgerError::Storage(e.to_string()),
    })
}

/// Pays the seller what `voucher` adds over what was already redeemed.
fn tx_redeem(
    accounts: &TransactionalTree,
    c: &mut ChannelInfo,
    voucher: &Voucher,
    now: u64,
) -> TxResult<Amount> {
    if c.state == ChannelState::Closed {
        return abort(LedgerError::ChannelClosed(c.channel));
    }
    if now >= c.deadline {
        return abort(LedgerError::Expired {
            channel: c.channel,
            deadline: c.deadline,
        });
    }
    if let Err(r) = voucher.check(&c.certificate, now) {
        return abort(LedgerError::Voucher(r));
    }
    // Only the cumulative counts at settlement: an old voucher pays nothing more, so
    // resubmitting after a lost reply is harmless.
    let Some(paid) = voucher.cumulative.checked_sub(c.redeemed) else {
        return Ok(Amount::ZERO);
    };
    if !paid.is_zero() {
        tx_add(accounts, &c.seller.0, paid)?;
        c.redeemed = voucher.cumulative;
    }
    Ok(paid)
}

/// Refunds the unredeemed rest to the buyer and closes the channel.
fn tx_finalize(accounts: &TransactionalTree, c: &mut ChannelInfo) -> TxResult<()> {
    let Some(rest) = c.cap.checked_sub(c.redeemed) else {
        return abort(LedgerError::Overflow);
    };
    tx_add(accounts, &c.buyer.0, rest)?;
    c.refunded = rest;
    c.state = ChannelState::Closed;
    Ok(())
}

impl LedgerStore {
    /// Opens (creating on first use) the ledger in `dir`.
    pub fn open(dir: &Path, config: LedgerConfig) -> Result<LedgerStore, LedgerError> {
        keys::create_private_dir(dir)?;
        let db = sled::Config::new().path(dir.join("db")).open()?;
        let meta = db.open_tree("meta")?;
        let key = match meta.get(KEY_LEDGER)? {
            Some(b) => SigningKey::from_bytes(
                &<[u8; 32]>::try_from(b.as_ref())
                    .map_err(|_| LedgerError::Storage("corrupt ledger key".into()))?,
            ),
            None => {
                let k = keys::generate_key();
                meta.insert(KEY_LEDGER, &k.to_bytes())?;
                k
            }
        };
        let admin_path = dir.join("admin.key");
        let admin = match meta.get(KEY_ADMIN)? {
            Some(b) => PublicKey(
                <[u8; 32]>::try_from(b.as_ref())
                    .map_err(|_| LedgerError::Storage("corrupt admin key".into()))?,
            ),
            None => {
                // A crash between writing admin.key and recording it leaves the file: adopt it.
                let k = if admin_path.exists() {
                    keys::read_key_file(&admin_path)?
                } else {
                    let k = keys::generate_key();
                    keys::write_private_file(&admin_path, keys::to_hex(&k.to_bytes()).as_bytes())?;
                    k
                };
                let pk = PublicKey::of(&k);
                meta.insert(KEY_ADMIN, &pk.0)?;
                pk
            }
        };
        db.flush()?;
        keys::restrict_tree(dir)?;
        Ok(LedgerStore {
            dir: dir.to_path_buf(),
            accounts: db.open_tree("accounts")?,
            channels: db.open_tree("channels")?,
            nonces: db.open_tree("nonces")?,
            db,
            meta,
            key,
            admin,
            config,
            lock: Mutex::new(()),
        })
    }

    pub fn id(&self) -> LedgerId {
        PublicKey::of(&self.key)
    }

    pub fn admin(&self) -> PublicKey {
        self.admin
    }

    /// The admin key, read from `admin.key` in the ledger directory.
    pub fn admin_key(&self) -> Result<SigningKey, LedgerError> {
        Ok(keys::read_key_file(&self.dir.join("admin.key"))?)
    }

    pub fn info(&self, now: u64) -> LedgerInfo {
        LedgerInfo {
            ledger: self.id(),
            admin: self.admin,
            now,
            close_grace_secs: self.config.close_grace_secs,
        }
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding the lock cannot leave sled half-written (transactions are
        // atomic), so a poisoned lock is safe to reuse.
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn balance(&self, account: &PublicKey) -> Result<Amount, LedgerError> {
        Ok(Amount(u64_of(self.accounts.get(account.0)?)))
    }

    pub fn channel(&self, id: &ChannelId) -> Result<ChannelInfo, LedgerError> {
        let b = self
            .channels
            .get(id.0)?
            .ok_or(LedgerError::UnknownChannel(*id))?;
        serde_json::from_slice(&b)
            .map_err(|e| LedgerError::Storage(format!("corrupt channel record {id}: {e}")))
    }

    pub fn channels(&self) -> Result<Vec<ChannelInfo>, LedgerError> {
        self.channels
            .iter()
            .map(|r| {
                let (_, v) = r?;
                serde_json::from_slice(&v)
                    .map_err(|e| LedgerError::Storage(format!("corrupt channel record: {e}")))
            })
            .collect()
    }

    /// Recomputes the books from the stored state.
    pub fn audit(&self) -> Result<Audit, LedgerError> {
        let _g = self.guard();
        let minted = u64_of(self.meta.get(KEY_MINTED)?) as u128;
        let mut balances: u128 = 0;
        let mut accounts = 0;
        for r in self.accounts.iter() {
            balances += u64_of(Some(r?.1)) as u128;
            accounts += 1;
        }
        let mut escrowed: u128 = 0;
        let mut open = 0;
        for c in self.channels()? {
            if c.state != ChannelState::Closed {
                open += 1;
            }
            escrowed += c.escrowed().0 as u128;
        }
        let clamp = |v: u128| Amount(u64::try_from(v).unwrap_or(u64::MAX));
        Ok(Audit {
            ledger: self.id(),
            minted: clamp(minted),
            balances: clamp(balances),
            escrowed: clamp(escrowed),
            accounts,
            open_channels: open,
            consistent: minted == balances + escrowed,
        })
    }

    /// Serves one request at time `now` (Unix seconds).
    pub fn handle(&self, req: Request, now: u64) -> Result<Outcome, LedgerError> {
        match req {
            Request::Info {} => Ok(Outcome::Info(self.info(now))),
            Request::Audit {} => Ok(Outcome::Audit(self.audit()?)),
            Request::Channel { channel } => Ok(Outcome::Channel(self.channel(&channel)?)),
            Request::Signed { payload, sig } => self.apply_signed(&payload, &sig, now),
        }
    }

    /// Authenticates a signed request, checks and consumes its nonce, and applies its action
    /// in one transaction, flushed before returning.
    pub fn apply_signed(
        &self,
        payload: &str,
        sig_hex: &str,
        now: u64,
    ) -> Result<Outcome, LedgerError> {
        let sig = keys::from_hex(sig_hex)
            .and_then(|v| <[u8; 64]>::try_from(v).ok())
            .ok_or_else(|| LedgerError::Malformed("sig is not 128 hex digits".into()))?;
        let p: Payload =
            serde_json::from_str(payload).map_err(|e| LedgerError::Malformed(e.to_string()))?;
        let mut msg = REQUEST_TAG.to_vec();
        msg.extend_from_slice(payload.as_bytes());
        let vk = p
            .account
            .verifying_key()
            .ok_or(LedgerError::BadSignature(p.account))?;
        vk.verify_strict(&msg, &Signature::from_bytes(&sig))
            .map_err(|_| LedgerError::BadSignature(p.account))?;
        if p.ledger != self.id() {
            return Err(LedgerError::WrongLedger {
                got: p.ledger,
                ours: self.id(),
            });
        }
        // Random, drawn once outside the transaction so a retried transaction keeps it;
        // 256 random bits never collide in practice (and a collision is refused below).
        let new_channel = ChannelId(rand::random());
        let _g = self.guard();
        let result = tx_map(
            (&self.accounts, &self.channels, &self.nonces, &self.meta).transaction(
                |(accounts, channels, nonces, meta)| {
                    let last = tx_u64(nonces, &p.account.0)?;
                    if p.nonce <= last {
                        return abort(LedgerError::StaleNonce {
                            nonce: p.nonce,
                            last,
                        });
                    }
                    nonces.insert(&p.account.0, &p.nonce.to_be_bytes())?;
                    self.tx_action(&p, now, new_channel, accounts, channels, meta)
                },
            ),
        );
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                if e.burns_nonce() {
                    // Consume the nonce of a refused request too, so it cannot succeed if
                    // replayed later when, say, the balance has grown.
                    let burn = self.nonces.fetch_and_update(p.account.0, |old| {
                        let last = old
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .map(u64::from_be_bytes)
                            .unwrap_or(0);
                        Some(last.max(p.nonce).to_be_bytes().to_vec())
                    });
                    burn?;
                    self.db.flush()?;
                }
                return Err(e);
            }
        };
        // Durable before the reply leaves: a client that saw success can rely on it.
        self.db.flush()?;
        if let Outcome::Balance { account, .. } = outcome {
            let channels = self
                .channels()?
                .into_iter()
                .filter(|c| c.buyer == account || c.seller == account)
                .collect();
            return Ok(Outcome::Balance {
                account,
                balance: self.balance(&account)?,
                channels,
            });
        }
        Ok(outcome)
    }

    fn tx_action(
        &self,
        p: &Payload,
        now: u64,
        new_channel: ChannelId,
        accounts: &TransactionalTree,
        channels: &TransactionalTree,
        meta: &TransactionalTree,
    ) -> TxResult<Outcome> {
        match &p.action {
            Action::Mint { account, amount } => {
                if p.account != self.admin {
                    return abort(LedgerError::NotAdmin);
                }
                if amount.is_zero() {
                    return abort(LedgerError::Invalid("mint amount must be positive".into()));
                }
                tx_add(meta, KEY_MINTED, *amount)?;
                let balance = tx_add(accounts, &account.0, *amount)?;
                Ok(Outcome::Minted {
                    account: *account,
                    amount: *amount,
                    balance,
                })
            }
            // Filled in after the transaction (sled transactions cannot scan).
            Action::Balance => Ok(Outcome::Balance {
                account: p.account,
                balance: Amount::ZERO,
                channels: vec![],
            }),
            Action::Open {
                seller,
                cap,
                expiry,
            } => {
                if *seller == p.account {
                    return abort(LedgerError::Invalid("a channel to oneself".into()));
                }
                if seller.verifying_key().is_none() {
                    return abort(LedgerError::Invalid(format!(
                        "seller {seller} is not a valid ed25519 key"
                    )));
                }
                if cap.is_zero() {
                    return abort(LedgerError::Invalid("channel cap must be positive".into()));
                }
                if *expiry <= now || *expiry > now.saturating_add(MAX_CHANNEL_SECS) {
                    return abort(LedgerError::Invalid(format!(
                        "expiry {expiry} must be after now ({now}) and within {MAX_CHANNEL_SECS} s"
                    )));
                }
                let balance = Amount(tx_u64(accounts, &p.account.0)?);
                let Some(left) = balance.checked_sub(*cap) else {
                    return abort(LedgerError::InsufficientFunds {
                        balance,
                        needed: *cap,
                    });
                };
                accounts.insert(&p.account.0, &left.0.to_be_bytes())?;
                let channel = new_channel;
                if channels.get(channel.0)?.is_some() {
                    return abort(LedgerError::Invalid("channel id collision".into()));
                }
                let certificate =
                    ChannelCertificate::sign(&self.key, channel, p.account, *seller, *cap, *expiry);
                tx_put_channel(
                    channels,
                    &ChannelInfo {
                        channel,
                        buyer: p.account,
                        seller: *seller,
                        cap: *cap,
                        expiry: *expiry,
                        deadline: *expiry,
                        redeemed: Amount::ZERO,
                        refunded: Amount::ZERO,
                        state: ChannelState::Open,
                        certificate: certificate.clone(),
                    },
                )?;
                Ok(Outcome::Opened { certificate })
            }
            Action::Redeem { voucher } => {
                let mut c = tx_channel(channels, &voucher.channel)?;
                if c.seller != p.account {
                    return abort(LedgerError::NotParty(p.account));
                }
                let paid = tx_redeem(accounts, &mut c, voucher, now)?;
                tx_put_channel(channels, &c)?;
                Ok(Outcome::Redeemed {
                    channel: c.channel,
                    paid,
                    redeemed: c.redeemed,
                })
            }
            Action::Close { channel, voucher } => {
                let mut c = tx_channel(channels, channel)?;
                if c.state == ChannelState::Closed {
                    // Idempotent, so a client retrying after a lost reply learns the result.
                    return Ok(Outcome::Closed(c));
                }
                if p.account == c.seller {
                    if let Some(v) = voucher {
                        if v.channel != *channel {
                            return abort(LedgerError::Voucher(VoucherRefusal::WrongChannel(
                                *channel,
                            )));
                        }
                        if now < c.deadline {
                            tx_redeem(accounts, &mut c, v, now)?;
                        }
                    }
                    tx_finalize(accounts, &mut c)?;
                } else if p.account == c.buyer {
                    if voucher.is_some() {
                        return abort(LedgerError::Invalid(
                            "only the seller closes with a voucher".into(),
                        ));
                    }
                    if now >= c.deadline {
                        tx_finalize(accounts, &mut c)?;
                    } else {
                        // The seller keeps a grace period to redeem what it was paid.
                        c.deadline = c
                            .deadline
                            .min(now.saturating_add(self.config.close_grace_secs));
                        c.state = ChannelState::Closing;
                        if now >= c.deadline {
                            tx_finalize(accounts, &mut c)?;
                        }
                    }
                } else {
                    return abort(LedgerError::NotParty(p.account));
                }
                tx_put_channel(channels, &c)?;
                Ok(Outcome::Closed(c))
            }
        }
    }

    /// Refunds every channel whose deadline has passed. Returns how many were closed.
    pub fn sweep_expired(&self, now: u64) -> Result<usize, LedgerError> {
        let due: Vec<ChannelId> = self
            .channels()?
            .into_iter()
            .filter(|c| c.state != ChannelState::Closed && now >= c.deadline)
            .map(|c| c.channel)
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let _g = self.guard();
        for id in &due {
            tx_map(
                (&self.accounts, &self.channels).transaction(|(accounts, channels)| {
                    let mut c = tx_channel(channels, id)?;
                    if c.state != ChannelState::Closed && now >= c.deadline {
                        tx_finalize(accounts, &mut c)?;
                        tx_put_channel(channels, &c)?;
                    }
                    Ok(())
                }),
            )?;
        }
        self.db.flush()?;
        Ok(due.len())
    }

    /// Builds and signs a request payload (used by the client and by tests).
    pub fn sign_request(key: &SigningKey, ledger: LedgerId, nonce: u64, action: Action) -> Request {
        use ed25519_dalek::Signer;
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

    pub fn flush(&self) -> Result<(), LedgerError> {
        self.db.flush()?;
        Ok(())
    }
}

impl Drop for LedgerStore {
    fn drop(&mut self) {
        // sled may have created new segment files since open; keep them owner-only.
        let _ = self.db.flush();
        let _ = keys::restrict_tree(&self.dir);
    }
}
