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
use crate::cli::shutdown_signal;
use crate::config::Config;
use crate::rpc::controller::Controller;
use crate::rpc::host::{HostOptions, start_controller};
use crate::rpc::server::{serve, until_true};

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
    /// Control socket to create (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or
    /// control.sock in the data dir when --data-dir is given or there is no runtime dir)
    #[arg(long, value_name = "PATH", env = "BIDTORRENT_SOCKET")]
    pub socket: Option<std::path::PathBuf>,
}

/// Loads the config: `--config` must exist; the default path may be absent (defaults).
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<(Config, PathBuf)> {
    let path = global.config_path()?;
    let cfg = Config::load(&path, global.config.is_some())?;
    Ok((cfg, path))
}

pub fn run(global: &GlobalArgs, args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let (cfg, cfg_path) = load_config(global)?;
    let data_dir = private_data_dir(global)?;
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
    let quiet = global.quiet;
    let result = runtime.block_on(serve_until_stopped(
        cfg,
        cfg_path,
        args,
        data_dir,
        socket.clone(),
        std_listener,
        quiet,
    ));
    let _ = std::fs::remove_file(&socket);
    // Everything is saved; a web seed's blocking range request still in flight must not hold
    // the exit for its whole timeout.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

async fn serve_until_stopped(
    cfg: Config,
    cfg_path: PathBuf,
    args: DaemonArgs,
    data_dir: PathBuf,
    socket: PathBuf,
    std_listener: std::os::unix::net::UnixListener,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let log_file = cfg.log.file;
    let ctl = start_controller(
        &cfg,
        &data_dir,
        HostOptions {
            listen: args.listen,
            no_dht: args.no_dht,
            persist: true,
            ..HostOptions::default()
        },
    )
    .await?;
    let session = ctl.session.clone();
    std_listener
        .set_nonblocking(true)
        .context("control socket")?;
    let listener = tokio::net::UnixListener::from_std(std_listener).context("control socket")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve(listener, ctl.clone(), stop_rx.clone()));
    // The Transmission door: a second way into the same controller, when configured.
    let transmission = match &cfg.rpc.http {
        Some(h) => {
            let l = crate::rpc::transmission::bind(h)
                .await
                .with_context(|| format!("[rpc.http] listen {}", h.listen))?;
            let addr = l
                .local_addr()
                .map_or_else(|_| h.listen.to_string(), |a| a.to_string());
            tracing::info!(
                "Transmission RPC on http://{addr}{}{}",
                crate::rpc::transmission::RPC_PATH,
                if h.username.is_empty() {
                    ""
                } else {
                    " (with a password)"
                }
            );
            Some(tokio::spawn(crate::rpc::transmission::serve(
                l,
                ctl.clone(),
                h.clone(),
                stop_rx.clone(),
            )))
        }
        None => None,
    };
    if let Some(dir) = cfg.watch_dir() {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let every = Duration::from_secs(cfg.watch.interval_secs);
        tokio::spawn(watch_dir(ctl.clone(), dir, every, stop_rx));
    }
    // In the foreground a person is watching: one line says it is up and where to look,
    // whatever the log settings (the log has the rest).
    if !quiet {
        eprintln!(
            "bidtorrent daemon ready: pid {}, control socket {}, peers on port {}{}",
            std::process::id(),
            socket.display(),
            session.listen_port(),
            if log_file {
                ", log daemon.log in the state dir"
            } else {
                ""
            }
        );
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
    if let Some(t) = transmission {
        let _ = t.await;
    }
    let _ = std::fs::remove_file(&socket);
    ctl.finish().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Creates `dir` (and its parents, as usual) and makes it owner-only when we created it. The
/// leaf is created 0700 from the start, so there is no moment another user could open it.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // Another process made it meanwhile; it made it the same way.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    // The umask may only remove bits; set them exactly anyway.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} owner-only", dir.display()))
}

/// The data dir, created owner-only by whichever command comes first (daemon, `download`,
/// `seed`, the dashboard): it holds session.json, the .torrent copies, the wallet. The default
/// dir is ours alone, so one an older version left open to others (issue 17: `download` made
/// it 0755) is closed now; a `--data-dir` the user chose is left as they set it.
pub fn private_data_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = global.data_dir()?;
    private_dir(&dir)?;
    if global.data_dir.is_none()
        && let Ok(meta) = std::fs::metadata(&dir)
        // SAFETY: geteuid has no preconditions.
        && meta.uid() == unsafe { libc::geteuid() }
        && meta.mode() & 0o077 != 0
    {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} owner-only", dir.display()))?;
        tracing::info!("made {} owner-only", dir.display());
    }
    Ok(dir)
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
pub(crate) fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
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
