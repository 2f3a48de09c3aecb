//! Token-bucket rate limits, shared by every peer of a torrent or of the whole session.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub struct RateLimiter {
    /// Bytes per second; 0 means unlimited.
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
    /// Bumped (under the bucket lock) whenever the rate changes, so a task asleep on a debt
    /// computed at the old rate knows to start over.
    generation: AtomicU64,
    /// Wakes every task asleep in [`RateLimiter::acquire`] when the rate changes: a 16 KiB
    /// block reserved at 1 B/s sleeps for hours, and lifting the limit must end that at once.
    changed: Notify,
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
            generation: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    pub fn unlimited() -> Self {
        RateLimiter::new(0)
    }

    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    fn bucket(&self) -> std::sync::MutexGuard<'_, Bucket> {
        match self.bucket.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Changes the rate. The debt run up at the old rate is forgiven (it was priced at a rate
    /// no longer in force) and every sleeper wakes to reserve again at the new one.
    pub fn set_rate(&self, rate: u64) {
        let mut b = self.bucket();
        if self.rate.swap(rate, Ordering::Relaxed) == rate {
            return;
        }
        b.tokens = b.tokens.max(0.0);
        b.last = Instant::now();
        self.generation.fetch_add(1, Ordering::Relaxed);
        drop(b);
        self.changed.notify_waiters();
    }

    /// How long to wait before `n` bytes may pass, and the rate generation it was priced at;
    /// takes the tokens (the balance may go negative, which makes later callers wait their
    /// turn).
    fn reserve(&self, n: u64) -> (Duration, u64) {
        let mut b = self.bucket();
        let generation = self.generation.load(Ordering::Relaxed);
        let rate = self.rate();
        if rate == 0 {
            return (Duration::ZERO, generation);
        }
        let now = Instant::now();
        let burst = rate as f64 / 4.0 + 64.0 * 1024.0;
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate as f64).min(burst);
        b.last = now;
        b.tokens -= n as f64;
        let wait = if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / rate as f64)
        };
        (wait, generation)
    }

    pub async fn acquire(&self, n: u64) {
        'reserve: loop {
            // Registered before reserving, so a rate change right after the reservation
            // still wakes us.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (wait, generation) = self.reserve(n);
            if wait.is_zero() {
                return;
            }
            let sleep = tokio::time::sleep(wait);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => return,
                    _ = &mut changed => {
                        if self.generation.load(Ordering::Relaxed) != generation {
                            continue 'reserve;
                        }
                        // Woken by a change our reservation already saw: keep sleeping.
                        changed.set(self.changed.notified());
                        changed.as_mut().enable();
                        if self.generation.load(Ordering::Relaxed) != generation {
                            continue 'reserve;
                        }
                    }
                }
            }
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
        assert_eq!(u.reserve(1 << 30).0, Duration::ZERO);
        let l = RateLimiter::new(100_000);
        // the burst allowance passes at once, then the debt must be waited off
        let first = l.reserve(200_000).0;
        assert!(first > Duration::from_millis(1500), "{first:?}");
        l.set_rate(0);
        assert_eq!(l.reserve(1).0, Duration::ZERO);
    }

    /// Tasks asleep on a 1 B/s debt finish as soon as the limit is lifted or raised, and the
    /// debt does not carry over (issue 17: a download stayed stalled for good). Real time, with
    /// a bound a thousand times the expected wake-up: the sleep being cut short is hours.
    #[tokio::test]
    async fn changing_the_rate_wakes_sleepers_and_forgives_the_debt() {
        for new_rate in [0, 100 * 1024 * 1024] {
            let l = std::sync::Arc::new(RateLimiter::new(1));
            // The bucket starts empty: each caller runs up 16 KiB of debt, hours at 1 B/s.
            let sleepers: Vec<_> = (0..4)
                .map(|_| {
                    let l = l.clone();
                    tokio::spawn(async move { l.acquire(16 * 1024).await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                sleepers.iter().all(|s| !s.is_finished()),
                "1 B/s let a block through"
            );
            l.set_rate(new_rate);
            for s in sleepers {
                tokio::time::timeout(Duration::from_secs(5), s)
                    .await
                    .unwrap_or_else(|_| panic!("still asleep after lifting to {new_rate} B/s"))
                    .unwrap();
            }
            // No leftover debt: a further block passes at once at the new rate.
            let next = l.reserve(16 * 1024).0;
            assert!(
                next < Duration::from_millis(10),
                "{next:?} after lifting to {new_rate} B/s"
            );
        }
    }

    #[tokio::test]
    async fn an_unchanged_rate_does_not_wake_anyone() {
        let l = std::sync::Arc::new(RateLimiter::new(1));
        let s = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire(16 * 1024).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        l.set_rate(1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!s.is_finished());
        s.abort();
    }
}
