//! The command line (SPEC §2): argument parsing and the handlers at the binary's edge.
//! Handlers return `anyhow::Result`; library modules below use typed errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "bidtorrent",
    version,
    about = "A terminal BitTorrent client with a token market built in"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Without a command, `bidtorrent` opens the dashboard (as `bidtorrent tui`).
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten, next_help_heading = "Dashboard (when no command is given)")]
    pub tui: crate::tui::TuiArgs,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or
    /// control.sock in the data dir when --data-dir is given or there is no runtime dir)
    #[arg(long, global = true, value_name = "PATH", env = "BIDTORRENT_SOCKET")]
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
    /// Open the dashboard: attach to a running daemon, or run the engine in this process
    Tui(crate::tui::TuiArgs),
    /// Download one torrent in the foreground; exit 0 once every piece is verified
    Download(crate::cli_oneshot::DownloadArgs),
    /// Verify the data of a torrent, then seed it until killed
    Seed(crate::cli_oneshot::SeedArgs),
    /// The wallet: identity, balance, payment channels, vouchers, history
    Wallet(crate::wallet::cli::WalletArgs),
    /// Run and administer a ledger that escrows and settles payment channels
    Ledger(crate::wallet::cli::LedgerArgs),
    /// Make a .torrent from a file or directory
    Create(CreateArgs),
    /// A whole token market on 127.0.0.1: embedded ledger, seeders, bidding and plain leechers
    Demo(crate::demo::DemoArgs),
    /// Run the engine headless with its control socket (foreground; for systemd, tmux, ssh)
    Daemon(crate::daemon::DaemonArgs),
    /// Add .torrent files or magnet links to the running daemon (`-` reads one per line)
    Add(crate::cli_client::AddArgs),
    /// Show the daemon: pid, port, rates, limits, and whether the market trades
    Status(crate::cli_client::OutputArgs),
    /// List the daemon's torrents
    Ls(crate::cli_client::OutputArgs),
    /// Show one torrent: progress, files, trackers
    Info(crate::cli_client::OneArgs),
    /// Show the peers of one torrent
    Peers(crate::cli_client::OneArgs),
    /// Pause torrents: close their peers and stop announcing
    Pause(crate::cli_client::TargetArgs),
    /// Resume paused torrents
    Resume(crate::cli_client::TargetArgs),
    /// Remove torrents from the daemon (the data stays unless --delete-data)
    Rm(crate::cli_client::RmArgs),
    /// Hash the data of torrents again
    Recheck(crate::cli_client::TargetArgs),
    /// Announce to the trackers now
    Reannounce(crate::cli_client::TargetArgs),
    /// Show or set rate limits, global or of one torrent
    Limit(crate::cli_client::LimitArgs),
    /// Show or set the market's buyer and seller strategies, global or of one torrent
    Strategy(crate::cli_client::StrategyArgs),
    /// The configuration file: where it is, its defaults, whether it is valid
    Config(crate::cli_client::ConfigArgs),
    /// Print shell completions (also committed under completions/)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; the pages of every command are committed under man/)
    Man,
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

impl GlobalArgs {
    /// The control socket: `--socket` (or `BIDTORRENT_SOCKET`); with `--data-dir`,
    /// `DIR/control.sock`; else `$XDG_RUNTIME_DIR/bidtorrent/control.sock`; else
    /// `control.sock` in the data dir.
    pub fn socket_path(&self) -> anyhow::Result<PathBuf> {
        if let Some(s) = &self.socket {
            return Ok(s.clone());
        }
        if let Some(d) = &self.data_dir {
            return Ok(d.join("control.sock"));
        }
        if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(rt).join("bidtorrent").join("control.sock"));
        }
        Ok(self.data_dir()?.join("control.sock"))
    }

    /// `--config`, else `$XDG_CONFIG_HOME/bidtorrent/config.toml`.
    pub fn config_path(&self) -> anyhow::Result<PathBuf> {
        if let Some(c) = &self.config {
            return Ok(c.clone());
        }
        use etcetera::BaseStrategy;
        let base = etcetera::choose_base_strategy()
            .map_err(|e| anyhow::anyhow!("cannot find the home directory: {e}"))?;
        Ok(base.config_dir().join("bidtorrent").join("config.toml"))
    }

    /// Where the daemon's log goes: the `--data-dir` when given, else
    /// `$XDG_STATE_HOME/bidtorrent`.
    pub fn state_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        use etcetera::BaseStrategy;
        let base = etcetera::choose_base_strategy()
            .map_err(|e| anyhow::anyhow!("cannot find the home directory: {e}"))?;
        match base.state_dir() {
            Some(s) => Ok(s.join("bidtorrent")),
            None => self.data_dir(),
        }
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
    let Some(command) = cli.command else {
        return crate::tui::run(&cli.global, cli.tui);
    };
    match command {
        Command::Tui(args) => crate::tui::run(&cli.global, args),
        Command::Download(args) => crate::cli_oneshot::download(&cli.global, args),
        Command::Seed(args) => crate::cli_oneshot::seed(&cli.global, args),
        Command::Wallet(args) => crate::wallet::cli::run_wallet(&cli.global, args),
        Command::Ledger(args) => crate::wallet::cli::run_ledger(&cli.global, args),
        Command::Demo(args) => crate::demo::run(&cli.global, args),
        Command::Create(mut args) => {
            args.quiet |= cli.global.quiet;
            run_create(args)
        }
        Command::Daemon(args) => crate::daemon::run(&cli.global, args),
        Command::Add(a) => crate::cli_client::add(&cli.global, a),
        Command::Status(a) => crate::cli_client::status(&cli.global, a),
        Command::Ls(a) => crate::cli_client::ls(&cli.global, a),
        Command::Info(a) => crate::cli_client::info(&cli.global, a),
        Command::Peers(a) => crate::cli_client::peers(&cli.global, a),
        Command::Pause(a) => crate::cli_client::batch(&cli.global, "pause", a),
        Command::Resume(a) => crate::cli_client::batch(&cli.global, "resume", a),
        Command::Rm(a) => crate::cli_client::rm(&cli.global, a),
        Command::Recheck(a) => crate::cli_client::batch(&cli.global, "recheck", a),
        Command::Reannounce(a) => crate::cli_client::batch(&cli.global, "reannounce", a),
        Command::Limit(a) => crate::cli_client::limit(&cli.global, a),
        Command::Strategy(a) => crate::cli_client::strategy(&cli.global, a),
        Command::Config(a) => crate::cli_client::config(&cli.global, a),
        Command::Completions { shell } => {
            std::io::Write::write_all(&mut std::io::stdout(), &completions(shell))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            std::io::Write::write_all(&mut std::io::stdout(), &man_page()?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The completion script for `shell`, generated from the clap definitions.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "bidtorrent", &mut out);
    out
}

/// The man page (roff), generated from the clap definitions.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
}

/// `bidtorrent.1` and one `bidtorrent-CMD.1` per subcommand, as (file name, roff).
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = vec![("bidtorrent.1".to_string(), man_page()?)];
    let mut cmd = Cli::command();
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("bidtorrent-{}", sub.get_name());
        let mut out = Vec::new();
        clap_mangen::Man::new(sub.clone().display_name(name.clone())).render(&mut out)?;
        pages.push((format!("{name}.1"), out));
    }
    Ok(pages)
}

/// Logs go to stderr for foreground commands; `-v` raises the level, `-q` lowers it, and
/// `RUST_LOG` overrides both.
pub fn init_stderr_logging(global: &GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("bidtorrent={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Parses a byte count or rate: `1048576`, `512K`, `10M`, `1.5G` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'B' => 1,
                _ => return Err(format!("{s:?}: unknown unit {c:?} (use K, M or G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512K, 10M or 1048576"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{s:?} must be a non-negative size"));
    }
    Ok((v * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("1.5M"), Ok(1_572_864));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}

// ---------------------------------------------------------------------------------------------
// `bidtorrent create` (the library part is engine::create)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// File or directory to share
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Where to write the .torrent
    #[arg(short, long, value_name = "OUT.torrent")]
    pub output: PathBuf,
    /// Tracker announce URL; repeat for more, each becomes its own tier (BEP 12)
    #[arg(short, long = "tracker", value_name = "URL")]
    pub trackers: Vec<String>,
    /// Piece size in bytes or with K/M (16K, 1M); a power of two from 16 KiB to 64 MiB
    /// [default: chosen for about 1000-2000 pieces]
    #[arg(long, value_name = "N", value_parser = parse_piece_size_arg)]
    pub piece_size: Option<u64>,
    /// Mark the torrent private (BEP 27): peers only from its trackers, no DHT or PEX
    #[arg(long)]
    pub private: bool,
    /// Free-text comment stored in the torrent
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Name of the torrent (default: the file or directory name)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Leave out the creation date, so the same input always gives the same file
    #[arg(long)]
    pub no_date: bool,
    /// Overwrite OUT if it exists
    #[arg(long)]
    pub force: bool,
    /// Set from the global -q: no progress output
    #[arg(skip)]
    pub quiet: bool,
}

fn parse_piece_size_arg(s: &str) -> Result<u64, String> {
    crate::engine::create::parse_piece_size(s).map_err(|e| e.to_string())
}

pub fn run_create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    use std::io::{IsTerminal, Write};

    use anyhow::Context;

    use crate::engine::create::{CreateOptions, create_torrent};
    use crate::engine::metainfo::Metainfo;

    // Checked up front so a long hash is not wasted; the write below re-checks atomically.
    if !args.force && args.output.exists() {
        anyhow::bail!(
            "{}: already exists (use --force to overwrite)",
            args.output.display()
        );
    }
    let creation_date = if args.no_date {
        None
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    };
    let opts = CreateOptions {
        trackers: args.trackers.iter().map(|t| vec![t.clone()]).collect(),
        piece_length: args.piece_size,
        private: args.private,
        comment: args.comment.clone(),
        name: args.name.clone(),
        creation_date,
        ..CreateOptions::default()
    };

    let tty = std::io::stderr().is_terminal();
    let mut last_pct = None;
    let progress = |done: u64, total: u64| {
        if args.quiet {
            return;
        }
        let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100);
        // On a terminal redraw one line; in a log print every 10 % so it stays short.
        let step = if tty { 1 } else { 10 };
        if last_pct.is_some_and(|l: u64| pct / step == l / step) {
            return;
        }
        last_pct = Some(pct);
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\rhashing {}: {pct:3}%", args.path.display())
        } else {
            writeln!(err, "hashing {}: {pct:3}%", args.path.display())
        };
    };
    // Symlinks and special files are skipped with a tracing warning; show those on stderr even
    // before the application-wide logger exists, but only for this call.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(tty)
        .with_max_level(if args.quiet {
            tracing::Level::ERROR
        } else {
            tracing::Level::WARN
        })
        .finish();
    let result = tracing::subscriber::with_default(subscriber, || {
        create_torrent(&args.path, &opts, progress)
    });
    if tty && !args.quiet && last_pct.is_some() {
        eprintln!();
    }
    let bytes = result?;
    let meta = Metainfo::from_bytes(&bytes)
        .context("internal error: the torrent just made does not parse")?;

    write_output(&args.output, &bytes, args.force)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("info hash: {}", meta.info_hash);
    Ok(ExitCode::SUCCESS)
}

/// Without `force`, `create_new` refuses an OUT that appeared while hashing. With `force`,
/// write a sibling temp file and rename it over OUT, so a failure never leaves a truncated
/// file where a good one was.
fn write_output(out: &std::path::Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let write_new = |path: &std::path::Path| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        let r = f.write_all(bytes).and_then(|()| f.sync_all());
        if r.is_err() {
            // A half-written .torrent is worse than none.
            let _ = std::fs::remove_file(path);
        }
        r
    };
    if !force {
        return write_new(out).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!("already exists (use --force to overwrite)")
            }
            _ => e.into(),
        });
    }
    let file_name = out
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    write_new(&tmp)?;
    std::fs::rename(&tmp, out).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}
