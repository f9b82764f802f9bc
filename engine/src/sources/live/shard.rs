//! A Raft group as a [`Shard`]: each `scan` spawns one async scanner on the dump's runtime and
//! bridges it to the pipeline's (blocking) iterator through a bounded channel, so a slow
//! consumer throttles the scanner instead of buffering the group in memory.

use super::scan::{prefix_ranges, scan_task, Msg, ScanParams};
use super::scopes::ScopeId;
use crate::error::Error;
use crate::sources::{RawEntry, Shard, ShardStream};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Where a full scan leaves its per-scope key counts.
type CountSlot = Arc<Mutex<Option<BTreeMap<ScopeId, u64>>>>;

/// Batches in flight per scan.
const BATCHES_IN_FLIGHT: usize = 4;

/// One group of a live cluster.
pub struct LiveShard {
    params: Arc<ScanParams>,
    rt: tokio::runtime::Handle,
    full_counts: CountSlot,
    restrict: Option<Vec<&'static [u8]>>,
}

impl LiveShard {
    /// A shard scanning with `params` on runtime `rt`. With `restrict`, the full pass (a
    /// scan with no prefixes) covers only keys under those prefixes — one adapter's families
    /// when a resumable dump writes adapter by adapter — and its counts are the full counts.
    pub fn new(
        params: ScanParams,
        rt: tokio::runtime::Handle,
        restrict: Option<Vec<&'static [u8]>>,
    ) -> Self {
        LiveShard {
            params: Arc::new(params),
            rt,
            full_counts: Arc::new(Mutex::new(None)),
            restrict,
        }
    }

    /// Group id.
    pub fn group(&self) -> u64 {
        self.params.group
    }

    /// Per-scope key counts of the last complete full scan (`None` before one finished).
    pub fn full_counts(&self) -> Option<BTreeMap<ScopeId, u64>> {
        self.full_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Shard for LiveShard {
    fn name(&self) -> String {
        format!(
            "group {} via {}",
            self.params.group,
            self.params.route.current().address
        )
    }

    fn read_ts(&self) -> u64 {
        self.params.read_ts
    }

    fn scan(&self, prefixes: &[&'static [u8]]) -> Result<ShardStream, Error> {
        let full = prefixes.is_empty();
        let ranges = match (&self.restrict, full) {
            (Some(r), true) => prefix_ranges(r),
            _ => prefix_ranges(prefixes),
        };
        let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
        self.rt.spawn(scan_task(self.params.clone(), ranges, tx));
        Ok(Box::new(LiveStream {
            rx,
            batch: Vec::new().into_iter(),
            group: self.params.group,
            done: false,
            counts: full.then(|| self.full_counts.clone()),
        }))
    }
}

/// The blocking side of one scan.
struct LiveStream {
    rx: mpsc::Receiver<Msg>,
    batch: std::vec::IntoIter<RawEntry>,
    group: u64,
    done: bool,
    counts: Option<CountSlot>,
}

impl Iterator for LiveStream {
    type Item = Result<RawEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.batch.next() {
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            match self.rx.blocking_recv() {
                Some(Msg::Batch(b)) => self.batch = b.into_iter(),
                Some(Msg::Done(counts)) => {
                    self.done = true;
                    if let Some(slot) = &self.counts {
                        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(counts);
                    }
                }
                Some(Msg::Fail(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    return Some(Err(Error::Internal(format!(
                        "scanner of group {} stopped without finishing",
                        self.group
                    ))));
                }
            }
        }
    }
}
