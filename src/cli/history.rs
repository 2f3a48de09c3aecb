//! `wallet history` as people read it: by default one line per channel, kind and local day
//! (a download's thousand vouchers become one `paid` line with their count), every other
//! event (opened, minted, redeemed, refunded, close requested) on its own line; local times,
//! 8-hex channel ids, totals at the end. `--detail` shows every entry, `--since` and
//! `--limit` cut the list, `--json` prints the same rows with integer micro-token amounts.

use std::collections::HashMap;

use anyhow::bail;
use serde::Serialize;

use crate::wallet::amount::Amount;
use crate::wallet::keys::ChannelId;
use crate::wallet::store::{HistoryEntry, HistoryKind, NO_CHANNEL};

/// How to cut and shape the history.
#[derive(Debug, Clone, Default)]
pub struct HistoryView {
    /// Every entry, not grouped.
    pub detail: bool,
    /// Entries at or after this Unix time.
    pub since: Option<u64>,
    /// Only the last N lines.
    pub limit: Option<usize>,
}

/// One line of `wallet history` (also its `--json` element; amounts in micro-tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// Unix seconds of the first entry in the line.
    pub time: u64,
    /// Unix seconds of the last entry in the line (= `time` for a single entry).
    pub until: u64,
    pub kind: HistoryKind,
    /// Absent for events of the account itself (a mint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelId>,
    /// Sum of the entries' amounts.
    pub amount: Amount,
    /// Entries in the line (vouchers, for `paid` and `earned`).
    pub count: u64,
    /// The channel's running total after the last entry (spent, earned or redeemed).
    pub total: Amount,
    /// Voucher sequence of the last entry, for `paid` and `earned`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// Parses `--since`: a duration back from now (`90s`, `30m`, `12h`, `7d`, `2w`) or a local
/// date (`2026-11-30`, from its midnight).
pub fn parse_since(s: &str, now: u64) -> anyhow::Result<u64> {
    let t = s.trim();
    if let Some(d) = parse_date(t) {
        return d;
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    match num.parse::<u64>() {
        Ok(n) if mult > 0 => Ok(now.saturating_sub(n.saturating_mul(mult))),
        _ => bail!(
            "--since {}: not a duration (e.g. 7d, 12h, 30m) or a date (YYYY-MM-DD)",
            crate::units::printable(s)
        ),
    }
}

/// `Some` when `s` looks like YYYY-MM-DD: its local midnight, or why it is not a date.
fn parse_date(s: &str) -> Option<anyhow::Result<u64>> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i32>().ok());
    let bad = || {
        anyhow::anyhow!(
            "--since {}: not a valid date (YYYY-MM-DD)",
            crate::units::printable(s)
        )
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return Some(Err(bad()));
    };
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Some(Err(bad()));
    }
    // SAFETY: a zeroed tm is a valid value; mktime only reads and normalises it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_isdst = -1;
    // SAFETY: tm is a valid, initialised struct owned by us.
    let t = unsafe { libc::mktime(&mut tm) };
    // mktime normalises 2026-02-31 to March: refuse what does not round-trip.
    if t < 0 || tm.tm_mday != d || tm.tm_mon != m - 1 {
        return Some(Err(bad()));
    }
    Some(Ok(u64::try_from(t).unwrap_or(0)))
}

/// Local (year, month, day, hour, minute) of Unix time `t`.
fn local(t: u64) -> (i32, i32, i32, i32, i32) {
    let secs = libc::time_t::try_from(t).unwrap_or(libc::time_t::MAX);
    // SAFETY: a zeroed tm is a valid value; localtime_r writes into it and reads `secs`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return (1970, 1, 1, 0, 0);
    }
    (
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
    )
}

fn kind_name(k: HistoryKind) -> &'static str {
    match k {
        HistoryKind::Opened => "opened",
        HistoryKind::Paid => "paid",
        HistoryKind::Earned => "earned",
        HistoryKind::Redeemed => "redeemed",
        HistoryKind::Refunded => "refunded",
        HistoryKind::CloseRequested => "close requested",
        HistoryKind::Minted => "minted",
    }
}

/// The rows to show for `entries` (in the order recorded) under `view`.
pub fn rows(entries: &[HistoryEntry], view: &HistoryView) -> Vec<HistoryRow> {
    let mut out: Vec<HistoryRow> = Vec::new();
    // (local day, channel, kind) → index of its row, for the grouped kinds.
    type Day = (i32, i32, i32);
    let mut open: HashMap<(Day, ChannelId, u8), usize> = HashMap::new();
    for e in entries
        .iter()
        .filter(|e| view.since.is_none_or(|s| e.time >= s))
    {
        let channel = (e.channel != NO_CHANNEL).then_some(e.channel);
        let grouped = !view.detail && matches!(e.kind, HistoryKind::Paid | HistoryKind::Earned);
        if grouped {
            let (y, m, d, _, _) = local(e.time);
            let key = ((y, m, d), e.channel, e.kind as u8);
            if let Some(r) = open.get(&key).and_then(|&i| out.get_mut(i)) {
                r.until = r.until.max(e.time);
                r.amount = r.amount.checked_add(e.amount).unwrap_or(r.amount);
                r.count += 1;
                r.total = e.total;
                r.seq = e.seq;
                continue;
            }
            open.insert(key, out.len());
        }
        out.push(HistoryRow {
            time: e.time,
            until: e.time,
            kind: e.kind,
            channel,
            amount: e.amount,
            count: 1,
            total: e.total,
            seq: e.seq,
        });
    }
    if let Some(n) = view.limit {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    out
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn when(t: u64) -> String {
    let (y, m, d, h, mi) = local(t);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}")
}

fn short(c: &Option<ChannelId>) -> String {
    match c {
        Some(c) => c.to_string().chars().take(8).collect(),
        None => "-".into(),
    }
}

/// The human lines for `rows`, totals last.
pub fn render(rows: &[HistoryRow]) -> Vec<String> {
    let mut lines = Vec::with_capacity(rows.len() + 2);
    let mut totals: Vec<(HistoryKind, Amount, u64)> = Vec::new();
    for r in rows {
        let span = if r.until > r.time {
            let (_, _, _, h, mi) = local(r.until);
            format!("{}-{h:02}:{mi:02}", when(r.time))
        } else {
            format!("{}      ", when(r.time))
        };
        let what = match (r.kind, r.count) {
            (HistoryKind::Paid | HistoryKind::Earned, n) => {
                format!("{n} voucher{}, total {}", plural(n), r.total)
            }
            (HistoryKind::Redeemed, _) => format!("redeemed {} in all", r.total),
            (HistoryKind::Minted, _) => format!("minted {} in all", r.total),
            _ => String::new(),
        };
        lines.push(format!(
            "{span}  {:<8}  {:<15} {:>16}  {what}",
            short(&r.channel),
            kind_name(r.kind),
            r.amount.to_string(),
        ));
        match totals.iter_mut().find(|t| t.0 == r.kind) {
            Some(t) => {
                t.1 = t.1.checked_add(r.amount).unwrap_or(t.1);
                t.2 += r.count;
            }
            None => totals.push((r.kind, r.amount, r.count)),
        }
    }
    if rows.is_empty() {
        lines.push("no history".into());
        return lines;
    }
    totals.sort_by_key(|t| t.0 as u8);
    let sums: Vec<String> = totals
        .iter()
        .filter(|t| t.0 != HistoryKind::CloseRequested)
        .map(|(k, a, n)| match k {
            HistoryKind::Paid | HistoryKind::Earned => {
                format!("{} {a} ({n} voucher{})", kind_name(*k), plural(*n))
            }
            HistoryKind::Opened => format!("escrowed {a} ({n} channel{})", plural(*n)),
            _ => format!("{} {a}", kind_name(*k)),
        })
        .collect();
    lines.push(format!("totals   {}", sums.join(", ")));
    lines
}

/// Prints the history of `entries` as `view` asks, human or JSON.
pub fn print(entries: &[HistoryEntry], view: &HistoryView, json: bool) -> anyhow::Result<()> {
    let rows = rows(entries, view);
    if json {
        return super::wallet::print_json(&rows);
    }
    for l in render(&rows) {
        outln!("{l}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, time: u64, kind: HistoryKind, ch: u8, amount: u64) -> HistoryEntry {
        HistoryEntry {
            id,
            time,
            kind,
            channel: if ch == 0 {
                NO_CHANNEL
            } else {
                ChannelId([ch; 32])
            },
            amount: Amount(amount),
            seq: matches!(kind, HistoryKind::Paid | HistoryKind::Earned).then_some(id),
            total: Amount(amount * id),
        }
    }

    #[test]
    fn vouchers_group_per_channel_and_day_and_events_stay_lines() {
        let t = 1_764_500_000; // a Sunday afternoon, in any time zone not a day boundary
        let mut h = vec![entry(1, t - 10, HistoryKind::Minted, 0, 20_000_000)];
        h.push(entry(2, t, HistoryKind::Opened, 7, 1_000_000));
        for i in 0..1326 {
            h.push(entry(3 + i, t + i, HistoryKind::Paid, 7, 65));
        }
        h.push(entry(2000, t + 2000, HistoryKind::Refunded, 7, 913_810));
        let rows = rows(&h, &HistoryView::default());
        let kinds: Vec<_> = rows.iter().map(|r| (r.kind, r.count)).collect();
        assert_eq!(
            kinds,
            [
                (HistoryKind::Minted, 1),
                (HistoryKind::Opened, 1),
                (HistoryKind::Paid, 1326),
                (HistoryKind::Refunded, 1),
            ]
        );
        assert_eq!(rows[2].amount, Amount(1326 * 65));
        assert_eq!(rows[0].channel, None);
        let text = render(&rows);
        assert_eq!(text.len(), 5, "{text:#?}");
        assert!(text[2].contains("07070707  paid"), "{}", text[2]);
        assert!(text[2].contains("1326 vouchers"), "{}", text[2]);
        assert!(text[4].starts_with("totals"), "{}", text[4]);
        assert!(
            text[4].contains("paid 0.086190 (1326 vouchers)"),
            "{}",
            text[4]
        );

        let detail = HistoryView {
            detail: true,
            ..HistoryView::default()
        };
        assert_eq!(super::rows(&h, &detail).len(), h.len());
        let cut = HistoryView {
            since: Some(t + 1000),
            limit: Some(2),
            ..detail
        };
        let r = super::rows(&h, &cut);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].kind, HistoryKind::Refunded);
        assert!(render(&[]).contains(&"no history".to_string()));
    }

    #[test]
    fn since_takes_durations_and_dates_and_refuses_the_rest() {
        let now = 10_000_000;
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400);
        assert_eq!(parse_since("90s", now).unwrap(), now - 90);
        assert_eq!(parse_since("2w", now).unwrap(), now - 14 * 86_400);
        assert!(parse_since("99999999999999999999d", now).is_err());
        let d = parse_since("2026-11-30", now).unwrap();
        assert_eq!(local(d), (2026, 11, 30, 0, 0));
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "-7d",
            "2026-02-31",
            "2026-13-01",
            "20261130",
        ] {
            let e = parse_since(bad, now).unwrap_err().to_string();
            assert!(e.starts_with("--since"), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
    }
}
