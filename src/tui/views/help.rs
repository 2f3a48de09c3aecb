//! `?` help overlay: the live keymap (defaults plus config overrides), action by action.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::truncate;
use crate::tui::app::App;

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(2);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + 1,
        width: w,
        height: h,
    };
    let bindings = app.keymap.bindings();
    // One row per action: the keys, the action's name (what `[tui.keys]` takes) and what it
    // does. Taller than 24 lines, so it scrolls (↓/↑, page keys).
    let inner_w = usize::from(w.saturating_sub(2));
    let key_w = 16;
    let name_w = 18;
    let desc_w = inner_w.saturating_sub(key_w + name_w);
    let mut lines: Vec<Line> = bindings
        .iter()
        .map(|(a, keys)| {
            Line::from(vec![
                Span::styled(
                    format!("{:<key_w$}", truncate(&keys.join(" "), key_w - 1)),
                    th.help_key,
                ),
                Span::styled(
                    format!("{:<name_w$}", truncate(a.name(), name_w - 1)),
                    th.dim,
                ),
                Span::raw(truncate(a.help(), desc_w)),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Command line (:): add PATH|MAGNET [--dir D] [--paused] [--peer ADDR], pause [all], \
         resume [all], rm [--delete-data] [-y], strategy NAME [k=v]…, prio N|all LEVEL, \
         sort COL [desc], filter TEXT, limit DOWN UP, theme NAME, quit",
        th.dim,
    ));
    lines.push(Line::styled(
        "Rebind with [tui.keys] in the config: action-name = \"key\" or [\"keys\"].",
        th.dim,
    ));
    lines.push(Line::styled(
        "↓/↑ and page keys scroll; any other key closes this.",
        th.dim,
    ));
    let inner_h = usize::from(h.saturating_sub(2));
    // Wrapped lines at the end take more rows than they count; leave room for them.
    let max_scroll = (lines.len() + 4).saturating_sub(inner_h);
    let scroll = app.help_scroll.min(max_scroll);
    let title = if max_scroll > 0 {
        format!(
            " Help — keymap ({}–{} of {}) ",
            scroll + 1,
            (scroll + inner_h).min(lines.len()),
            lines.len()
        )
    } else {
        " Help — keymap ".to_string()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border_focus)
        .title(Span::styled(title, th.title));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(th.base)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        popup,
    );
}
