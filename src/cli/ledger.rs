//! `bidtorrent ledger`: run a ledger service (on sled or PostgreSQL), migrate its database,
//! mint, audit the books, and benchmark one or several servers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::wallet::{owner_only_umask, print_json, runtime};
use crate::cli::GlobalArgs;
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, PublicKey};
use crate::wallet::ledger::{DEFAULT_LEDGER, LedgerClient, LedgerConfig, admin};

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Run a ledger service (loopback by default)
    Serve {
        /// Address to listen on
        #[arg(long, default_value = DEFAULT_LEDGER, value_name = "ADDR")]
        listen: String,
        /// Ledger directory (default: <data-dir>/ledger); created 0700 with admin.key inside
        #[arg(long, value_name = "DIR")]
        db: Option<PathBuf>,
        /// Seconds a seller keeps to redeem after a buyer closes an unexpired channel
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        close_grace: u64,
        /// Store: sled (in --db, the default) or postgres://USER@HOST:PORT/DB (keys stay in --db)
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Signed requests per account per second (0: no limit)
        #[arg(long, default_value_t = 200, value_name = "N")]
        rate_per_key: u32,
        /// Connections served at once
        #[arg(long, default_value_t = 1024, value_name = "N")]
        max_connections: usize,
        /// Live channels one key may have as payer, and as payee (0: no limit)
        #[arg(long, default_value_t = crate::wallet::ledger::engine::DEFAULT_MAX_CHANNELS_PER_KEY, value_name = "N")]
        max_channels_per_key: u64,
        /// Print the listening event as JSON
        #[arg(long)]
        json: bool,
    },
    /// Prepare (or upgrade) a PostgreSQL database for `ledger serve --store URL`
    Migrate {
        #[arg(long, value_name = "URL")]
        store: String,
        #[arg(long)]
        json: bool,
    },
    /// Drive ledger servers with N concurrent wallets; print ops/s and p50/p99 latency
    Bench {
        /// Ledger servers HOST:PORT[,HOST:PORT...] (clients move on when one stops answering)
        #[arg(long, env = "BIDTORRENT_LEDGER", default_value = DEFAULT_LEDGER, value_name = "ADDRS")]
        ledger: String,
        #[arg(long, default_value_t = 8, value_name = "N")]
        clients: usize,
        #[arg(long, default_value_t = 10, value_name = "S")]
        seconds: u64,
        /// Ledger directory holding admin.key (default: <data-dir>/ledger)
        #[arg(long, value_name = "DIR")]
        db: Option<PathBuf>,
        /// Admin key file, instead of DIR/admin.key
        #[arg(long, value_name = "FILE")]
        admin_key: Option<PathBuf>,
        /// Measure each operation alone (open, pay+accept, redeem), SECONDS each, instead
        /// of the mixed market cycle
        #[arg(long)]
        by_op: bool,
        #[arg(long)]
        json: bool,
    },
    /// Mint AMOUNT tokens into ACCOUNT on a running ledger, signed with its admin key
    Mint {
        account: PublicKey,
        amount: Amount,
        /// Ledger directory holding admin.key (default: <data-dir>/ledger)
        #[arg(long, value_name = "DIR")]
        db: Option<PathBuf>,
        /// Admin key file, instead of DIR/admin.key
        #[arg(long, value_name = "FILE")]
        admin_key: Option<PathBuf>,
        #[arg(long, env = "BIDTORRENT_LEDGER", default_value = DEFAULT_LEDGER, value_name = "ADDR")]
        ledger: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a ledger's id and books (minted = balances + escrowed): from a running ledger,
    /// or straight from its store with --store URL or --db DIR
    Audit {
        #[arg(long, env = "BIDTORRENT_LEDGER", default_value = DEFAULT_LEDGER, value_name = "ADDR")]
        ledger: String,
        /// Read this store (postgres://…) instead of asking a server
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Read the sled store in DIR (no server may be running on it)
        #[arg(long, value_name = "DIR")]
        db: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_ledger(global: &GlobalArgs, args: LedgerArgs) -> anyhow::Result<ExitCode> {
    owner_only_umask();
    let default_db = || -> anyhow::Result<PathBuf> { Ok(global.data_dir()?.join("ledger")) };
    let rt = runtime()?;
    match args.command {
        LedgerCommand::Serve {
            listen,
            db,
            close_grace,
            store,
            rate_per_key,
            max_connections,
            max_channels_per_key,
            json,
        } => {
            let db = match db {
                Some(d) => d,
                None => default_db()?,
            };
            let config = LedgerConfig {
                close_grace_secs: close_grace,
                rate_per_key: (rate_per_key > 0).then_some(rate_per_key),
                max_connections,
                max_channels_per_key: (max_channels_per_key > 0).then_some(max_channels_per_key),
                ..LedgerConfig::default()
            };
            drop(rt);
            admin::serve(&listen, &db, store.as_deref(), config, json)
                .with_context(|| format!("ledger in {} failed", db.display()))?;
        }
        LedgerCommand::Migrate { store, json } => {
            admin::migrate(&store, json).context("cannot migrate the ledger database")?;
        }
        LedgerCommand::Bench {
            ledger,
            clients,
            seconds,
            db,
            admin_key,
            by_op,
            json,
        } => {
            let key_path = match (admin_key, db) {
                (Some(k), _) => k,
                (None, Some(d)) => d.join("admin.key"),
                (None, None) => default_db()?.join("admin.key"),
            };
            let admin = keys::read_key_file(&key_path)
                .with_context(|| format!("cannot read the admin key {}", key_path.display()))?;
            drop(rt);
            let r = admin::bench(&ledger, &admin, clients, seconds, by_op, json)
                .with_context(|| format!("bench against {ledger} failed"))?;
            if !r.books_balance {
                bail!("the books do not balance after the bench");
            }
        }
        LedgerCommand::Mint {
            account,
            amount,
            db,
            admin_key,
            ledger,
            json,
        } => {
            let key_path = match (admin_key, db) {
                (Some(k), _) => k,
                (None, Some(d)) => d.join("admin.key"),
                (None, None) => default_db()?.join("admin.key"),
            };
            let admin = keys::read_key_file(&key_path)
                .with_context(|| format!("cannot read the admin key {}", key_path.display()))?;
            let client = LedgerClient::new(ledger.clone());
            let balance = rt
                .block_on(client.mint(&admin, account, amount))
                .with_context(|| {
                    format!("cannot mint {amount} into {account} at ledger {ledger}")
                })?;
            if json {
                print_json(
                    &serde_json::json!({ "account": account, "minted": amount, "balance": balance }),
                )?;
            } else {
                outln!("minted {amount} into {account}; balance {balance}");
            }
        }
        LedgerCommand::Audit {
            ledger,
            store,
            db,
            json,
        } => {
            drop(rt);
            let consistent = admin::audit(&ledger, db.as_deref(), store.as_deref(), json)
                .with_context(|| format!("cannot audit ledger at {ledger}"))?;
            if !consistent {
                bail!("ledger at {ledger} fails its invariant: minted != balances + escrowed");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
