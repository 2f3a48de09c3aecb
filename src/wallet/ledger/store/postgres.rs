//! The PostgreSQL store, for several stateless ledger servers on one database.
//!
//! Each request is one READ COMMITTED transaction whose writes lock the rows they touch:
//! the nonce row first (upsert), then the channel (`SELECT … FOR UPDATE`), then accounts
//! (atomic upserts / conditional updates), always seller-then-buyer in key order. So two
//! requests on the same account or channel are serialised by PostgreSQL, whichever server
//! they arrive on, and nothing is cached in server memory. A deadlock or serialisation
//! failure that PostgreSQL still reports is retried a few times.
//!
//! Uses the blocking `postgres` client: the rules in `engine.rs` are synchronous and run on
//! tokio's blocking pool, exactly like the sled store.

use std::str::FromStr;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};

use super::migrations::{self, MIGRATIONS};
use super::{Counter, LedgerStore, StoreTx, Totals, TxWork};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{ChannelId, LedgerId, PublicKey};
use crate::wallet::ledger::LedgerError;
use crate::wallet::ledger::proto::{ChannelInfo, ChannelState, ClosedCursor, Outcome, Side};
use crate::wallet::voucher::ChannelCertificate;

/// Connections one server keeps to the database at most.
const POOL_SIZE: usize = 16;
/// Attempts of one transaction that PostgreSQL aborted for a conflict.
const RETRIES: usize = 8;
/// Lock key for `pg_advisory_xact_lock` while migrating ("btledger").
const MIGRATION_LOCK: i64 = 0x6274_6c65_6467_6572;

const CHANNEL_COLS: &str =
    "id, buyer, seller, cap, expiry, deadline, redeemed, refunded, state, closed_at, certificate";

fn db_err(e: postgres::Error) -> LedgerError {
    LedgerError::Storage(format!("postgres: {e}"))
}

fn retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

fn i64_of(a: Amount) -> Result<i64, LedgerError> {
    i64::try_from(a.0).map_err(|_| LedgerError::Overflow)
}

fn amount_of(v: i64) -> Result<Amount, LedgerError> {
    u64::try_from(v)
        .map(Amount)
        .map_err(|_| LedgerError::Storage(format!("negative amount {v} in the database")))
}

/// u64 → i64 preserving order, so SQL comparisons on nonces stay correct.
fn nonce_to_db(n: u64) -> i64 {
    (n ^ (1 << 63)) as i64
}

fn nonce_from_db(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

fn key_of(b: &[u8], what: &str) -> Result<[u8; 32], LedgerError> {
    <[u8; 32]>::try_from(b)
        .map_err(|_| LedgerError::Storage(format!("corrupt {what} in the database")))
}

fn state_to_db(s: ChannelState) -> i16 {
    match s {
        ChannelState::Open => 0,
        ChannelState::Closing => 1,
        ChannelState::Closed => 2,
    }
}

fn channel_of(r: &Row) -> Result<ChannelInfo, LedgerError> {
    let get = |i: usize| -> Result<i64, LedgerError> { r.try_get(i).map_err(db_err) };
    let bytes = |i: usize| -> Result<Vec<u8>, LedgerError> { r.try_get(i).map_err(db_err) };
    let state = match r.try_get::<_, i16>(8).map_err(db_err)? {
        0 => ChannelState::Open,
        1 => ChannelState::Closing,
        2 => ChannelState::Closed,
        s => return Err(LedgerError::Storage(format!("unknown channel state {s}"))),
    };
    let closed_at: Option<i64> = r.try_get(9).map_err(db_err)?;
    let secs = |v: i64| u64::try_from(v).map_err(|_| LedgerError::Storage("negative time".into()));
    Ok(ChannelInfo {
        channel: ChannelId(key_of(&bytes(0)?, "channel id")?),
        buyer: PublicKey(key_of(&bytes(1)?, "buyer")?),
        seller: PublicKey(key_of(&bytes(2)?, "seller")?),
        cap: amount_of(get(3)?)?,
        expiry: secs(get(4)?)?,
        deadline: secs(get(5)?)?,
        redeemed: amount_of(get(6)?)?,
        refunded: amount_of(get(7)?)?,
        state,
        closed_at: closed_at.map(secs).transpose()?,
        certificate: ChannelCertificate::from_bytes(&bytes(10)?)
            .map_err(|e| LedgerError::Storage(format!("corrupt certificate: {e}")))?,
    })
}

fn time_to_db(t: u64) -> Result<i64, LedgerError> {
    i64::try_from(t).map_err(|_| LedgerError::Invalid(format!("time {t} out of range")))
}

/// Statements prepared once per connection (each request then costs only its round trips).
struct Statements {
    nonce_advance: Statement,
    nonce_get: Statement,
    nonce_burn: Statement,
    credit: Statement,
    debit: Statement,
    balance: Statement,
    mint: Statement,
    channel_lock: Statement,
    channel_get: Statement,
    channel_insert: Statement,
    channel_update: Statement,
    counter_add: Statement,
    counters_get: Statement,
    live_page: Statement,
    live_page_paying: Statement,
    live_page_paid_by: Statement,
    closed_page: Statement,
}

struct Conn {
    client: Client,
    st: Statements,
}

impl Conn {
    fn connect(config: &postgres::Config) -> Result<Conn, LedgerError> {
        let mut client = config.connect(NoTls).map_err(db_err)?;
        let mut p = |sql: &str| client.prepare(sql).map_err(db_err);
        let st = Statements {
            nonce_advance: p("INSERT INTO nonces (account, last) VALUES ($1, $2) \
                 ON CONFLICT (account) DO UPDATE SET last = EXCLUDED.last \
                 WHERE nonces.last < EXCLUDED.last RETURNING last")?,
            nonce_get: p("SELECT last FROM nonces WHERE account = $1")?,
            nonce_burn: p("INSERT INTO nonces (account, last) VALUES ($1, $2) \
                 ON CONFLICT (account) DO UPDATE SET last = GREATEST(nonces.last, EXCLUDED.last)")?,
            credit: p("INSERT INTO accounts (account, balance) VALUES ($1, $2) \
                 ON CONFLICT (account) DO UPDATE SET balance = accounts.balance + EXCLUDED.balance \
                 RETURNING balance")?,
            debit: p("UPDATE accounts SET balance = balance - $2 \
                 WHERE account = $1 AND balance >= $2 RETURNING balance")?,
            balance: p("SELECT balance FROM accounts WHERE account = $1")?,
            mint: p("UPDATE ledger_meta SET minted = minted + $1 RETURNING minted")?,
            channel_lock: p(&format!(
                "SELECT {CHANNEL_COLS} FROM channels WHERE id = $1 FOR UPDATE"
            ))?,
            channel_get: p(&format!(
                "SELECT {CHANNEL_COLS} FROM channels WHERE id = $1"
            ))?,
            channel_insert: p(&format!(
                "INSERT INTO channels ({CHANNEL_COLS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))?,
            channel_update: p(
                "UPDATE channels SET deadline = $2, redeemed = $3, refunded = $4, \
                 state = $5, closed_at = $6 WHERE id = $1",
            )?,
            counter_add: p("INSERT INTO account_counters (account, kind, value) \
                 VALUES ($1, $2, GREATEST($3::bigint, 0)) \
                 ON CONFLICT (account, kind) \
                 DO UPDATE SET value = GREATEST(account_counters.value + $3::bigint, 0) \
                 RETURNING value")?,
            counters_get: p("SELECT kind, value FROM account_counters WHERE account = $1")?,
            // Two partial-index range scans (as buyer, as seller), merged in id order.
            live_page: p(&format!(
                "SELECT {CHANNEL_COLS} FROM ( \
                   (SELECT {CHANNEL_COLS} FROM channels \
                     WHERE buyer = $1 AND state <> 2 AND id > $2 ORDER BY id LIMIT $3) \
                   UNION \
                   (SELECT {CHANNEL_COLS} FROM channels \
                     WHERE seller = $1 AND state <> 2 AND id > $2 ORDER BY id LIMIT $3) \
                 ) AS live ORDER BY id LIMIT $3"
            ))?,
            live_page_paying: p(&format!(
                "SELECT {CHANNEL_COLS} FROM channels \
                 WHERE buyer = $1 AND state <> 2 AND id > $2 ORDER BY id LIMIT $3"
            ))?,
            live_page_paid_by: p(&format!(
                "SELECT {CHANNEL_COLS} FROM channels \
                 WHERE seller = $1 AND state <> 2 AND id > $2 ORDER BY id LIMIT $3"
            ))?,
            closed_page: p(&format!(
                "SELECT {CHANNEL_COLS} FROM ( \
                   (SELECT {CHANNEL_COLS} FROM channels \
                     WHERE buyer = $1 AND state = 2 AND (closed_at, id) > ($2, $3) \
                     ORDER BY closed_at, id LIMIT $4) \
                   UNION \
                   (SELECT {CHANNEL_COLS} FROM channels \
                     WHERE seller = $1 AND state = 2 AND (closed_at, id) > ($2, $3) \
                     ORDER BY closed_at, id LIMIT $4) \
                 ) AS closed ORDER BY closed_at, id LIMIT $4"
            ))?,
        };
        Ok(Conn { client, st })
    }
}

/// A small blocking connection pool: at most `POOL_SIZE` connections, idle ones reused,
/// broken ones dropped.
struct Pool {
    config: postgres::Config,
    idle: Mutex<Vec<Conn>>,
    open: Mutex<usize>,
    freed: Condvar,
}

struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
}

impl Pool {
    fn get(&self) -> Result<Pooled<'_>, LedgerError> {
        // Plain data behind the locks: a panic elsewhere cannot leave them inconsistent.
        if let Some(c) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(Pooled {
                pool: self,
                conn: Some(c),
            });
        }
        {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            while *open >= POOL_SIZE {
                if let Some(c) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
                    return Ok(Pooled {
                        pool: self,
                        conn: Some(c),
                    });
                }
                open = self
                    .freed
                    .wait_timeout(open, Duration::from_millis(50))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            *open += 1;
        }
        match Conn::connect(&self.config) {
            Ok(c) => Ok(Pooled {
                pool: self,
                conn: Some(c),
            }),
            Err(e) => {
                self.release_slot();
                Err(e)
            }
        }
    }

    fn release_slot(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        *open = open.saturating_sub(1);
        self.freed.notify_one();
    }
}

impl Pooled<'_> {
    fn conn(&mut self) -> Result<&mut Conn, LedgerError> {
        self.conn
            .as_mut()
            .ok_or_else(|| LedgerError::Storage("connection already returned".into()))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        match self.conn.take() {
            Some(c) if !c.client.is_closed() => {
                self.pool
                    .idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(c);
                self.pool.freed.notify_one();
            }
            _ => self.pool.release_slot(),
        }
    }
}

pub struct PgStore {
    pool: Pool,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Each blocking client owns a small runtime that it blocks on when closed, which
        // panics on an async worker thread: the last `Arc<Ledger>` may well drop there.
        let idle = std::mem::take(&mut *self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()));
        if idle.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("ledger-pg-close".into())
                .spawn(move || drop(idle));
        } else {
            drop(idle);
        }
    }
}

/// Applies every migration `url`'s database lacks; returns (version before, version after).
pub fn migrate(url: &str) -> Result<(i32, i32), LedgerError> {
    let config = postgres::Config::from_str(url)
        .map_err(|e| LedgerError::Invalid(format!("bad PostgreSQL URL: {e}")))?;
    let mut client = config.connect(NoTls).map_err(db_err)?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS ledger_schema (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .map_err(db_err)?;
    let before = schema_version(&mut client)?;
    for (version, name, sql) in MIGRATIONS {
        let mut t = client.transaction().map_err(db_err)?;
        t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(db_err)?;
        let done = t
            .query_opt("SELECT 1 FROM ledger_schema WHERE version = $1", &[version])
            .map_err(db_err)?
            .is_some();
        if done {
            continue;
        }
        t.batch_execute(sql).map_err(db_err)?;
        t.execute(
            "INSERT INTO ledger_schema (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .map_err(db_err)?;
        t.commit().map_err(db_err)?;
        tracing::info!(version, name, "applied ledger migration");
    }
    Ok((before, schema_version(&mut client)?))
}

fn schema_version(client: &mut Client) -> Result<i32, LedgerError> {
    let exists = client
        .query_one("SELECT to_regclass('ledger_schema') IS NOT NULL", &[])
        .map_err(db_err)?
        .get::<_, bool>(0);
    if !exists {
        return Ok(0);
    }
    client
        .query_one("SELECT COALESCE(MAX(version), 0) FROM ledger_schema", &[])
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)
}

impl PgStore {
    /// Connects to `url`, which must hold the schema this binary needs.
    pub fn open(url: &str) -> Result<PgStore, LedgerError> {
        let config = postgres::Config::from_str(url)
            .map_err(|e| LedgerError::Invalid(format!("bad PostgreSQL URL: {e}")))?;
        let mut client = config.connect(NoTls).map_err(db_err)?;
        let have = schema_version(&mut client)?;
        let need = migrations::latest();
        if have != need {
            return Err(LedgerError::Storage(format!(
                "the database is at schema version {have}, this ledger needs {need}: \
                 run `bidtorrent ledger migrate --store URL`"
            )));
        }
        Ok(PgStore {
            pool: Pool {
                config,
                idle: Mutex::new(Vec::new()),
                open: Mutex::new(0),
                freed: Condvar::new(),
            },
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&mut Client, &Statements) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut p = self.pool.get()?;
        let c = p.conn()?;
        f(&mut c.client, &c.st)
    }
}

/// One PostgreSQL transaction seen through `StoreTx`; remembers whether PostgreSQL asked
/// for a retry.
struct PgTx<'a, 'c> {
    t: &'a mut Transaction<'c>,
    st: &'a Statements,
    retry: bool,
}

impl PgTx<'_, '_> {
    fn fail(&mut self, e: postgres::Error) -> LedgerError {
        if retryable(&e) {
            self.retry = true;
        }
        if e.code() == Some(&SqlState::NUMERIC_VALUE_OUT_OF_RANGE) {
            return LedgerError::Overflow;
        }
        db_err(e)
    }
}

impl StoreTx for PgTx<'_, '_> {
    fn advance_nonce(
        &mut self,
        account: &PublicKey,
        nonce: u64,
    ) -> Result<Result<(), u64>, LedgerError> {
        if nonce == 0 {
            // No account has a nonce below 1 (as in the sled store, where "none yet" is 0).
            return Ok(Err(0));
        }
        let a = &account.0[..];
        match self
            .t
            .query_opt(&self.st.nonce_advance, &[&a, &nonce_to_db(nonce)])
        {
            Ok(Some(_)) => Ok(Ok(())),
            Ok(None) => match self.t.query_opt(&self.st.nonce_get, &[&a]) {
                Ok(r) => Ok(Err(r.map(|r| nonce_from_db(r.get(0))).unwrap_or(0))),
                Err(e) => Err(self.fail(e)),
            },
            Err(e) => Err(self.fail(e)),
        }
    }

    fn credit(&mut self, account: &PublicKey, amount: Amount) -> Result<Amount, LedgerError> {
        let v = i64_of(amount)?;
        match self.t.query_one(&self.st.credit, &[&&account.0[..], &v]) {
            Ok(r) => amount_of(r.get(0)),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn debit(&mut self, account: &PublicKey, amount: Amount) -> Result<Amount, LedgerError> {
        let a = &account.0[..];
        // More than can exist (i64) is refused like any other overdraft.
        if let Ok(v) = i64_of(amount) {
            match self.t.query_opt(&self.st.debit, &[&a, &v]) {
                Ok(Some(r)) => return amount_of(r.get(0)),
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        let balance = match self.t.query_opt(&self.st.balance, &[&a]) {
            Ok(r) => r.map(|r| amount_of(r.get(0))).transpose()?,
            Err(e) => return Err(self.fail(e)),
        };
        Err(LedgerError::InsufficientFunds {
            balance: balance.unwrap_or(Amount::ZERO),
            needed: amount,
        })
    }

    fn add_minted(&mut self, amount: Amount) -> Result<(), LedgerError> {
        let v = i64_of(amount)?;
        match self.t.execute(&self.st.mint, &[&v]) {
            Ok(1) => Ok(()),
            Ok(n) => Err(LedgerError::Storage(format!(
                "ledger_meta has {n} rows, expected 1"
            ))),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn channel_for_update(&mut self, id: &ChannelId) -> Result<Option<ChannelInfo>, LedgerError> {
        match self.t.query_opt(&self.st.channel_lock, &[&&id.0[..]]) {
            Ok(r) => r.as_ref().map(channel_of).transpose(),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn insert_channel(&mut self, c: &ChannelInfo) -> Result<(), LedgerError> {
        let cert = c.certificate.to_bytes();
        let r = self.t.execute(
            &self.st.channel_insert,
            &[
                &&c.channel.0[..],
                &&c.buyer.0[..],
                &&c.seller.0[..],
                &i64_of(c.cap)?,
                &time_to_db(c.expiry)?,
                &time_to_db(c.deadline)?,
                &i64_of(c.redeemed)?,
                &i64_of(c.refunded)?,
                &state_to_db(c.state),
                &c.closed_at.map(time_to_db).transpose()?,
                &&cert[..],
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(LedgerError::Invalid("channel id collision".into()))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn update_channel(&mut self, c: &ChannelInfo) -> Result<(), LedgerError> {
        let r = self.t.execute(
            &self.st.channel_update,
            &[
                &&c.channel.0[..],
                &time_to_db(c.deadline)?,
                &i64_of(c.redeemed)?,
                &i64_of(c.refunded)?,
                &state_to_db(c.state),
                &c.closed_at.map(time_to_db).transpose()?,
            ],
        );
        match r {
            Ok(1) => Ok(()),
            Ok(_) => Err(LedgerError::UnknownChannel(c.channel)),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn add_counter(
        &mut self,
        account: &PublicKey,
        counter: Counter,
        delta: i64,
    ) -> Result<u64, LedgerError> {
        let kind = counter as i16;
        match self
            .t
            .query_one(&self.st.counter_add, &[&&account.0[..], &kind, &delta])
        {
            Ok(r) => Ok(u64::try_from(r.get::<_, i64>(0)).unwrap_or(0)),
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl LedgerStore for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn identity(&self) -> Result<Option<(LedgerId, PublicKey)>, LedgerError> {
        self.read(|c, _| {
            let r = c
                .query_one("SELECT ledger, admin FROM ledger_meta", &[])
                .map_err(db_err)?;
            let ledger: Option<Vec<u8>> = r.get(0);
            let admin: Option<Vec<u8>> = r.get(1);
            match (ledger, admin) {
                (Some(l), Some(a)) => Ok(Some((
                    PublicKey(key_of(&l, "ledger id")?),
                    PublicKey(key_of(&a, "admin key")?),
                ))),
                _ => Ok(None),
            }
        })
    }

    fn bind_identity(
        &self,
        ledger: LedgerId,
        admin: PublicKey,
    ) -> Result<(LedgerId, PublicKey), LedgerError> {
        self.read(|c, _| {
            // First binder wins; a concurrent binder's UPDATE waits on the row and then
            // matches nothing.
            c.execute(
                "UPDATE ledger_meta SET ledger = $1, admin = $2 WHERE ledger IS NULL",
                &[&&ledger.0[..], &&admin.0[..]],
            )
            .map_err(db_err)?;
            Ok(())
        })?;
        self.identity()?
            .ok_or_else(|| LedgerError::Storage("ledger_meta lost its identity".into()))
    }

    fn transact(&self, work: &mut TxWork<'_>) -> Result<Outcome, LedgerError> {
        let mut pooled = self.pool.get()?;
        let conn = pooled.conn()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut t = conn.client.transaction().map_err(db_err)?;
            let mut tx = PgTx {
                t: &mut t,
                st: &conn.st,
                retry: false,
            };
            let r = work(&mut tx);
            let retry = tx.retry;
            match r {
                Ok(o) => match t.commit() {
                    Ok(()) => return Ok(o),
                    Err(e) if retryable(&e) && attempt < RETRIES => continue,
                    Err(e) => return Err(db_err(e)),
                },
                Err(e) => {
                    // Rolls back; a failure here means the connection is gone, which the
                    // pool notices.
                    let _ = t.rollback();
                    if retry && attempt < RETRIES {
                        std::thread::sleep(Duration::from_millis(attempt as u64));
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    fn burn_nonce(&self, account: &PublicKey, nonce: u64) -> Result<(), LedgerError> {
        self.read(|c, st| {
            c.execute(&st.nonce_burn, &[&&account.0[..], &nonce_to_db(nonce)])
                .map_err(db_err)?;
            Ok(())
        })
    }

    fn balance(&self, account: &PublicKey) -> Result<Amount, LedgerError> {
        self.read(|c, st| {
            match c
                .query_opt(&st.balance, &[&&account.0[..]])
                .map_err(db_err)?
            {
                Some(r) => amount_of(r.get(0)),
                None => Ok(Amount::ZERO),
            }
        })
    }

    fn channel(&self, id: &ChannelId) -> Result<Option<ChannelInfo>, LedgerError> {
        self.read(|c, st| {
            c.query_opt(&st.channel_get, &[&&id.0[..]])
                .map_err(db_err)?
                .as_ref()
                .map(channel_of)
                .transpose()
        })
    }

    fn live_channels_of(
        &self,
        account: &PublicKey,
        side: Option<Side>,
        after: Option<ChannelId>,
        limit: usize,
    ) -> Result<Vec<ChannelInfo>, LedgerError> {
        // The empty string sorts before every 32-byte id.
        let after = after.map(|a| a.0.to_vec()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c, st| {
            let q = match side {
                None => &st.live_page,
                Some(Side::Paying) => &st.live_page_paying,
                Some(Side::PaidBy) => &st.live_page_paid_by,
            };
            c.query(q, &[&&account.0[..], &after, &limit])
                .map_err(db_err)?
                .iter()
                .map(channel_of)
                .collect()
        })
    }

    fn closed_channels_of(
        &self,
        account: &PublicKey,
        since: u64,
        after: Option<ClosedCursor>,
        limit: usize,
    ) -> Result<Vec<ChannelInfo>, LedgerError> {
        let (at, id) = match after {
            Some(a) if a.closed_at >= since => (a.closed_at, a.channel.0.to_vec()),
            _ => (since, Vec::new()),
        };
        let at = time_to_db(at)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c, st| {
            c.query(&st.closed_page, &[&&account.0[..], &at, &id, &limit])
                .map_err(db_err)?
                .iter()
                .map(channel_of)
                .collect()
        })
    }

    fn counters(&self, account: &PublicKey) -> Result<[u64; 5], LedgerError> {
        self.read(|c, st| {
            let mut out = [0u64; 5];
            for r in c
                .query(&st.counters_get, &[&&account.0[..]])
                .map_err(db_err)?
            {
                let kind: i16 = r.try_get(0).map_err(db_err)?;
                let value: i64 = r.try_get(1).map_err(db_err)?;
                if let Some(slot) = usize::try_from(kind).ok().and_then(|k| out.get_mut(k)) {
                    *slot = u64::try_from(value).unwrap_or(0);
                }
            }
            Ok(out)
        })
    }

    fn due_channels(&self, now: u64, limit: usize) -> Result<Vec<ChannelId>, LedgerError> {
        let now = time_to_db(now)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c, _| {
            c.query(
                "SELECT id FROM channels WHERE state <> 2 AND deadline <= $1 \
                 ORDER BY deadline LIMIT $2",
                &[&now, &limit],
            )
            .map_err(db_err)?
            .iter()
            .map(|r| Ok(ChannelId(key_of(r.get(0), "channel id")?)))
            .collect()
        })
    }

    fn totals(&self) -> Result<Totals, LedgerError> {
        self.read(|c, _| {
            // One snapshot for both sides of the equation.
            let mut t = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(db_err)?;
            let num = |r: &Row, i: usize| -> Result<u128, LedgerError> {
                let s: String = r.try_get(i).map_err(db_err)?;
                s.parse()
                    .map_err(|_| LedgerError::Storage(format!("bad sum {s:?}")))
            };
            let m = t
                .query_one("SELECT minted::text FROM ledger_meta", &[])
                .map_err(db_err)?;
            let a = t
                .query_one(
                    "SELECT COALESCE(SUM(balance), 0)::text, COUNT(*) FROM accounts",
                    &[],
                )
                .map_err(db_err)?;
            let ch = t
                .query_one(
                    "SELECT COALESCE(SUM(cap - redeemed), 0)::text, COUNT(*) \
                     FROM channels WHERE state <> 2",
                    &[],
                )
                .map_err(db_err)?;
            t.commit().map_err(db_err)?;
            let count = |r: &Row| -> Result<u64, LedgerError> {
                let n: i64 = r.try_get(1).map_err(db_err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(Totals {
                minted: num(&m, 0)?,
                balances: num(&a, 0)?,
                escrowed: num(&ch, 0)?,
                accounts: count(&a)?,
                open_channels: count(&ch)?,
            })
        })
    }

    fn flush(&self) -> Result<(), LedgerError> {
        // Every transaction is durable at commit.
        Ok(())
    }
}
