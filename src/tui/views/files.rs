//! Files tab: per-file progress and priority (`f` cycles normal → high → low → skip).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};

use super::{bytes, detail_row_style, pct, scroll_start};
use crate::tui::app::App;
use crate::tui::source::{Detail, Priority};

pub fn render(f: &mut Frame, app: &App, d: &Detail, area: Rect) {
    let th = &app.theme;
    let h = usize::from(area.height.saturating_sub(1));
    let start = scroll_start(app.detail_cursor, h);
    let rows: Vec<Row> = d
        .files
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(i, file)| {
            let prio = Cell::from(file.priority.as_str()).style(match file.priority {
                Priority::Skip => th.dim,
                Priority::High => th.accent,
                _ => ratatui::style::Style::default(),
            });
            Row::new(vec![
                Cell::from((i + 1).to_string()),
                Cell::from(file.path.clone()),
                Cell::from(bytes(file.size)),
                Cell::from(pct(file.progress)).style(th.progress_bar),
                prio,
            ])
            .style(detail_row_style(app, i))
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(6),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(["#", "Path", "Size", "Done", "Prio"]).style(th.header))
    .column_spacing(1);
    f.render_widget(table, area);
}
