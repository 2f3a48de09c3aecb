//! Pieces tab: the piece map, scaled to the area. When there are more pieces than cells,
//! each cell stands for a run of pieces: "have" only if all are, "downloading" if any is, and
//! shaded by the scarcest piece's availability otherwise. Each state has its own glyph so the
//! map reads in the monochrome theme too.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::tui::app::App;
use crate::tui::source::{Detail, PieceMap};

pub const HAVE: &str = "█";
pub const DOWNLOADING: &str = "▓";
pub const COMMON: &str = "▒";
pub const RARE: &str = "░";
pub const NONE: &str = "·";

pub fn render(f: &mut Frame, app: &App, d: &Detail, area: Rect) {
    let th = &app.theme;
    let m = &d.pieces;
    let [legend, map] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let have = m.have.iter().filter(|h| **h).count();
    f.render_widget(
        Line::from(vec![
            Span::styled(HAVE, th.have),
            Span::raw(" have  "),
            Span::styled(DOWNLOADING, th.downloading),
            Span::raw(" downloading  "),
            Span::styled(COMMON, th.missing_common),
            Span::raw(" missing  "),
            Span::styled(RARE, th.missing_rare),
            Span::raw(" rare  "),
            Span::styled(NONE, th.unavailable),
            Span::raw(" no source   "),
            Span::styled(format!("{have}/{} pieces", m.len()), th.accent),
        ]),
        legend,
    );
    if m.is_empty() {
        if let crate::tui::source::Mode::Attached(_) = app.mode {
            f.render_widget(
                Line::styled(
                    "the daemon sent no piece map (a daemon older than the `pieces` request?); \
                     the count is in the table",
                    th.dim,
                ),
                map,
            );
        }
        return;
    }
    draw_map(f.buffer_mut(), map, m, app);
}

/// Writes the map straight into the buffer: one cell per glyph, no widget allocation.
fn draw_map(buf: &mut Buffer, area: Rect, m: &PieceMap, app: &App) {
    let th = &app.theme;
    let cells = usize::from(area.width) * usize::from(area.height);
    if cells == 0 {
        return;
    }
    let n = m.len();
    let mut downloading = vec![false; n];
    for &p in &m.downloading {
        if let Some(x) = downloading.get_mut(p as usize) {
            *x = true;
        }
    }
    // "Rare" is relative to this swarm: at or below a quarter of the best-seen availability
    // (so with fewer than four peers nothing is rare, only present or absent).
    let max_avail = m.availability.iter().copied().max().unwrap_or(0);
    let rare_at = max_avail / 4;
    // Cell c covers pieces [c·n/cells, (c+1)·n/cells): fewer pieces than cells stretch, more
    // pieces share a cell, and the map always fills the area.
    for c in 0..cells {
        let lo = c * n / cells;
        let hi = ((c + 1) * n / cells).max(lo + 1).min(n);
        let all_have = m.have[lo..hi].iter().all(|h| *h);
        let any_dl = downloading[lo..hi].iter().any(|d| *d);
        let min_avail = m
            .availability
            .get(lo..hi)
            .and_then(|a| a.iter().min().copied())
            .unwrap_or(0);
        let (sym, style): (&str, Style) = if all_have {
            (HAVE, th.have)
        } else if any_dl {
            (DOWNLOADING, th.downloading)
        } else if min_avail == 0 {
            (NONE, th.unavailable)
        } else if min_avail <= rare_at {
            (RARE, th.missing_rare)
        } else {
            (COMMON, th.missing_common)
        };
        let x = area.x + (c % usize::from(area.width)) as u16;
        let y = area.y + (c / usize::from(area.width)) as u16;
        if let Some(cell) = buf.cell_mut((x, y)) {
            cell.set_symbol(sym).set_style(style);
        }
    }
}
