//! A Raft group as a [`Shard`]: each `scan` spawns one async scanner on the dump's runtime and
//! bridges it to the pipeline's (blocking) iterator through a bounded channel, so a slow
//! consumer throttles the scanner instead of buffering the group in memory.

use super::limits::{BytePermit, Starving};
use super::narrow::{intersect, unskipped_ranges, KeyRange};
use super::scan::{prefix_ranges, scan_task, Msg, ScanParams};
use super::scopes::ScopeId;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sources::{RawEntry, Shard, ShardStream, SkipFamilies};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Where a full scan leaves its per-scope key counts.
type CountSlot = Arc<Mutex<Option<BTreeMap<ScopeId, u64>>>>;

/// Batches in flight per scan.
const BATCHES_IN_FLIGHT: usize = 4;
// The merge lane cannot be stranded because a group cannot fill its channel before the value
// fetches it had under way have finished (see `limits`): this keeps that true.
const _: () = assert!(BATCHES_IN_FLIGHT > super::scan::VALUE_FETCHES_IN_FLIGHT);

/// One group of a live cluster.
pub struct LiveShard {
    params: Arc<ScanParams>,
    rt: tokio::runtime::Handle,
    full_counts: CountSlot,
    restrict: Option<Vec<KeyRange>>,
}

impl LiveShard {
    /// A shard scanning with `params` on runtime `rt`. With `restrict`, every scan covers
    /// only keys in those ranges — the selected adapters' and scopes' keys, one adapter's
    /// when a resumable dump writes adapter by adapter — and the full pass's counts are the
    /// full counts.
    pub fn new(
        params: ScanParams,
        rt: tokio::runtime::Handle,
        restrict: Option<Vec<KeyRange>>,
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
        Ok(self.scan_ranges(prefix_ranges(prefixes), prefixes.is_empty()))
    }

    /// The full scan without the families nobody reads (see [`unskipped_ranges`]); its
    /// counts are still the full counts, as no counted family is left out.
    fn scan_skipping(&self, skip: SkipFamilies) -> Result<ShardStream, Error> {
        Ok(self.scan_ranges(unskipped_ranges(skip), true))
    }
}

impl LiveShard {
    /// A scan of `asked` (within the shard's restriction); `full` = its counts are the
    /// group's full counts.
    fn scan_ranges(&self, asked: Vec<KeyRange>, full: bool) -> ShardStream {
        let ranges = match &self.restrict {
            Some(r) => intersect(&asked, r),
            None => asked,
        };
        let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
        self.rt.spawn(scan_task(self.params.clone(), ranges, tx));
        Box::new(LiveStream {
            rx,
            batch: Vec::new().into_iter(),
            permit: None,
            group: self.params.group,
            starving: self.params.starving.clone(),
            done: false,
            counts: full.then(|| self.full_counts.clone()),
        })
    }
}

/// The blocking side of one scan.
struct LiveStream {
    rx: mpsc::Receiver<Msg>,
    batch: std::vec::IntoIter<RawEntry>,
    /// The current batch's bytes in the budget, given back once it is consumed.
    permit: Option<BytePermit>,
    group: u64,
    /// Tells the group's scanner when the merge waits on it.
    starving: Arc<Starving>,
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
            // The batch is consumed: its bytes go back before waiting for the next one.
            self.permit = None;
            if self.done {
                return None;
            }
            let next = match self.rx.try_recv() {
                Ok(m) => Some(m),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // The merge cannot go on without this group: its scanner may read
                    // past the concurrency limit meanwhile (see `limits::Starving`).
                    self.starving.set(true);
                    let m = self.rx.blocking_recv();
                    self.starving.set(false);
                    m
                }
            };
            match next {
                Some(Msg::Batch(b, permit)) => {
                    self.batch = b.into_iter();
                    self.permit = permit;
                }
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
