//! The command line (SPEC §2): argument parsing and the handlers at the binary's edge.
//! Handlers return `anyhow::Result`; library modules below use typed errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "bidtorrent", version, about = "A terminal BitTorrent client with a token market built in")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Control socket of the daemon
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// More log output (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The wallet: identity, balance, payment channels, vouchers, history
    Wallet(crate::wallet::cli::WalletArgs),
    /// Run and administer a ledger that escrows and settles payment channels
    Ledger(crate::wallet::cli::LedgerArgs),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

impl GlobalArgs {
    /// The state directory: `--data-dir`, else `$XDG_DATA_HOME/bidtorrent`.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        use etcetera::BaseStrategy;
        let base = etcetera::choose_base_strategy()
            .map_err(|e| anyhow::anyhow!("cannot find the home directory: {e}"))?;
        Ok(base.data_dir().join("bidtorrent"))
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bidtorrent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Wallet(args) => crate::wallet::cli::run_wallet(&cli.global, args),
        Command::Ledger(args) => crate::wallet::cli::run_ledger(&cli.global, args),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "bidtorrent", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
