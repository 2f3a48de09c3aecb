//! Rate graphs: download, upload, market spend and earn over the last polls.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Sparkline};

use super::{rate, tokens};
use crate::tui::app::App;

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let h = &app.history;
    let areas = Layout::vertical([Constraint::Fill(1); 4]).split(area);
    let graphs: [(&str, &std::collections::VecDeque<u64>, Style, bool); 4] = [
        ("download", &h.down, th.graph_down, false),
        ("upload", &h.up, th.graph_up, false),
        ("spend", &h.spend, th.graph_spend, true),
        ("earn", &h.earn, th.graph_earn, true),
    ];
    for ((name, data, style, money), a) in graphs.into_iter().zip(areas.iter()) {
        let last = data.back().copied().unwrap_or(0);
        let peak = data.iter().copied().max().unwrap_or(0);
        let fmt = |v: u64| {
            if money {
                format!("{} tokens/s", tokens(v))
            } else {
                rate(v as f64)
            }
        };
        // Money graphs name their unit; byte rates carry theirs (`MiB/s`).
        let title = format!(" {name}  now {}  peak {} ", fmt(last), fmt(peak));
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(th.border)
            .title(Span::styled(title, th.title));
        let inner = block.inner(*a);
        // Newest on the right: show the last `width` samples.
        let w = usize::from(inner.width);
        let skip = data.len().saturating_sub(w);
        let spark = Sparkline::default()
            .block(block)
            .style(style)
            .max(peak.max(1))
            .data(data.iter().skip(skip).copied());
        f.render_widget(spark, *a);
    }
}
