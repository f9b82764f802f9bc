//! How hard a live dump may lean on the cluster and on local memory: `--scan-concurrency`
//! (group reads in flight at once), `--max-inflight-bytes` (data read but not yet taken by
//! the pipeline) and `--rate-limit` (bytes per second read, off by default).
//!
//! Why reads, not whole groups, are what the concurrency bounds: every group's stream feeds
//! one ordered merge, which needs the next batch of *every* group before it can go on, so a
//! permit held for a group's whole scan would deadlock the merge beyond N groups. A permit
//! per RPC bounds the load each node sees the same way without that hazard. For the same
//! reason a group that holds no buffered bytes may always take its next batch, even past
//! the byte budget: memory stays within the budget plus one batch per group.
//!
//! A read permit held per RPC still has that hazard in one shape: a read nobody polls.
//! A group whose channel is full waits to deliver; if its reads under way, or its reads
//! queued for a permit, were not polled meanwhile, they would keep the permits they hold
//! or are handed (the semaphores are fair: a freed permit goes to the oldest queued waiter
//! whether or not anyone polls it), and with as many such groups as permits the group the
//! merge waits on could never read again (`--scan-concurrency` 1, 2 or 4 hung for good on
//! the bench data, about one dump in twelve). So a group's scan loop never blocks outside
//! its `select!` (`scan.rs`): it finishes the reads it has under way and holds their
//! results until the channel has room, starting no new ones meanwhile. On top of that the
//! group the merge is blocked on reads through one extra lane
//! ([`Throttle::read_slot_or_lane`], [`Starving`]): at most N + 1 reads are in flight, and
//! the one beyond N is always for the group the whole dump is waiting for — checked when
//! the lane's permit comes, not only when the read starts waiting for it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// Default of `--max-inflight-bytes`.
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 256 << 20;
/// Groups read at once by default, at most.
pub const DEFAULT_SCAN_CONCURRENCY: usize = 16;

/// The limits as configured (`dump` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLimits {
    /// Group reads (RPCs) in flight at once; `None` = min(groups, 16).
    pub scan_concurrency: Option<usize>,
    /// Bytes read from the cluster and not yet consumed, across groups.
    pub max_inflight_bytes: u64,
    /// Bytes per second read from the cluster; `None` = unlimited.
    pub rate_limit: Option<u64>,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            scan_concurrency: None,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            rate_limit: None,
        }
    }
}

impl ScanLimits {
    /// The concurrency for a dump of `groups` groups (at least 1).
    pub fn concurrency(&self, groups: usize) -> usize {
        self.scan_concurrency
            .unwrap_or_else(|| groups.min(DEFAULT_SCAN_CONCURRENCY))
            .max(1)
    }
}

/// The limits in force for one dump, shared by every group's scanner.
#[derive(Debug)]
pub struct Throttle {
    reads: Semaphore,
    /// The one read past `reads` for the group the merge is blocked on (module doc).
    lane: Semaphore,
    bytes: Arc<ByteBudget>,
    rate: Option<Mutex<TokenBucket>>,
}

/// Whether the ordered merge is blocked waiting for one group's next batch: set by that
/// group's stream while it waits, read by the group's scanner to take the merge lane.
#[derive(Debug, Default)]
pub struct Starving {
    waiting: AtomicBool,
    changed: Notify,
}

impl Starving {
    /// The merge starts (`true`) or stops (`false`) waiting for this group.
    pub fn set(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::Release);
        if waiting {
            self.changed.notify_waiters();
        }
    }

    /// Whether the merge waits for this group now.
    pub fn is_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }

    /// Resolves once the merge waits for this group (at once if it does now).
    pub async fn wait(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a `set(true)` in between still wakes it.
            changed.as_mut().enable();
            if self.waiting.load(Ordering::Acquire) {
                return;
            }
            changed.await;
        }
    }
}

impl Throttle {
    /// The throttle of a dump over `groups` groups.
    pub fn new(limits: &ScanLimits, groups: usize) -> Self {
        Throttle {
            reads: Semaphore::new(limits.concurrency(groups)),
            lane: Semaphore::new(1),
            bytes: Arc::new(ByteBudget::new(limits.max_inflight_bytes)),
            rate: limits
                .rate_limit
                .map(|r| Mutex::new(TokenBucket::new(r, Instant::now()))),
        }
    }

    /// Waits for a read slot; hold it for the duration of one RPC.
    pub async fn read_slot(&self) -> Option<SemaphorePermit<'_>> {
        // The semaphore is never closed; `None` would mean it was.
        self.reads.acquire().await.ok()
    }

    /// Waits for a read slot, or for the merge lane once the merge is blocked on this
    /// group (`starving`), whichever comes first; hold it for the duration of one RPC.
    pub async fn read_slot_or_lane(&self, starving: &Starving) -> Option<SemaphorePermit<'_>> {
        tokio::select! {
            biased;
            s = self.read_slot() => s,
            s = self.merge_lane(starving) => s,
        }
    }

    /// The lane's one permit, once the merge waits for this group (module doc) — and still
    /// waits for it when the permit comes: a permit freed after the merge got its batch
    /// (from the group's other read) would otherwise go to a group the merge has moved
    /// past, whose reads then compete with the one the dump waits for.
    async fn merge_lane(&self, starving: &Starving) -> Option<SemaphorePermit<'_>> {
        loop {
            starving.wait().await;
            let permit = self.lane.acquire().await.ok()?;
            if starving.is_waiting() {
                return Some(permit);
            }
        }
    }

    /// Waits until `n` more bytes read by a group that now buffers `held` bytes fit the
    /// budget; the permit gives them back when dropped.
    pub async fn buffer(&self, held: &Arc<AtomicU64>, n: u64) -> BytePermit {
        self.bytes.acquire(held, n).await
    }

    /// Waits as long as the rate limit asks after `n` bytes were read.
    pub async fn pace(&self, n: u64) {
        let wait = match &self.rate {
            Some(b) => b
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(n, Instant::now()),
            None => Duration::ZERO,
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A budget of bytes shared by every group (see the module doc for the idle-group rule).
#[derive(Debug)]
pub struct ByteBudget {
    max: u64,
    used: Mutex<u64>,
    freed: Notify,
}

impl ByteBudget {
    /// A budget of `max` bytes (at least 1).
    pub fn new(max: u64) -> Self {
        ByteBudget {
            max: max.max(1),
            used: Mutex::new(0),
            freed: Notify::new(),
        }
    }

    /// Bytes taken now.
    #[cfg(test)]
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `n` bytes (capped at the whole budget) for a group holding `held`: at once if
    /// they fit or the group holds nothing, else when enough is given back.
    pub async fn acquire(self: &Arc<Self>, held: &Arc<AtomicU64>, n: u64) -> BytePermit {
        let n = n.min(self.max);
        loop {
            // Registered before the check, so a release between the check and the wait
            // still wakes this waiter.
            let freed = self.freed.notified();
            if let Some(p) = self.try_acquire(held, n) {
                return p;
            }
            freed.await;
        }
    }

    fn try_acquire(self: &Arc<Self>, held: &Arc<AtomicU64>, n: u64) -> Option<BytePermit> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if *used + n > self.max && held.load(Ordering::Acquire) > 0 {
            return None;
        }
        *used += n;
        held.fetch_add(n, Ordering::AcqRel);
        Some(BytePermit {
            budget: self.clone(),
            held: held.clone(),
            n,
        })
    }
}

/// Bytes of one batch, given back to the budget (and the group's count) when dropped.
#[derive(Debug)]
pub struct BytePermit {
    budget: Arc<ByteBudget>,
    held: Arc<AtomicU64>,
    n: u64,
}

impl Drop for BytePermit {
    fn drop(&mut self) {
        {
            let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
            *used = used.saturating_sub(self.n);
        }
        self.held.fetch_sub(self.n, Ordering::AcqRel);
        self.budget.freed.notify_waiters();
    }
}

/// A token bucket over bytes: `rate` per second, bursts up to one second's worth. A take
/// larger than the tokens left goes into debt and is told how long to wait, so the
/// average never exceeds the rate however large the pages are.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `rate` bytes per second (at least 1) at `now`.
    pub fn new(rate: u64, now: Instant) -> Self {
        let rate = rate.max(1) as f64;
        TokenBucket {
            rate,
            burst: rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes `n` bytes at `now`; returns how long to wait before reading on.
    pub fn take(&mut self, n: u64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_paces_to_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000, t0);
        assert_eq!(b.take(1000, t0), Duration::ZERO);
        assert_eq!(b.take(500, t0), Duration::from_millis(500));
        // Waiting as told, then taking again, keeps paying off the debt at the rate.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(b.take(500, t1), Duration::from_millis(500));
        // Idle for long: the bucket refills to one burst, not more.
        let t2 = t0 + Duration::from_secs(100);
        assert_eq!(b.take(1000, t2), Duration::ZERO);
        assert!(b.take(1, t2) > Duration::ZERO);
    }

    #[test]
    fn bucket_average_never_exceeds_the_rate() {
        // Pages of varied sizes read as fast as the bucket lets them for a simulated
        // minute: bytes ≤ rate × elapsed + one burst.
        let rate = 10_000u64;
        let t0 = Instant::now();
        let mut b = TokenBucket::new(rate, t0);
        let (mut now, mut bytes) = (t0, 0u64);
        let mut i = 0u64;
        while now < t0 + Duration::from_secs(60) {
            let n = 1 + (i * 7919) % 25_000;
            bytes += n;
            now += b.take(n, now);
            i += 1;
        }
        let elapsed = (now - t0).as_secs_f64();
        assert!(
            bytes as f64 <= rate as f64 * elapsed + rate as f64 + 25_000.0,
            "{bytes} bytes in {elapsed}s"
        );
        assert!(bytes as f64 >= rate as f64 * elapsed * 0.9, "too slow");
    }

    #[test]
    fn default_concurrency_is_groups_capped() {
        let l = ScanLimits::default();
        assert_eq!(l.concurrency(3), 3);
        assert_eq!(l.concurrency(100), 16);
        assert_eq!(l.concurrency(0), 1);
        let one = ScanLimits {
            scan_concurrency: Some(1),
            ..ScanLimits::default()
        };
        assert_eq!(one.concurrency(12), 1);
    }

    #[test]
    fn byte_budget_blocks_busy_groups_and_never_idle_ones() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let budget = Arc::new(ByteBudget::new(100));
            let (a, b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let p1 = budget.acquire(&a, 80).await;
            // Group b holds nothing: it may go past the budget (the merge needs it).
            let p2 = budget.acquire(&b, 80).await;
            assert_eq!(budget.used(), 160);
            // Group a already holds bytes and the budget is spent: it waits.
            let waiter = {
                let (budget, a) = (budget.clone(), a.clone());
                tokio::spawn(async move { budget.acquire(&a, 10).await })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!waiter.is_finished());
            drop(p2);
            let p3 = tokio::time::timeout(Duration::from_secs(5), waiter)
                .await
                .expect("woken when bytes were given back")
                .unwrap();
            assert_eq!(budget.used(), 90);
            drop((p1, p3));
            assert_eq!(budget.used(), 0);
            assert_eq!(a.load(Ordering::Acquire), 0);
        });
    }

    /// Runs `body` on a one-thread runtime with a throttle of one read slot for 4 groups.
    fn with_one_slot<F: std::future::Future<Output = ()>>(body: impl FnOnce(Arc<Throttle>) -> F) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let limits = ScanLimits {
            scan_concurrency: Some(1),
            max_inflight_bytes: 1 << 20,
            rate_limit: None,
        };
        rt.block_on(body(Arc::new(Throttle::new(&limits, 4))));
    }

    #[test]
    fn the_group_the_merge_waits_on_reads_through_one_extra_lane() {
        with_one_slot(|t| async move {
            let (held, blocked) = (Arc::new(Starving::default()), Arc::new(Starving::default()));
            // A group waiting to deliver keeps the only slot.
            let slot = t.read_slot_or_lane(&held).await;
            assert!(slot.is_some());
            let read = |s: Arc<Starving>| {
                let t = t.clone();
                tokio::spawn(async move {
                    let p = t.read_slot_or_lane(&s).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    drop(p);
                })
            };
            // Another group waits for it, until the merge blocks on that group.
            let first = read(blocked.clone());
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!first.is_finished(), "read past the limit");
            blocked.set(true);
            // A second read of the same group waits for the lane: at most one extra.
            let second = read(blocked.clone());
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!second.is_finished(), "two reads through the lane");
            let done =
                |h: tokio::task::JoinHandle<()>| tokio::time::timeout(Duration::from_secs(5), h);
            done(first).await.expect("the lane let it read").unwrap();
            done(second).await.expect("the lane came free").unwrap();
            drop(slot);
        });
    }

    #[test]
    fn the_lane_goes_only_to_a_group_the_merge_still_waits_on() {
        with_one_slot(|t| async move {
            // The only slot is stranded by a group waiting to deliver.
            let stranded = Starving::default();
            let _slot = t.read_slot_or_lane(&stranded).await;
            let (a, b) = (Arc::new(Starving::default()), Arc::new(Starving::default()));
            // A read that holds what it got until told to let go.
            let read = |s: Arc<Starving>| {
                let t = t.clone();
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                let h = tokio::spawn(async move {
                    let p = t.read_slot_or_lane(&s).await;
                    let _ = rx.await;
                    drop(p);
                });
                (h, tx)
            };
            let settle = || tokio::time::sleep(Duration::from_millis(30));
            a.set(true);
            let (a1, let_a1_go) = read(a.clone());
            settle().await;
            // A second read of the same group queues for the lane...
            let (a2, let_a2_go) = read(a.clone());
            settle().await;
            // ...but the merge got its batch (from the first read) and moved on before the
            // lane came free: the second read must not take it now.
            a.set(false);
            let_a1_go.send(()).unwrap();
            a1.await.unwrap();
            settle().await;
            // The lane is free for the group the merge waits on next.
            b.set(true);
            let (b1, let_b1_go) = read(b.clone());
            settle().await;
            let_b1_go.send(()).unwrap();
            tokio::time::timeout(Duration::from_secs(5), b1)
                .await
                .expect("the lane went to a read of a group the merge no longer waits on")
                .unwrap();
            assert!(!a2.is_finished());
            // Once the merge waits on the first group again, its read goes through.
            a.set(true);
            let_a2_go.send(()).unwrap();
            tokio::time::timeout(Duration::from_secs(5), a2)
                .await
                .expect("the lane came back")
                .unwrap();
        });
    }
}
