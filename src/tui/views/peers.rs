//! Peers tab: one row per connected peer, with its market role, bid and money when it speaks
//! `bt_market`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};

use super::{
    bytes, detail_row_style, opt_tokens, pct, rate, scroll_start, short_rate, tokens, truncate,
};
use crate::tui::app::App;
use crate::tui::source::Detail;

pub fn render(f: &mut Frame, app: &App, d: &Detail, area: Rect) {
    let th = &app.theme;
    if d.peers.is_empty() {
        f.render_widget(
            ratatui::text::Line::styled("no peers connected", th.dim),
            area,
        );
        return;
    }
    let wide = area.width >= 120;
    // Narrow terminals (80 columns) drop the client name and totals and use short rates.
    let mut header = vec!["Address"];
    let mut widths = vec![if wide {
        Constraint::Length(21)
    } else {
        Constraint::Fill(1)
    }];
    if wide {
        header.push("Client");
        widths.push(Constraint::Fill(1));
    }
    let rate_w = if wide { 11 } else { 9 };
    header.extend(["Flags", "Down", "Up", "Have", "Role", "Bid/Price"]);
    widths.extend([
        Constraint::Length(5),
        Constraint::Length(rate_w),
        Constraint::Length(rate_w),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(17),
    ]);
    if wide {
        header.extend(["Paid/Earned", "Recv/Sent"]);
        widths.extend([Constraint::Length(17), Constraint::Length(19)]);
    }
    let fmt_rate = |r: f64| if wide { rate(r) } else { short_rate(r) };
    let h = usize::from(area.height.saturating_sub(1));
    let start = scroll_start(app.detail_cursor, h);
    let rows: Vec<Row> = d
        .peers
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(i, p)| {
            let (role, bid) = match &p.market {
                Some(m) => (
                    Cell::from(m.role.clone()).style(th.market),
                    Cell::from(format!("{}/{}", opt_tokens(m.bid), opt_tokens(m.price))),
                ),
                None => (
                    Cell::from("plain").style(th.dim),
                    Cell::from("—").style(th.dim),
                ),
            };
            let mut cells = vec![Cell::from(p.addr.clone())];
            if wide {
                cells.push(Cell::from(truncate(&p.client, 24)));
            }
            cells.extend([
                Cell::from(p.flags.clone()),
                Cell::from(fmt_rate(p.down_rate)),
                Cell::from(fmt_rate(p.up_rate)),
                Cell::from(pct(p.progress)),
                role,
                bid,
            ]);
            if wide {
                cells.push(match &p.market {
                    Some(m) => Cell::from(format!("{}/{}", tokens(m.paid), tokens(m.earned))),
                    None => Cell::from("—").style(th.dim),
                });
                cells.push(Cell::from(format!(
                    "{}/{}",
                    bytes(p.downloaded),
                    bytes(p.uploaded)
                )));
            }
            Row::new(cells).style(detail_row_style(app, i))
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(th.header))
        .column_spacing(1);
    f.render_widget(table, area);
}
