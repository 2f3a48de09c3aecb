//! Wallet view: identity, balance, channels both ways and history, read from the wallet's
//! store (or the daemon, when attached).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::tokens;
use crate::tui::app::App;
use crate::tui::source::WalletStatus;

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let w = &app.snapshot.wallet;
    let status = match &w.status {
        WalletStatus::Ok => Span::styled("open (read-only)", th.state_seeding),
        WalletStatus::Unknown => Span::styled("not read yet", th.dim),
        WalletStatus::Missing => Span::styled(
            "no wallet yet — `bidtorrent wallet show` creates one",
            th.dim,
        ),
        WalletStatus::InUse => Span::styled("wallet in use by the daemon", th.state_paused),
        WalletStatus::Error(e) => Span::styled(format!("error: {e}"), th.status_error),
    };
    let info = vec![
        Line::from(vec![Span::styled("status   ", th.header), status]),
        Line::from(vec![
            Span::styled("key      ", th.header),
            Span::raw(if w.public_key.is_empty() {
                "—".into()
            } else {
                w.public_key.clone()
            }),
        ]),
        Line::from(vec![
            Span::styled("ledger   ", th.header),
            Span::raw(w.ledger.clone().unwrap_or_else(|| "—".into())),
        ]),
        Line::from(vec![
            Span::styled("money    ", th.header),
            Span::raw("available "),
            Span::styled(tokens(w.money.available), th.accent),
            Span::raw(format!(
                " · escrowed {} ({} refundable)",
                tokens(w.money.escrowed),
                tokens(w.money.refundable)
            )),
        ]),
        Line::from(vec![
            Span::styled("earned   ", th.header),
            Span::raw(format!(
                "unredeemed {} · redeemed {}",
                tokens(w.money.unredeemed),
                tokens(w.redeemed)
            )),
        ]),
    ];
    let block = |t: &'static str| {
        Block::default()
            .borders(Borders::ALL)
            .border_style(th.border)
            .title(Span::styled(t, th.title))
    };
    let [top, mid, bottom] = Layout::vertical([
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    // Whose wallet this is, at a glance: the start of its key.
    let title = if w.public_key.is_empty() {
        " Wallet ".to_string()
    } else {
        format!(
            " Wallet of {}… ",
            w.public_key.chars().take(10).collect::<String>()
        )
    };
    let top_block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border)
        .title(Span::styled(title, th.title));
    f.render_widget(Paragraph::new(info).block(top_block), top);
    let b = block(" Channels ");
    let inner = b.inner(mid);
    f.render_widget(b, mid);
    super::market::channels(f, app, &w.channels, inner, "no payment channels");

    let b = block(" History ");
    let inner = b.inner(bottom);
    f.render_widget(b, bottom);
    if w.history.is_empty() {
        f.render_widget(Line::styled("no history", th.dim), inner);
        return;
    }
    let rows: Vec<Row> = w
        .history
        .iter()
        .rev()
        .take(usize::from(inner.height.saturating_sub(1)))
        .map(|h| {
            Row::new(vec![
                Cell::from(fmt_time(h.time)),
                Cell::from(h.kind.clone()),
                Cell::from(h.channel.clone()),
                Cell::from(tokens(h.amount)),
                Cell::from(tokens(h.total)),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(19),
                Constraint::Length(15),
                Constraint::Fill(1),
                Constraint::Length(14),
                Constraint::Length(14),
            ],
        )
        .header(Row::new(["Time (UTC)", "Kind", "Channel", "Amount", "Total"]).style(th.header))
        .column_spacing(1),
        inner,
    );
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC (civil-from-days, no time crate needed).
pub fn fmt_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times() {
        assert_eq!(super::fmt_time(0), "1970-01-01 00:00:00");
        assert_eq!(super::fmt_time(1_700_000_000), "2023-11-14 22:13:20");
    }
}
