//! Per-account request rate limit: a token bucket per key, in this server's memory. With
//! several servers each enforces its own share; the point is that no single key can keep a
//! server busy, not an exact global quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::wallet::keys::PublicKey;

/// Buckets kept before idle ones are dropped, so a stream of fresh keys cannot grow memory
/// without bound.
const MAX_BUCKETS: usize = 100_000;

pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<PublicKey, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_sec` requests per second sustained, twice that in a burst.
    pub fn new(per_sec: u32) -> RateLimiter {
        let per_sec = f64::from(per_sec.max(1));
        RateLimiter {
            per_sec,
            burst: per_sec * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket; false when it is empty.
    pub fn allow(&self, key: &PublicKey) -> bool {
        let now = Instant::now();
        // The map holds plain numbers: a panic elsewhere cannot leave it inconsistent.
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() >= MAX_BUCKETS && !b.contains_key(key) {
            // Full buckets carry no information: forget them.
            let (per_sec, burst) = (self.per_sec, self.burst);
            b.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, at) = b.entry(*key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_rate_is_refused_and_others_are_not() {
        let l = RateLimiter::new(5);
        let (a, b) = (PublicKey([1; 32]), PublicKey([2; 32]));
        let allowed = (0..50).filter(|_| l.allow(&a)).count();
        // The burst (10), plus whatever refilled during the loop.
        assert!((10..=11).contains(&allowed), "{allowed}");
        assert!(l.allow(&b));
    }
}
