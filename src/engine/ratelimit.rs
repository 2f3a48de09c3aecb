//! Token-bucket rate limits, shared by every peer of a torrent or of the whole session.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct RateLimiter {
    /// Bytes per second; 0 means unlimited.
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate: u64) -> Self {
        RateLimiter {
            rate: AtomicU64::new(rate),
            bucket: Mutex::new(Bucket {
                tokens: 0.0,
                last: Instant::now(),
            }),
        }
    }

    pub fn unlimited() -> Self {
        RateLimiter::new(0)
    }

    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    pub fn set_rate(&self, rate: u64) {
        self.rate.store(rate, Ordering::Relaxed);
    }

    /// How long to wait before `n` bytes may pass; takes the tokens (the balance may go
    /// negative, which makes later callers wait their turn).
    fn reserve(&self, n: u64) -> Duration {
        let rate = self.rate();
        if rate == 0 {
            return Duration::ZERO;
        }
        let mut b = match self.bucket.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        let burst = rate as f64 / 4.0 + 64.0 * 1024.0;
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate as f64).min(burst);
        b.last = now;
        b.tokens -= n as f64;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / rate as f64)
        }
    }

    pub async fn acquire(&self, n: u64) {
        let wait = self.reserve(n);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Waits on every limiter in turn (global then per torrent).
pub async fn acquire_all(limiters: &[&RateLimiter], n: u64) {
    for l in limiters {
        l.acquire(n).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits_and_limited_paces() {
        let u = RateLimiter::unlimited();
        assert_eq!(u.reserve(1 << 30), Duration::ZERO);
        let l = RateLimiter::new(100_000);
        // the burst allowance passes at once, then the debt must be waited off
        let first = l.reserve(200_000);
        assert!(first > Duration::from_millis(1500), "{first:?}");
        l.set_rate(0);
        assert_eq!(l.reserve(1), Duration::ZERO);
    }
}
