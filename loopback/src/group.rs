//! One Raft group of the loopback cluster: its MVCC store, its log indexes (commit, applied,
//! last snapshot), its replica-local pin table, and the per-group fault switches.

use super::pins::{Pin, PinId};
use super::store::GroupStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A group and its state.
#[derive(Debug)]
pub struct Group {
    /// Raft group id (≥ 1).
    pub id: u64,
    store: RwLock<GroupStore>,
    commit_index: AtomicU64,
    applied_index: AtomicU64,
    last_snapshot_index: AtomicU64,
    pins: Mutex<HashMap<PinId, Pin>>,
    /// Fault: the applied index stops following the commit index.
    pub lagging: AtomicBool,
    /// Fault: proposals of pin entries fail on this group.
    pub pin_commit_fails: AtomicBool,
    /// Fault: every RawKV call for this group fails `UNAVAILABLE`.
    pub killed: AtomicBool,
    /// Fault: pages served before the group is killed (negative = never).
    pub kill_after_pages: AtomicI64,
}

impl Group {
    /// An empty group.
    pub fn new(id: u64) -> Self {
        Group {
            id,
            store: RwLock::new(GroupStore::default()),
            commit_index: AtomicU64::new(0),
            applied_index: AtomicU64::new(0),
            last_snapshot_index: AtomicU64::new(0),
            pins: Mutex::new(HashMap::new()),
            lagging: AtomicBool::new(false),
            pin_commit_fails: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill_after_pages: AtomicI64::new(-1),
        }
    }

    /// Read access to the store (a poisoned lock is still usable: the map stays consistent
    /// because every mutation is a single call).
    pub fn read(&self) -> RwLockReadGuard<'_, GroupStore> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the store.
    pub fn write(&self) -> RwLockWriteGuard<'_, GroupStore> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The pin table of this replica.
    pub fn pins(&self) -> MutexGuard<'_, HashMap<PinId, Pin>> {
        self.pins.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one entry to the log (commit), applying it unless the group lags.
    pub fn log_entry(&self) -> u64 {
        let idx = self.commit_index.fetch_add(1, Ordering::AcqRel) + 1;
        if !self.lagging.load(Ordering::Acquire) {
            self.applied_index.fetch_max(idx, Ordering::AcqRel);
        }
        idx
    }

    /// Makes the group lag (an entry committed but not applied) or catch up.
    pub fn set_lagging(&self, lag: bool) {
        self.lagging.store(lag, Ordering::Release);
        if lag {
            self.commit_index.fetch_add(1, Ordering::AcqRel);
        } else {
            let c = self.commit_index.load(Ordering::Acquire);
            self.applied_index.fetch_max(c, Ordering::AcqRel);
        }
    }

    /// Commit index.
    pub fn commit_index(&self) -> u64 {
        self.commit_index.load(Ordering::Acquire)
    }

    /// Applied index.
    pub fn applied_index(&self) -> u64 {
        self.applied_index.load(Ordering::Acquire)
    }

    /// Index of the last snapshot.
    pub fn last_snapshot_index(&self) -> u64 {
        self.last_snapshot_index.load(Ordering::Acquire)
    }

    /// Takes a snapshot now (resets the headroom); also run after bulk loading.
    pub fn snapshot_now(&self) {
        self.last_snapshot_index
            .store(self.applied_index(), Ordering::Release);
    }

    /// Takes a snapshot when `every` entries were applied since the last one.
    pub fn maybe_snapshot(&self, every: u64) {
        if every > 0 && self.applied_index() - self.last_snapshot_index() >= every {
            self.snapshot_now();
        }
    }

    /// Counts one served page; returns false when the group is (now) killed.
    pub fn serve_page(&self) -> bool {
        if self.killed.load(Ordering::Acquire) {
            return false;
        }
        let left = self.kill_after_pages.load(Ordering::Acquire);
        if left == 0 {
            self.killed.store(true, Ordering::Release);
            return false;
        }
        if left > 0 {
            self.kill_after_pages.fetch_sub(1, Ordering::AcqRel);
        }
        true
    }

    /// The oldest pinned `read_ts` on this replica, if any pin is held.
    pub fn oldest_pin(&self) -> Option<u64> {
        self.pins().values().map(|p| p.read_ts).min()
    }

    /// Drops pins past their deadline; returns their ids (for the `backup_pin_expired` log).
    pub fn sweep(&self, now_ms: u64) -> Vec<PinId> {
        let mut pins = self.pins();
        let dead: Vec<PinId> = pins
            .iter()
            .filter(|(_, p)| p.deadline_ms <= now_ms)
            .map(|(id, _)| *id)
            .collect();
        for id in &dead {
            pins.remove(id);
        }
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_freezes_the_applied_index() {
        let g = Group::new(1);
        g.log_entry();
        assert_eq!((g.commit_index(), g.applied_index()), (1, 1));
        g.set_lagging(true);
        g.log_entry();
        assert_eq!((g.commit_index(), g.applied_index()), (3, 1));
        g.set_lagging(false);
        assert_eq!(g.applied_index(), 3);
    }

    #[test]
    fn kill_after_pages_counts_down() {
        let g = Group::new(1);
        g.kill_after_pages.store(2, Ordering::Release);
        assert!(g.serve_page());
        assert!(g.serve_page());
        assert!(!g.serve_page());
        assert!(!g.serve_page());
    }

    #[test]
    fn sweep_removes_expired_pins() {
        let g = Group::new(1);
        g.pins().insert(
            [1; 16],
            Pin {
                read_ts: 5,
                deadline_ms: 10,
            },
        );
        g.pins().insert(
            [2; 16],
            Pin {
                read_ts: 3,
                deadline_ms: 20,
            },
        );
        assert_eq!(g.oldest_pin(), Some(3));
        assert_eq!(g.sweep(15), vec![[1; 16]]);
        assert_eq!(g.sweep(25).len(), 1);
        assert_eq!(g.oldest_pin(), None);
    }
}
