//! Market tab: the strategies in force and their parameters, the bid book, the clearing price,
//! money spent and earned, and the payment channels with their credit.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{detail_row_style, opt_tokens, scroll_start, tokens};
use crate::tui::action::Action;
use crate::tui::app::{App, format_strategy};
use crate::tui::source::{ChannelRow, Detail};

pub fn render(f: &mut Frame, app: &App, d: &Detail, area: Rect) {
    let th = &app.theme;
    let m = &d.market;
    let show = |s: &crate::tui::source::StrategyView| {
        if s.name.is_empty() {
            "—".to_string()
        } else {
            format_strategy(s)
        }
    };
    let status = if m.active {
        Span::styled("market on", th.market)
    } else {
        Span::styled(
            format!(
                "{} — strategies apply when the market runs",
                m.note.as_deref().unwrap_or("market off")
            ),
            th.dim,
        )
    };
    let hint = format!(
        "{}/{} pick buyer/seller strategy · {}/{} price",
        app.key_for(Action::BuyerStrategy),
        app.key_for(Action::SellerStrategy),
        app.key_for(Action::PriceUp),
        app.key_for(Action::PriceDown)
    );
    let mut summary = vec![
        Line::from(vec![
            Span::styled("buyer  ", th.header),
            Span::raw(show(&m.buyer)),
        ]),
        Line::from(vec![
            Span::styled("seller ", th.header),
            Span::raw(show(&m.seller)),
        ]),
        Line::from(vec![
            Span::styled("clearing ", th.header),
            Span::raw(format!("{}/MiB", opt_tokens(m.clearing_price))),
            Span::styled("  spent ", th.header),
            Span::raw(tokens(m.spent)),
            Span::styled("  earned ", th.header),
            Span::raw(tokens(m.earned)),
            Span::raw("  "),
            status,
        ]),
    ];
    // How the price came about, in the terms of the seller strategy in force.
    let rule = match m.seller.name.as_str() {
        "uniform-price" => {
            Some("uniform price: all winners pay the highest losing bid (or the reserve)")
        }
        "highest-bid" => Some("highest bid: each winner pays its own bid"),
        "proportional" => Some("proportional: upload shared in proportion to the bids"),
        "hybrid" => Some("hybrid: slots by bid blended with bytes received"),
        _ => None,
    };
    if let Some(r) = rule.filter(|_| m.active) {
        summary.push(Line::styled(r, th.dim));
    }
    summary.push(Line::styled(hint, th.dim));
    let top_h = u16::try_from(summary.len()).unwrap_or(5);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_h), Constraint::Fill(1)]).areas(area);
    f.render_widget(Paragraph::new(summary), top);

    // The bid book and the channels are different things (who bids what; where the money
    // moves): one above the other, each under its own title, never side by side on shared rows.
    let split =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).split(bottom);
    // Bid book.
    let h = usize::from(split[0].height.saturating_sub(1));
    let start = scroll_start(app.detail_cursor, h);
    let rows: Vec<Row> = m
        .bids
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(i, b)| {
            Row::new(vec![
                Cell::from(b.peer.clone()),
                Cell::from(b.direction.clone()),
                Cell::from(tokens(b.price)),
                // 0: the engine does not report the bidder's spending cap.
                Cell::from(if b.max_spend == 0 {
                    "—".to_string()
                } else {
                    tokens(b.max_spend)
                }),
                Cell::from(b.status.clone()),
            ])
            .style(detail_row_style(app, i))
        })
        .collect();
    if m.bids.is_empty() {
        f.render_widget(Line::styled("bid book empty", th.dim), split[0]);
    } else {
        f.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(21),
                    Constraint::Length(4),
                    Constraint::Length(12),
                    Constraint::Length(12),
                    Constraint::Fill(1),
                ],
            )
            .header(
                Row::new(["Bid book: peer", "Dir", "Bid/MiB", "Max spend", "Outcome"])
                    .style(th.header),
            )
            .column_spacing(1),
            split[0],
        );
    }
    channels(
        f,
        app,
        &m.channels,
        split[1],
        "no payment channels for this torrent",
    );
}

/// A channel table, shared with the wallet view.
pub fn channels(f: &mut Frame, app: &App, chans: &[ChannelRow], area: Rect, empty: &str) {
    let th = &app.theme;
    if chans.is_empty() {
        f.render_widget(Line::styled(empty.to_string(), th.dim), area);
        return;
    }
    let rows: Vec<Row> = chans
        .iter()
        .take(usize::from(area.height.saturating_sub(1)))
        .map(|c| {
            Row::new(vec![
                Cell::from(c.id.clone()),
                Cell::from(c.peer.clone()),
                Cell::from(c.direction.clone()),
                Cell::from(c.state.clone()),
                // A cap of 0: the market report knows what moved, not the channel's cap.
                Cell::from(if c.cap == 0 {
                    format!("{}/—", tokens(c.used))
                } else {
                    format!("{}/{}", tokens(c.used), tokens(c.cap))
                }),
                Cell::from(tokens(c.credit)),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Fill(1),
                Constraint::Length(4),
                Constraint::Length(8),
                Constraint::Length(21),
                Constraint::Length(10),
            ],
        )
        .header(
            Row::new(["Channels", "Peer", "Dir", "State", "Used/Cap", "Credit"]).style(th.header),
        )
        .column_spacing(1),
        area,
    );
}
