//! Hybrid logical clock (docs/format/50-live-cluster.md §4): `ts = (unix_ms << 16) | logical`.
//!
//! The loopback server issues every commit timestamp and every `read_ts` from one clock, so
//! a read at `read_ts` sees exactly the writes committed before it was chosen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A monotonic HLC source.
#[derive(Debug, Default)]
pub struct Hlc {
    last: AtomicU64,
}

/// The physical milliseconds of an HLC timestamp.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> 16
}

fn now_ts() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    ms << 16
}

impl Hlc {
    /// A clock that never goes below `floor` (e.g. the newest commit of loaded data).
    pub fn starting_at(floor: u64) -> Self {
        Hlc {
            last: AtomicU64::new(floor),
        }
    }

    /// The next timestamp: wall-clock milliseconds when they moved on, else last + 1.
    pub fn next(&self) -> u64 {
        let wall = now_ts();
        let mut cur = self.last.load(Ordering::Acquire);
        loop {
            let want = wall.max(cur.saturating_add(1));
            match self
                .last
                .compare_exchange(cur, want, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return want,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The last timestamp issued (0 before the first).
    pub fn current(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Makes sure later timestamps are above `ts`.
    pub fn observe(&self, ts: u64) {
        self.last.fetch_max(ts, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_and_above_floor() {
        let far = (u64::MAX >> 16) << 16;
        let h = Hlc::starting_at(far - 10);
        let a = h.next();
        let b = h.next();
        assert!(a > far - 10 && b > a);
        let h = Hlc::default();
        let a = h.next();
        assert!(physical_ms(a) > 1_600_000_000_000);
        h.observe(a + 100);
        assert!(h.next() > a + 100);
    }
}
