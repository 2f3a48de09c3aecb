//! The dashboard (SPEC §6): a ratatui client of the same data the CLI sees.
//!
//! Data flow: terminal events (a reader thread) and signals arrive as [`Input`]s, a modest
//! refresh tick polls the [`DataSource`] for a [`source::Snapshot`]; keys become
//! [`action::Action`]s through the [`keymap::Keymap`]; [`app::App::update`] changes state and
//! returns effects (engine commands), and [`views::render`] draws. A frame is drawn only after
//! something changed, so an idle dashboard costs next to nothing over ssh.

pub mod action;
pub mod app;
pub mod attached;
pub mod demo_source;
pub mod fixture;
pub mod keymap;
pub mod market_view;
pub mod source;
pub mod standalone;
pub mod theme;
pub mod views;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use crossterm::event::Event;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;

use crate::cli::{GlobalArgs, parse_size};
use app::{App, Effect};
use keymap::{ConfigIssue, Keymap, line_of};
use source::DataSource;
use theme::ColorDepth;

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Theme name (default, dusk, light, mono, or one in $XDG_CONFIG_HOME/bidtorrent/themes)
    /// or a path to a theme file; overrides the config and NO_COLOR
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Run the engine in this process even if a daemon is running
    #[arg(long)]
    pub standalone: bool,
    /// Download directory for torrents added in standalone mode
    #[arg(long, short = 'd', value_name = "D", default_value = ".")]
    pub dir: PathBuf,
    /// Address the standalone engine listens on for peers (a free port if taken)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,
    /// Global download limit for the standalone engine (e.g. 10M; 0 = unlimited)
    #[arg(long, value_name = "RATE", value_parser = parse_size, default_value = "0")]
    pub limit_down: u64,
    /// Global upload limit for the standalone engine (e.g. 512K; 0 = unlimited)
    #[arg(long, value_name = "RATE", value_parser = parse_size, default_value = "0")]
    pub limit_up: u64,
    /// How often to poll the engine, in milliseconds [default: 1000, or refresh_ms in config]
    #[arg(long, value_name = "MS")]
    pub refresh_ms: Option<u64>,
    /// A .torrent file to add at start (standalone; repeatable)
    #[arg(long, value_name = "TORRENT")]
    pub add: Vec<String>,
}

/// What the loop receives besides ticks.
#[derive(Debug)]
pub enum Input {
    Term(Event),
    /// A signal (SIGTERM, SIGINT, SIGHUP) or the input reader ending: leave cleanly.
    Quit(String),
}

/// The `[tui]` table of the config file. Other tables belong to other parts and are ignored.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TuiSection {
    theme: Option<String>,
    /// auto, truecolor, 256, 16, none
    color: Option<String>,
    #[serde(default)]
    mouse: bool,
    refresh_ms: Option<u64>,
    /// Checked for shape here; read again with spans for line numbers.
    #[serde(default)]
    keys: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default)]
pub struct TuiConfig {
    pub theme: Option<String>,
    pub color: Option<ColorDepth>,
    pub mouse: bool,
    pub refresh_ms: Option<u64>,
    pub keymap: Keymap,
    /// Problems found, each "PATH: line N: …"; the dashboard starts anyway and shows them.
    pub warnings: Vec<String>,
}

/// Reads `[tui]` from the config file text. Never fails: problems become warnings with
/// line numbers and the defaults stay.
pub fn parse_config(label: &str, text: &str) -> TuiConfig {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        tui: Option<toml::Spanned<toml::Value>>,
    }
    let mut cfg = TuiConfig::default();
    let warn = |cfg: &mut TuiConfig, i: ConfigIssue| {
        cfg.warnings.push(format!("{label}: {i}; using defaults"));
    };
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            warn(
                &mut cfg,
                ConfigIssue {
                    line,
                    message: e.message().to_string(),
                },
            );
            return cfg;
        }
    };
    let Some(tui) = file.tui else {
        return cfg;
    };
    let start = tui.span().start;
    let section: TuiSection = match tui.into_inner().try_into() {
        Ok(s) => s,
        Err(e) => {
            let e: toml::de::Error = e;
            warn(
                &mut cfg,
                ConfigIssue {
                    line: line_of(text, start),
                    message: format!("[tui]: {}", e.message()),
                },
            );
            return cfg;
        }
    };
    cfg.theme = section.theme;
    cfg.mouse = section.mouse;
    cfg.refresh_ms = section.refresh_ms;
    if let Some(c) = section.color {
        match ColorDepth::parse(&c) {
            Some(d) => cfg.color = d,
            None => cfg.warnings.push(format!(
                "{label}: [tui] color = {c:?}: use auto, truecolor, 256, 16 or none"
            )),
        }
    }
    // Spans inside a value converted with try_into are lost, so re-read the keys table with
    // spans straight from the text for line numbers.
    #[derive(serde::Deserialize)]
    struct KeysOnly {
        tui: KeysTui,
    }
    #[derive(serde::Deserialize)]
    struct KeysTui {
        #[serde(default)]
        keys: BTreeMap<String, toml::Spanned<toml::Value>>,
    }
    let keys = match toml::from_str::<KeysOnly>(text) {
        Ok(k) => k.tui.keys,
        Err(_) => {
            debug_assert!(section.keys.is_empty());
            BTreeMap::new()
        }
    };
    for issue in cfg.keymap.apply_overrides(text, &keys) {
        cfg.warnings
            .push(format!("{label}: {issue}; default keys kept for it"));
    }
    cfg
}

fn default_config_path() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    let base = etcetera::choose_base_strategy().ok()?;
    Some(base.config_dir().join("bidtorrent").join("config.toml"))
}

pub fn load_config(path: Option<&Path>) -> TuiConfig {
    let explicit = path.is_some();
    let Some(path) = path.map(Path::to_path_buf).or_else(default_config_path) else {
        return TuiConfig::default();
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_config(&path.display().to_string(), &text),
        Err(e) if explicit || e.kind() != std::io::ErrorKind::NotFound => {
            let mut c = TuiConfig::default();
            c.warnings
                .push(format!("{}: {e}; using defaults", path.display()));
            c
        }
        Err(_) => TuiConfig::default(),
    }
}

/// Picks the theme: `--theme`, else the config's, else `mono` under NO_COLOR, else default;
/// then reduces its colours to what the terminal shows. An explicit choice beats NO_COLOR, as
/// no-color.org asks.
pub fn choose_theme(flag: Option<&str>, cfg: &TuiConfig) -> (theme::Theme, Vec<String>) {
    let mut warnings = Vec::new();
    let explicit = flag.map(str::to_string).or_else(|| cfg.theme.clone());
    let no_color = explicit.is_none() && theme::no_color();
    let name = match (&explicit, no_color) {
        (Some(t), _) => t.clone(),
        (None, true) => "mono".to_string(),
        (None, false) => "default".to_string(),
    };
    let (t, err) = theme::load(&name);
    warnings.extend(err);
    let depth = if no_color {
        ColorDepth::None
    } else {
        cfg.color.unwrap_or_else(ColorDepth::detect)
    };
    (t.for_depth(depth), warnings)
}

/// Logs go to `$XDG_STATE_HOME/bidtorrent/tui.log`, never the screen. The guard flushes the
/// writer thread when dropped, so the caller keeps it for the whole run.
pub(crate) fn init_file_logging(
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
    if std::fs::create_dir_all(&dir).is_err() {
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
    for w in &warnings {
        tracing::warn!("{w}");
    }

    let socket = global.socket_path().ok();
    let daemon = socket
        .as_ref()
        .filter(|p| !args.standalone && std::os::unix::net::UnixStream::connect(p).is_ok())
        .cloned();
    let data_dir = global.data_dir()?;
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
    rt.block_on(async move {
        let mut note = match (&socket, args.standalone) {
            (_, true) => "engine in this process (--standalone)".to_string(),
            (Some(s), false) => format!("no daemon at {}: engine in this process", s.display()),
            (None, false) => "no daemon socket: engine in this process".to_string(),
        };
        if let Some(sock) = daemon {
            let s = sock.clone();
            match tokio::task::spawn_blocking(move || attached::AttachedSource::connect(s)).await? {
                Ok(mut source) => {
                    tracing::info!("dashboard attached to {}", sock.display());
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
        // `[market] enabled` and a ledger that answers: trade in this process, set up exactly
        // as the daemon does; otherwise the market views say why they are empty.
        let market = match crate::daemon::load_config(global) {
            Ok((full, _)) => crate::daemon::start_market(&full, &data_dir).await,
            Err(e) => crate::rpc::server::MarketSetup {
                enabled: true,
                unavailable: Some(format!("the config does not load: {e:#}")),
                ..Default::default()
            },
        };
        let mut source = standalone::StandaloneSource::start(
            args.listen,
            &data_dir,
            args.dir.clone(),
            (args.limit_down, args.limit_up),
            note,
            market,
        )
        .await?;
        tracing::info!(
            "dashboard standalone, listening on {}",
            source.session().listen_addr()
        );
        let r = drive(&mut source, &cfg, theme, warning, &args.add, refresh).await;
        source.shutdown().await;
        r
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The dashboard on any source (`bidtorrent demo` uses it on its swarm): the config's theme,
/// keys and refresh, the terminal set up and restored. The caller has set up logging to a
/// file; nothing is printed while it runs.
pub async fn run_on<S: DataSource>(
    source: &mut S,
    global: &GlobalArgs,
    refresh_ms: Option<u64>,
) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal");
    }
    let cfg = load_config(global.config.as_deref());
    let (theme, mut warnings) = choose_theme(None, &cfg);
    warnings.splice(0..0, cfg.warnings.clone());
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let refresh = Duration::from_millis(refresh_ms.or(cfg.refresh_ms).unwrap_or(1000).max(50));
    drive(source, &cfg, theme, warnings.first().cloned(), &[], refresh).await
}

/// Sets up the terminal, runs the loop on `source`, and restores the terminal whatever
/// happened.
async fn drive<S: DataSource>(
    source: &mut S,
    cfg: &TuiConfig,
    theme: theme::Theme,
    warning: Option<String>,
    adds: &[String],
    refresh: Duration,
) -> anyhow::Result<()> {
    let mut app = App::new(source.mode(), cfg.keymap.clone(), theme);
    if let Some(w) = warning {
        app.warn(w);
    }
    for t in adds {
        let cmd = source::Command::Add {
            source: t.clone(),
            dir: None,
            paused: false,
            peers: Vec::new(),
        };
        let r = source.command(cmd).await.map_err(|e| format!("{e:#}"));
        app.on_reply(r);
    }
    let mut terminal = setup_terminal(cfg.mouse)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    spawn_input_reader(tx.clone());
    spawn_signal_listener(tx);
    let r = run_loop(&mut terminal, &mut app, source, &mut rx, refresh).await;
    restore_terminal(cfg.mouse);
    r
}

fn log_display(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the log".into())
}

fn setup_terminal(mouse: bool) -> anyhow::Result<ratatui::DefaultTerminal> {
    // ratatui's init enters raw mode and the alternate screen and installs a panic hook that
    // leaves them; ours, chained in front, also turns off paste and mouse reporting.
    let terminal = ratatui::try_init()?;
    let mut out = std::io::stdout();
    crossterm::execute!(out, crossterm::event::EnableBracketedPaste)?;
    if mouse {
        crossterm::execute!(out, crossterm::event::EnableMouseCapture)?;
    }
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal(true);
        prev(info);
    }));
    Ok(terminal)
}

fn restore_terminal(mouse: bool) {
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(out, crossterm::event::DisableBracketedPaste);
    if mouse {
        let _ = crossterm::execute!(out, crossterm::event::DisableMouseCapture);
    }
    ratatui::restore();
}

/// crossterm's blocking reader on its own thread: it sleeps in poll(2) until input, so an
/// idle dashboard does not spin.
fn spawn_input_reader(tx: mpsc::UnboundedSender<Input>) {
    std::thread::spawn(move || {
        loop {
            match crossterm::event::read() {
                Ok(ev) => {
                    if tx.send(Input::Term(ev)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Input::Quit(format!("terminal input: {e}")));
                    return;
                }
            }
        }
    });
}

/// SIGTERM, SIGINT and SIGHUP (ssh dropped) leave the loop so the terminal is restored and the
/// engine stops cleanly (resume data written).
fn spawn_signal_listener(tx: mpsc::UnboundedSender<Input>) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => "SIGHUP",
        };
        let _ = tx.send(Input::Quit(name.to_string()));
    });
}

async fn refresh<S: DataSource>(app: &mut App, source: &mut S, sample: bool) -> bool {
    let focus = app.focus_id();
    match source.snapshot(focus.as_deref()).await {
        Ok(s) => {
            let changed = s != app.snapshot;
            app.on_snapshot(s, sample);
            changed
        }
        Err(e) => {
            app.warn(format!("engine: {e:#}"));
            true
        }
    }
}

async fn run_effects<S: DataSource>(app: &mut App, source: &mut S, effects: Vec<Effect>) {
    if effects.is_empty() {
        return;
    }
    for e in effects {
        match e {
            Effect::Command(c) => {
                tracing::debug!("command {c:?}");
                let r = source.command(c).await.map_err(|e| format!("{e:#}"));
                if let Err(e) = &r {
                    tracing::warn!("{e}");
                }
                app.on_reply(r);
            }
        }
    }
    refresh(app, source, false).await;
}

fn needs_detail(app: &App) -> bool {
    app.snapshot.detail.as_ref().map(|d| &d.id) != app.focus_id().as_ref()
}

/// The app loop: the binary runs it on the real terminal, tests on a `TestBackend` with
/// scripted input, so key-sequence tests exercise exactly this code.
pub async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    source: &mut S,
    rx: &mut mpsc::UnboundedReceiver<Input>,
    every: Duration,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    S: DataSource,
{
    refresh(app, source, true).await;
    if needs_detail(app) {
        refresh(app, source, false).await;
    }
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ticker.tick().await;
    let mut dirty = true;
    let mut closed = false;
    loop {
        if dirty {
            terminal.draw(|f| views::render(f, app))?;
        }
        if app.should_quit || closed {
            return Ok(());
        }
        tokio::select! {
            biased;
            input = rx.recv() => {
                let mut next = input;
                // Drain what is already queued, then draw once: a burst of keys or a paste
                // costs one frame.
                loop {
                    match next {
                        // Input ended (tests end their script this way): draw, then leave.
                        None => {
                            closed = true;
                            break;
                        }
                        Some(Input::Quit(why)) => {
                            tracing::info!("leaving: {why}");
                            return Ok(());
                        }
                        Some(Input::Term(ev)) => {
                            let effects = app.handle_event(ev);
                            run_effects(app, source, effects).await;
                            // A new focus (cursor moved) needs that torrent's detail before
                            // the next key acts on it.
                            if needs_detail(app) {
                                refresh(app, source, false).await;
                            }
                        }
                    }
                    if app.should_quit {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(i) => next = Some(i),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => next = None,
                    }
                }
                dirty = true;
            }
            _ = ticker.tick() => {
                let changed = refresh(app, source, true).await;
                dirty = changed || app.view == app::View::Graphs;
            }
        }
    }
}
