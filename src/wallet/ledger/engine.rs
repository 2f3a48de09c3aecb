//! The ledger's rules, once, over any `LedgerStore`: authentication, replay protection,
//! rate limits, and what mint / open / redeem / close do. Every state change is one store
//! transaction, so the books balance after any crash: minted = Σ balances + Σ escrowed.
//!
//! Keys: the admin key is `DIR/admin.key` (hex, 0600) for both stores. The ledger's own
//! signing key lives inside the sled database for the sled store (as it always has), and in
//! `DIR/ledger.key` for PostgreSQL, so several servers given copies of DIR share one ledger
//! id while the database never holds a secret.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, SigningKey};

use super::LedgerError;
use super::limits::RateLimiter;
use super::proto::{
    self, AccountSummary, Action, Audit, BALANCE_PAGE, ChannelInfo, ChannelState, ClosedCursor,
    LedgerInfo, Outcome, PartySummary, Payload, REQUEST_TAG, Reply, Request, Side,
};
use super::store::{self, Counter, LedgerStore, SledStore, StoreTx};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, ChannelId, LedgerId, PublicKey};
use crate::wallet::voucher::{ChannelCertificate, Voucher, VoucherRefusal};

/// Longest channel a buyer may open, so escrow is never locked away for ever.
pub const MAX_CHANNEL_SECS: u64 = 366 * 24 * 3600;
/// Default limit on live channels per key and side (as payer, and as payee). A torrent
/// client pays one channel per seller and is paid through one per buyer, and talks to at
/// most a few hundred peers at once, so 1,000 is far above honest use; it bounds what
/// anyone can pile onto a key (and the `balance` pages that list them: 2 × 1,000 / 40 =
/// 50 pages at most). A payee jammed by unwanted channels closes them (a seller's close
/// is immediate) and the payer gets its escrow back.
pub const DEFAULT_MAX_CHANNELS_PER_KEY: u64 = 1_000;
/// Expired channels refunded per sweep transaction batch.
const SWEEP_BATCH: usize = 256;
/// A public `audit` scans every account and channel: one server computes it at most this
/// often and answers the others from that result, so anonymous audits cannot load the store.
const AUDIT_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// After a buyer asks to close an unexpired channel, how long the seller still has to
    /// redeem before the rest is refunded.
    pub close_grace_secs: u64,
    /// Signed requests per account per second (sustained; twice that as a burst); `None`
    /// for no limit.
    pub rate_per_key: Option<u32>,
    /// Connections served at once by one server; more are told `busy` and closed.
    pub max_connections: usize,
    /// A connection idle this long between requests is dropped.
    pub idle_timeout: Duration,
    /// Live channels one key may have as payer, and (separately) as payee; `None` for no
    /// limit. An `open` past it is refused with `too_many_channels`.
    pub max_channels_per_key: Option<u64>,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            close_grace_secs: 300,
            rate_per_key: Some(200),
            max_connections: 1024,
            idle_timeout: Duration::from_secs(60),
            max_channels_per_key: Some(DEFAULT_MAX_CHANNELS_PER_KEY),
        }
    }
}

/// A ledger: its keys, its rules and its store.
pub struct Ledger {
    dir: PathBuf,
    store: Box<dyn LedgerStore>,
    key: SigningKey,
    admin: PublicKey,
    config: LedgerConfig,
    limiter: Option<RateLimiter>,
    last_audit: Mutex<Option<(Instant, Audit)>>,
}

impl Ledger {
    /// Opens (creating on first use) the sled ledger in `dir`.
    pub fn open(dir: &Path, config: LedgerConfig) -> Result<Ledger, LedgerError> {
        Ledger::open_with(dir, None, config)
    }

    /// Opens the ledger whose keys are in `dir` on the store `url` (`None`: sled in `dir`).
    /// A PostgreSQL database must have been prepared by `ledger migrate`.
    pub fn open_with(
        dir: &Path,
        url: Option<&str>,
        config: LedgerConfig,
    ) -> Result<Ledger, LedgerError> {
        keys::create_private_dir(dir)?;
        let (store, key): (Box<dyn LedgerStore>, SigningKey) = match url {
            None | Some("sled") => {
                let s = SledStore::open(dir)?;
                let k = s.signing_key()?;
                (Box::new(s), k)
            }
            Some(u) => (
                store::open_store(dir, Some(u))?,
                key_file(&dir.join("ledger.key"))?,
            ),
        };
        let id = PublicKey::of(&key);
        let admin = match store.identity()? {
            Some((_, admin)) => admin,
            None => PublicKey::of(&key_file(&dir.join("admin.key"))?),
        };
        let (bound_id, bound_admin) = store.bind_identity(id, admin)?;
        if bound_id != id {
            return Err(LedgerError::Invalid(format!(
                "the {} store belongs to ledger {bound_id}, but {} holds the key of ledger {id}",
                store.kind(),
                dir.display()
            )));
        }
        keys::restrict_tree(dir)?;
        Ok(Ledger {
            dir: dir.to_path_buf(),
            store,
            key,
            admin: bound_admin,
            limiter: config.rate_per_key.map(RateLimiter::new),
            config,
            last_audit: Mutex::new(None),
        })
    }

    pub fn id(&self) -> LedgerId {
        PublicKey::of(&self.key)
    }

    pub fn admin(&self) -> PublicKey {
        self.admin
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    pub fn store(&self) -> &dyn LedgerStore {
        self.store.as_ref()
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

    pub fn balance(&self, account: &PublicKey) -> Result<Amount, LedgerError> {
        self.store.balance(account)
    }

    pub fn channel(&self, id: &ChannelId) -> Result<ChannelInfo, LedgerError> {
        self.store
            .channel(id)?
            .ok_or(LedgerError::UnknownChannel(*id))
    }

    /// Recomputes the books from the stored state.
    pub fn audit(&self) -> Result<Audit, LedgerError> {
        let t = self.store.totals()?;
        let clamp = |v: u128| Amount(u64::try_from(v).unwrap_or(u64::MAX));
        Ok(Audit {
            ledger: self.id(),
            minted: clamp(t.minted),
            balances: clamp(t.balances),
            escrowed: clamp(t.escrowed),
            accounts: t.accounts,
            open_channels: t.open_channels,
            consistent: t.minted == t.balances + t.escrowed,
        })
    }

    /// `audit` for anonymous callers: recomputed at most every `AUDIT_EVERY`. The lock is
    /// held while computing, so concurrent callers wait for one result instead of each
    /// scanning the store.
    fn public_audit(&self) -> Result<Audit, LedgerError> {
        // Holds a plain cache: a panic elsewhere cannot leave it inconsistent.
        let mut last = self.last_audit.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, a)) = last.as_ref()
            && at.elapsed() < AUDIT_EVERY
        {
            return Ok(a.clone());
        }
        let a = self.audit()?;
        *last = Some((Instant::now(), a.clone()));
        Ok(a)
    }

    /// Serves one request at time `now` (Unix seconds).
    pub fn handle(&self, req: Request, now: u64) -> Result<Outcome, LedgerError> {
        match req {
            Request::Info {} => Ok(Outcome::Info(self.info(now))),
            Request::Audit {} => Ok(Outcome::Audit(self.public_audit()?)),
            Request::Channel { channel } => Ok(Outcome::Channel(self.channel(&channel)?)),
            Request::Signed { payload, sig } => self.apply_signed(&payload, &sig, now),
        }
    }

    /// Serves one raw request frame and returns the signed reply frame.
    pub fn answer(&self, frame: &[u8], now: u64) -> Vec<u8> {
        let reply = match serde_json::from_slice::<Request>(frame) {
            Err(e) => error_reply(&LedgerError::Malformed(format!("malformed request: {e}"))),
            Ok(req) => match self.handle(req, now) {
                Ok(o) => Reply::Ok(Box::new(o)),
                Err(e) => error_reply(&e),
            },
        };
        self.sign_reply(frame, &reply)
    }

    /// Signs `reply` as the answer to the request frame `request`.
    pub fn sign_reply(&self, request: &[u8], reply: &Reply) -> Vec<u8> {
        proto::sign_reply(&self.key, request, reply)
    }

    /// Authenticates a signed request, checks and consumes its nonce, and applies its action
    /// in one store transaction.
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
        // Counted only once the signature verifies, so nobody can spend another key's budget.
        if let Some(l) = &self.limiter
            && !l.allow(&p.account)
        {
            return Err(LedgerError::RateLimited(p.account));
        }
        // Random, drawn once outside the transaction so a retried transaction keeps it;
        // 256 random bits never collide in practice (and a collision is refused).
        let new_channel = ChannelId(rand::random());
        let result = self.store.transact(&mut |tx: &mut dyn StoreTx| {
            if let Err(last) = tx.advance_nonce(&p.account, p.nonce)? {
                return Err(LedgerError::StaleNonce {
                    nonce: p.nonce,
                    last,
                });
            }
            self.action(tx, &p, now, new_channel)
        });
        match result {
            Ok(Outcome::Balance { account, .. }) => {
                let (after, side) = match &p.action {
                    Action::Balance { after, side } => (*after, *side),
                    _ => (None, None),
                };
                self.balance_page(&account, side, after)
            }
            Ok(Outcome::ClosedChannels { account, .. }) => match &p.action {
                Action::ClosedChannels { since, after } => {
                    self.closed_page(&account, *since, *after)
                }
                _ => Err(LedgerError::Invalid("not a closed_channels request".into())),
            },
            Ok(o) => Ok(o),
            Err(e) => {
                if e.burns_nonce() {
                    self.store.burn_nonce(&p.account, p.nonce)?;
                }
                Err(e)
            }
        }
    }

    /// The `balance` reply: the balance, the account summary and one page of live channels.
    fn balance_page(
        &self,
        account: &PublicKey,
        side: Option<Side>,
        after: Option<ChannelId>,
    ) -> Result<Outcome, LedgerError> {
        let mut channels = self
            .store
            .live_channels_of(account, side, after, BALANCE_PAGE + 1)?;
        let next = if channels.len() > BALANCE_PAGE {
            channels.truncate(BALANCE_PAGE);
            channels.last().map(|c| c.channel)
        } else {
            None
        };
        Ok(Outcome::Balance {
            account: *account,
            balance: self.store.balance(account)?,
            summary: Some(self.summary(account)?),
            channels,
            next,
        })
    }

    /// One page of `account`'s channels closed since `since`.
    fn closed_page(
        &self,
        account: &PublicKey,
        since: u64,
        after: Option<ClosedCursor>,
    ) -> Result<Outcome, LedgerError> {
        let mut channels =
            self.store
                .closed_channels_of(account, since, after, BALANCE_PAGE + 1)?;
        let next = if channels.len() > BALANCE_PAGE {
            channels.truncate(BALANCE_PAGE);
            channels.last().map(|c| ClosedCursor {
                closed_at: c.closed_at.unwrap_or(0),
                channel: c.channel,
            })
        } else {
            None
        };
        Ok(Outcome::ClosedChannels {
            account: *account,
            channels,
            next,
        })
    }

    /// `account` in a few numbers, from its counters (one read, however many channels).
    pub fn summary(&self, account: &PublicKey) -> Result<AccountSummary, LedgerError> {
        let c = self.store.counters(account)?;
        let at = |k: Counter| c[k as usize];
        Ok(AccountSummary {
            paying: PartySummary {
                live: at(Counter::PayingLive),
                escrowed: Amount(at(Counter::PayingEscrowed)),
            },
            paid_by: PartySummary {
                live: at(Counter::PaidByLive),
                escrowed: Amount(at(Counter::PaidByEscrowed)),
            },
            minted: Amount(at(Counter::Minted)),
        })
    }

    fn action(
        &self,
        tx: &mut dyn StoreTx,
        p: &Payload,
        now: u64,
        new_channel: ChannelId,
    ) -> Result<Outcome, LedgerError> {
        match &p.action {
            Action::Mint { account, amount } => {
                if p.account != self.admin {
                    return Err(LedgerError::NotAdmin);
                }
                if amount.is_zero() {
                    return Err(LedgerError::Invalid("mint amount must be positive".into()));
                }
                tx.add_minted(*amount)?;
                let balance = tx.credit(account, *amount)?;
                tx.add_counter(account, Counter::Minted, signed(amount.0)?)?;
                Ok(Outcome::Minted {
                    account: *account,
                    amount: *amount,
                    balance,
                })
            }
            // Filled in after the transaction: only the nonce is spent inside it.
            Action::Balance { .. } => Ok(Outcome::Balance {
                account: p.account,
                balance: Amount::ZERO,
                summary: None,
                channels: vec![],
                next: None,
            }),
            Action::ClosedChannels { .. } => Ok(Outcome::ClosedChannels {
                account: p.account,
                channels: vec![],
                next: None,
            }),
            Action::Open {
                seller,
                cap,
                expiry,
            } => {
                if *seller == p.account {
                    return Err(LedgerError::Invalid("a channel to oneself".into()));
                }
                if seller.verifying_key().is_none() {
                    return Err(LedgerError::Invalid(format!(
                        "seller {seller} is not a valid ed25519 key"
                    )));
                }
                if cap.is_zero() {
                    return Err(LedgerError::Invalid("channel cap must be positive".into()));
                }
                if *expiry <= now || *expiry > now.saturating_add(MAX_CHANNEL_SECS) {
                    return Err(LedgerError::Invalid(format!(
                        "expiry {expiry} must be after now ({now}) and within {MAX_CHANNEL_SECS} s"
                    )));
                }
                tx.debit(&p.account, *cap)?;
                let limit = self.config.max_channels_per_key;
                let cap_delta = signed(cap.0)?;
                let paying = tx.add_counter(&p.account, Counter::PayingLive, 1)?;
                if let Some(limit) = limit
                    && paying > limit
                {
                    return Err(LedgerError::TooManyChannels {
                        account: p.account,
                        role: "payer",
                        limit,
                    });
                }
                tx.add_counter(&p.account, Counter::PayingEscrowed, cap_delta)?;
                let paid_by = tx.add_counter(seller, Counter::PaidByLive, 1)?;
                if let Some(limit) = limit
                    && paid_by > limit
                {
                    return Err(LedgerError::TooManyChannels {
                        account: *seller,
                        role: "payee",
                        limit,
                    });
                }
                tx.add_counter(seller, Counter::PaidByEscrowed, cap_delta)?;
                let certificate = ChannelCertificate::sign(
                    &self.key,
                    new_channel,
                    p.account,
                    *seller,
                    *cap,
                    *expiry,
                );
                tx.insert_channel(&ChannelInfo {
                    channel: new_channel,
                    buyer: p.account,
                    seller: *seller,
                    cap: *cap,
                    expiry: *expiry,
                    deadline: *expiry,
                    redeemed: Amount::ZERO,
                    refunded: Amount::ZERO,
                    state: ChannelState::Open,
                    certificate: certificate.clone(),
                    closed_at: None,
                })?;
                Ok(Outcome::Opened { certificate })
            }
            Action::Redeem { voucher } => {
                let mut c = tx
                    .channel_for_update(&voucher.channel)?
                    .ok_or(LedgerError::UnknownChannel(voucher.channel))?;
                if c.seller != p.account {
                    return Err(LedgerError::NotParty(p.account));
                }
                let before = c.clone();
                let paid = redeem(&mut c, voucher, now)?;
                settle(tx, &c, paid, Amount::ZERO)?;
                count_change(tx, &before, &c)?;
                tx.update_channel(&c)?;
                Ok(Outcome::Redeemed {
                    channel: c.channel,
                    paid,
                    redeemed: c.redeemed,
                })
            }
            Action::Close { channel, voucher } => {
                let mut c = tx
                    .channel_for_update(channel)?
                    .ok_or(LedgerError::UnknownChannel(*channel))?;
                if c.state == ChannelState::Closed {
                    // Idempotent, so a client retrying after a lost reply learns the result.
                    return Ok(Outcome::Closed(c));
                }
                let before = c.clone();
                let mut paid = Amount::ZERO;
                let mut refund = Amount::ZERO;
                if p.account == c.seller {
                    if let Some(v) = voucher {
                        if v.channel != *channel {
                            return Err(LedgerError::Voucher(VoucherRefusal::WrongChannel(
                                *channel,
                            )));
                        }
                        if now < c.deadline {
                            paid = redeem(&mut c, v, now)?;
                        }
                    }
                    refund = finalize(&mut c, now)?;
                } else if p.account == c.buyer {
                    if voucher.is_some() {
                        return Err(LedgerError::Invalid(
                            "only the seller closes with a voucher".into(),
                        ));
                    }
                    if now < c.deadline {
                        // The seller keeps a grace period to redeem what it was paid.
                        c.deadline = c
                            .deadline
                            .min(now.saturating_add(self.config.close_grace_secs));
                        c.state = ChannelState::Closing;
                    }
                    if now >= c.deadline {
                        refund = finalize(&mut c, now)?;
                    }
                } else {
                    return Err(LedgerError::NotParty(p.account));
                }
                settle(tx, &c, paid, refund)?;
                count_change(tx, &before, &c)?;
                tx.update_channel(&c)?;
                Ok(Outcome::Closed(c))
            }
        }
    }

    /// Refunds every channel whose deadline has passed. Returns how many were closed. Safe
    /// to run on several servers at once: each channel is re-checked under its row lock.
    pub fn sweep_expired(&self, now: u64) -> Result<usize, LedgerError> {
        let mut closed = 0;
        loop {
            let due = self.store.due_channels(now, SWEEP_BATCH)?;
            let full = due.len() >= SWEEP_BATCH;
            let before = closed;
            for id in &due {
                let o = self.store.transact(&mut |tx: &mut dyn StoreTx| {
                    let Some(mut c) = tx.channel_for_update(id)? else {
                        return Err(LedgerError::UnknownChannel(*id));
                    };
                    if c.state != ChannelState::Closed && now >= c.deadline {
                        let before = c.clone();
                        let refund = finalize(&mut c, now)?;
                        settle(tx, &c, Amount::ZERO, refund)?;
                        count_change(tx, &before, &c)?;
                        tx.update_channel(&c)?;
                        return Ok(Outcome::Closed(c));
                    }
                    Ok(Outcome::Channel(c))
                })?;
                closed += matches!(o, Outcome::Closed(_)) as usize;
            }
            // A full batch that closed nothing would come back identical: stop rather than
            // spin (the store's index and its rows disagree; the next sweep tries again).
            if !full || closed == before {
                return Ok(closed);
            }
        }
    }

    /// Builds and signs a request payload (kept here for callers of the first API).
    pub fn sign_request(key: &SigningKey, ledger: LedgerId, nonce: u64, action: Action) -> Request {
        proto::sign_request(key, ledger, nonce, action)
    }

    pub fn flush(&self) -> Result<(), LedgerError> {
        self.store.flush()
    }
}

fn error_reply(e: &LedgerError) -> Reply {
    Reply::Error(proto::ErrorBody {
        code: e.code(),
        message: e.to_string(),
    })
}

/// Reads the hex key file at `path`, creating it with a fresh key on first use.
fn key_file(path: &Path) -> Result<SigningKey, LedgerError> {
    if path.exists() {
        return Ok(keys::read_key_file(path)?);
    }
    let k = keys::generate_key();
    keys::write_private_file(path, keys::to_hex(&k.to_bytes()).as_bytes())?;
    Ok(k)
}

/// Records what `voucher` adds over what was already redeemed; returns that amount (to pay
/// the seller).
fn redeem(c: &mut ChannelInfo, voucher: &Voucher, now: u64) -> Result<Amount, LedgerError> {
    if c.state == ChannelState::Closed {
        return Err(LedgerError::ChannelClosed(c.channel));
    }
    if now >= c.deadline {
        return Err(LedgerError::Expired {
            channel: c.channel,
            deadline: c.deadline,
        });
    }
    voucher
        .check(&c.certificate, now)
        .map_err(LedgerError::Voucher)?;
    // Only the cumulative counts at settlement: an old voucher pays nothing more, so
    // resubmitting after a lost reply is harmless.
    let Some(paid) = voucher.cumulative.checked_sub(c.redeemed) else {
        return Ok(Amount::ZERO);
    };
    c.redeemed = c.redeemed.max(voucher.cumulative);
    Ok(paid)
}

/// Closes the channel; returns the unredeemed rest (to refund the buyer).
fn finalize(c: &mut ChannelInfo, now: u64) -> Result<Amount, LedgerError> {
    let rest = c.cap.checked_sub(c.redeemed).ok_or(LedgerError::Overflow)?;
    c.refunded = rest;
    c.state = ChannelState::Closed;
    c.closed_at = Some(now);
    Ok(rest)
}

fn signed(v: u64) -> Result<i64, LedgerError> {
    i64::try_from(v).map_err(|_| LedgerError::Overflow)
}

/// Keeps both parties' counters in step with a channel going from `before` to `after`
/// (called after `settle`: accounts are locked before counters, payer before payee).
fn count_change(
    tx: &mut dyn StoreTx,
    before: &ChannelInfo,
    after: &ChannelInfo,
) -> Result<(), LedgerError> {
    let live = |c: &ChannelInfo| i64::from(c.state != ChannelState::Closed);
    let d_live = live(after) - live(before);
    let d_escrow = signed(after.escrowed().0)? - signed(before.escrowed().0)?;
    for (k, counter, d) in [
        (after.buyer, Counter::PayingLive, d_live),
        (after.buyer, Counter::PayingEscrowed, d_escrow),
        (after.seller, Counter::PaidByLive, d_live),
        (after.seller, Counter::PaidByEscrowed, d_escrow),
    ] {
        if d != 0 {
            tx.add_counter(&k, counter, d)?;
        }
    }
    Ok(())
}

/// Credits the seller and the buyer of `c`, in key order: two transactions settling
/// channels between the same two accounts in opposite roles then lock their rows in the
/// same order and cannot deadlock.
fn settle(
    tx: &mut dyn StoreTx,
    c: &ChannelInfo,
    to_seller: Amount,
    to_buyer: Amount,
) -> Result<(), LedgerError> {
    let mut credits = [(c.seller, to_seller), (c.buyer, to_buyer)];
    credits.sort_by_key(|(k, _)| k.0);
    for (k, a) in credits {
        if !a.is_zero() {
            tx.credit(&k, a)?;
        }
    }
    Ok(())
}
