//! Drawing: a pure function of [`App`] onto a ratatui frame. One file per view; this module
//! lays out the frame (title bar, body, status bar) and holds shared formatting helpers.

pub mod files;
pub mod graphs;
pub mod help;
pub mod market;
pub mod peers;
pub mod pieces;
pub mod prompt;
pub mod torrents;
pub mod trackers;
pub mod wallet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Focus, Tab, View};
use super::source::Mode;

/// Below this the layout cannot hold a table and a detail pane; 80×24 is the design minimum.
pub const MIN_W: u16 = 60;
pub const MIN_H: u16 = 16;

pub fn render(f: &mut Frame, app: &App) {
    let area = f.area();
    let th = &app.theme;
    f.buffer_mut().set_style(area, th.base);
    if area.width < MIN_W || area.height < MIN_H {
        let msg = format!(
            "terminal too small: {}×{} (need at least {MIN_W}×{MIN_H}; 80×24 recommended)",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    title_bar(f, app, top);
    match app.view {
        View::Torrents => torrents_view(f, app, body),
        View::Wallet => wallet::render(f, app, body),
        View::Graphs => graphs::render(f, app, body),
    }
    prompt::status_bar(f, app, bottom);
    prompt::overlays(f, app, area);
    if app.help {
        help::render(f, app, area);
    }
}

fn title_bar(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let mut spans = vec![Span::styled(" bidtorrent ", th.title)];
    for (i, (v, name)) in [
        (View::Torrents, "Torrents"),
        (View::Wallet, "Wallet"),
        (View::Graphs, "Graphs"),
    ]
    .iter()
    .enumerate()
    {
        let style = if app.view == *v {
            th.tab_active
        } else {
            th.tab
        };
        spans.push(Span::styled(format!(" {} {name} ", i + 1), style));
        spans.push(Span::raw(" "));
    }
    let t = &app.snapshot.totals;
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let rates = format!("↓ {}  ↑ {} ", rate(t.down_rate), rate(t.up_rate));
    let count = format!(" {} torrents ", app.snapshot.torrents.len());
    // The torrent count gives way first on narrow terminals, then the rates.
    let right = if used + rates.chars().count() + count.chars().count() <= usize::from(area.width) {
        format!("{rates}{count}")
    } else if used + rates.chars().count() <= usize::from(area.width) {
        rates
    } else {
        String::new()
    };
    let pad = usize::from(area.width).saturating_sub(used + right.chars().count());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(right, th.accent));
    f.render_widget(Line::from(spans), area);
}

fn torrents_view(f: &mut Frame, app: &App, area: Rect) {
    // The table gets ~40 % but at least 5 rows; the detail pane the rest.
    let table_h = (area.height * 2 / 5).max(5);
    let [table, detail] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Fill(1)]).areas(area);
    torrents::render(f, app, table);
    detail_pane(f, app, detail);
}

fn detail_pane(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let mut title = vec![Span::raw(" ")];
    for t in Tab::ALL {
        let style = if t == app.tab { th.tab_active } else { th.tab };
        title.push(Span::styled(format!(" {} ", t.title()), style));
        title.push(Span::raw(" "));
    }
    if let Some(sel) = app.selected() {
        title.push(Span::styled(
            format!("{} ", truncate(&sel.name, 40)),
            th.dim,
        ));
    }
    let border = if app.focus == Focus::Detail {
        th.border_focus
    } else {
        th.border
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(d) = app
        .snapshot
        .detail
        .as_ref()
        .filter(|d| Some(&d.id) == app.selected().map(|s| &s.id))
    else {
        let msg = if app.snapshot.torrents.is_empty() {
            format!(
                "No torrents. Press {} to add a .torrent path or magnet link, ? for help.",
                app.key_for(super::action::Action::AddPrompt)
            )
        } else {
            "loading…".to_string()
        };
        f.render_widget(Paragraph::new(msg).style(th.dim), inner);
        return;
    };
    match app.tab {
        Tab::Peers => peers::render(f, app, d, inner),
        Tab::Market => market::render(f, app, d, inner),
        Tab::Pieces => pieces::render(f, app, d, inner),
        Tab::Files => files::render(f, app, d, inner),
        Tab::Trackers => trackers::render(f, app, d, inner),
    }
}

/// A row style for the detail tables: highlighted under the detail cursor when focused.
pub fn detail_row_style(app: &App, i: usize) -> Style {
    if app.focus == Focus::Detail && i == app.detail_cursor {
        app.theme.selected
    } else {
        Style::default()
    }
}

/// First row to draw so `cursor` stays visible in `height` rows.
pub fn scroll_start(cursor: usize, height: usize) -> usize {
    cursor.saturating_sub(height.saturating_sub(1))
}

pub fn mode_span(app: &App) -> Span<'static> {
    let th = &app.theme;
    match &app.mode {
        // The socket path would fill an 80-column status bar; `?` and the log name it.
        Mode::Attached(_) => Span::styled(" ATTACHED ", th.mode_attached),
        Mode::Standalone { .. } => Span::styled(" STANDALONE ", th.mode_standalone),
        Mode::Scripted => Span::styled(" SCRIPTED ", th.mode_standalone),
        Mode::Demo => Span::styled(" DEMO ", th.mode_attached),
    }
}

pub use crate::units::{bytes, rate};

/// Rates in at most 9 columns for narrow tables: `924.9K/s`, `1.6M/s`.
pub fn short_rate(r: f64) -> String {
    let mut v = r.max(0.0);
    let mut u = 0;
    while v >= 1000.0 && u < 4 {
        v /= 1024.0;
        u += 1;
    }
    let unit = ["B", "K", "M", "G", "T"][u];
    if u == 0 {
        format!("{v:.0}{unit}/s")
    } else {
        format!("{v:.1}{unit}/s")
    }
}

pub fn eta(secs: Option<u64>) -> String {
    match secs {
        None => "∞".into(),
        Some(s) if s >= 100 * 86_400 => "∞".into(),
        Some(s) if s >= 86_400 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        Some(s) if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        Some(s) => format!("{}m{:02}s", s / 60, s % 60),
    }
}

pub fn pct(p: f64) -> String {
    format!("{:.1}%", (p * 100.0).clamp(0.0, 100.0))
}

/// Micro-tokens (6 decimals, SPEC §5) as a token amount.
/// Token amounts as people read them (`1.25`, `0.001852`); strategy parameters keep the
/// config's six decimals, since they are what the keyboard sends back.
pub fn tokens(micro: u64) -> String {
    crate::units::tokens(micro)
}

pub fn opt_tokens(micro: Option<u64>) -> String {
    micro.map(tokens).unwrap_or_else(|| "—".into())
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub fn state_style(app: &App, state: &str) -> Style {
    let th = &app.theme;
    match state {
        "downloading" => th.state_downloading,
        "seeding" | "finished" => th.state_seeding,
        "paused" => th.state_paused,
        "error" => th.state_error,
        _ => th.dim,
    }
}
