//! The command line (SPEC §2): argument parsing and the handlers at the binary's edge.
//! Handlers return `anyhow::Result`; library modules below use typed errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// `println!` for command output. A reader that goes away early (`bidtorrent ls | head -3`)
/// ends the command at once with status 0 and nothing on stderr, as `ls` or `grep` do; any
/// other write error is reported once. (Rust ignores SIGPIPE, so a plain `println!` panics.)
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::write_out(format_args!($($t)*))
    };
}

pub mod client;
pub mod create;
pub mod daemon;
pub mod demo;
pub mod history;
pub mod ledger;
pub mod oneshot;
pub mod tui;
pub mod wallet;

use create::{CreateArgs, run_create};

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
    pub tui: tui::TuiArgs,
}

/// The heading global options are listed under in every command's help, apart from the
/// command's own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub data_dir: Option<PathBuf>,
    /// The control socket in force: the command's `--socket` (see [`ConnArgs`]), else the
    /// one given before the command. Not an option itself, so commands that never talk to a
    /// daemon do not list it.
    #[arg(skip)]
    pub socket: Option<PathBuf>,
    /// More log output (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Less output
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Seconds to wait for the daemon's answer, as [`GlobalArgs::socket`].
    #[arg(skip)]
    pub timeout: Option<u64>,
}

/// The heading of the options that say how to reach the daemon.
const CONNECTION: &str = "Daemon connection";

/// How a command reaches the daemon. Only the commands that talk to one carry these (the
/// dashboard, `wallet` and every remote-control command), so `create --help` does not offer a
/// socket it would ignore.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnArgs {
    /// Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or
    /// control.sock in the data dir when --data-dir is given or there is no runtime dir)
    #[arg(
        long,
        value_name = "PATH",
        env = "BIDTORRENT_SOCKET",
        help_heading = CONNECTION
    )]
    pub socket: Option<PathBuf>,
    /// Seconds to wait for the daemon's answer (default per command: 30, add and rm 600,
    /// recheck 3600; 0 = no limit)
    #[arg(
        long,
        value_name = "SECS",
        env = "BIDTORRENT_TIMEOUT",
        help_heading = CONNECTION
    )]
    pub timeout: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the dashboard: attach to a running daemon, or run the engine in this process
    Tui(tui::TuiArgs),
    /// Download one torrent in the foreground; exit 0 once every piece is verified
    Download(oneshot::DownloadArgs),
    /// Verify the data of a torrent, then seed it until killed
    Seed(oneshot::SeedArgs),
    /// The wallet: identity, balance, payment channels, vouchers, history
    Wallet(wallet::WalletArgs),
    /// Run and administer a ledger that escrows and settles payment channels
    Ledger(ledger::LedgerArgs),
    /// Make a .torrent from a file or directory
    Create(CreateArgs),
    /// A whole token market on 127.0.0.1: embedded ledger, seeders, bidding and plain leechers
    Demo(demo::DemoArgs),
    /// Run the engine headless with its control socket (foreground; for systemd, tmux, ssh)
    Daemon(daemon::DaemonArgs),
    /// Add .torrent files or magnet links to the running daemon (`-` reads one per line)
    Add(client::AddArgs),
    /// Show the daemon: pid, port, rates, limits, and whether the market trades
    Status(client::OutputArgs),
    /// List the daemon's torrents
    Ls(client::LsArgs),
    /// Show one torrent: progress, files, trackers
    Info(client::OneArgs),
    /// Show the peers of one torrent (flags, rates, market bids and payments)
    Peers(client::OneArgs),
    /// Show the files of one torrent with their progress and priority
    Files(client::OneArgs),
    /// Set file priorities: `prio ID 0 2 skip`, `prio ID all normal`
    Prio(client::PrioArgs),
    /// Pause torrents: close their peers and stop announcing
    Pause(client::TargetArgs),
    /// Resume paused torrents
    Resume(client::TargetArgs),
    /// Remove torrents from the daemon (the data stays unless --delete-data)
    Rm(client::RmArgs),
    /// Hash the data of torrents again
    Recheck(client::TargetArgs),
    /// Announce to the trackers now
    Reannounce(client::TargetArgs),
    /// Show or set rate limits, global or of one torrent
    Limit(client::LimitArgs),
    /// Show or set the market's buyer and seller strategies, global or of one torrent
    Strategy(client::StrategyArgs),
    /// Set the labels of torrents (replacing theirs), or clear them with --clear
    Label(client::LabelArgs),
    /// Show or set seeding rules (ratio and idle limits, the action at the limit), global or
    /// of one torrent
    Seeding(client::SeedingArgs),
    /// The configuration file: where it is, its defaults, whether it is valid
    Config(client::ConfigArgs),
    /// Print shell completions (also committed under completions/)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; the pages of every command are committed under man/)
    Man,
}

impl Command {
    /// The daemon-connection options of a command that talks to the daemon.
    fn conn(&self) -> Option<ConnArgs> {
        Some(
            match self {
                Command::Tui(a) => &a.conn,
                Command::Wallet(a) => return Some(a.conn()),
                Command::Daemon(a) => {
                    return Some(ConnArgs {
                        socket: a.socket.clone(),
                        timeout: None,
                    });
                }
                Command::Add(a) => &a.out.conn,
                Command::Status(a) => &a.conn,
                Command::Ls(a) => &a.out.conn,
                Command::Info(a) | Command::Peers(a) | Command::Files(a) => &a.out.conn,
                Command::Prio(a) => &a.out.conn,
                Command::Pause(a)
                | Command::Resume(a)
                | Command::Recheck(a)
                | Command::Reannounce(a) => &a.out.conn,
                Command::Rm(a) => &a.targets.out.conn,
                Command::Limit(a) => &a.out.conn,
                Command::Strategy(a) => &a.out.conn,
                Command::Label(a) => &a.out.conn,
                Command::Seeding(a) => &a.out.conn,
                Command::Download(_)
                | Command::Seed(_)
                | Command::Ledger(_)
                | Command::Create(_)
                | Command::Demo(_)
                | Command::Config(_)
                | Command::Completions { .. }
                | Command::Man => return None,
            }
            .clone(),
        )
    }
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
    raise_fd_limit();
    let cli = match command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bidtorrent: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: many errors already quote their
/// source in their own message ("cannot read X: No such file"), and anyhow's `{:#}` would
/// print it again.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        // A bare label ("notatorrent") that the cause repeats in full sentence form.
        if !line.is_empty() && text.contains(line.as_str()) {
            line = text;
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    // Outside text (a file name, a tracker's reason) may hold escapes; line breaks in our own
    // multi-line messages (a config error's snippet) stay.
    line.split('\n')
        .map(|l| crate::units::printable(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    // `bidtorrent --socket S ls` and `bidtorrent ls --socket S` both work: the command's own
    // option wins over the one given before it.
    let given = cli.command.as_ref().and_then(Command::conn);
    let before = &cli.tui.conn;
    cli.global.socket = given
        .as_ref()
        .and_then(|c| c.socket.clone())
        .or_else(|| before.socket.clone());
    cli.global.timeout = given.and_then(|c| c.timeout).or(before.timeout);
    let Some(command) = cli.command else {
        return tui::run(&cli.global, cli.tui);
    };
    match command {
        Command::Tui(args) => tui::run(&cli.global, args),
        Command::Download(args) => oneshot::download(&cli.global, args),
        Command::Seed(args) => oneshot::seed(&cli.global, args),
        Command::Wallet(args) => wallet::run_wallet(&cli.global, args),
        Command::Ledger(args) => ledger::run_ledger(&cli.global, args),
        Command::Demo(args) => demo::run(&cli.global, args),
        Command::Create(mut args) => {
            args.quiet |= cli.global.quiet;
            run_create(args)
        }
        Command::Daemon(args) => daemon::run(&cli.global, args),
        Command::Add(a) => client::add(&cli.global, a),
        Command::Status(a) => client::status(&cli.global, a),
        Command::Ls(a) => client::ls(&cli.global, a),
        Command::Info(a) => client::info(&cli.global, a),
        Command::Peers(a) => client::peers(&cli.global, a),
        Command::Files(a) => client::files(&cli.global, a),
        Command::Prio(a) => client::prio(&cli.global, a),
        Command::Pause(a) => client::batch(&cli.global, "pause", a),
        Command::Resume(a) => client::batch(&cli.global, "resume", a),
        Command::Rm(a) => client::rm(&cli.global, a),
        Command::Recheck(a) => client::batch(&cli.global, "recheck", a),
        Command::Reannounce(a) => client::batch(&cli.global, "reannounce", a),
        Command::Limit(a) => client::limit(&cli.global, a),
        Command::Strategy(a) => client::strategy(&cli.global, a),
        Command::Label(a) => client::label(&cli.global, a),
        Command::Seeding(a) => client::seeding(&cli.global, a),
        Command::Config(a) => client::config(&cli.global, a),
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

/// Raises the soft descriptor limit to the hard one. The soft limit is commonly 1 024 while
/// the hard one is far higher; a session of a thousand torrents plus its peers needs more, and
/// only the process itself may raise it. Failure is harmless: the storage's descriptor cache
/// sizes itself from whatever limit is in force.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The completion script for `shell`, generated from the clap definitions.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command(), "bidtorrent", &mut out);
    out
}

/// The man page (roff), generated from the clap definitions.
/// The command line as parsed, completed and documented.
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command()).render(&mut out)?;
    out.extend_from_slice(MAN_EXTRA.as_bytes());
    Ok(out)
}

/// Sections clap does not write: what a reader of `man bidtorrent` looks for first.
const MAN_EXTRA: &str = r#".SH EXAMPLES
.TP
\fBbidtorrent daemon &\fR
Run the engine in the background (or under systemd or tmux).
.TP
\fBbidtorrent add ~/t/*.torrent \-\-dir /data\fR
Add torrents to the daemon; \fB\-\fR reads one source per line from stdin.
.TP
\fBbidtorrent ls\fR; \fBbidtorrent info 3\fR; \fBbidtorrent peers 3\fR
List torrents with ETA and ratio; one torrent; its peers.
.TP
\fBbidtorrent prio 3 0 2 skip\fR
Stop fetching files 0 and 2 of torrent 3 (\fBbidtorrent files 3\fR numbers them).
.TP
\fBbidtorrent\fR
Open the dashboard: attached to the daemon, or with the engine in this process.
.TP
\fBbidtorrent download 'magnet:?xt=urn:btih:...' \-\-dir .\fR
Download one torrent in the foreground and exit when it is complete.
.SH FILES
.TP
\fI$XDG_CONFIG_HOME/bidtorrent/config.toml\fR
The configuration (\fBbidtorrent config default\fR prints every key).
.TP
\fI$XDG_DATA_HOME/bidtorrent/\fR
Session, resume data, .torrent copies, the wallet (\fB\-\-data\-dir\fR moves it).
.TP
\fI$XDG_RUNTIME_DIR/bidtorrent/control.sock\fR
The daemon's control socket, owner-only.
.TP
\fI$XDG_STATE_HOME/bidtorrent/daemon.log\fR, \fItui.log\fR
Logs of the daemon and the dashboard.
.SH ENVIRONMENT
.TP
\fBBIDTORRENT_SOCKET\fR
The control socket, as \fB\-\-socket\fR.
.TP
\fBRUST_LOG\fR
Log filter, e.g. \fBbidtorrent=debug\fR.
.TP
\fBNO_COLOR\fR
The dashboard uses the \fBmono\fR theme unless \fB\-\-theme\fR is given.
.TP
\fBXDG_CONFIG_HOME\fR, \fBXDG_DATA_HOME\fR, \fBXDG_STATE_HOME\fR, \fBXDG_RUNTIME_DIR\fR
Where the files above live.
"#;

/// `bidtorrent.1` and one `bidtorrent-CMD.1` per subcommand, as (file name, roff).
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = vec![("bidtorrent.1".to_string(), man_page()?)];
    let mut cmd = command();
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("bidtorrent-{}", sub.get_name());
        let mut out = Vec::new();
        clap_mangen::Man::new(sub.clone().display_name(name.clone())).render(&mut out)?;
        pages.push((format!("{name}.1"), out));
    }
    Ok(pages)
}

/// Writes command output to stdout; see [`outln!`].
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|_| o.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("bidtorrent: writing the output: {e}");
            std::process::exit(1);
        }
        std::process::exit(0);
    }
}

/// SIGTERM or SIGINT, whichever comes first; names the one that came (for the log). The
/// handlers are installed when this is called, not when the future is first polled, so a
/// signal sent the moment a command says it is ready is never the default (fatal) one.
pub fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        let (Ok(mut term), Ok(mut int)) = (term, int) else {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
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

pub use crate::units::parse_size;

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
