//! The status bar (mode, message, hints), the prompt line that replaces it while typing, and
//! the small popups: remove confirmation and the strategy picker.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{mode_span, truncate};
use crate::tui::action::Action;
use crate::tui::app::{App, Prompt, default_params, format_strategy, strategies};
use crate::tui::source::{Mode, Side, StrategyView};

pub fn status_bar(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let prompt_label = match &app.prompt {
        Some(Prompt::Filter { .. }) => Some("/"),
        Some(Prompt::Command) => Some(":"),
        Some(Prompt::Add) => Some("add (path or magnet): "),
        _ => None,
    };
    if let Some(label) = prompt_label {
        let line = Line::from(vec![
            Span::styled(label, th.prompt),
            Span::raw(app.input.clone()),
            Span::styled("▏", th.prompt),
        ]);
        f.render_widget(line, area);
        return;
    }
    let mut spans = vec![mode_span(app), Span::raw(" ")];
    if let Mode::Standalone { note } = &app.mode
        && app.message.is_none()
    {
        spans.push(Span::styled(note.clone(), th.dim));
        spans.push(Span::raw(" "));
    }
    if let Some((msg, err)) = &app.message {
        let style = if *err { th.status_error } else { th.status };
        spans.push(Span::styled(msg.clone(), style));
        spans.push(Span::raw(" "));
    }
    let mut right = String::new();
    if !app.filter.is_empty() {
        right.push_str(&format!("filter: {}  ", app.filter));
    }
    if !app.marked.is_empty() {
        right.push_str(&format!("{} marked  ", app.marked.len()));
    }
    right.push_str(&format!("{} help ", app.key_for(Action::Help)));
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let room = usize::from(area.width).saturating_sub(right.chars().count());
    if used > room {
        // Long messages give way to the hints on the right, keeping the mode badge.
        let keep = room.saturating_sub(spans[0].width() + 1);
        let text: String = spans[2..].iter().map(|s| s.content.as_ref()).collect();
        let style = spans.get(2).map(|s| s.style).unwrap_or(th.status);
        spans.truncate(2);
        spans.push(Span::styled(truncate(text.trim_end(), keep), style));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    spans.push(Span::raw(" ".repeat(room.saturating_sub(used))));
    spans.push(Span::styled(right, th.dim));
    f.render_widget(Line::from(spans).style(th.status), area);
}

fn popup_rect(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn overlays(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    match &app.prompt {
        Some(Prompt::Confirm { ids, delete_data }) => {
            let names: Vec<String> = ids
                .iter()
                .filter_map(|id| app.snapshot.torrents.iter().find(|t| &t.id == id))
                .take(5)
                .map(|t| format!("  {}", truncate(&t.name, 50)))
                .collect();
            let mut lines = vec![Line::raw(format!(
                "Remove {}{}?",
                crate::units::plural(ids.len(), "torrent"),
                if *delete_data {
                    " AND DELETE THEIR DATA"
                } else {
                    ""
                }
            ))];
            lines.extend(names.into_iter().map(Line::raw));
            if ids.len() > 5 {
                lines.push(Line::raw(format!("  … and {} more", ids.len() - 5)));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                if *delete_data {
                    "y: remove and delete data   any other key: cancel"
                } else {
                    "y: remove, keep data   D: remove and delete data   other: cancel"
                },
                th.prompt,
            ));
            let h = lines.len() as u16 + 2;
            let r = popup_rect(area, 70, h);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines).style(th.base).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(th.status_error)
                        .title(" Confirm "),
                ),
                r,
            );
        }
        Some(Prompt::Strategy { side, cursor }) => {
            let current: Option<&StrategyView> = app.snapshot.detail.as_ref().map(|d| match side {
                Side::Buyer => &d.market.buyer,
                Side::Seller => &d.market.seller,
            });
            let lines: Vec<Line> = strategies(*side)
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let is_current = current.is_some_and(|c| c.name == *name);
                    // The current strategy shows its tuned parameters, others their defaults.
                    let params = match current {
                        Some(c) if is_current => c.clone(),
                        _ => StrategyView {
                            name: name.to_string(),
                            params: default_params(name),
                        },
                    };
                    let text = format!(
                        "{}{} {}",
                        if i == *cursor { "›" } else { " " },
                        if is_current { "*" } else { " " },
                        format_strategy(&params)
                    );
                    if i == *cursor {
                        Line::styled(text, th.selected)
                    } else {
                        Line::raw(text)
                    }
                })
                .collect();
            let title = match side {
                Side::Buyer => " Buyer strategy (enter: set, esc: cancel) ",
                Side::Seller => " Seller strategy (enter: set, esc: cancel) ",
            };
            let r = popup_rect(area, 60, lines.len() as u16 + 2);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines).style(th.base).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(th.border_focus)
                        .title(title),
                ),
                r,
            );
        }
        _ => {}
    }
}
