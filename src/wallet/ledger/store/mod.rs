//! The ledger's storage interface and its two implementations: embedded sled (one process,
//! the default) and PostgreSQL (several stateless ledger servers on one database).
//!
//! The business rules live once, in `engine.rs`, written against `StoreTx`; a store only
//! promises that everything done through one `StoreTx` commits or rolls back as a unit, and
//! that concurrent transactions touching the same account, nonce or channel are serialised
//! by the storage itself (a process-wide lock for sled, row locks for PostgreSQL).

mod migrations;
pub mod postgres;
pub mod sled;

use super::LedgerError;
use super::proto::{ChannelInfo, ClosedCursor, Outcome, Side};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{ChannelId, LedgerId, PublicKey};

pub use self::postgres::PgStore;
pub use self::sled::SledStore;

/// The books as stored, summed in one consistent snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub minted: u128,
    pub balances: u128,
    pub escrowed: u128,
    pub accounts: u64,
    pub open_channels: u64,
}

/// Per-account counters the ledger keeps in the same transaction as the rows they count,
/// so an account's summary and its open-channel limit cost one read however many channels
/// it has. Stored by number: never renumber one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Live (open or closing) channels the account pays into.
    PayingLive = 0,
    /// Micro-tokens still escrowed in those.
    PayingEscrowed = 1,
    /// Live channels that pay the account.
    PaidByLive = 2,
    /// Micro-tokens still escrowed in those.
    PaidByEscrowed = 3,
    /// Micro-tokens ever minted into the account.
    Minted = 4,
}

impl Counter {
    pub const ALL: [Counter; 5] = [
        Counter::PayingLive,
        Counter::PayingEscrowed,
        Counter::PaidByLive,
        Counter::PaidByEscrowed,
        Counter::Minted,
    ];
}

/// The work of one transaction; may run more than once when the store retries after a
/// serialisation conflict, so it must not have effects outside the `StoreTx`.
pub type TxWork<'a> = dyn FnMut(&mut dyn StoreTx) -> Result<Outcome, LedgerError> + 'a;

/// Where the ledger keeps accounts, channels, nonces and the minted total.
pub trait LedgerStore: Send + Sync {
    /// "sled" or "postgres", for logs and reports.
    fn kind(&self) -> &'static str;
    /// The (ledger id, admin key) this store belongs to, once bound.
    fn identity(&self) -> Result<Option<(LedgerId, PublicKey)>, LedgerError>;
    /// Binds the store to a ledger unless already bound; returns the binding in force
    /// (the first server to bind a fresh database wins; the others must match it).
    fn bind_identity(
        &self,
        ledger: LedgerId,
        admin: PublicKey,
    ) -> Result<(LedgerId, PublicKey), LedgerError>;
    /// Runs `work` as one transaction, durable before this returns `Ok`.
    fn transact(&self, work: &mut TxWork<'_>) -> Result<Outcome, LedgerError>;
    /// Raises `account`'s nonce high-water mark to at least `nonce`, outside any action
    /// (the nonce of a refused request is spent too, so it cannot succeed if replayed).
    fn burn_nonce(&self, account: &PublicKey, nonce: u64) -> Result<(), LedgerError>;
    fn balance(&self, account: &PublicKey) -> Result<Amount, LedgerError>;
    fn channel(&self, id: &ChannelId) -> Result<Option<ChannelInfo>, LedgerError>;
    /// Live (not closed) channels `account` is buyer or seller of (only buyer: `Paying`,
    /// only seller: `PaidBy`), with ids above `after`, in id order, at most `limit`. Costs
    /// O(limit) (O(live channels of the account) with a side), not O(channels ever).
    fn live_channels_of(
        &self,
        account: &PublicKey,
        side: Option<Side>,
        after: Option<ChannelId>,
        limit: usize,
    ) -> Result<Vec<ChannelInfo>, LedgerError>;
    /// Closed channels `account` is buyer or seller of, closed at or after `since`, in
    /// (closed_at, id) order after `after`, at most `limit`.
    fn closed_channels_of(
        &self,
        account: &PublicKey,
        since: u64,
        after: Option<ClosedCursor>,
        limit: usize,
    ) -> Result<Vec<ChannelInfo>, LedgerError>;
    /// `account`'s counters, indexed by `Counter as usize` (0 when never set).
    fn counters(&self, account: &PublicKey) -> Result<[u64; 5], LedgerError>;
    /// Up to `limit` channels not closed whose deadline is at or before `now`.
    fn due_channels(&self, now: u64, limit: usize) -> Result<Vec<ChannelId>, LedgerError>;
    fn totals(&self) -> Result<Totals, LedgerError>;
    fn flush(&self) -> Result<(), LedgerError>;
}

/// What one transaction may do. Every method that reads a row for a later write locks it
/// until the transaction ends.
pub trait StoreTx {
    /// Raises `account`'s nonce to `nonce`; `Ok(Err(last))` if `nonce` is not above `last`.
    fn advance_nonce(
        &mut self,
        account: &PublicKey,
        nonce: u64,
    ) -> Result<Result<(), u64>, LedgerError>;
    /// Adds `amount` to `account`; returns the new balance.
    fn credit(&mut self, account: &PublicKey, amount: Amount) -> Result<Amount, LedgerError>;
    /// Takes `amount` from `account`; `InsufficientFunds` if it holds less.
    fn debit(&mut self, account: &PublicKey, amount: Amount) -> Result<Amount, LedgerError>;
    fn add_minted(&mut self, amount: Amount) -> Result<(), LedgerError>;
    fn channel_for_update(&mut self, id: &ChannelId) -> Result<Option<ChannelInfo>, LedgerError>;
    /// Stores a new channel; refuses an id already taken.
    fn insert_channel(&mut self, c: &ChannelInfo) -> Result<(), LedgerError>;
    fn update_channel(&mut self, c: &ChannelInfo) -> Result<(), LedgerError>;
    /// Adds `delta` to one of `account`'s counters (never below 0); returns the new value.
    /// Callers update counters after the accounts they credit or debit, paying side before
    /// paid side, so PostgreSQL row locks are always taken in one order.
    fn add_counter(
        &mut self,
        account: &PublicKey,
        counter: Counter,
        delta: i64,
    ) -> Result<u64, LedgerError>;
}

/// Opens the store named by `url`: `postgres://…` / `postgresql://…`, or `None` for the
/// sled store in `dir/db`.
pub fn open_store(
    dir: &std::path::Path,
    url: Option<&str>,
) -> Result<Box<dyn LedgerStore>, LedgerError> {
    match url {
        None | Some("sled") => Ok(Box::new(SledStore::open(dir)?)),
        Some(u) if is_postgres_url(u) => Ok(Box::new(PgStore::open(u)?)),
        Some(u) => Err(LedgerError::Invalid(format!(
            "unknown store {u:?}: use sled or postgres://USER@HOST:PORT/DB"
        ))),
    }
}

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
