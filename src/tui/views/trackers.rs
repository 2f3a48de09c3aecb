//! Trackers tab: announce tiers (BEP 12) and the last thing each said.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};

use super::{detail_row_style, scroll_start};
use crate::tui::app::App;
use crate::tui::source::Detail;

pub fn render(f: &mut Frame, app: &App, d: &Detail, area: Rect) {
    let th = &app.theme;
    if d.trackers.is_empty() {
        f.render_widget(
            ratatui::text::Line::styled(
                "no trackers (peers from DHT, PEX or given by hand)",
                th.dim,
            ),
            area,
        );
        return;
    }
    let h = usize::from(area.height.saturating_sub(1));
    let start = scroll_start(app.detail_cursor, h);
    let rows: Vec<Row> = d
        .trackers
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(i, t)| {
            Row::new(vec![
                Cell::from(t.tier.to_string()),
                Cell::from(t.url.clone()),
                Cell::from(t.status.clone()),
            ])
            .style(detail_row_style(app, i))
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Fill(2),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["Tier", "URL", "Status"]).style(th.header))
    .column_spacing(1);
    f.render_widget(table, area);
}
