//! The torrent table. Only the rows on screen are formatted, so a thousand torrents cost the
//! same per frame as forty.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::{bytes, eta, pct, short_rate, state_style, truncate};
use crate::tui::app::{App, Column, Focus};

/// Columns besides the name, in the order they are dropped when the terminal is narrow
/// (last dropped first): (column, width). Rates are compact (`1023.0K/s`) so the name keeps
/// its room at 80 columns.
const COLUMNS: &[(Column, u16)] = &[
    (Column::Id, 4),
    (Column::Progress, 6),
    (Column::State, 11),
    (Column::Down, 9),
    (Column::Up, 9),
    (Column::Eta, 7),
    (Column::Size, 9),
    (Column::Ratio, 5),
    (Column::Peers, 5),
    (Column::Price, 15),
    (Column::Label, 12),
];

const NAME_MIN: u16 = 20;

/// The columns that fit `width`, in reading order. The column the table is sorted by is
/// always shown (with its arrow), taking the place of the last one that would fit.
fn fit_columns(width: u16, sort: Column) -> Vec<(Column, u16)> {
    // Mark column (2) + name; every column adds its width plus one space.
    let mut used = 2 + NAME_MIN;
    let mut cols = Vec::new();
    for &(c, w) in COLUMNS {
        if used + w + 1 > width {
            break;
        }
        used += w + 1;
        cols.push((c, w));
    }
    if sort != Column::Name
        && !cols.iter().any(|(c, _)| *c == sort)
        && let Some(&(_, w)) = COLUMNS.iter().find(|(c, _)| *c == sort)
    {
        while !cols.is_empty() && used + w + 1 > width {
            if let Some((_, dropped)) = cols.pop() {
                used -= dropped + 1;
            }
        }
        if used + w < width {
            cols.push((sort, w));
        }
    }
    // Keep the reading order stable whatever was dropped.
    let order = [
        Column::Id,
        Column::Size,
        Column::Progress,
        Column::State,
        Column::Down,
        Column::Up,
        Column::Eta,
        Column::Peers,
        Column::Ratio,
        Column::Label,
        Column::Price,
    ];
    cols.sort_by_key(|(c, _)| order.iter().position(|o| o == c));
    cols
}

fn header_name(c: Column) -> &'static str {
    match c {
        Column::Id => "#",
        Column::Name => "Name",
        Column::Size => "Size",
        Column::Progress => "Done",
        Column::State => "State",
        Column::Down => "Down",
        Column::Up => "Up",
        Column::Eta => "ETA",
        Column::Peers => "Peers",
        Column::Ratio => "Ratio",
        Column::Price => "Market",
        Column::Label => "Label",
    }
}

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let mut cols = fit_columns(area.width, app.sort);
    // The id reads first, before the name; the rest follow the name.
    let id_col = cols
        .iter()
        .position(|(c, _)| *c == Column::Id)
        .map(|i| cols.remove(i));
    let rows_h = area.height.saturating_sub(1);
    app.table_rows.set(rows_h.max(1));
    app.table_area.set(area);

    let arrow = if app.sort_desc { "▼" } else { "▲" };
    let hdr = |c: Column| {
        if c == app.sort {
            format!("{}{arrow}", header_name(c))
        } else {
            header_name(c).to_string()
        }
    };
    let mut header = vec![Cell::from("")];
    if id_col.is_some() {
        header.push(Cell::from(Line::from(hdr(Column::Id)).right_aligned()));
    }
    header.push(Cell::from(hdr(Column::Name)));
    header.extend(cols.iter().map(|(c, _)| Cell::from(hdr(*c))));

    let vis = app.visible();
    // The app keeps `offset` so the cursor is on screen; re-check against this frame's height.
    let h = usize::from(rows_h.max(1));
    let mut start = app.offset.min(vis.len().saturating_sub(1));
    if app.cursor >= start + h {
        start = app.cursor + 1 - h;
    }
    if app.cursor < start {
        start = app.cursor;
    }
    let name_w = usize::from(area.width.saturating_sub(
        2 + cols.iter().map(|(_, w)| w + 1).sum::<u16>() + id_col.map_or(0, |(_, w)| w + 1),
    ));
    let rows: Vec<Row> = vis
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(pos, &i)| {
            let t = &app.snapshot.torrents[i];
            let marked = app.marked.contains(&t.id);
            let mut cells = vec![Cell::from(if marked { "●" } else { " " }).style(th.marked)];
            if id_col.is_some() {
                cells.push(
                    Cell::from(
                        Line::from(t.num.map(|n| n.to_string()).unwrap_or_default())
                            .right_aligned(),
                    )
                    .style(th.dim),
                );
            }
            cells.push(Cell::from(truncate(&t.name, name_w)));
            for (c, _) in &cols {
                cells.push(match c {
                    Column::Size => Cell::from(bytes(t.size)),
                    Column::Progress => Cell::from(pct(t.progress)).style(th.progress_bar),
                    Column::State => Cell::from(t.state.clone()).style(state_style(app, &t.state)),
                    Column::Down => Cell::from(short_rate(t.down_rate)),
                    Column::Up => Cell::from(short_rate(t.up_rate)),
                    Column::Eta => Cell::from(if t.progress >= 1.0 {
                        "-".to_string()
                    } else {
                        eta(t.eta)
                    }),
                    Column::Peers => Cell::from(t.peers.to_string()),
                    Column::Ratio => Cell::from(format!("{:.2}", t.ratio())),
                    Column::Price => match &t.market {
                        Some(m) => Cell::from(Line::from(vec![
                            Span::styled(m.role.clone(), th.market),
                            Span::raw(" "),
                            Span::raw(super::opt_tokens(m.price)),
                        ])),
                        None => Cell::from("—").style(th.dim),
                    },
                    Column::Label => match &t.label {
                        Some(l) => Cell::from(truncate(l, 12)),
                        None => Cell::from("—").style(th.dim),
                    },
                    Column::Name | Column::Id => Cell::from(""),
                });
            }
            let mut style = Style::default();
            if marked {
                style = style.patch(th.marked);
            }
            if pos == app.cursor {
                let sel = if app.focus == Focus::Table {
                    th.selected
                } else {
                    Style::default().add_modifier(Modifier::UNDERLINED)
                };
                style = style.patch(sel);
            }
            Row::new(cells).style(style)
        })
        .collect();

    let mut widths = vec![Constraint::Length(1)];
    if let Some((_, w)) = id_col {
        widths.push(Constraint::Length(w));
    }
    widths.push(Constraint::Fill(1));
    widths.extend(cols.iter().map(|(_, w)| Constraint::Length(*w)));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(th.header))
        .column_spacing(1);
    f.render_widget(table, area);
    if vis.is_empty() && !app.snapshot.torrents.is_empty() {
        let msg = format!(" no torrent matches filter {:?}", app.filter);
        let a = Rect {
            y: area.y + 1,
            height: 1,
            ..area
        };
        f.render_widget(Line::styled(msg, th.dim), a);
    }
}
