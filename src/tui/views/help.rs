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
    // One column when it fits the height, else two with descriptions cut to the column.
    let inner_h = usize::from(h.saturating_sub(2));
    let footer = if w >= 90 { 3 } else { 2 };
    let two = bindings.len() + footer > inner_h;
    let col_w = if two {
        usize::from(w.saturating_sub(2)) / 2
    } else {
        usize::from(w)
    };
    let key_w = if two { 14 } else { 18 };
    let desc_w = col_w.saturating_sub(key_w + 1);
    let fmt = |(a, keys): &(crate::tui::action::Action, Vec<String>)| {
        vec![
            Span::styled(
                format!("{:<key_w$}", truncate(&keys.join(" "), key_w - 1)),
                th.help_key,
            ),
            Span::raw(truncate(a.help(), desc_w)),
        ]
    };
    let mut lines: Vec<Line> = Vec::new();
    if two {
        let half = bindings.len().div_ceil(2);
        for i in 0..half {
            let mut spans = fmt(&bindings[i]);
            let used: usize = spans.iter().map(|s| s.width()).sum();
            spans.push(Span::raw(" ".repeat(col_w.saturating_sub(used))));
            if let Some(b) = bindings.get(half + i) {
                spans.extend(fmt(b));
            }
            lines.push(Line::from(spans));
        }
    } else {
        lines.extend(bindings.iter().map(|b| Line::from(fmt(b))));
    }
    if w >= 90 {
        lines.push(Line::styled(
            ":add PATH|MAGNET [--dir D] [--paused] [--peer ADDR]  :pause [all]  :resume [all]  \
             :rm [--delete-data] [-y]  :strategy NAME [k=v]…  :prio N|all LEVEL  :sort COL [desc]  \
             :filter TEXT  :limit DOWN UP  :theme NAME  :quit",
            th.dim,
        ));
    } else {
        lines.push(Line::styled(
            ": add pause resume rm strategy prio sort filter limit theme quit",
            th.dim,
        ));
    }
    lines.push(Line::styled(
        "Rebind in [tui.keys] of the config. Any key closes this.",
        th.dim,
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border_focus)
        .title(Span::styled(" Help — keymap ", th.title));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(th.base)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
