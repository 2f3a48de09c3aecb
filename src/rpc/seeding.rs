//! Seeding rules: when a complete torrent has uploaded enough (a ratio limit) or nobody has
//! wanted it for a while (an idle limit), the action at the limit applies: `stop` pauses it,
//! `slow-to RATE` caps its upload and keeps seeding, `keep-while-earning PRICE` keeps seeding
//! while the market pays at least PRICE per MiB uploaded over the earning window.
//!
//! Limits come from the torrent (`single`), the global rules (`global`) or nowhere
//! (`unlimited`), as Transmission's seedRatioMode and seedIdleMode. The controller runs
//! [`decide`] for every seeding torrent every few seconds and records what it did in the
//! session file, so a restart neither forgets a stop nor repeats it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::proto::{GlobalSeeding, LimitMode, SeedAction, SeedRules};

/// A ratio limit as given: finite and not negative.
pub fn check_ratio(r: f64) -> Result<f64, String> {
    if r.is_finite() && r >= 0.0 {
        Ok(r)
    } else {
        Err(format!("ratio {r}: must be a number of at least 0"))
    }
}

/// What the task remembers of one seeding torrent between rounds.
#[derive(Debug, Default)]
pub struct Track {
    last_uploaded: Option<u64>,
    last_change: Option<Instant>,
    /// (when, uploaded, earned micro-tokens): one per round, the window's worth plus the
    /// newest sample older than the window (the baseline).
    samples: VecDeque<(Instant, u64, u64)>,
}

impl Track {
    pub fn observe(&mut self, now: Instant, uploaded: u64, earned: Option<u64>, window_secs: u64) {
        if self.last_uploaded != Some(uploaded) {
            self.last_uploaded = Some(uploaded);
            self.last_change = Some(now);
        }
        self.samples
            .push_back((now, uploaded, earned.unwrap_or_default()));
        let window = Duration::from_secs(window_secs);
        // Drop samples while the next one is old enough to be the baseline.
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|s| now.duration_since(s.0) >= window)
        {
            self.samples.pop_front();
        }
    }

    /// Seconds since the upload counter last moved (since tracking began, when never).
    pub fn idle_secs(&self, now: Instant) -> u64 {
        self.last_change
            .map_or(0, |t| now.duration_since(t).as_secs())
    }

    /// Micro-tokens earned per MiB uploaded over the last `window`; `None` until a full
    /// window has been watched.
    pub fn earning_rate(&self, now: Instant, window: Duration) -> Option<u64> {
        let base = self.samples.front()?;
        let last = self.samples.back()?;
        if now.duration_since(base.0) < window {
            return None;
        }
        let up = last.1.saturating_sub(base.1);
        let earned = last.2.saturating_sub(base.2);
        if up == 0 {
            return Some(0);
        }
        Some((u128::from(earned) * (1u128 << 20) / u128::from(up)) as u64)
    }
}

/// A torrent's counters for one round.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub uploaded: u64,
    pub downloaded: u64,
    pub size: u64,
    pub idle_secs: u64,
}

/// Upload ratio as Transmission counts it: against what was downloaded, or against the size
/// for a torrent we never downloaded (a seeder from the start).
pub fn ratio(p: &Progress) -> f64 {
    let base = if p.downloaded > 0 {
        p.downloaded
    } else {
        p.size
    };
    if base == 0 {
        0.0
    } else {
        p.uploaded as f64 / base as f64
    }
}

/// The ratio limit in force, if any.
pub fn ratio_limit(rules: &SeedRules, global: &GlobalSeeding) -> Option<f64> {
    match rules.ratio_mode {
        LimitMode::Global => (global.ratio > 0.0).then_some(global.ratio),
        LimitMode::Single => Some(rules.ratio),
        LimitMode::Unlimited => None,
    }
}

/// The idle limit in force, minutes, if any.
pub fn idle_limit(rules: &SeedRules, global: &GlobalSeeding) -> Option<u64> {
    match rules.idle_mode {
        LimitMode::Global => (global.idle_minutes > 0).then_some(global.idle_minutes),
        LimitMode::Single => Some(rules.idle_minutes),
        LimitMode::Unlimited => None,
    }
}

/// What to do with a seeding torrent this round. The texts are stable for a given limit (no
/// live numbers), so recording them does not rewrite the session file every round.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Keep,
    Stop(String),
    SlowTo(String, u64),
    /// Over a limit, but the market pays enough: seeding on.
    Earning(String),
}

pub fn decide(
    rules: &SeedRules,
    global: &GlobalSeeding,
    p: Progress,
    track: &Track,
    now: Instant,
    market_on: bool,
) -> Decision {
    let reason = if let Some(limit) = ratio_limit(rules, global).filter(|l| ratio(&p) >= *l) {
        format!("ratio limit {limit:.2} reached")
    } else if let Some(mins) = idle_limit(rules, global).filter(|m| p.idle_secs >= m * 60) {
        format!("idle limit {mins} min reached")
    } else {
        return Decision::Keep;
    };
    match rules.action.unwrap_or(global.action) {
        SeedAction::Stop => Decision::Stop(reason),
        SeedAction::SlowTo(rate) => Decision::SlowTo(reason, rate),
        SeedAction::KeepWhileEarning(price) => {
            if !market_on {
                return Decision::Stop(format!("{reason} (the market is off)"));
            }
            let window = Duration::from_secs(global.earning_window_secs);
            match track.earning_rate(now, window) {
                None => Decision::Earning(format!("{reason}: seeding while the market pays")),
                Some(r) if r >= price => {
                    Decision::Earning(format!("{reason}: seeding while the market pays"))
                }
                Some(r) => Decision::Stop(format!(
                    "{reason}, earning {} per MiB (below {})",
                    crate::wallet::Amount(r),
                    crate::wallet::Amount(price)
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(up: u64, down: u64, idle: u64) -> Progress {
        Progress {
            uploaded: up,
            downloaded: down,
            size: 1000,
            idle_secs: idle,
        }
    }

    #[test]
    fn modes_pick_the_limit() {
        let g = GlobalSeeding {
            ratio: 2.0,
            ..GlobalSeeding::default()
        };
        let t = Track::default();
        let now = Instant::now();
        let global = SeedRules::default();
        assert_eq!(
            decide(&global, &g, prog(1999, 1000, 0), &t, now, false),
            Decision::Keep
        );
        assert!(matches!(
            decide(&global, &g, prog(2000, 1000, 0), &t, now, false),
            Decision::Stop(_)
        ));
        let unlimited = SeedRules {
            ratio_mode: LimitMode::Unlimited,
            ..SeedRules::default()
        };
        assert_eq!(
            decide(&unlimited, &g, prog(9000, 1000, 0), &t, now, false),
            Decision::Keep
        );
        let own = SeedRules {
            ratio_mode: LimitMode::Single,
            ratio: 0.5,
            action: Some(SeedAction::SlowTo(1000)),
            ..SeedRules::default()
        };
        assert_eq!(
            decide(&own, &g, prog(500, 1000, 0), &t, now, false),
            Decision::SlowTo("ratio limit 0.50 reached".into(), 1000)
        );
        // A seeder from the start counts against the size.
        assert_eq!(
            decide(&own, &g, prog(499, 0, 0), &t, now, false),
            Decision::Keep
        );
        let idle = SeedRules {
            idle_mode: LimitMode::Single,
            idle_minutes: 1,
            ..SeedRules::default()
        };
        assert!(matches!(
            decide(
                &idle,
                &GlobalSeeding::default(),
                prog(0, 0, 60),
                &t,
                now,
                false
            ),
            Decision::Stop(_)
        ));
    }

    #[test]
    fn keep_while_earning_measures_a_window() {
        let g = GlobalSeeding {
            ratio: 1.0,
            action: SeedAction::KeepWhileEarning(50_000),
            earning_window_secs: 10,
            ..GlobalSeeding::default()
        };
        let rules = SeedRules::default();
        let t0 = Instant::now();
        let mut t = Track::default();
        t.observe(t0, 1 << 20, Some(0), 10);
        let p = prog(5000, 1000, 0);
        // Not a full window yet: keep seeding.
        assert!(matches!(
            decide(&rules, &g, p, &t, t0, true),
            Decision::Earning(_)
        ));
        // 2 MiB uploaded for 0.2 tokens over the window: 0.1 per MiB, above 0.05.
        let t1 = t0 + Duration::from_secs(10);
        t.observe(t1, 3 << 20, Some(200_000), 10);
        assert_eq!(t.earning_rate(t1, Duration::from_secs(10)), Some(100_000));
        assert!(matches!(
            decide(&rules, &g, p, &t, t1, true),
            Decision::Earning(_)
        ));
        // The next window pays 0.01 per MiB: stop.
        let t2 = t1 + Duration::from_secs(10);
        t.observe(t2, 5 << 20, Some(220_000), 10);
        assert_eq!(t.earning_rate(t2, Duration::from_secs(10)), Some(10_000));
        assert!(matches!(
            decide(&rules, &g, p, &t, t2, true),
            Decision::Stop(_)
        ));
        // Without a market nothing is earned.
        assert!(matches!(
            decide(&rules, &g, p, &Track::default(), t0, false),
            Decision::Stop(_)
        ));
    }

    #[test]
    fn actions_parse_and_print() {
        for s in ["stop", "slow-to 1024", "keep-while-earning 0.050000"] {
            assert_eq!(SeedAction::parse(s).expect(s).to_string(), s);
        }
        assert_eq!(
            SeedAction::parse("slow-to 1K"),
            Ok(SeedAction::SlowTo(1024))
        );
        assert!(SeedAction::parse("slow-to 0").is_err());
        assert!(SeedAction::parse("slow").is_err());
        assert!(SeedAction::parse("keep-while-earning x").is_err());
        assert!(check_ratio(f64::NAN).is_err());
        assert!(check_ratio(-1.0).is_err());
    }
}
