//! LEDBAT (RFC 6817), the delay-based congestion control BEP 29 asks of uTP: the window grows
//! while the one-way queuing delay is under a 100 ms target and shrinks as it goes over, so a
//! uTP flow makes way for TCP (which only backs off on loss) on a shared bottleneck.
//!
//! The delay sample is the peer's `timestamp_difference_microseconds`: its clock at receipt
//! minus ours at sending. The clocks are unrelated, so only changes mean anything: the base
//! delay is the lowest sample of the last [`BASE_HISTORY`] minutes and the queuing delay is how
//! far the current sample (the lowest of the last [`CURRENT_FILTER`]) sits above it. Samples
//! wrap at 2^32 µs and are compared modulo that.

use std::time::{Duration, Instant};

/// The queuing delay LEDBAT aims at (BEP 29: 100 ms).
pub const TARGET_US: i64 = 100_000;
/// Minutes of base-delay history.
pub const BASE_HISTORY: usize = 10;
/// Delay samples the current delay is the minimum of (filters out one-off noise).
pub const CURRENT_FILTER: usize = 3;
/// At most this many bytes are added to the window per round trip (at zero queuing delay),
/// as libutp and libtorrent do.
pub const MAX_GAIN_PER_RTT: f64 = 3000.0;
/// Over target the window shrinks this many times faster than it grows under it. RFC 6817's
/// single gain shrinks a window of a hundred packets by two packets per round trip: behind a
/// loss-based TCP filling a deep buffer that takes tens of seconds to leave the link to TCP.
/// Shrinking faster (still linear in the excess delay, and never below one packet) is the
/// side to err on for a background protocol.
pub const DECREASE_FACTOR: f64 = 4.0;

#[derive(Debug, Clone)]
pub struct Ledbat {
    /// The congestion window, bytes.
    cwnd: f64,
    mss: f64,
    max_cwnd: f64,
    /// Per-minute minima, newest last.
    base: Vec<u32>,
    base_started: Instant,
    current: Vec<u32>,
    /// The last queuing delay computed, µs (for the peer list and tests).
    queuing_us: i64,
}

/// `a < b` modulo 2^32.
fn wrapping_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < (1 << 31)
}

impl Ledbat {
    pub fn new(now: Instant, mss: usize, max_cwnd: usize) -> Ledbat {
        let mss = mss as f64;
        Ledbat {
            // RFC 6817 §2.4.2: start at two packets.
            cwnd: 2.0 * mss,
            mss,
            max_cwnd: max_cwnd as f64,
            base: Vec::new(),
            base_started: now,
            current: Vec::new(),
            queuing_us: 0,
        }
    }

    pub fn cwnd(&self) -> usize {
        self.cwnd as usize
    }

    pub fn queuing_delay(&self) -> Duration {
        Duration::from_micros(u64::try_from(self.queuing_us).unwrap_or(0))
    }

    fn min_wrapping(v: &[u32]) -> Option<u32> {
        v.iter()
            .copied()
            .reduce(|a, b| if wrapping_lt(b, a) { b } else { a })
    }

    /// Records a delay sample (a peer's timestamp difference).
    pub fn sample(&mut self, now: Instant, delay: u32) {
        if self.base.is_empty() || now.duration_since(self.base_started) >= Duration::from_secs(60)
        {
            if self.base.len() == BASE_HISTORY {
                self.base.remove(0);
            }
            self.base.push(delay);
            self.base_started = now;
        } else if let Some(last) = self.base.last_mut()
            && wrapping_lt(delay, *last)
        {
            *last = delay;
        }
        if self.current.len() == CURRENT_FILTER {
            self.current.remove(0);
        }
        self.current.push(delay);
        if let (Some(base), Some(cur)) = (
            Self::min_wrapping(&self.base),
            Self::min_wrapping(&self.current),
        ) {
            // Below the base (a new minimum not yet folded in, or clock drift) is no queue.
            let q = cur.wrapping_sub(base);
            self.queuing_us = if q < (1 << 31) { i64::from(q) } else { 0 };
        }
    }

    /// `acked` bytes were acknowledged; `flight` bytes were in flight before (a window that
    /// was not used up is not grown: the application, not the path, limited it).
    pub fn on_ack(&mut self, acked: usize, flight: usize) {
        if acked == 0 || self.current.is_empty() {
            return;
        }
        let off_target = ((TARGET_US - self.queuing_us) as f64 / TARGET_US as f64).max(-1.0);
        if off_target > 0.0 && (flight as f64) + self.mss < self.cwnd {
            return;
        }
        let factor = if off_target < 0.0 {
            DECREASE_FACTOR
        } else {
            1.0
        };
        let gain = factor * MAX_GAIN_PER_RTT * off_target * acked as f64 / self.cwnd;
        self.cwnd = (self.cwnd + gain).clamp(self.mss, self.max_cwnd);
    }

    /// A packet was lost (fast retransmit): halve, as TCP does.
    pub fn on_loss(&mut self) {
        self.cwnd = (self.cwnd / 2.0).max(self.mss);
    }

    /// The retransmission timer fired: back to one packet (RFC 6817 §2.4.2).
    pub fn on_timeout(&mut self) {
        self.cwnd = self.mss;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn grows_without_queue_and_shrinks_over_target() {
        let now = Instant::now();
        let mut l = Ledbat::new(now, 1000, 1 << 20);
        // A base delay of some arbitrary clock offset, near the wrap.
        let base = u32::MAX - 5_000;
        for _ in 0..200 {
            l.sample(now, base);
            l.on_ack(1000, l.cwnd());
        }
        let grown = l.cwnd();
        assert!(grown > 20_000, "{grown}");
        // 200 ms of queue: twice the target, the window shrinks.
        for _ in 0..50 {
            l.sample(now, base.wrapping_add(200_000));
            l.on_ack(1000, l.cwnd());
        }
        assert!(l.queuing_delay() >= Duration::from_millis(199));
        assert!(l.cwnd() < grown, "{} !< {grown}", l.cwnd());
        // Exactly at target: no change.
        let before = l.cwnd();
        for _ in 0..3 {
            l.sample(now, base.wrapping_add(100_000));
        }
        l.on_ack(1000, l.cwnd());
        assert_eq!(l.cwnd(), before);
    }

    #[test]
    fn an_unused_window_does_not_grow() {
        let now = Instant::now();
        let mut l = Ledbat::new(now, 1000, 1 << 20);
        l.sample(now, 10);
        l.on_ack(1000, 0);
        assert_eq!(l.cwnd(), 2000);
    }

    #[test]
    fn base_history_forgets_old_minima() {
        let t0 = Instant::now();
        let mut l = Ledbat::new(t0, 1000, 1 << 20);
        l.sample(t0, 1_000);
        for m in 1..=BASE_HISTORY as u64 {
            l.sample(t0 + Duration::from_secs(60 * m), 50_000);
        }
        // The 1 ms minimum is older than the history: the base is now 50 ms.
        assert_eq!(l.queuing_delay(), Duration::ZERO);
        assert_eq!(l.base.len(), BASE_HISTORY);
    }

    #[test]
    fn loss_halves_and_timeout_resets() {
        let now = Instant::now();
        let mut l = Ledbat::new(now, 1000, 1 << 20);
        for _ in 0..100 {
            l.sample(now, 0);
            l.on_ack(1000, l.cwnd());
        }
        let w = l.cwnd();
        l.on_loss();
        assert!((l.cwnd() as i64 - (w / 2) as i64).abs() <= 1);
        l.on_timeout();
        assert_eq!(l.cwnd(), 1000);
    }
}
