//! The embedded sled store: one process, every transaction across the trees it touches and
//! flushed before it returns. A process-wide lock serialises writers (sled locks the
//! database to one process anyway), so an audit never sees half a request.
//!
//! Layout (unchanged from the first ledger): trees `meta` (ledger key, admin key, minted),
//! `accounts` (key → u64 BE), `nonces` (key → u64 BE), `channels` (id → JSON `ChannelInfo`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

use super::{LedgerStore, StoreTx, Totals, TxWork};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, ChannelId, LedgerId, PublicKey};
use crate::wallet::ledger::LedgerError;
use crate::wallet::ledger::proto::{ChannelInfo, ChannelState, Outcome};

const KEY_LEDGER: &[u8] = b"ledger_key";
const KEY_ADMIN: &[u8] = b"admin";
const KEY_MINTED: &[u8] = b"minted";
/// Chain bookkeeping lives in `meta` under this prefix (so it commits with the balances).
const CHAIN_PREFIX: &[u8] = b"chain/";

fn chain_key(key: &[u8]) -> Vec<u8> {
    [CHAIN_PREFIX, key].concat()
}

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
    lock: Mutex<()>,
}

fn u64_of(v: Option<sled::IVec>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
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
            db,
            lock: Mutex::new(()),
        };
        keys::restrict_tree(dir)?;
        Ok(store)
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

    fn tree(&self, t: Tree) -> &TransactionalTree {
        match t {
            Tree::Accounts => self.accounts,
            Tree::Channels => self.channels,
            Tree::Nonces => self.nonces,
            Tree::Meta => self.meta,
        }
    }
}

#[derive(Clone, Copy)]
enum Tree {
    Accounts,
    Channels,
    Nonces,
    Meta,
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
        let b = serde_json::to_vec(c).map_err(|e| LedgerError::Storage(e.to_string()))?;
        self.put(Tree::Channels, &c.channel.0, b)
    }

    fn chain_get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        match self.meta.get(chain_key(key)) {
            Ok(v) => Ok(v.map(|v| v.to_vec())),
            Err(e) => Err(self.err(e)),
        }
    }

    fn chain_put(&mut self, key: &[u8], value: &[u8]) -> Result<(), LedgerError> {
        self.put(Tree::Meta, &chain_key(key), value.to_vec())
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
        let r = (&self.accounts, &self.channels, &self.nonces, &self.meta).transaction(
            |(accounts, channels, nonces, meta)| {
                let mut tx = SledTx {
                    accounts,
                    channels,
                    nonces,
                    meta,
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

    fn channels_of(
        &self,
        account: &PublicKey,
        closed_since: u64,
        after: Option<ChannelId>,
        limit: usize,
    ) -> Result<Vec<ChannelInfo>, LedgerError> {
        // sled has no secondary index: a scan, in key (= id) order. Fine for one machine.
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a.0.to_vec()),
            None => std::ops::Bound::Unbounded,
        };
        let mut out = Vec::new();
        for r in self.channels.range((start, std::ops::Bound::Unbounded)) {
            let c = decode_channel(&r?.1)?;
            let mine = c.buyer == *account || c.seller == *account;
            let live =
                c.state != ChannelState::Closed || c.closed_at.is_some_and(|t| t >= closed_since);
            if mine && live {
                out.push(c);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn due_channels(&self, now: u64, limit: usize) -> Result<Vec<ChannelId>, LedgerError> {
        let mut out = Vec::new();
        for c in self.all_channels() {
            let c = c?;
            if c.state != ChannelState::Closed && now >= c.deadline {
                out.push(c.channel);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn totals(&self) -> Result<Totals, LedgerError> {
        let _g = self.guard();
        let mut t = Totals {
            minted: u64_of(self.meta.get(KEY_MINTED)?) as u128,
            deposited: u64_of(self.meta.get(chain_key(super::CHAIN_DEPOSITED))?) as u128,
            withdrawn: u64_of(self.meta.get(chain_key(super::CHAIN_WITHDRAWN))?) as u128,
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

    fn chain_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.meta.get(chain_key(key))?.map(|v| v.to_vec()))
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
