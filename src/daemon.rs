//! `bidtorrent daemon`: the engine headless, in the foreground, with its control socket.
//!
//! Startup: config → data dir → log → refuse if another daemon answers on the socket or holds
//! the data dir's lock → bind the socket owner-only → restore the saved session → serve.
//! SIGTERM/SIGINT (or the `shutdown` request): stop accepting, write resume data, announce
//! `stopped`, save the session, remove the socket, exit 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::cli::GlobalArgs;
use crate::config::Config;
use crate::engine::session::{Session, SessionConfig};
use crate::rpc::server::{Controller, ControllerConfig, MarketSetup, serve, until_true};
use crate::rpc::state;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address to listen on for peers (overrides the config's `listen`; port 0 picks one)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Also log to stderr (the log file is written as well unless the config turns it off)
    #[arg(long)]
    pub log_stderr: bool,
    /// Do not join the DHT (overrides the config's `[dht] enabled`)
    #[arg(long)]
    pub no_dht: bool,
}

/// Loads the config: `--config` must exist; the default path may be absent (defaults).
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<(Config, PathBuf)> {
    let path = global.config_path()?;
    let cfg = Config::load(&path, global.config.is_some())?;
    Ok((cfg, path))
}

pub fn run(global: &GlobalArgs, args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let (cfg, cfg_path) = load_config(global)?;
    let data_dir = global.data_dir()?;
    private_dir(&data_dir)?;
    let state_dir = global.state_dir()?;
    private_dir(&state_dir)?;
    init_logging(global, &cfg, &state_dir, args.log_stderr)?;
    let socket = global.socket_path()?;
    refuse_if_running(&socket)?;
    let _lock = lock_data_dir(&data_dir)?;
    let std_listener = bind_socket(&socket)?;
    // Paths inside state are absolute so a later `--data-dir` given relative still matches.
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(serve_until_stopped(
        cfg,
        cfg_path,
        args,
        data_dir,
        socket.clone(),
        std_listener,
    ));
    let _ = std::fs::remove_file(&socket);
    result
}

async fn serve_until_stopped(
    cfg: Config,
    cfg_path: PathBuf,
    args: DaemonArgs,
    data_dir: PathBuf,
    socket: PathBuf,
    std_listener: std::os::unix::net::UnixListener,
) -> anyhow::Result<ExitCode> {
    let saved = state::load(&state::state_path(&data_dir))
        .context("the session state is unreadable; fix or move it away (it was not changed)")?;
    let listen = args.listen.unwrap_or(cfg.listen);
    let session = Session::start(SessionConfig {
        listen,
        data_dir: data_dir.clone(),
        download_limit: cfg.limits.download.0,
        upload_limit: cfg.limits.upload.0,
    })
    .await?;
    if cfg.dht.enabled && !args.no_dht {
        let bootstrap = cfg.dht.bootstrap.clone();
        match session
            .enable_dht_beside_listener(bootstrap, Some(data_dir.clone()))
            .await
        {
            Ok(addr) => tracing::info!("DHT node on {addr}"),
            // Trackers and direct peers still work without it.
            Err(e) => tracing::warn!("DHT unavailable: {e}"),
        }
    }
    // The market's extension must be on the session before any torrent is restored.
    let market = start_market(&cfg, &data_dir).await;
    if let Some(m) = &market.market {
        session.register_extension(m.factory());
    }
    let download_dir = cfg.download_dir();
    let download_dir = std::path::absolute(&download_dir).unwrap_or(download_dir);
    let ctl = Controller::new(
        session.clone(),
        ControllerConfig {
            data_dir: data_dir.clone(),
            download_dir,
            max_peers: cfg.torrent.max_peers,
            upload_slots: cfg.torrent.upload_slots,
            sequential: cfg.torrent.sequential,
            tracker_interval: (cfg.torrent.tracker_interval > 0)
                .then(|| Duration::from_secs(cfg.torrent.tracker_interval)),
        },
    );
    ctl.set_market(market);
    for problem in ctl.restore(saved).await {
        tracing::error!("could not restore {problem}");
    }
    std_listener
        .set_nonblocking(true)
        .context("control socket")?;
    let listener = tokio::net::UnixListener::from_std(std_listener).context("control socket")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve(listener, ctl.clone(), stop_rx.clone()));
    if let Some(dir) = cfg.watch_dir() {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let every = Duration::from_secs(cfg.watch.interval_secs);
        tokio::spawn(watch_dir(ctl.clone(), dir, every, stop_rx));
    }
    tracing::info!(
        "daemon ready: pid {}, control socket {}, peers on port {}, config {}",
        std::process::id(),
        socket.display(),
        session.listen_port(),
        cfg_path.display()
    );
    let mut requested = ctl.shutdown_requested();
    tokio::select! {
        sig = shutdown_signal() => tracing::info!("{sig}: stopping"),
        _ = until_true(&mut requested) => tracing::info!("shutdown requested: stopping"),
    }
    // Stop accepting first, so no request races the shutdown.
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = std::fs::remove_file(&socket);
    ctl.finish().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Opens the wallet and joins the ledger when `[market] enabled`. Never fails the daemon: a
/// wallet or ledger problem is logged as a warning and reported by `status` as
/// `unavailable: <reason>`, and the daemon serves plain BitTorrent. The standalone dashboard
/// runs its market through this too, so both trade under the same rules.
pub async fn start_market(cfg: &Config, data_dir: &Path) -> MarketSetup {
    let mut setup = MarketSetup {
        enabled: cfg.market.enabled,
        ..MarketSetup::default()
    };
    if !cfg.market.enabled {
        return setup;
    }
    let dir = data_dir.join("wallet");
    let wallet = match crate::wallet::Wallet::open(&dir) {
        Ok(w) => Arc::new(w),
        Err(e) => {
            let why = format!("cannot open the wallet in {}: {e}", dir.display());
            tracing::warn!("market unavailable, running as plain BitTorrent: {why}");
            setup.unavailable = Some(why);
            return setup;
        }
    };
    let ledger = crate::wallet::LedgerClient::new(cfg.market.ledger.clone());
    setup.wallet = Some(wallet.clone());
    setup.ledger_addr = cfg.market.ledger.clone();
    // Bounded: a ledger that accepts but never answers must not hold up the daemon.
    let joined = tokio::time::timeout(
        Duration::from_secs(10),
        crate::market::Market::new(wallet, ledger, cfg.market.market_config()),
    )
    .await;
    match joined {
        Ok(Ok(m)) => {
            tracing::info!(
                "market on: wallet {}, ledger {}, balance {}",
                m.wallet().public_key(),
                cfg.market.ledger,
                m.balance()
            );
            setup.market = Some(m);
        }
        Ok(Err(e)) => {
            let why = format!("ledger {}: {e}", cfg.market.ledger);
            tracing::warn!("market unavailable, running as plain BitTorrent: {why}");
            setup.unavailable = Some(why);
        }
        Err(_) => {
            let why = format!("ledger {}: no answer within 10 s", cfg.market.ledger);
            tracing::warn!("market unavailable, running as plain BitTorrent: {why}");
            setup.unavailable = Some(why);
        }
    }
    setup
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Creates `dir` (and parents) and makes it owner-only when we created it.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} owner-only", dir.display()))
}

fn init_logging(
    global: &GlobalArgs,
    cfg: &Config,
    state_dir: &Path,
    stderr: bool,
) -> anyhow::Result<()> {
    use tracing_subscriber::prelude::*;
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => cfg.log.level.as_str(),
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("bidtorrent={level}")));
    let file_layer = if cfg.log.file {
        let path = state_dir.join("daemon.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening the log {}", path.display()))?;
        Some(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file)),
        )
    } else {
        None
    };
    let stderr_layer = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    Ok(())
}

/// Refuses to start when a daemon answers on `socket`; removes a stale socket file.
fn refuse_if_running(socket: &Path) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(socket) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{} exists and is not a socket; refusing to replace it",
            socket.display()
        );
    }
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(stream) => {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            let pid = serde_json::from_str::<crate::rpc::proto::Hello>(&line)
                .map(|h| h.pid.to_string())
                .unwrap_or_else(|_| "unknown".into());
            bail!(
                "a daemon is already running on {} (pid {pid})",
                socket.display()
            );
        }
        Err(_) => {
            tracing::info!("removing stale socket {}", socket.display());
            std::fs::remove_file(socket)
                .with_context(|| format!("removing stale socket {}", socket.display()))?;
            Ok(())
        }
    }
}

/// Holds an advisory lock on `data_dir/daemon.pid` for the daemon's life: two daemons on
/// one data dir would corrupt each other's state even on different sockets.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("daemon.pid");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let mut pid = String::new();
        let _ = f.read_to_string(&mut pid);
        let pid = pid.trim();
        bail!(
            "a daemon is already running with data dir {} (pid {})",
            data_dir.display(),
            if pid.is_empty() { "unknown" } else { pid }
        );
    }
    f.set_len(0)?;
    writeln!(f, "{}", std::process::id())?;
    f.flush()?;
    Ok(f)
}

/// Binds the socket owner-only: the directory is made 0700 when we create it, and the umask
/// is tightened around bind(2) so the socket is never reachable by others, even briefly.
fn bind_socket(socket: &Path) -> anyhow::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir(dir)?;
    }
    // SAFETY: umask(2) only changes this process's file-creation mask; no threads create
    // files yet (the runtime starts afterwards).
    let old = unsafe { libc::umask(0o177) };
    let bound = std::os::unix::net::UnixListener::bind(socket);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.with_context(|| format!("binding {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} owner-only", socket.display()))?;
    Ok(listener)
}

/// Adds each .torrent dropped into `dir` once: renamed `.added` on success (or when it was
/// already in the session), `.invalid` with the reason logged otherwise.
async fn watch_dir(
    ctl: Arc<Controller>,
    dir: PathBuf,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tracing::info!("watching {} for .torrent files", dir.display());
    loop {
        scan_watch_dir(&ctl, &dir).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = until_true(&mut stop) => return,
        }
    }
}

async fn scan_watch_dir(ctl: &Arc<Controller>, dir: &Path) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("watch dir {}: {e}", dir.display());
            return;
        }
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "torrent") && p.is_file())
        .collect();
    found.sort();
    for path in found {
        // A file still being written would look broken; leave it for the next scan.
        let fresh = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < Duration::from_millis(500));
        if fresh {
            continue;
        }
        let Some(src) = path.to_str() else {
            tracing::warn!("watch dir: {} is not UTF-8; skipped", path.display());
            continue;
        };
        let r = ctl.add_one(src, None, false, false, &[]).await;
        let already = !r.ok
            && r.message
                .as_deref()
                .is_some_and(|m| m.starts_with("already added"));
        let suffix = if r.ok || already { "added" } else { "invalid" };
        if r.ok {
            tracing::info!(
                "watch dir: added {} as #{}",
                path.display(),
                r.id.unwrap_or(0)
            );
        } else {
            tracing::warn!(
                "watch dir: {}: {}",
                path.display(),
                r.message.as_deref().unwrap_or("failed")
            );
        }
        let mut to = path.clone().into_os_string();
        to.push(".");
        to.push(suffix);
        if let Err(e) = std::fs::rename(&path, &to) {
            tracing::error!("watch dir: renaming {}: {e}", path.display());
        }
    }
}
