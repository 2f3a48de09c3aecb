//! `bidtorrent` / `bidtorrent tui`: the dashboard's arguments, and which controller it drives:
//! a running daemon's over its control socket, or one started in this process from the same
//! config, by the same code as the daemon's ([`start_controller`]).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::cli::{GlobalArgs, parse_size};
use crate::config::Config;
use crate::rpc::control::{Local, Socket};
use crate::rpc::host::{HostOptions, start_controller};
use crate::tui::control_source::ControlSource;
use crate::tui::source::Mode;
use crate::tui::{choose_theme, drive, load_config, theme};

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Theme name (default, dusk, light, mono, or one in $XDG_CONFIG_HOME/bidtorrent/themes)
    /// or a path to a theme file; overrides the config and NO_COLOR
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Run the engine in this process even if a daemon is running
    #[arg(long)]
    pub standalone: bool,
    /// Download directory for torrents added in standalone mode [default: the config's
    /// download_dir]
    #[arg(long, short = 'd', value_name = "D")]
    pub dir: Option<PathBuf>,
    /// Address the standalone engine listens on for peers, a free port if taken [default: the
    /// config's listen]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Global download limit for the standalone engine (e.g. 10M; 0 = unlimited) [default:
    /// the config's]
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub limit_down: Option<u64>,
    /// Global upload limit for the standalone engine (e.g. 512K; 0 = unlimited) [default: the
    /// config's]
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub limit_up: Option<u64>,
    /// Do not join the DHT in standalone mode (overrides the config's `[dht] enabled`)
    #[arg(long)]
    pub no_dht: bool,
    /// Keep the standalone session (torrents, strategies, limits) in the data dir and restore
    /// it next time, as the daemon does; off by default, so standalone writes no session file
    #[arg(long)]
    pub persist: bool,
    /// How often to poll the engine, in milliseconds [default: 1000, or refresh_ms in config]
    #[arg(long, value_name = "MS")]
    pub refresh_ms: Option<u64>,
    /// A .torrent file or magnet link to add at start (repeatable)
    #[arg(long, value_name = "TORRENT")]
    pub add: Vec<String>,
    #[command(flatten)]
    pub conn: super::ConnArgs,
}

/// Logs go to `$XDG_STATE_HOME/bidtorrent/tui.log`, never the screen. The guard flushes the
/// writer thread when dropped, so the caller keeps it for the whole run.
pub fn init_file_logging(
    global: &GlobalArgs,
) -> (
    Option<tracing_appender::non_blocking::WorkerGuard>,
    Option<PathBuf>,
) {
    use etcetera::BaseStrategy;
    let dir = etcetera::choose_base_strategy()
        .ok()
        .and_then(|b| b.state_dir())
        .map(|d| d.join("bidtorrent"))
        .or_else(|| global.data_dir().ok().map(|d| d.join("logs")));
    let Some(dir) = dir else {
        return (None, None);
    };
    if crate::cli::daemon::private_dir(&dir).is_err() {
        return (None, None);
    }
    let appender = tracing_appender::rolling::never(&dir, "tui.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("bidtorrent={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    (Some(guard), Some(dir.join("tui.log")))
}

/// `bidtorrent` / `bidtorrent tui`.
fn log_display(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the log".into())
}

pub fn run(global: &GlobalArgs, args: TuiArgs) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal; for scripts use the other commands");
    }
    let (_guard, log_path) = init_file_logging(global);
    let cfg = load_config(global.config.as_deref());
    let (theme, theme_warnings) = choose_theme(args.theme.as_deref(), &cfg);
    if (args.theme.is_some() || cfg.theme.is_some()) && theme::no_color() {
        // crossterm drops all colour under NO_COLOR; an explicit --theme wins (no-color.org).
        crossterm::style::force_color_output(true);
    }
    let mut warnings = cfg.warnings.clone();
    warnings.extend(theme_warnings);
    let socket = global.socket_path().ok();
    let daemon = socket
        .as_ref()
        .filter(|p| !args.standalone && std::os::unix::net::UnixStream::connect(p).is_ok())
        .cloned();
    // The engine in this process runs under the same config as the daemon would.
    let full = if daemon.is_some() {
        Config::default()
    } else {
        match crate::cli::daemon::load_config(global) {
            Ok((c, _)) => c,
            Err(e) => {
                warnings.push(format!("the config does not load ({e:#}); using defaults"));
                Config::default()
            }
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let data_dir = global.data_dir()?;
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let refresh = Duration::from_millis(args.refresh_ms.or(cfg.refresh_ms).unwrap_or(1000).max(50));
    let warning = warnings.first().map(|w| {
        format!(
            "{w}{}",
            if warnings.len() > 1 {
                format!(
                    " (+{} more in {})",
                    warnings.len() - 1,
                    log_display(&log_path)
                )
            } else {
                String::new()
            }
        )
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let mut note = match (&socket, args.standalone) {
            (_, true) => "engine in this process (--standalone)".to_string(),
            (Some(s), false) => format!("no daemon at {}: engine in this process", s.display()),
            (None, false) => "no daemon socket: engine in this process".to_string(),
        };
        if let Some(sock) = daemon {
            let s = sock.clone();
            match tokio::task::spawn_blocking(move || Socket::connect(s)).await? {
                Ok(control) => {
                    tracing::info!("dashboard attached to {}", sock.display());
                    let mut source = ControlSource::new(control, Mode::Attached(sock));
                    return drive(&mut source, &cfg, theme, warning, &args.add, refresh).await;
                }
                // Something answers but is not a daemon we can talk to: say so, run here.
                Err(e) => {
                    note = format!(
                        "daemon at {} unusable ({e}): engine in this process",
                        sock.display()
                    )
                }
            }
        }
        crate::cli::daemon::private_dir(&data_dir)?;
        // Two engines persisting into one data dir would overwrite each other's session.
        let _lock = if args.persist {
            Some(crate::cli::daemon::lock_data_dir(&data_dir)?)
        } else {
            None
        };
        let limits = (args.limit_down.is_some() || args.limit_up.is_some()).then(|| {
            (
                args.limit_down.unwrap_or(full.limits.download.0),
                args.limit_up.unwrap_or(full.limits.upload.0),
            )
        });
        let ctl = start_controller(
            &full,
            &data_dir,
            HostOptions {
                listen: args.listen,
                download_dir: args.dir.clone(),
                limits,
                no_dht: args.no_dht,
                persist: args.persist,
                any_port_if_taken: true,
            },
        )
        .await?;
        tracing::info!(
            "dashboard standalone, listening on {}",
            ctl.session.listen_addr()
        );
        let mut source = ControlSource::new(Local(ctl.clone()), Mode::Standalone { note });
        let r = drive(&mut source, &cfg, theme, warning, &args.add, refresh).await;
        // Resume data and `stopped` announces, bounded so a dead tracker cannot hold the exit.
        let _ = tokio::time::timeout(Duration::from_secs(5), ctl.finish()).await;
        r
    });
    // Dropping a runtime waits for every blocking task, such as a web seed's range request
    // stuck on a silent server (up to its 15 s timeout); the state that matters is saved.
    rt.shutdown_timeout(Duration::from_millis(500));
    result?;
    Ok(ExitCode::SUCCESS)
}
