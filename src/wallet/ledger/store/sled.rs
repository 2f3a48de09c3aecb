//! The embedded sled store: one process, every transaction across the trees it touches and
//! flushed before it returns. A process-wide lock serialises writers (sled locks the
//! database to one process anyway), so an audit never sees half a request.
//!
//! Layout: trees `meta` (ledger key, admin key, minted, layout version), `accounts`
//! (key → u64 BE), `nonces` (key → u64 BE), `channels` (id → JSON `ChannelInfo`), and since
//! layout 2 the indexes `live` (party ‖ id → side byte: 0 paying, 1 paid by, for both
//! parties of every channel not closed),
//! `closed` (party ‖ closed_at u64 BE ‖ id), `due` (deadline u64 BE ‖ id of every channel
//! not closed, for the expiry sweep) and `counters` (account ‖ counter byte → u64 BE). A database from before layout 2 gets its indexes and counters built on open.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

use super::{Counter, LedgerStore, StoreTx, Totals, TxWork};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, ChannelId, LedgerId, PublicKey};
use crate::wallet::ledger::LedgerError;
use crate::wallet::ledger::proto::{ChannelInfo, ChannelState, ClosedCursor, Outcome, Side};

const KEY_LEDGER: &[u8] = b"ledger_key";
const KEY_ADMIN: &[u8] = b"admin";
const KEY_MINTED: &[u8] = b"minted";
/// Layout version; absent means 1 (no indexes, no counters).
const KEY_LAYOUT: &[u8] = b"layout";
const LAYOUT: u64 = 3;

impl From<sled::Error> for LedgerError {
    fn from(e: sled::Error) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

pub struct SledStore {
    dir: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    accounts: sled::Tree,
    channels: sled::Tree,
    nonces: sled::Tree,
    live: sled::Tree,
    closed: sled::Tree,
    counters: sled::Tree,
    due: sled::Tree,
    lock: Mutex<()>,
}

fn u64_of(v: Option<sled::IVec>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn live_key(party: &PublicKey, id: &ChannelId) -> Vec<u8> {
    [&party.0[..], &id.0[..]].concat()
}

fn closed_key(party: &PublicKey, closed_at: u64, id: &ChannelId) -> Vec<u8> {
    [&party.0[..], &closed_at.to_be_bytes()[..], &id.0[..]].concat()
}

fn due_key(deadline: u64, id: &ChannelId) -> Vec<u8> {
    [&deadline.to_be_bytes()[..], &id.0[..]].concat()
}

fn counter_key(account: &PublicKey, c: Counter) -> Vec<u8> {
    [&account.0[..], &[c as u8][..]].concat()
}

fn side_byte(s: Side) -> u8 {
    match s {
        Side::Paying => 0,
        Side::PaidBy => 1,
    }
}

/// The index entries of channel `c`: (live keys, closed keys), buyer's first.
fn index_keys(c: &ChannelInfo) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let parties = [c.buyer, c.seller];
    if c.state == ChannelState::Closed {
        let at = c.closed_at.unwrap_or(0);
        let closed = parties
            .iter()
            .map(|p| closed_key(p, at, &c.channel))
            .collect();
        (vec![], closed)
    } else {
        let live = parties.iter().map(|p| live_key(p, &c.channel)).collect();
        (live, vec![])
    }
}

fn decode_channel(b: &[u8]) -> Result<ChannelInfo, LedgerError> {
    serde_json::from_slice(b)
        .map_err(|e| LedgerError::Storage(format!("corrupt channel record: {e}")))
}

impl SledStore {
    /// Opens (creating on first use) the sled database in `dir/db`.
    pub fn open(dir: &Path) -> Result<SledStore, LedgerError> {
        keys::create_private_dir(dir)?;
        let db = sled::Config::new().path(dir.join("db")).open()?;
        let store = SledStore {
            dir: dir.to_path_buf(),
            meta: db.open_tree("meta")?,
            accounts: db.open_tree("accounts")?,
            channels: db.open_tree("channels")?,
            nonces: db.open_tree("nonces")?,
            live: db.open_tree("live")?,
            closed: db.open_tree("closed")?,
            counters: db.open_tree("counters")?,
            due: db.open_tree("due")?,
            db,
            lock: Mutex::new(()),
        };
        store.upgrade()?;
        keys::restrict_tree(dir)?;
        Ok(store)
    }

    /// Builds the layout-2 indexes and counters from the channels of an older database.
    /// Redone from scratch if interrupted: the version is written last.
    fn upgrade(&self) -> Result<(), LedgerError> {
        let _g = self.guard();
        if u64_of(self.meta.get(KEY_LAYOUT)?) >= LAYOUT {
            return Ok(());
        }
        self.live.clear()?;
        self.closed.clear()?;
        self.counters.clear()?;
        self.due.clear()?;
        let mut counts: std::collections::HashMap<Vec<u8>, u64> = Default::default();
        let mut n = 0u64;
        for c in self.all_channels() {
            let c = c?;
            let (live, closed) = index_keys(&c);
            for (k, side) in live
                .iter()
                .chain(closed.iter())
                .zip([Side::Paying, Side::PaidBy])
            {
                self.live_or_closed(&c)
                    .insert(k.as_slice(), &[side_byte(side)])?;
            }
            if c.state != ChannelState::Closed {
                self.due.insert(due_key(c.deadline, &c.channel), &[])?;
                let esc = c.escrowed().0;
                for (k, add) in [
                    (counter_key(&c.buyer, Counter::PayingLive), 1),
                    (counter_key(&c.buyer, Counter::PayingEscrowed), esc),
                    (counter_key(&c.seller, Counter::PaidByLive), 1),
                    (counter_key(&c.seller, Counter::PaidByEscrowed), esc),
                ] {
                    *counts.entry(k).or_default() += add;
                }
            }
            n += 1;
        }
        for (k, v) in counts {
            self.counters.insert(k, &v.to_be_bytes())?;
        }
        self.db.flush()?;
        self.meta.insert(KEY_LAYOUT, &LAYOUT.to_be_bytes())?;
        self.db.flush()?;
        if n > 0 {
            tracing::info!(channels = n, "ledger store upgraded to layout {LAYOUT}");
        }
        Ok(())
    }

    fn live_or_closed(&self, c: &ChannelInfo) -> &sled::Tree {
        if c.state == ChannelState::Closed {
            &self.closed
        } else {
            &self.live
        }
    }

    /// The ledger's signing key, kept inside the database (created on first use).
    pub fn signing_key(&self) -> Result<SigningKey, LedgerError> {
        match self.meta.get(KEY_LEDGER)? {
            Some(b) => Ok(SigningKey::from_bytes(
                &<[u8; 32]>::try_from(b.as_ref())
                    .map_err(|_| LedgerError::Storage("corrupt ledger key".into()))?,
            )),
            None => {
                let k = keys::generate_key();
                self.meta.insert(KEY_LEDGER, &k.to_bytes())?;
                self.db.flush()?;
                Ok(k)
            }
        }
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding the lock cannot leave sled half-written (transactions are
        // atomic), so a poisoned lock is safe to reuse.
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn all_channels(&self) -> impl Iterator<Item = Result<ChannelInfo, LedgerError>> + '_ {
        self.channels.iter().map(|r| {
            let (_, v) = r?;
            decode_channel(&v)
        })
    }
}

/// One sled transaction seen through `StoreTx`. A sled conflict is remembered so the
/// transaction is retried rather than reported.
struct SledTx<'a> {
    accounts: &'a TransactionalTree,
    channels: &'a TransactionalTree,
    nonces: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    live: &'a TransactionalTree,
    closed: &'a TransactionalTree,
    counters: &'a TransactionalTree,
    due: &'a TransactionalTree,
    conflict: bool,
}

impl SledTx<'_> {
    fn err(&mut self, e: UnabortableTransactionError) -> LedgerError {
        match e {
            UnabortableTransactionError::Conflict => {
                self.conflict = true;
                LedgerError::Storage("transaction conflict".into())
            }
            UnabortableTransactionError::Storage(e) => LedgerError::Storage(e.to_string()),
        }
    }

    fn get_u64(&mut self, tree: Tree, k: &[u8]) -> Result<u64, LedgerError> {
        let t = self.tree(tree);
        match t.get(k) {
            Ok(v) => Ok(u64_of(v)),
            Err(e) => Err(self.err(e)),
        }
    }

    fn put(&mut self, tree: Tree, k: &[u8], v: Vec<u8>) -> Result<(), LedgerError> {
        let t = self.tree(tree);
        match t.insert(k, v) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn remove(&mut self, tree: Tree, k: &[u8]) -> Result<(), LedgerError> {
        let t = self.tree(tree);
        match t.remove(k) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn tree(&self, t: Tree) -> &TransactionalTree {
        match t {
            Tree::Accounts => self.accounts,
            Tree::Channels => self.channels,
            Tree::Nonces => self.nonces,
            Tree::Meta => self.meta,
            Tree::Live => self.live,
            Tree::Closed => self.closed,
            Tree::Counters => self.counters,
            Tree::Due => self.due,
        }
    }
}

#[derive(Clone, Copy)]
enum Tree {
    Accounts,
    Channels,
    Nonces,
    Meta,
    Live,
    Closed,
    Counters,
    Due,
}

impl StoreTx for SledTx<'_> {
    fn advance_nonce(
        &mut self,
        account: &PublicKey,
        nonce: u64,
    ) -> Result<Result<(), u64>, LedgerError> {
        let last = self.get_u64(Tree::Nonces, &account.0)?;
        if nonce <= last {
            return Ok(Err(last));
        }
        self.put(Tree::Nonces, &account.0, nonce.to_be_bytes().to_vec())?;
        Ok(Ok(()))
    }

    fn credit(&mut self, account: &PublicKey, amount: Amount) -> Result<Amount, LedgerError> {
        let now = self.get_u64(Tree::Accounts, &account.0)?;
        let new = now.checked_add(amount.0).ok_or(LedgerError::Overflow)?;
        self.put(Tree::Accounts, &account.0, new.to_be_bytes().to_vec())?;
        Ok(Amount(new))
    }

    fn debit(&mut self, account: &PublicKey, amount: Amount) -> Result<Amount, LedgerError> {
        let balance = Amount(self.get_u64(Tree::Accounts, &account.0)?);
        let left = balance
            .checked_sub(amount)
            .ok_or(LedgerError::InsufficientFunds {
                balance,
                needed: amount,
            })?;
        self.put(Tree::Accounts, &account.0, left.0.to_be_bytes().to_vec())?;
        Ok(left)
    }

    fn add_minted(&mut self, amount: Amount) -> Result<(), LedgerError> {
        let now = self.get_u64(Tree::Meta, KEY_MINTED)?;
        let new = now.checked_add(amount.0).ok_or(LedgerError::Overflow)?;
        self.put(Tree::Meta, KEY_MINTED, new.to_be_bytes().to_vec())
    }

    fn channel_for_update(&mut self, id: &ChannelId) -> Result<Option<ChannelInfo>, LedgerError> {
        match self.channels.get(id.0) {
            Ok(Some(b)) => decode_channel(&b).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    fn insert_channel(&mut self, c: &ChannelInfo) -> Result<(), LedgerError> {
        if self.channel_for_update(&c.channel)?.is_some() {
            return Err(LedgerError::Invalid("channel id collision".into()));
        }
        self.update_channel(c)
    }

    fn update_channel(&mut self, c: &ChannelInfo) -> Result<(), LedgerError> {
        // The deadline may move (a buyer's close brings it forward): drop the old due entry.
        if let Some(old) = self.channel_for_update(&c.channel)?
            && old.state != ChannelState::Closed
        {
            self.remove(Tree::Due, &due_key(old.deadline, &c.channel))?;
        }
        if c.state != ChannelState::Closed {
            self.put(Tree::Due, &due_key(c.deadline, &c.channel), vec![])?;
        }
        let b = serde_json::to_vec(c).map_err(|e| LedgerError::Storage(e.to_string()))?;
        self.put(Tree::Channels, &c.channel.0, b)?;
        // A channel only ever goes from live to closed, once (closed_at never changes).
        let (live, closed) = index_keys(c);
        for (k, side) in live.iter().zip([Side::Paying, Side::PaidBy]) {
            self.put(Tree::Live, k, vec![side_byte(side)])?;
        }
        if !closed.is_empty() {
            for p in [c.buyer, c.seller] {
                self.remove(Tree::Live, &live_key(&p, &c.channel))?;
            }
            for k in &closed {
                self.put(Tree::Closed, k, vec![])?;
            }
        }
        Ok(())
    }

    fn add_counter(
        &mut self,
        account: &PublicKey,
        counter: Counter,
        delta: i64,
    ) -> Result<u64, LedgerError> {
        let k = counter_key(account, counter);
        let now = self.get_u64(Tree::Counters, &k)?;
        let new = if delta >= 0 {
            now.checked_add(delta.unsigned_abs())
                .ok_or(LedgerError::Overflow)?
        } else {
            now.saturating_sub(delta.unsigned_abs())
        };
        self.put(Tree::Counters, &k, new.to_be_bytes().to_vec())?;
        Ok(new)
    }
}

impl LedgerStore for SledStore {
    fn kind(&self) -> &'static str {
        "sled"
    }

    fn identity(&self) -> Result<Option<(LedgerId, PublicKey)>, LedgerError> {
        let Some(admin) = self.meta.get(KEY_ADMIN)? else {
            return Ok(None);
        };
        let admin = PublicKey(
            <[u8; 32]>::try_from(admin.as_ref())
                .map_err(|_| LedgerError::Storage("corrupt admin key".into()))?,
        );
        Ok(Some((PublicKey::of(&self.signing_key()?), admin)))
    }

    fn bind_identity(
        &self,
        ledger: LedgerId,
        admin: PublicKey,
    ) -> Result<(LedgerId, PublicKey), LedgerError> {
        let _g = self.guard();
        if let Some(bound) = self.identity()? {
            return Ok(bound);
        }
        self.meta.insert(KEY_ADMIN, &admin.0)?;
        self.db.flush()?;
        Ok((ledger, admin))
    }

    fn transact(&self, work: &mut TxWork<'_>) -> Result<Outcome, LedgerError> {
        let _g = self.guard();
        // sled wants an `Fn` closure it may call again on conflict; the work is `FnMut`.
        let work = RefCell::new(work);
        let trees = (
            &self.accounts,
            &self.channels,
            &self.nonces,
            &self.meta,
            &self.live,
            &self.closed,
            &self.counters,
            &self.due,
        );
        let r = trees.transaction(
            |(accounts, channels, nonces, meta, live, closed, counters, due)| {
                let mut tx = SledTx {
                    accounts,
                    channels,
                    nonces,
                    meta,
                    live,
                    closed,
                    counters,
                    due,
                    conflict: false,
                };
                let mut w = work.borrow_mut();
                match (*w)(&mut tx) {
                    Ok(o) => Ok(o),
                    Err(_) if tx.conflict => Err(ConflictableTransactionError::Conflict),
                    Err(e) => Err(ConflictableTransactionError::Abort(e)),
                }
            },
        );
        let outcome = r.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => LedgerError::Storage(e.to_string()),
        })?;
        // Durable before the reply leaves: a client that saw success can rely on it.
        self.db.flush()?;
        Ok(outcome)
    }

    fn burn_nonce(&self, account: &PublicKey, nonce: u64) -> Result<(), LedgerError> {
        let _g = self.guard();
        self.nonces.fetch_and_update(account.0, |old| {
            let last = u64_of(old.map(sled::IVec::from));
            Some(last.max(nonce).to_be_bytes().to_vec())
        })?;
        self.db.flush()?;
        Ok(())
    }

    fn balance(&self, account: &PublicKey) -> Result<Amount, LedgerError> {
        Ok(Amount(u64_of(self.accounts.get(account.0)?)))
    }

    fn channel(&self, id: &ChannelId) -> Result<Option<ChannelInfo>, LedgerError> {
        self.channels
            .get(id.0)?
            .map(|b| decode_channel(&b))
            .transpose()
    }

    fn live_channels_of(
        &self,
        account: &PublicKey,
        side: Option<Side>,
        after: Option<ChannelId>,
        limit: usize,
    ) -> Result<Vec<ChannelInfo>, LedgerError> {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(live_key(account, &a)),
            None => Bound::Included(account.0.to_vec()),
        };
        let mut out = Vec::new();
        for r in self.live.range((start, Bound::Unbounded)) {
            let (k, v) = r?;
            let Some(id) = k.strip_prefix(&account.0[..]) else {
                break;
            };
            if side.is_some_and(|s| v.first() != Some(&side_byte(s))) {
                continue;
            }
            let id = ChannelId(
                <[u8; 32]>::try_from(id)
                    .map_err(|_| LedgerError::Storage("corrupt live index".into()))?,
            );
            // Written in the same transaction as the channel, so it is there.
            if let Some(c) = self.channel(&id)? {
                out.push(c);
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn closed_channels_of(
        &self,
        account: &PublicKey,
        since: u64,
        after: Option<ClosedCursor>,
        limit: usize,
    ) -> Result<Vec<ChannelInfo>, LedgerError> {
        use std::ops::Bound;
        let start = match after {
            Some(a) if a.closed_at >= since => {
                Bound::Excluded(closed_key(account, a.closed_at, &a.channel))
            }
            _ => Bound::Included([&account.0[..], &since.to_be_bytes()[..]].concat()),
        };
        let mut out = Vec::new();
        for r in self.closed.range((start, Bound::Unbounded)) {
            let (k, _) = r?;
            let Some(rest) = k.strip_prefix(&account.0[..]) else {
                break;
            };
            let id = rest
                .get(8..)
                .and_then(|id| <[u8; 32]>::try_from(id).ok())
                .ok_or_else(|| LedgerError::Storage("corrupt closed index".into()))?;
            if let Some(c) = self.channel(&ChannelId(id))? {
                out.push(c);
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn counters(&self, account: &PublicKey) -> Result<[u64; 5], LedgerError> {
        let mut out = [0u64; 5];
        for c in Counter::ALL {
            out[c as usize] = u64_of(self.counters.get(counter_key(account, c))?);
        }
        Ok(out)
    }

    fn due_channels(&self, now: u64, limit: usize) -> Result<Vec<ChannelId>, LedgerError> {
        // Index keys sort by deadline: read from the earliest up to `now`, no further.
        let mut out = Vec::new();
        for r in self
            .due
            .range(..due_key(now.saturating_add(1), &ChannelId([0; 32])))
        {
            let (k, _) = r?;
            let id = k
                .get(8..)
                .and_then(|id| <[u8; 32]>::try_from(id).ok())
                .ok_or_else(|| LedgerError::Storage("corrupt due index".into()))?;
            out.push(ChannelId(id));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn totals(&self) -> Result<Totals, LedgerError> {
        let _g = self.guard();
        let mut t = Totals {
            minted: u64_of(self.meta.get(KEY_MINTED)?) as u128,
            ..Totals::default()
        };
        for r in self.accounts.iter() {
            t.balances += u64_of(Some(r?.1)) as u128;
            t.accounts += 1;
        }
        for c in self.all_channels() {
            let c = c?;
            if c.state != ChannelState::Closed {
                t.open_channels += 1;
            }
            t.escrowed += c.escrowed().0 as u128;
        }
        Ok(t)
    }

    fn flush(&self) -> Result<(), LedgerError> {
        self.db.flush()?;
        Ok(())
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // sled may have created new segment files since open; keep them owner-only.
        let _ = self.db.flush();
        let _ = keys::restrict_tree(&self.dir);
    }
}
