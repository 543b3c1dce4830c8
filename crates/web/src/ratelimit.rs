//! A per-address token bucket for the public endpoints (submission and lookup), so a query
//! secret cannot be guessed by brute force and one address cannot flood intake.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Requests allowed in a burst, and refilled per second.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub burst: f64,
    pub per_second: f64,
}

pub struct RateLimiter {
    limit: Limit,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(limit: Limit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; false when the bucket is empty.
    pub fn check(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() > 100_000 {
            // Forget full buckets so memory stays bounded under address churn.
            let burst = self.limit.burst;
            let rate = self.limit.per_second;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.limit.burst, now));
        let refill = now.duration_since(*at).as_secs_f64() * self.limit.per_second;
        *tokens = (*tokens + refill).min(self.limit.burst);
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
    fn bucket_empties_and_is_per_address() {
        let rl = RateLimiter::new(Limit {
            burst: 3.0,
            per_second: 0.0,
        });
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(rl.check(a) && rl.check(a) && rl.check(a));
        assert!(!rl.check(a));
        assert!(rl.check(b));
    }
}
