//! The dashboard (SPEC §6): a ratatui client of the same data the CLI sees.
//!
//! Data flow: terminal events (a reader thread) and signals arrive as [`Input`]s, a modest
//! refresh tick polls the [`DataSource`] for a [`source::Snapshot`]; keys become
//! [`action::Action`]s through the [`keymap::Keymap`]; [`app::App::update`] changes state and
//! returns effects (engine commands), and [`views::render`] draws. A frame is drawn only after
//! something changed, so an idle dashboard costs next to nothing over ssh.

pub mod action;
pub mod app;
pub mod control_source;
pub mod fixture;
pub mod keymap;
pub mod market_view;
pub mod source;
pub mod theme;
pub mod views;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::Event;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;

use app::{App, Effect};
use keymap::{ConfigIssue, Keymap, line_of};
use source::DataSource;
use theme::ColorDepth;

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
                "{label}: line {}: [tui] color = {c:?}: use auto, truecolor, 256, 16 or none",
                key_line(text, "color")
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

/// The 1-based line where `key = …` is written (the first one), for messages about a value
/// whose span was lost in conversion.
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
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

/// The dashboard on any source (`bidtorrent demo` uses it on its swarm): the config's theme,
/// keys and refresh, the terminal set up and restored. The caller has set up logging to a
/// file; nothing is printed while it runs.
pub async fn run_on<S: DataSource>(
    source: &mut S,
    config: Option<&Path>,
    refresh_ms: Option<u64>,
) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal");
    }
    let cfg = load_config(config);
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
pub async fn drive<S: DataSource>(
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
