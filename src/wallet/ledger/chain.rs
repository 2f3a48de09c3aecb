//! The ledger's side of the chain vault (issue 16): it watches the vault's events and
//! credits each confirmed deposit exactly once, signs withdrawal authorisations while
//! debiting the account in the same store transaction, and audits its books against the
//! vault.
//!
//! Records (the store's chain key → value map, committed with the balances):
//! `deposited`, `withdrawn`, `paid` (u64 BE totals), `cursor` (u64 BE: the last block whose
//! events are all applied), `next_nonce` (u64 BE), `dep/‹tx hash›‹log index BE›` (JSON
//! `Deposit`: seen once, so never credited twice), `wd/‹nonce BE›` (JSON
//! `WithdrawalRecord`), `pending` (JSON list of the nonces not yet paid or refunded).
//!
//! An authorisation the vault has not paid by its deadline, as seen in a confirmed block, can
//! never be paid (the vault checks the deadline against the block time): the next poll
//! refunds it to the account. Withdrawal transactions all lock the `withdrawn` counter first,
//! so they never deadlock one another.
//!
//! Exactly once: a deposit is credited in the transaction that writes its `dep/` record, and
//! that transaction first locks the `deposited` counter, so two watchers (two servers on one
//! PostgreSQL database) serialise. A crash before it commits leaves the deposit unseen; the
//! cursor only moves past a block once all its events are committed, so the next poll finds
//! it again. Withdrawals: the authorisation is signed inside the transaction that debits the
//! account and records it, and leaves the ledger only in the reply sent after the commit; a
//! crash before the commit leaves no debit and no authorisation anywhere.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::LedgerError;
use super::proto::Outcome;
use super::store::{CHAIN_DEPOSITED, CHAIN_WITHDRAWN, LedgerStore, StoreTx};
use crate::wallet::amount::Amount;
use crate::wallet::chain::{
    self, Address, Chain, ChainConfig, ChainError, ChainKey, Deposit, TxHash, VaultEvent,
    WithdrawalAuth, Withdrawn,
};
use crate::wallet::keys::{LedgerId, PublicKey};

const PAID: &[u8] = b"paid";
const CURSOR: &[u8] = b"cursor";
const NEXT_NONCE: &[u8] = b"next_nonce";
/// JSON list of the nonces of pending withdrawals.
const PENDING: &[u8] = b"pending";
/// An authorisation must reach the vault within this (it then pays nothing).
pub const WITHDRAWAL_TTL_SECS: u64 = 7 * 24 * 3600;
/// Blocks read per poll at most, so a ledger far behind catches up in bounded steps.
const BLOCKS_PER_POLL: u64 = 20_000;
/// The environment variable naming a point where the ledger kills itself (crash tests).
pub const FAILPOINT_ENV: &str = "BIDTORRENT_LEDGER_FAILPOINT";

impl From<ChainError> for LedgerError {
    fn from(e: ChainError) -> Self {
        LedgerError::Chain(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalState {
    /// Authorised and debited; the vault has not paid it (as far as the confirmed blocks say).
    Pending,
    /// The vault paid it.
    Paid,
    /// Its deadline passed in a confirmed block before the vault paid it (so the vault never
    /// will): the amount went back to the account.
    Refunded,
}

/// A withdrawal the ledger authorised, as stored and as `withdraw` / `withdrawal` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalRecord {
    pub account: PublicKey,
    pub auth: WithdrawalAuth,
    pub state: WithdrawalState,
    /// When it was authorised (Unix seconds).
    pub at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_tx: Option<TxHash>,
}

/// The chain half of `ledger audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainAudit {
    pub vault: Address,
    pub chain_id: u64,
    /// The last block whose vault events are applied.
    pub block: Option<u64>,
    /// Credited by deposits.
    pub deposited: Amount,
    /// Debited by withdrawal authorisations (paid + pending).
    pub withdrawn: Amount,
    pub withdrawals_paid: Amount,
    pub withdrawals_pending: Amount,
    /// Tokens the vault holds at `block`, when the node could be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// (u64: a larger holding is shown as u64::MAX, and is inconsistent anyway.)
    pub vault_holdings: Option<u64>,
    /// vault holdings = deposited − withdrawals paid (unknown without the node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_consistent: Option<bool>,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    pub deposits: u64,
    pub payouts: u64,
    pub refunds: u64,
    pub cursor: Option<u64>,
}

fn pending_of(v: Option<Vec<u8>>) -> Result<Vec<u64>, LedgerError> {
    match v {
        None => Ok(Vec::new()),
        Some(b) => serde_json::from_slice(&b)
            .map_err(|e| LedgerError::Storage(format!("corrupt pending list: {e}"))),
    }
}

fn read_record(raw: &[u8]) -> Result<WithdrawalRecord, LedgerError> {
    serde_json::from_slice(raw)
        .map_err(|e| LedgerError::Storage(format!("corrupt withdrawal record: {e}")))
}

fn u64_of(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn dep_key(tx: &TxHash, log_index: u64) -> Vec<u8> {
    [b"dep/".as_slice(), &tx.0, &log_index.to_be_bytes()].concat()
}

fn wd_key(nonce: u64) -> Vec<u8> {
    [b"wd/".as_slice(), &nonce.to_be_bytes()].concat()
}

fn add_counter(tx: &mut dyn StoreTx, key: &[u8], amount: u64) -> Result<u64, LedgerError> {
    let now = u64_of(tx.chain_get(key)?);
    let new = now.checked_add(amount).ok_or(LedgerError::Overflow)?;
    tx.chain_put(key, &new.to_be_bytes())?;
    Ok(new)
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, LedgerError> {
    serde_json::to_vec(v).map_err(|e| LedgerError::Storage(e.to_string()))
}

/// Kills this process on the spot (SIGKILL, like `kill -9`) when the failpoint `name` is
/// armed through `FAILPOINT_ENV`: the crash tests use it to stop the ledger between two
/// steps that must not be separated.
fn failpoint(name: &str) {
    if std::env::var(FAILPOINT_ENV).is_ok_and(|v| v == name) {
        tracing::error!("failpoint {name}: the ledger kills itself");
        // SAFETY: kill(2) on our own pid with a valid signal number has no memory effects.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// The ledger's chain connection: the vault client and the ledger's chain signing key.
pub struct ChainBook {
    chain: Box<dyn Chain>,
    key: ChainKey,
    ledger: LedgerId,
    /// Set once the vault is known to belong to this ledger.
    bound: Mutex<bool>,
    /// Held by a poll and an audit, so an audit never sees half a poll.
    polling: Mutex<()>,
}

impl ChainBook {
    /// The ledger's chain key lives in `DIR/chain.key` (hex, 0600), created on first use.
    pub fn key_path(dir: &Path) -> std::path::PathBuf {
        dir.join("chain.key")
    }

    pub fn open(
        dir: &Path,
        config: &ChainConfig,
        ledger: LedgerId,
    ) -> Result<ChainBook, LedgerError> {
        let key = ChainKey::load_or_create(&ChainBook::key_path(dir))?;
        Ok(ChainBook {
            chain: chain::connect(config)?,
            key,
            ledger,
            bound: Mutex::new(false),
            polling: Mutex::new(()),
        })
    }

    /// The address whose signature the vault must accept.
    pub fn signer(&self) -> Address {
        self.key.address()
    }

    pub fn config(&self) -> &ChainConfig {
        self.chain.config()
    }

    /// Refuses to act for a vault that names another signer or another ledger.
    fn check_binding(&self) -> Result<(), LedgerError> {
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        if *bound {
            return Ok(());
        }
        let (signer, ledger) = self.chain.vault_binding()?;
        if signer != self.signer() || ledger != self.ledger {
            return Err(LedgerError::Chain(format!(
                "vault {} belongs to signer {signer} of ledger {ledger}, not to this ledger \
                 ({} signing as {})",
                self.config().vault,
                self.ledger,
                self.signer()
            )));
        }
        *bound = true;
        Ok(())
    }

    /// Applies the vault's events in the blocks confirmed since the last poll.
    pub fn poll(&self, store: &dyn LedgerStore) -> Result<PollReport, LedgerError> {
        let _g = self.polling.lock().unwrap_or_else(|p| p.into_inner());
        self.check_binding()?;
        let mut report = PollReport {
            cursor: store.chain_get(CURSOR)?.map(|v| u64_of(Some(v))),
            ..PollReport::default()
        };
        let head = self.chain.head()?;
        let Some(confirmed) = head.checked_sub(self.config().confirmations) else {
            return Ok(report);
        };
        let from = match report.cursor {
            Some(c) => c.saturating_add(1),
            None => self.config().from_block,
        };
        if from > confirmed {
            return Ok(report);
        }
        let to = confirmed.min(from.saturating_add(BLOCKS_PER_POLL - 1));
        for event in self.chain.vault_events(from, to)? {
            match &event {
                VaultEvent::Deposit(d) => {
                    failpoint("deposit_seen");
                    if self.credit_deposit(store, d)? {
                        report.deposits += 1;
                        tracing::info!(account = %d.account, amount = d.amount, tx = %d.tx, "deposit credited");
                    }
                }
                VaultEvent::Withdrawn(w) => {
                    if self.record_payout(store, w)? {
                        report.payouts += 1;
                    }
                }
            }
        }
        store.transact(&mut |tx: &mut dyn StoreTx| {
            let cursor = tx.chain_get(CURSOR)?.map(|v| u64_of(Some(v)));
            if cursor.is_none_or(|c| c < to) {
                tx.chain_put(CURSOR, &to.to_be_bytes())?;
            }
            Ok(Outcome::ChainApplied { applied: false })
        })?;
        report.cursor = Some(to);
        // Every payout up to block `to` is applied, and the vault pays nothing after a
        // deadline: a pending authorisation whose deadline is before block `to` never will be.
        let pending = pending_of(store.chain_get(PENDING)?)?;
        if !pending.is_empty() {
            let time = self.chain.block_time(to)?;
            for nonce in pending {
                if self.refund_expired(store, nonce, time)? {
                    report.refunds += 1;
                }
            }
        }
        Ok(report)
    }

    /// Refunds the authorisation `nonce` if it is pending and its deadline is before `time`
    /// (a confirmed block's timestamp); whether it did.
    fn refund_expired(
        &self,
        store: &dyn LedgerStore,
        nonce: u64,
        time: u64,
    ) -> Result<bool, LedgerError> {
        let key = wd_key(nonce);
        let o = store.transact(&mut |tx: &mut dyn StoreTx| {
            // Lock order of every withdrawal transaction: the withdrawn counter first.
            let withdrawn = u64_of(tx.chain_get(CHAIN_WITHDRAWN)?);
            let mut pending = pending_of(tx.chain_get(PENDING)?)?;
            let Some(raw) = tx.chain_get(&key)? else {
                return Ok(Outcome::ChainApplied { applied: false });
            };
            let mut rec = read_record(&raw)?;
            if rec.state != WithdrawalState::Pending || rec.auth.deadline >= time {
                return Ok(Outcome::ChainApplied { applied: false });
            }
            rec.state = WithdrawalState::Refunded;
            pending.retain(|n| *n != nonce);
            let left = withdrawn
                .checked_sub(rec.auth.amount)
                .ok_or(LedgerError::Overflow)?;
            tx.chain_put(CHAIN_WITHDRAWN, &left.to_be_bytes())?;
            tx.chain_put(PENDING, &to_json(&pending)?)?;
            tx.chain_put(&key, &to_json(&rec)?)?;
            tx.credit(&rec.account, Amount(rec.auth.amount))?;
            tracing::info!(nonce, account = %rec.account, amount = rec.auth.amount, "expired withdrawal refunded");
            Ok(Outcome::ChainApplied { applied: true })
        })?;
        Ok(matches!(o, Outcome::ChainApplied { applied: true }))
    }

    /// Credits `d` unless it was credited before; whether it credited now.
    fn credit_deposit(&self, store: &dyn LedgerStore, d: &Deposit) -> Result<bool, LedgerError> {
        let key = dep_key(&d.tx, d.log_index);
        let o = store.transact(&mut |tx: &mut dyn StoreTx| {
            // The counter first: every deposit transaction locks the same row, in one order.
            let total = u64_of(tx.chain_get(CHAIN_DEPOSITED)?);
            if tx.chain_get(&key)?.is_some() {
                return Ok(Outcome::ChainApplied { applied: false });
            }
            tx.credit(&d.account, Amount(d.amount))?;
            let new = total.checked_add(d.amount).ok_or(LedgerError::Overflow)?;
            tx.chain_put(CHAIN_DEPOSITED, &new.to_be_bytes())?;
            tx.chain_put(&key, &to_json(d)?)?;
            Ok(Outcome::ChainApplied { applied: true })
        })?;
        Ok(matches!(o, Outcome::ChainApplied { applied: true }))
    }

    /// Marks the authorisation `w.nonce` paid; whether it changed now.
    fn record_payout(&self, store: &dyn LedgerStore, w: &Withdrawn) -> Result<bool, LedgerError> {
        let key = wd_key(w.nonce);
        let o = store.transact(&mut |tx: &mut dyn StoreTx| {
            // Lock order of every withdrawal transaction: the withdrawn counter first.
            tx.chain_get(CHAIN_WITHDRAWN)?;
            let paid = u64_of(tx.chain_get(PAID)?);
            let mut pending = pending_of(tx.chain_get(PENDING)?)?;
            let Some(raw) = tx.chain_get(&key)? else {
                // Only our key can authorise: a payout we never recorded means the chain key
                // leaked or the store lost a record. Say so loudly; the audit will not balance.
                tracing::error!(nonce = w.nonce, tx = %w.tx, "the vault paid a withdrawal this ledger has no record of");
                return Ok(Outcome::ChainApplied { applied: false });
            };
            let mut rec = read_record(&raw)?;
            if rec.state == WithdrawalState::Paid {
                return Ok(Outcome::ChainApplied { applied: false });
            }
            if rec.state == WithdrawalState::Refunded {
                // Cannot happen (the vault refuses a late authorisation and refunds wait for
                // its deadline in a confirmed block), unless a reorganisation went deeper
                // than the confirmations. Say so; the audit will not balance.
                tracing::error!(nonce = w.nonce, tx = %w.tx, "the vault paid a withdrawal this ledger refunded");
                return Ok(Outcome::ChainApplied { applied: false });
            }
            pending.retain(|n| *n != w.nonce);
            tx.chain_put(PENDING, &to_json(&pending)?)?;
            rec.state = WithdrawalState::Paid;
            rec.paid_tx = Some(w.tx);
            let new = paid
                .checked_add(rec.auth.amount)
                .ok_or(LedgerError::Overflow)?;
            tx.chain_put(PAID, &new.to_be_bytes())?;
            tx.chain_put(&key, &to_json(&rec)?)?;
            Ok(Outcome::ChainApplied { applied: true })
        })?;
        Ok(matches!(o, Outcome::ChainApplied { applied: true }))
    }

    /// Inside the request's transaction: debits `account` and signs the authorisation.
    pub fn authorise(
        &self,
        tx: &mut dyn StoreTx,
        account: PublicKey,
        amount: Amount,
        to: Address,
        now: u64,
    ) -> Result<Outcome, LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Invalid(
                "withdrawal amount must be positive".into(),
            ));
        }
        if amount.0 > i64::MAX as u64 {
            return Err(LedgerError::Invalid("withdrawal amount too large".into()));
        }
        if to == Address::default() {
            return Err(LedgerError::Invalid(
                "withdrawal to the zero address".into(),
            ));
        }
        add_counter(tx, CHAIN_WITHDRAWN, amount.0)?;
        tx.debit(&account, amount)?;
        let nonce = u64_of(tx.chain_get(NEXT_NONCE)?).max(1);
        tx.chain_put(NEXT_NONCE, &(nonce + 1).to_be_bytes())?;
        let auth = self.chain.authorise(
            &self.key,
            self.ledger,
            to,
            amount.0,
            nonce,
            now.saturating_add(WITHDRAWAL_TTL_SECS),
        )?;
        failpoint("withdrawal_signed");
        let rec = WithdrawalRecord {
            account,
            auth,
            state: WithdrawalState::Pending,
            at: now,
            paid_tx: None,
        };
        tx.chain_put(&wd_key(nonce), &to_json(&rec)?)?;
        let mut pending = pending_of(tx.chain_get(PENDING)?)?;
        pending.push(nonce);
        tx.chain_put(PENDING, &to_json(&pending)?)?;
        Ok(Outcome::Withdrawal(Box::new(rec)))
    }

    /// The authorisation `nonce`, if this ledger made it.
    pub fn withdrawal(
        store: &dyn LedgerStore,
        nonce: u64,
    ) -> Result<Option<WithdrawalRecord>, LedgerError> {
        store
            .chain_get(&wd_key(nonce))?
            .map(|raw| read_record(&raw))
            .transpose()
    }

    /// The chain half of the audit; asks the node for the vault's holdings at the cursor.
    pub fn audit(&self, store: &dyn LedgerStore) -> Result<ChainAudit, LedgerError> {
        let _g = self.polling.lock().unwrap_or_else(|p| p.into_inner());
        let mut a = audit_records(store, self.config())?;
        // Before the first poll there is no applied block to compare the vault at.
        let Some(block) = a.block else {
            return Ok(a);
        };
        match self.chain.token_balance(&self.config().vault, Some(block)) {
            Ok(h) => {
                a.vault_holdings = Some(u64::try_from(h).unwrap_or(u64::MAX));
                a.vault_consistent =
                    Some(h == (a.deposited.0 as u128).saturating_sub(a.withdrawals_paid.0 as u128));
            }
            Err(e) => tracing::warn!("audit: cannot read the vault's holdings: {e}"),
        }
        Ok(a)
    }
}

/// The chain records of `store` (no node needed).
pub fn audit_records(
    store: &dyn LedgerStore,
    config: &ChainConfig,
) -> Result<ChainAudit, LedgerError> {
    let get = |k: &[u8]| -> Result<u64, LedgerError> { Ok(u64_of(store.chain_get(k)?)) };
    let deposited = get(CHAIN_DEPOSITED)?;
    let withdrawn = get(CHAIN_WITHDRAWN)?;
    let paid = get(PAID)?;
    Ok(ChainAudit {
        vault: config.vault,
        chain_id: config.chain_id,
        block: store.chain_get(CURSOR)?.map(|v| u64_of(Some(v))),
        deposited: Amount(deposited),
        withdrawn: Amount(withdrawn),
        withdrawals_paid: Amount(paid),
        withdrawals_pending: Amount(withdrawn.saturating_sub(paid)),
        vault_holdings: None,
        vault_consistent: None,
    })
}

/// How often `ledger serve` polls the vault unless told otherwise.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);
