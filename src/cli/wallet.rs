//! `bidtorrent wallet ...` and `bidtorrent ledger ...` (SPEC §2). The binary's edge: anyhow
//! errors, human or `--json` output.

use crate::units::printable;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use crate::cli::GlobalArgs;
use crate::engine::durable::{self, Durability};
use crate::wallet::amount::Amount;
use crate::wallet::chain::local::ChainEntry;
use crate::wallet::keys::{self, ChannelId, PublicKey};
use crate::wallet::ledger::{DEFAULT_LEDGER, LedgerClient};
use crate::wallet::store::{Wallet, WalletError};
use crate::wallet::voucher::Payment;

#[derive(Debug, Args)]
pub struct WalletArgs {
    /// Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)
    #[arg(long, global = true, env = "BIDTORRENT_LEDGER", value_name = "ADDR")]
    pub ledger: Option<String>,
    /// Machine-readable JSON output (amounts in micro-tokens)
    #[arg(long, global = true)]
    pub json: bool,
    /// Control socket of the daemon that may hold this wallet (default as for `ls`)
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "BIDTORRENT_SOCKET",
        help_heading = "Daemon connection"
    )]
    pub socket: Option<std::path::PathBuf>,
    /// Seconds to wait for that daemon's answer (default 30; 0 = no limit)
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        env = "BIDTORRENT_TIMEOUT",
        help_heading = "Daemon connection"
    )]
    pub timeout: Option<u64>,
    #[command(subcommand)]
    pub command: Option<WalletCommand>,
}

impl WalletArgs {
    /// Its daemon-connection options; global within `wallet`, so `wallet show --socket S`
    /// works as `wallet --socket S show` does.
    pub fn conn(&self) -> super::ConnArgs {
        super::ConnArgs {
            socket: self.socket.clone(),
            timeout: self.timeout,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Show address, balance and channels, fresh from the ledger (fails if it cannot be
    /// reached; --offline shows the last known state)
    Show {
        /// Do not contact the ledger; show the last known state
        #[arg(long, visible_alias = "cached")]
        offline: bool,
    },
    /// Print this wallet's public key (its account on every ledger)
    Address,
    /// Payments, earnings, mints, redemptions and refunds: one line per channel and day
    /// (vouchers summed), local times, totals at the end
    History {
        /// Every entry (each voucher) on its own line
        #[arg(long)]
        detail: bool,
        /// Only since then: a duration back from now (7d, 12h, 30m) or a date (YYYY-MM-DD)
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Only the last N lines
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Print the whole wallet as JSON (without the secret key)
    Export {
        /// Also write the secret key (hex) to this new file, created owner-only
        #[arg(long, value_name = "FILE")]
        secret_key: Option<PathBuf>,
    },
    /// Escrow AMOUNT tokens for SELLER in a new payment channel
    Open {
        /// The seller's public key (64 hex digits)
        seller: PublicKey,
        /// Channel cap in tokens, e.g. 10 or 2.5
        amount: Amount,
        /// Lifetime of the channel in seconds
        #[arg(long, default_value_t = 86_400, value_name = "SECS")]
        expiry_secs: u64,
    },
    /// Close a channel (seller: redeem and close now; buyer: refund after the grace period)
    Close {
        /// Channel id, or any unique prefix of it (`wallet history` shows 8 hex digits)
        channel: String,
    },
    /// Redeem the highest voucher of every incoming channel at the ledger
    Redeem,
    /// Pay AMOUNT more on an outgoing channel and emit a payment (certificate + voucher)
    Pay {
        /// Channel id, or any unique prefix of it (`wallet history` shows 8 hex digits)
        channel: String,
        /// Tokens to add to what the seller may redeem
        amount: Amount,
        /// Write the latest payment to FILE (atomically replaced) instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Pay this many times (a payment stream; each voucher supersedes the last)
        #[arg(long, default_value_t = 1, value_name = "N")]
        repeat: u64,
        /// Pause between payments of a stream
        #[arg(long, default_value_t = 0, value_name = "MS")]
        interval_ms: u64,
    },
    /// Accept payments from a buyer: a file written by `wallet pay` or `wallet payments`, or
    /// `-` for stdin
    Accept { file: PathBuf },
    /// Print the latest payment of every outgoing channel, one JSON line each (as `wallet pay`
    /// writes them): settles with a seller that missed the last vouchers (`wallet accept`)
    Payments,
    /// Lock AMOUNT tokens of this wallet's chain address in the `[chain]` vault; the ledger
    /// credits them after its confirmations
    Deposit {
        /// Tokens, e.g. 10 or 2.5
        amount: Amount,
    },
    /// Take AMOUNT tokens out to the chain: the ledger debits them and signs an authorisation
    /// that this wallet submits to the `[chain]` vault
    Withdraw {
        /// Tokens, e.g. 10 or 2.5
        amount: Option<Amount>,
        /// Chain address to pay (default: this wallet's chain address)
        #[arg(long, value_name = "ADDRESS")]
        to: Option<crate::wallet::chain::Address>,
        /// Submit again the authorisation with this nonce (after a failed submission)
        #[arg(long, value_name = "NONCE", conflicts_with_all = ["amount", "to"])]
        retry: Option<u64>,
    },
}

/// A channel named in full (64 hex digits) or by any prefix, as torrents are: the prefix
/// must match exactly one of this wallet's channels.
fn resolve_channel(wallet: &Wallet, given: &str) -> anyhow::Result<ChannelId> {
    crate::rpc::proto::resolve_channel(wallet, given).map_err(anyhow::Error::msg)
}

fn history_view(
    detail: bool,
    since: Option<&str>,
    limit: Option<usize>,
) -> anyhow::Result<super::history::HistoryView> {
    Ok(super::history::HistoryView {
        detail,
        since: since
            .map(|s| super::history::parse_since(s, keys::now_secs()))
            .transpose()?,
        limit,
    })
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(super) fn owner_only_umask() {
    // Files created by sled and by us under the wallet/ledger dirs must not be readable by
    // others from the first instant, not only after we tighten them.
    // SAFETY: umask only sets the process file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

pub(super) fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string(v)?);
    Ok(())
}

fn time_str(t: u64) -> String {
    let now = keys::now_secs();
    match t.cmp(&now) {
        std::cmp::Ordering::Equal => "just now".into(),
        std::cmp::Ordering::Greater => format!("in {} s", t - now),
        std::cmp::Ordering::Less => format!("{} s ago", now - t),
    }
}

pub fn run_wallet(global: &GlobalArgs, args: WalletArgs) -> anyhow::Result<ExitCode> {
    owner_only_umask();
    let dir = global.data_dir()?.join("wallet");
    let wallet = match Wallet::open(&dir) {
        Ok(w) => w,
        Err(e) => {
            // A running daemon with the market on holds the wallet's lock: read through it.
            if let Some(code) = through_daemon(global, &args)? {
                return Ok(code);
            }
            return Err(anyhow::Error::new(e)
                .context(format!("cannot open the wallet in {}", dir.display())));
        }
    };
    let addr = match &args.ledger {
        Some(a) => a.clone(),
        None => wallet
            .default_ledger()?
            .map(|l| l.addr)
            .unwrap_or_else(|| DEFAULT_LEDGER.to_string()),
    };
    let client = LedgerClient::new(addr.clone());
    let json = args.json;
    let rt = runtime()?;
    match args
        .command
        .unwrap_or(WalletCommand::Show { offline: false })
    {
        WalletCommand::Address => {
            if json {
                print_json(&serde_json::json!({ "public_key": wallet.public_key() }))?;
            } else {
                outln!("{}", wallet.public_key());
            }
        }
        WalletCommand::Show { offline } => {
            // Fresh data was asked for: a ledger that cannot be reached is an error, not a
            // stale balance shown as if current. A wallet that never met a ledger and was
            // given none has nothing to refresh.
            let never = args.ledger.is_none() && wallet.default_ledger()?.is_none();
            if !offline
                && !never
                && let Err(e) = rt.block_on(wallet.refresh(&client))
            {
                bail!(
                    "ledger at {addr} not reachable: {e} (`wallet show --offline` shows the \
                     last known state)"
                );
            }
            let chain = chain_state(global, &wallet, &client, &rt, offline)?;
            show(&wallet, json, chain)?;
        }
        WalletCommand::Deposit { amount } => {
            let chain = chain_of(global)?;
            let key = crate::wallet::chain::local::wallet_key(wallet.dir())?;
            let tx = chain
                .deposit(&key, amount.0, wallet.public_key())
                .with_context(|| format!("cannot deposit {amount} from {}", key.address()))?;
            crate::wallet::chain::local::append(
                wallet.dir(),
                &ChainEntry::Deposit {
                    time: keys::now_secs(),
                    amount,
                    tx,
                    from: key.address(),
                },
            )?;
            let confirmations = chain.config().confirmations;
            if json {
                print_json(&serde_json::json!({
                    "deposited": amount, "tx": tx, "from": key.address(),
                    "account": wallet.public_key(), "confirmations": confirmations,
                }))?;
            } else {
                outln!(
                    "deposited {amount} in transaction {tx}; the ledger credits it after {confirmations} confirmations"
                );
            }
        }
        WalletCommand::Withdraw { amount, to, retry } => {
            let chain = chain_of(global)?;
            let key = crate::wallet::chain::local::wallet_key(wallet.dir())?;
            let rec = match (retry, amount) {
                (Some(nonce), _) => rt
                    .block_on(client.withdrawal(nonce))
                    .with_context(|| format!("cannot fetch withdrawal {nonce} from {addr}"))?,
                (None, Some(amount)) => {
                    let to = to.unwrap_or_else(|| key.address());
                    let rec = rt
                        .block_on(wallet.withdraw(&client, amount, to))
                        .with_context(|| format!("cannot withdraw {amount} at ledger {addr}"))?;
                    // Kept before submitting, so a failed submission can be retried.
                    crate::wallet::chain::local::append(
                        wallet.dir(),
                        &ChainEntry::Withdrawal {
                            time: keys::now_secs(),
                            amount,
                            nonce: rec.auth.nonce,
                            to,
                            tx: None,
                        },
                    )?;
                    rec
                }
                (None, None) => bail!("give the AMOUNT to withdraw (or --retry NONCE)"),
            };
            if rec.account != wallet.public_key() {
                bail!("withdrawal {} belongs to another account", rec.auth.nonce);
            }
            if rec.state != crate::wallet::ledger::chain::WithdrawalState::Pending {
                bail!(
                    "withdrawal {} is {:?}, not pending: nothing to submit",
                    rec.auth.nonce,
                    rec.state
                );
            }
            let nonce = rec.auth.nonce;
            let tx = chain.withdraw(&key, &rec.auth).with_context(|| {
                format!(
                    "the ledger authorised withdrawal {nonce}, but submitting it from {} failed; \
                     retry with `bidtorrent wallet withdraw --retry {nonce}`",
                    key.address()
                )
            })?;
            crate::wallet::chain::local::append(
                wallet.dir(),
                &ChainEntry::Withdrawal {
                    time: keys::now_secs(),
                    amount: Amount(rec.auth.amount),
                    nonce,
                    to: rec.auth.to,
                    tx: Some(tx),
                },
            )?;
            if json {
                print_json(&serde_json::json!({
                    "withdrawn": Amount(rec.auth.amount), "nonce": nonce, "to": rec.auth.to, "tx": tx,
                }))?;
            } else {
                outln!(
                    "withdrew {} to {} in transaction {tx} (authorisation {nonce})",
                    Amount(rec.auth.amount),
                    rec.auth.to
                );
            }
        }
        WalletCommand::History {
            detail,
            since,
            limit,
        } => {
            let view = history_view(detail, since.as_deref(), limit)?;
            let chain = crate::wallet::chain::local::entries(wallet.dir())?;
            if chain.is_empty() {
                super::history::print(&wallet.history()?, &view, json)?;
            } else if json {
                // The ledger rows, then the chain entries (told apart by `kind`).
                let mut all =
                    serde_json::to_value(super::history::rows(&wallet.history()?, &view))?;
                if let serde_json::Value::Array(a) = &mut all {
                    for e in &chain {
                        a.push(serde_json::to_value(e)?);
                    }
                }
                print_json(&all)?;
            } else {
                super::history::print(&wallet.history()?, &view, false)?;
                for e in chain {
                    match e {
                        ChainEntry::Deposit {
                            time, amount, tx, ..
                        } => outln!("chain  {time}  deposit     {amount:>20}  tx {tx}"),
                        ChainEntry::Withdrawal {
                            time,
                            amount,
                            nonce,
                            to,
                            tx,
                        } => outln!(
                            "chain  {time}  withdrawal  {amount:>20}  to {to}  authorisation {nonce}  tx {}",
                            tx.map(|t| t.to_string())
                                .unwrap_or_else(|| "not submitted".into())
                        ),
                    }
                }
            }
        }
        WalletCommand::Export { secret_key } => {
            if let Some(path) = &secret_key {
                wallet.export_secret_key(path).with_context(|| {
                    format!("cannot write the secret key to {}", path.display())
                })?;
                eprintln!("secret key written to {} (mode 0600)", path.display());
            }
            let export = wallet.export()?;
            // Export is data either way; --json only makes it compact.
            if json {
                print_json(&export)?;
            } else {
                outln!("{}", serde_json::to_string_pretty(&export)?);
            }
        }
        WalletCommand::Open {
            seller,
            amount,
            expiry_secs,
        } => {
            let expiry = keys::now_secs().saturating_add(expiry_secs);
            let cert = rt
                .block_on(wallet.open_channel(&client, seller, amount, expiry))
                .with_context(|| {
                    format!("cannot open a channel of {amount} to {seller} at ledger {addr}")
                })?;
            if json {
                print_json(&serde_json::json!({
                    "channel": cert.channel, "seller": cert.seller, "cap": cert.cap,
                    "expiry": cert.expiry, "certificate": cert,
                }))?;
            } else {
                outln!(
                    "channel {} to {}: {} escrowed, expires {}",
                    cert.channel,
                    seller,
                    amount,
                    time_str(expiry)
                );
            }
        }
        WalletCommand::Close { channel } => {
            let channel = resolve_channel(&wallet, &channel)?;
            let info = rt
                .block_on(wallet.close_channel(&client, &channel))
                .with_context(|| format!("cannot close channel {channel}"))?;
            print_closed(&info, json)?;
        }
        WalletCommand::Redeem => {
            let done = rt
                .block_on(wallet.redeem_all(&client))
                .with_context(|| format!("cannot redeem at {addr}"))?;
            print_redemptions(&done, json)?;
        }
        WalletCommand::Pay {
            channel,
            amount,
            out,
            repeat,
            interval_ms,
        } => {
            let channel = resolve_channel(&wallet, &channel)?;
            let cert = wallet
                .out_channel(&channel)?
                .ok_or(WalletError::UnknownChannel(channel))?
                .certificate;
            for i in 0..repeat {
                if i > 0 && interval_ms > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(interval_ms));
                }
                let voucher = wallet
                    .pay(&channel, amount)
                    .with_context(|| format!("cannot pay on channel {channel}"))?;
                emit_payment(
                    &Payment {
                        certificate: cert.clone(),
                        voucher,
                    },
                    out.as_deref(),
                )?;
            }
        }
        WalletCommand::Accept { file } => return accept(&wallet, &client, &rt, &file, json),
        WalletCommand::Payments => {
            for c in wallet.out_channels()? {
                if let Some(voucher) = wallet.current_voucher(&c.certificate.channel)? {
                    print_json(&Payment {
                        certificate: c.certificate,
                        voucher,
                    })?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `wallet [show|address|history]` answered by the daemon that holds the wallet. `None` when
/// no daemon answers (the caller reports the wallet error).
fn through_daemon(global: &GlobalArgs, args: &WalletArgs) -> anyhow::Result<Option<ExitCode>> {
    let Ok(socket) = global.socket_path() else {
        return Ok(None);
    };
    let Ok(mut client) = crate::rpc::Client::connect(&socket) else {
        return Ok(None);
    };
    let history = matches!(args.command, Some(WalletCommand::History { .. })).then_some(usize::MAX);
    let payments = matches!(args.command, Some(WalletCommand::Payments));
    if let Some(WalletCommand::Accept { file }) = &args.command {
        return accept_through_daemon(&mut client, file, args.json).map(Some);
    }
    if let Some(cmd) = &args.command
        && let Some(code) = act_through_daemon(&mut client, cmd, args.json)?
    {
        return Ok(Some(code));
    }
    let info: crate::rpc::proto::WalletInfo = match &args.command {
        None
        | Some(WalletCommand::Show { .. })
        | Some(WalletCommand::Address)
        | Some(WalletCommand::Payments)
        | Some(WalletCommand::History { .. }) => client
            .call(crate::rpc::proto::Command::Wallet { history, payments })
            .context("the daemon holds the wallet")?,
        Some(_) => bail!(
            "the daemon on {} holds the wallet and cannot do this through its socket",
            socket.display()
        ),
    };
    let wants_fresh = matches!(
        args.command,
        None | Some(WalletCommand::Show { offline: false })
    );
    if wants_fresh && !info.fresh {
        bail!(
            "the daemon cannot reach its ledger at {} (`wallet show --offline` shows the last \
             known state)",
            printable(&info.ledger)
        );
    }
    match &args.command {
        Some(WalletCommand::Address) if args.json => {
            print_json(&serde_json::json!({ "public_key": info.public_key }))?
        }
        Some(WalletCommand::Address) => outln!("{}", info.public_key),
        Some(WalletCommand::History {
            detail,
            since,
            limit,
        }) => {
            let view = history_view(*detail, since.as_deref(), *limit)?;
            super::history::print(&info.history, &view, args.json)?;
        }
        Some(WalletCommand::Payments) => {
            for p in &info.payments {
                print_json(p)?;
            }
        }
        _ if args.json => print_json(&info)?,
        _ => {
            outln!("address  {} (through the daemon)", info.public_key);
            outln!(
                "ledger   {}\nbalance  {}{}",
                info.ledger,
                Amount(info.balance),
                if info.fresh { "" } else { " (last known)" }
            );
            outln!("{}", money_line(&info.balances, info.redeemed));
            outln!(
                "tokens   paid {}, earned {}, redeemed {}",
                Amount(info.paid),
                Amount(info.earned),
                Amount(info.redeemed)
            );
            for c in &info.outgoing {
                outln!(
                    "  out {}  to {}  spent {} of {}  {:?}",
                    c.certificate.channel,
                    c.certificate.seller,
                    c.spent,
                    c.certificate.cap,
                    c.state
                );
            }
            for c in &info.incoming {
                outln!(
                    "  in  {}  from {}  earned {}  redeemed {}  {:?}",
                    c.certificate.channel,
                    c.certificate.buyer,
                    c.earned(),
                    c.redeemed,
                    c.state
                );
            }
        }
    }
    Ok(Some(ExitCode::SUCCESS))
}

/// `wallet open|close|redeem|pay|export` done by the daemon that holds the wallet (the same
/// output as when this process holds it). `None` for the read-only commands.
fn act_through_daemon(
    client: &mut crate::rpc::Client,
    cmd: &WalletCommand,
    json: bool,
) -> anyhow::Result<Option<ExitCode>> {
    use crate::rpc::proto::Command;
    match cmd {
        WalletCommand::Redeem => {
            let done: Vec<crate::wallet::Redemption> = client
                .call(Command::WalletRedeem)
                .context("the daemon could not redeem")?;
            print_redemptions(&done, json)?;
        }
        WalletCommand::Close { channel } => {
            let info: crate::wallet::ledger::ChannelInfo = client
                .call(Command::WalletClose {
                    channel: channel.clone(),
                })
                .context("the daemon could not close the channel")?;
            print_closed(&info, json)?;
        }
        WalletCommand::Open {
            seller,
            amount,
            expiry_secs,
        } => {
            #[derive(Deserialize)]
            struct Opened {
                channel: ChannelId,
                expiry: u64,
            }
            let v: serde_json::Value = client
                .call(Command::WalletOpen {
                    seller: seller.to_string(),
                    amount: amount.micro(),
                    expiry_secs: Some(*expiry_secs),
                })
                .context("the daemon could not open the channel")?;
            if json {
                print_json(&v)?;
            } else {
                let o: Opened = serde_json::from_value(v)?;
                outln!(
                    "channel {} to {}: {} escrowed, expires {}",
                    o.channel,
                    seller,
                    amount,
                    time_str(o.expiry)
                );
            }
        }
        WalletCommand::Pay {
            channel,
            amount,
            out,
            repeat,
            interval_ms,
        } => {
            for i in 0..*repeat {
                if i > 0 && *interval_ms > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(*interval_ms));
                }
                let p: Payment = client
                    .call(Command::WalletPay {
                        channel: channel.clone(),
                        amount: amount.micro(),
                    })
                    .context("the daemon could not pay")?;
                emit_payment(&p, out.as_deref())?;
            }
        }
        WalletCommand::Export { secret_key } => {
            let secret_key = secret_key
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
            let export: serde_json::Value = client
                .call(Command::WalletExport {
                    secret_key: secret_key.clone(),
                })
                .context("the daemon could not export the wallet")?;
            if let Some(path) = &secret_key {
                eprintln!("secret key written to {} (mode 0600)", path.display());
            }
            if json {
                print_json(&export)?;
            } else {
                outln!("{}", serde_json::to_string_pretty(&export)?);
            }
        }
        _ => return Ok(None),
    }
    Ok(Some(ExitCode::SUCCESS))
}

fn print_redemptions(done: &[crate::wallet::Redemption], json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&done)?;
    } else if done.is_empty() {
        outln!("nothing to redeem");
    } else {
        for r in done {
            outln!(
                "channel {}: paid {} (redeemed {} in total)",
                r.channel,
                r.paid,
                r.redeemed
            );
        }
    }
    Ok(())
}

fn print_closed(info: &crate::wallet::ledger::ChannelInfo, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(info)
    } else {
        outln!(
            "channel {}: {:?}, redeemed {}, refunded {}, deadline {}",
            info.channel,
            info.state,
            info.redeemed,
            info.refunded,
            time_str(info.deadline)
        );
        Ok(())
    }
}

/// One payment line, to `out` (atomically replaced) or stdout.
fn emit_payment(p: &Payment, out: Option<&Path>) -> anyhow::Result<()> {
    let line = serde_json::to_string(p)?;
    match out {
        // Replaced atomically, so a reader or a crash never sees half a payment.
        Some(path) => durable::replace(path, format!("{line}\n").as_bytes(), Durability::Now)
            .with_context(|| format!("cannot write the payment to {}", path.display())),
        None => {
            let mut so = std::io::stdout().lock();
            writeln!(so, "{line}")?;
            so.flush()?;
            Ok(())
        }
    }
}

/// `wallet accept` through the daemon that holds the wallet.
fn accept_through_daemon(
    client: &mut crate::rpc::Client,
    file: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let text = read_payments(file)?;
    let mut payments = Vec::new();
    let mut refused = 0;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<Payment>(line) {
            Ok(p) => payments.push(p),
            Err(e) => {
                refused += 1;
                let what = format!("{}:{}", file.display(), n + 1);
                report_refusal(json, &what, "malformed", &format!("not a payment: {e}"));
            }
        }
    }
    #[derive(Deserialize)]
    struct Results {
        results: Vec<crate::rpc::proto::Accepted>,
    }
    let r: Results = client.call(crate::rpc::proto::Command::Accept { payments })?;
    for a in r.results {
        match (&a.earned, a.ok) {
            (Some(e), true) if json => print_json(e)?,
            (Some(e), true) if e.duplicate => {
                outln!(
                    "channel {}: voucher seq {} already stored",
                    e.channel,
                    e.seq
                )
            }
            (Some(e), true) => outln!(
                "channel {}: earned {} (seq {}, total {})",
                e.channel,
                e.delta,
                e.seq,
                e.cumulative
            ),
            _ => {
                refused += 1;
                report_refusal(
                    json,
                    &format!("channel {}", a.channel),
                    a.refused.as_deref().unwrap_or("refused"),
                    a.message.as_deref().unwrap_or("refused"),
                );
            }
        }
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_payments(file: &Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        for line in std::io::stdin().lock().lines() {
            s.push_str(&line?);
            s.push('\n');
        }
        Ok(s)
    } else {
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read payment file {}", file.display()))
    }
}

/// The `[chain]` client, or why there is none.
fn chain_of(global: &GlobalArgs) -> anyhow::Result<Box<dyn crate::wallet::chain::Chain>> {
    let path = global.config_path()?;
    let cfg = crate::config::Config::load(&path, global.config.is_some())?;
    let Some(c) = cfg.chain else {
        bail!(
            "no [chain] section in {}: deposits and withdrawals need rpc_url, chain_id, vault and token",
            path.display()
        );
    };
    Ok(crate::wallet::chain::connect(&c)?)
}

/// The wallet's chain side for `wallet show`, when `[chain]` is configured.
#[derive(Debug, Serialize)]
struct ChainState {
    address: crate::wallet::chain::Address,
    vault: crate::wallet::chain::Address,
    /// Token units at `address` (absent when offline or the node is unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    token_balance: Option<u128>,
    confirmations: u64,
    deposits: Vec<serde_json::Value>,
    withdrawals: Vec<serde_json::Value>,
}

fn chain_state(
    global: &GlobalArgs,
    wallet: &Wallet,
    client: &LedgerClient,
    rt: &tokio::runtime::Runtime,
    offline: bool,
) -> anyhow::Result<Option<ChainState>> {
    let path = global.config_path()?;
    // `wallet show` never needed the config before `[chain]`: a config it cannot read is
    // reported, not fatal.
    let cfg = match crate::config::Config::load(&path, global.config.is_some()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bidtorrent: not showing the chain side: {e}");
            return Ok(None);
        }
    };
    let Some(c) = cfg.chain else {
        return Ok(None);
    };
    let key = crate::wallet::chain::local::wallet_key(wallet.dir())?;
    let chain = crate::wallet::chain::connect(&c)?;
    let head = if offline { None } else { chain.head().ok() };
    let token_balance = match head {
        Some(_) => chain.token_balance(&key.address(), None).ok(),
        None => None,
    };
    let mut deposits = Vec::new();
    let mut withdrawals = Vec::new();
    for e in crate::wallet::chain::local::entries(wallet.dir())? {
        match &e {
            ChainEntry::Deposit { .. } => deposits.push(serde_json::to_value(&e)?),
            ChainEntry::Withdrawal { nonce, .. } => {
                let mut v = serde_json::to_value(&e)?;
                let state = if offline {
                    None
                } else {
                    rt.block_on(client.withdrawal(*nonce)).ok().map(|r| r.state)
                };
                if let Some(s) = state {
                    v["state"] = serde_json::to_value(s)?;
                }
                withdrawals.push(v);
            }
        }
    }
    Ok(Some(ChainState {
        address: key.address(),
        vault: c.vault,
        token_balance,
        confirmations: c.confirmations,
        deposits,
        withdrawals,
    }))
}

fn show(wallet: &Wallet, json: bool, chain: Option<ChainState>) -> anyhow::Result<()> {
    let ledger = wallet.default_ledger()?;
    let out = wallet.out_channels()?;
    let inc = wallet.in_channels()?;
    if json {
        let b = crate::rpc::proto::Balances::of(wallet.balance()?.micro(), &out, &inc);
        let redeemed: u64 = inc.iter().map(|c| c.redeemed.micro()).sum();
        let mut v = serde_json::json!({
            "public_key": wallet.public_key(),
            "ledger": ledger,
            "balance": wallet.balance()?,
            "available": b.available,
            "escrowed": b.escrowed,
            "refundable": b.refundable,
            "unredeemed": b.unredeemed,
            "redeemed": redeemed,
            "summary": ledger.as_ref().and_then(|l| l.summary),
            "outgoing": out,
            "incoming": inc,
        });
        if let Some(c) = &chain {
            v["chain"] = serde_json::to_value(c)?;
        }
        return print_json(&v);
    }
    if let Some(c) = &chain {
        outln!(
            "chain    address {}  tokens {}  (vault {})",
            c.address,
            c.token_balance
                .map(|b| b.to_string())
                .unwrap_or_else(|| "unknown".into()),
            c.vault
        );
        for d in &c.deposits {
            outln!("  deposit     {}", d);
        }
        for w in &c.withdrawals {
            outln!("  withdrawal  {}", w);
        }
    }
    outln!("address  {}", wallet.public_key());
    match &ledger {
        Some(l) => {
            outln!("ledger   {} at {}", l.ledger, l.addr);
            let when = if l.updated == 0 {
                "never fetched".into()
            } else {
                format!("as of {}", time_str(l.updated))
            };
            outln!("balance  {} ({when})", l.balance);
            let b = crate::rpc::proto::Balances::of(l.balance.micro(), &out, &inc);
            outln!(
                "{}",
                money_line(&b, inc.iter().map(|c| c.redeemed.micro()).sum())
            );
            if let Some(s) = &l.summary {
                outln!(
                    "channels paying {} ({} escrowed); paid by {} ({} escrowed to you)",
                    s.paying.live,
                    s.paying.escrowed,
                    s.paid_by.live,
                    s.paid_by.escrowed
                );
            }
        }
        None => outln!("ledger   none yet (use --ledger ADDR)"),
    }
    if !out.is_empty() {
        outln!("outgoing channels:");
        for c in out {
            let cert = &c.certificate;
            outln!(
                "  {}  to {}  spent {} of {}  seq {}  {:?}  expires {}",
                cert.channel,
                cert.seller,
                c.spent,
                cert.cap,
                c.seq,
                c.state,
                time_str(cert.expiry)
            );
        }
    }
    if !inc.is_empty() {
        outln!("incoming channels:");
        for c in inc {
            let cert = &c.certificate;
            outln!(
                "  {}  from {}  earned {}  redeemed {}  cap {}  {:?}  expires {}",
                cert.channel,
                cert.buyer,
                c.earned(),
                c.redeemed,
                cert.cap,
                c.state,
                time_str(cert.expiry)
            );
        }
    }
    Ok(())
}

/// The balance spelled out, one line.
fn money_line(b: &crate::rpc::proto::Balances, redeemed: u64) -> String {
    format!(
        "money    available {}, escrowed {} ({} refundable), earned and unredeemed {}, redeemed {}",
        Amount(b.available),
        Amount(b.escrowed),
        Amount(b.refundable),
        Amount(b.unredeemed),
        Amount(redeemed)
    )
}

fn accept(
    wallet: &Wallet,
    client: &LedgerClient,
    rt: &tokio::runtime::Runtime,
    file: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let text = read_payments(file)?;
    let mut refused = 0;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let what = format!("{}:{}", file.display(), n + 1);
        let p: Payment = match serde_json::from_str(line) {
            Ok(p) => p,
            Err(e) => {
                refused += 1;
                report_refusal(json, &what, "malformed", &format!("not a payment: {e}"));
                continue;
            }
        };
        // First payment from a ledger we have not met: learn the configured ledger's id.
        // Certificates from any other ledger stay refused.
        if wallet.known_ledger(&p.certificate.ledger)?.is_none()
            && let Err(e) = rt.block_on(wallet.connect(client))
        {
            eprintln!(
                "bidtorrent: cannot reach ledger at {} to learn its id: {}",
                client.addr(),
                printable(&e.to_string())
            );
        }
        match wallet.accept_voucher(&p.voucher, &p.certificate) {
            Ok(e) => {
                if json {
                    print_json(&e)?;
                } else if e.duplicate {
                    outln!(
                        "channel {}: voucher seq {} already stored",
                        e.channel,
                        e.seq
                    );
                } else {
                    outln!(
                        "channel {}: earned {} (seq {}, total {})",
                        e.channel,
                        e.delta,
                        e.seq,
                        e.cumulative
                    );
                }
            }
            Err(r) => {
                refused += 1;
                report_refusal(json, &what, r.code(), &r.to_string());
            }
        }
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn report_refusal(json: bool, what: &str, code: &str, message: &str) {
    if json {
        outln!(
            "{}",
            serde_json::json!({ "refused": code, "input": what, "message": message })
        );
    }
    eprintln!(
        "bidtorrent: {}: voucher refused: {}",
        printable(what),
        printable(message)
    );
}
