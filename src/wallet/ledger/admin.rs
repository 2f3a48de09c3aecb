//! The `bidtorrent ledger …` commands, as plain functions the CLI calls: serve on either
//! store, migrate a database, audit either store (over the wire or from storage), bench.
//! They print their own output (JSON with `json`), like the other commands.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;

use super::LedgerError;
use super::bench::{self, BenchReport};
use super::client::LedgerClient;
use super::engine::{Ledger, LedgerConfig};
use super::proto::Audit;
use super::server;
use super::store::{self, postgres};
use crate::wallet::amount::Amount;
use crate::wallet::keys::PublicKey;

fn print_json(v: &impl serde::Serialize) -> Result<(), LedgerError> {
    let s = serde_json::to_string(v).map_err(|e| LedgerError::Protocol(e.to_string()))?;
    println!("{s}");
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, LedgerError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `ledger serve`: opens the ledger whose keys are in `db` on `store` (`None`: sled in
/// `db`), listens on `listen` and serves until SIGINT/SIGTERM.
pub fn serve(
    listen: &str,
    db: &Path,
    store: Option<&str>,
    config: LedgerConfig,
    json: bool,
) -> Result<(), LedgerError> {
    // Opened before the runtime exists: the PostgreSQL client blocks.
    let ledger = Arc::new(Ledger::open_with(db, store, config)?);
    let rt = runtime()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        if !local.ip().is_loopback() {
            eprintln!("bidtorrent: warning: ledger listening on non-loopback address {local}");
        }
        let admin = db.join("admin.key");
        if json {
            print_json(&serde_json::json!({
                "event": "listening", "addr": local.to_string(), "ledger": ledger.id(),
                "admin": ledger.admin(), "admin_key": admin, "store": ledger.store().kind(),
            }))?;
        } else {
            println!(
                "ledger {} listening on {local} ({} store; admin key: {})",
                ledger.id(),
                ledger.store().kind(),
                admin.display()
            );
        }
        std::io::stdout().flush()?;
        server::serve(listener, ledger.clone(), shutdown_signal()).await
    })?;
    ledger.flush()
}

/// `ledger migrate --store URL`: brings a PostgreSQL database to this binary's schema.
pub fn migrate(url: &str, json: bool) -> Result<(), LedgerError> {
    if !store::is_postgres_url(url) {
        return Err(LedgerError::Invalid(format!(
            "{url:?} is not a postgres:// URL (the sled store needs no migration)"
        )));
    }
    let (before, after) = postgres::migrate(url)?;
    if json {
        print_json(&serde_json::json!({ "from": before, "to": after }))?;
    } else if before == after {
        println!("schema already at version {after}");
    } else {
        println!("schema migrated from version {before} to {after}");
    }
    Ok(())
}

/// `ledger audit`: from storage when `store` or `db` is given (works on PostgreSQL while
/// servers run; sled only while no server holds the database), else over the wire from
/// `ledger`. Returns whether the books balance.
pub fn audit(
    ledger: &str,
    db: Option<&Path>,
    store: Option<&str>,
    json: bool,
) -> Result<bool, LedgerError> {
    let a = match (db, store) {
        (None, None) => {
            let rt = runtime()?;
            rt.block_on(LedgerClient::new(ledger).audit())?
        }
        (db, store) => audit_storage(db.unwrap_or(Path::new(".")), store)?,
    };
    if json {
        print_json(&a)?;
    } else {
        println!("ledger    {}", a.ledger);
        println!("minted    {}", a.minted);
        println!("balances  {} in {} accounts", a.balances, a.accounts);
        println!(
            "escrowed  {} in {} open channels",
            a.escrowed, a.open_channels
        );
        println!(
            "books     {}",
            if a.consistent {
                "balance"
            } else {
                "DO NOT BALANCE"
            }
        );
    }
    Ok(a.consistent)
}

/// Recomputes the books straight from a store, without keys or a server.
pub fn audit_storage(db: &Path, url: Option<&str>) -> Result<Audit, LedgerError> {
    let s = store::open_store(db, url)?;
    // A store never bound to a ledger has no id yet: shown as zeros.
    let ledger = s.identity()?.map(|i| i.0).unwrap_or(PublicKey([0; 32]));
    let t = s.totals()?;
    let clamp = |v: u128| Amount(u64::try_from(v).unwrap_or(u64::MAX));
    Ok(Audit {
        ledger,
        minted: clamp(t.minted),
        balances: clamp(t.balances),
        escrowed: clamp(t.escrowed),
        accounts: t.accounts,
        open_channels: t.open_channels,
        consistent: t.minted == t.balances + t.escrowed,
    })
}

/// `ledger bench`: prints ops/s and p50/p99 latency; returns the report (its
/// `books_balance` says whether everything added up).
pub fn bench(
    ledger: &str,
    admin: &SigningKey,
    clients: usize,
    seconds: u64,
    by_op: bool,
    json: bool,
) -> Result<BenchReport, LedgerError> {
    let rt = runtime()?;
    let r = rt.block_on(bench::run(ledger, admin, clients, seconds, by_op))?;
    if json {
        print_json(&r)?;
    } else {
        if r.by_op.is_empty() {
            println!(
                "{} clients on {} server(s) for {:.1} s: {} ops, {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms, {} errors, {} channels",
                r.clients,
                r.servers,
                r.seconds,
                r.ops,
                r.ops_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.errors,
                r.channels
            );
        } else {
            println!(
                "{} clients on {} server(s), each operation alone, {} errors, {} channels",
                r.clients, r.servers, r.errors, r.channels
            );
        }
        for o in &r.by_op {
            println!(
                "{:<10} {:>8} in {:.1} s: {:>8.0} /s, p50 {:.3} ms, p99 {:.3} ms",
                o.op, o.count, o.seconds, o.per_sec, o.p50_ms, o.p99_ms
            );
        }
        println!(
            "books     {}",
            if r.books_balance {
                "balance to the micro-token; no voucher counted twice"
            } else {
                "DO NOT BALANCE"
            }
        );
        for p in &r.problems {
            println!("problem   {p}");
        }
    }
    Ok(r)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
