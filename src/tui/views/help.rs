//! `?` help overlay: the live keymap (defaults plus config overrides), action by action.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

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
    let two = w >= 90;
    let key_w = 16;
    let fmt = |(a, keys): &(crate::tui::action::Action, Vec<String>)| {
        vec![
            Span::styled(format!("{:<key_w$}", keys.join(" ")), th.help_key),
            Span::raw(a.help().to_string()),
        ]
    };
    let mut lines: Vec<Line> = Vec::new();
    if two {
        let half = bindings.len().div_ceil(2);
        let col_w = usize::from(w / 2) - 1;
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
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        ":add PATH|MAGNET [--dir D] [--paused] [--peer ADDR]  :pause [all]  :resume [all]  \
         :rm [--delete-data] [-y]  :strategy NAME [k=v]…  :prio N|all LEVEL  :sort COL [desc]  \
         :filter TEXT  :limit DOWN UP  :theme NAME  :quit",
        th.dim,
    ));
    lines.push(Line::styled(
        "Keys are set in [tui.keys] of the config file. Any key closes this help.",
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
