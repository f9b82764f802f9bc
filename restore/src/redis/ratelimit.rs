//! `--rate-limit OPS`: a token bucket over commands sent, so a restore can run beside live
//! traffic without saturating the target.

use std::time::{Duration, Instant};

/// Commands-per-second limiter. A batch takes its tokens at once; the bucket may go into
/// debt by one batch, which is then paid back by sleeping before the next one, so the
/// long-run rate never exceeds the limit and bursts stay within one batch.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket refilled at `ops_per_sec` (≥ 1) holding at most a tenth of a second's worth
    /// (at least one token).
    pub fn new(ops_per_sec: u64) -> Self {
        let rate = ops_per_sec.max(1) as f64;
        let capacity = (rate / 10.0).max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// The largest batch that keeps bursts within the bucket: callers cap their pipeline
    /// batches at this many commands.
    pub fn max_batch(&self) -> usize {
        self.capacity as usize
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
    }

    /// How long to wait before `n` commands may be sent; takes their tokens.
    pub fn reserve(&mut self, n: usize, now: Instant) -> Duration {
        self.refill(now);
        let wait = if self.tokens < 0.0 {
            Duration::from_secs_f64(-self.tokens / self.rate)
        } else {
            Duration::ZERO
        };
        self.tokens -= n as f64;
        wait
    }

    /// Takes tokens for `n` commands, sleeping first if the bucket is in debt.
    pub fn take(&mut self, n: usize) {
        let wait = self.reserve(n, Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_run_rate_is_the_limit() {
        let mut b = TokenBucket::new(1000);
        assert_eq!(b.max_batch(), 100);
        let t0 = Instant::now();
        // 100 tokens in the bucket: the first batch is free, the second goes into debt,
        // the third waits for that debt (100 commands = 100 ms) to be repaid.
        assert_eq!(b.reserve(100, t0), Duration::ZERO);
        assert_eq!(b.reserve(100, t0), Duration::ZERO);
        let w = b.reserve(100, t0);
        assert!((w.as_secs_f64() - 0.1).abs() < 1e-6, "{w:?}");
        // After a long pause the bucket is full again, not more.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.reserve(100, later), Duration::ZERO);
        assert_eq!(b.reserve(1, later), Duration::ZERO);
        assert!(b.reserve(1, later) > Duration::ZERO);
    }

    #[test]
    fn tiny_limits_still_allow_one_command() {
        let b = TokenBucket::new(3);
        assert_eq!(b.max_batch(), 1);
        let b = TokenBucket::new(0);
        assert_eq!(b.max_batch(), 1);
    }
}
