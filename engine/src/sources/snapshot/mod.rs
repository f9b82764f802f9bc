//! Snapshot files (`.fsm`, one per Raft group) as a source: memory-mapped, one scanner
//! thread per shard feeding a bounded channel.

/// The `.fsm` container reader, from the format crate (the storage layout lives there).
pub use elastickv_backup_format::container;
pub use elastickv_backup_format::mvcc;

pub use container::{ContainerError, ContainerFormat};

use crate::error::Error;
use crate::sources::{RawEntry, Shard, ShardStream, SkipFamilies};
use bytes::Bytes;
use container::{locate, FrameReader, Payload};
use crossbeam_channel::bounded;
use mvcc::{decode_row, Row};
use std::path::Path;
use std::sync::atomic::Ordering;

pub mod resident;

/// Entries per batch sent from a scanner thread.
const BATCH: usize = 512;
/// A batch is also sent once its values reach this many bytes (big S3 chunks). Every
/// shard keeps up to `BATCHES_IN_FLIGHT + 3` batches of its mapping resident (queued, being
/// merged, not yet released), so this bounds RSS per shard: 1 MiB keeps it near 11 MiB
/// (4 MiB gave ~40 MiB per shard: 900 MiB peak RSS for 1 GiB in 100 shards, `bench`).
const BATCH_BYTES: usize = 1 << 20;

/// Drops the scanner's already-consumed part of the mapping from the process's resident
/// set. The pages stay in the page cache and fault back in (same bytes — the mapping is a
/// read-only file mapping) if a straggling reference still reads them, so this only keeps
/// RSS proportional to the in-flight window instead of to the snapshot size.
///
/// Stragglers do read behind the window: a file job queued to the workers can hold a
/// value (a zero-copy slice of the mapping) long after its batch was released, and
/// re-faults those pages when it renders. Nothing would release them again, so every
/// [`SWEEP_EVERY`] the whole consumed part is released once more (2.5 GiB decoded with
/// pages only released once ended at 330 MiB peak RSS instead of ~80 MiB, `bench
/// --vs-size`). A sweep of pages already released only walks page tables.
struct PageReleaser {
    base: usize,
    len: usize,
    released: usize,
    /// `released` at the last sweep.
    swept: usize,
    /// madvise failed once: stop trying (only memory use is at stake).
    failed: bool,
}

/// Consumed bytes between two sweeps of the whole consumed part (see [`PageReleaser`]).
const SWEEP_EVERY: usize = 64 << 20;

impl PageReleaser {
    fn new(file: &Bytes) -> Self {
        PageReleaser {
            base: file.as_ptr() as usize,
            len: file.len(),
            released: 0,
            swept: 0,
            failed: false,
        }
    }

    fn release_to(&mut self, offset: usize) {
        if self.failed {
            return;
        }
        let page = rustix::param::page_size();
        let mut start = self.released.div_ceil(page) * page;
        let end = (offset.min(self.len) / page) * page;
        if end <= start || !self.base.is_multiple_of(page) || end - start < (1 << 20) {
            return;
        }
        if end - self.swept >= SWEEP_EVERY {
            start = 0;
            self.swept = end;
        }
        // SAFETY: [start, end) lies inside the live read-only file mapping owned by the
        // payload's `Bytes` (kept alive by the caller); MADV_DONTNEED on a file mapping
        // only discards this process's page-table entries, never the file's contents.
        let advised = unsafe {
            rustix::mm::madvise(
                (self.base + start) as *mut std::ffi::c_void,
                end - start,
                rustix::mm::Advice::LinuxDontNeed,
            )
        };
        if let Err(e) = advised {
            // Only memory use is at stake (the pages stay mapped): say so once and stop
            // trying for this shard.
            tracing::warn!(
                "madvise(MADV_DONTNEED) on a snapshot mapping failed ({e}); resident memory will grow with the input"
            );
            self.failed = true;
            return;
        }
        self.released = end;
    }
}
/// Batches queued per shard (scanned ahead of the merge). Every shard scans this far
/// ahead even while the merge is busy elsewhere, so resident memory grows with it times
/// the shard count: 8 gave 600 MiB peak RSS for 1 GiB in 100 shards, 4 gives 350 MiB at
/// the same throughput (`bench`, tmpfs).
const BATCHES_IN_FLIGHT: usize = 4;

/// One opened snapshot file.
pub struct SnapshotShard {
    /// The path as given on the command line.
    pub path: String,
    payload: Payload,
}

impl SnapshotShard {
    /// Maps `path` and locates (and for runtime files verifies) its payload.
    pub fn open(path: &str) -> Result<Self, Error> {
        let wrap = |source: ContainerError| Error::Snapshot {
            file: path.to_string(),
            source,
        };
        let f = std::fs::File::open(path).map_err(|e| wrap(e.into()))?;
        let len = f.metadata().map_err(|e| wrap(e.into()))?.len();
        let bytes = if len == 0 {
            Bytes::new()
        } else {
            // SAFETY: the map is read-only; a snapshot file is immutable once written (the
            // runtime renames it into place). A concurrent truncation by another process
            // would fault, which is the same contract every mmap-based reader has.
            let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| wrap(e.into()))?;
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            Bytes::from_owner(resident::Registered::new(map))
        };
        let payload = locate(bytes).map_err(wrap)?;
        Ok(SnapshotShard {
            path: path.to_string(),
            payload,
        })
    }

    /// A shard over bytes already in memory (tests, fuzzing, piped input).
    pub fn from_bytes(name: &str, bytes: Bytes) -> Result<Self, Error> {
        let payload = locate(bytes).map_err(|source| Error::Snapshot {
            file: name.to_string(),
            source,
        })?;
        Ok(SnapshotShard {
            path: name.to_string(),
            payload,
        })
    }

    /// `last_commit_ts` from the payload header.
    pub fn last_commit_ts(&self) -> u64 {
        self.payload.last_commit_ts
    }

    /// Container shape.
    pub fn format(&self) -> ContainerFormat {
        self.payload.format
    }

    /// The applied index the file name carries, if any (contract: 16 hex digits + `.fsm`
    /// as the runtime writes it; otherwise upstream's decimal rule).
    pub fn snapshot_index(&self) -> Option<u64> {
        snapshot_index_from_path(&self.path)
    }

    /// Runs the whole file through the framing and MVCC checks without emitting anything,
    /// so a corrupt shard fails the run before any output is written.
    pub fn validate(&self) -> Result<(), Error> {
        for f in FrameReader::new(&self.payload) {
            let f = f.map_err(|source| Error::Snapshot {
                file: self.path.clone(),
                source,
            })?;
            decode_row(f).map_err(|source| Error::Snapshot {
                file: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// `snapshot_index` from a file name (docs/format/00-container.md §6 with the contract's hex rule).
pub fn snapshot_index_from_path(path: &str) -> Option<u64> {
    let name = Path::new(path).file_name()?.to_str()?;
    let stem = name.strip_suffix(".fsm")?;
    if stem.is_empty() {
        return None;
    }
    if stem.len() == 16 && stem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return u64::from_str_radix(stem, 16).ok();
    }
    if !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

impl Shard for SnapshotShard {
    fn name(&self) -> String {
        self.path.clone()
    }

    fn read_ts(&self) -> u64 {
        self.payload.last_commit_ts
    }

    fn size_hint(&self) -> u64 {
        (self.payload.end - self.payload.entries_start) as u64
    }

    fn scan(&self, prefixes: &[&'static [u8]]) -> Result<ShardStream, Error> {
        self.spawn_scan(Filter {
            prefixes: prefixes.to_vec(),
            skip: SkipFamilies::default(),
        })
    }

    fn scan_skipping(&self, skip: SkipFamilies) -> Result<ShardStream, Error> {
        self.spawn_scan(Filter {
            prefixes: Vec::new(),
            skip,
        })
    }
}

/// Which versions a scanner thread sends on.
struct Filter {
    /// Only keys under one of these (all when empty): the index pass.
    prefixes: Vec<&'static [u8]>,
    /// Never keys of these families: the main pass.
    skip: SkipFamilies,
}

impl Filter {
    /// Whether a stored key may be kept, before its row is decoded.
    fn wants(&self, stored_key: &[u8]) -> bool {
        self.prefixes.is_empty()
            || self
                .prefixes
                .iter()
                .any(|p| elastickv_backup_format::has_prefix(stored_key, p))
    }
}

impl SnapshotShard {
    fn spawn_scan(&self, filter: Filter) -> Result<ShardStream, Error> {
        let (tx, rx) = bounded::<Result<Batch, Error>>(BATCHES_IN_FLIGHT);
        let payload = self.payload.clone();
        let path = self.path.clone();
        let releaser = PageReleaser::new(&payload.file);
        let mapping = payload.file.clone();
        std::thread::Builder::new()
            .name("ekvb-scan".into())
            .spawn(move || scan_frames(&payload, &filter, &path, &tx))
            .map_err(|e| Error::io("spawning a scanner thread", e))?;
        Ok(Box::new(Consumer {
            rx,
            current: Vec::new().into_iter(),
            releaser,
            taken: std::collections::VecDeque::new(),
            _mapping: mapping,
        }))
    }
}

/// A scanner thread's work: the shard's versions that `filter` keeps, in batches into
/// `tx`, until the end of the file, an error (sent last) or the consumer going away.
fn scan_frames(
    payload: &Payload,
    filter: &Filter,
    path: &str,
    tx: &crossbeam_channel::Sender<Result<Batch, Error>>,
) {
    // The scanner's own releaser, for what a prefix-filtered scan skips (see below).
    let mut skipped = PageReleaser::new(&payload.file);
    let mut batch = Vec::with_capacity(BATCH);
    let mut batch_bytes = 0usize;
    // End offset of the last batch sent (or of the input released here).
    let mut last_sent = 0usize;
    let mut frames = FrameReader::new(payload);
    let mut dropped = Skipped::default();
    while let Some(f) = frames.next_if(|key| filter.wants(key)) {
        let row = f.and_then(|f| {
            let Some(f) = f else {
                return Ok(Row::Operational);
            };
            // The family is the user key's (a stored key's timestamp suffix could extend
            // a user key that ends where a longer prefix would continue).
            match decode_row(f)? {
                Row::Version(e) if filter.skip.drops(&e.user_key) => {
                    // Stored size, as the merge counts it for the versions it passes on.
                    dropped.add(e.user_key.len() + e.value.len() + 33);
                    Ok(Row::Operational)
                }
                row => Ok(row),
            }
        });
        let pos = frames.position();
        let full = match row {
            Ok(Row::Version(e)) => {
                batch_bytes += e.value.len();
                batch.push(e);
                batch.len() == BATCH || batch_bytes >= BATCH_BYTES
            }
            // A prefix-filtered scan (the index pass) may skip most of the file. Every
            // BATCH_BYTES of it, what is batched is sent; when nothing is, the scanner
            // releases the skipped pages itself and goes on. (Sending empty batches for
            // the consumer to release them stalled every shard but the one the merge was
            // reading, 4 batches in: the index pass ran one shard at a time.)
            Ok(Row::Operational) => {
                let due = pos.saturating_sub(last_sent) >= BATCH_BYTES;
                if due && batch.is_empty() {
                    skipped.release_to(pos);
                    last_sent = pos;
                }
                due && !batch.is_empty()
            }
            Err(source) => {
                let _ = tx.send(Ok((std::mem::take(&mut batch), pos)));
                let _ = tx.send(Err(Error::Snapshot {
                    file: path.to_string(),
                    source,
                }));
                return;
            }
        };
        if full {
            dropped.flush();
            batch_bytes = 0;
            let b = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.send(Ok((b, pos))).is_err() {
                return; // the consumer went away
            }
            last_sent = pos;
        }
    }
    dropped.flush();
    if !batch.is_empty() {
        let _ = tx.send(Ok((batch, frames.position())));
    }
}

/// Versions a scanner dropped ([`SkipFamilies`]) and their stored bytes, added to the
/// process-wide counters a batch at a time rather than contending for them per version.
#[derive(Default)]
struct Skipped {
    versions: u64,
    bytes: u64,
}

impl Skipped {
    fn add(&mut self, bytes: usize) {
        self.versions += 1;
        self.bytes += bytes as u64;
    }

    fn flush(&mut self) {
        if self.versions > 0 {
            let c = crate::progress::counters();
            c.input_bytes.fetch_add(self.bytes, Ordering::Relaxed);
            c.skipped.fetch_add(self.versions, Ordering::Relaxed);
            *self = Skipped::default();
        }
    }
}

/// A scanner batch: versions and the file offset where the batch ends.
type Batch = (Vec<RawEntry>, usize);

/// Batches taken by the consumer whose pages stay resident (the one being iterated and
/// the one before it, whose last entries may still be in the merge).
const RELEASE_LAG: usize = 2;

/// The consuming end of a shard scan: yields the scanner's batches and releases the
/// mapping's pages behind what it has taken — including, once the scanner is done, the
/// shard's tail, so a finished shard keeps nothing resident (with many small shards the
/// tails would otherwise be most of the data).
struct Consumer {
    rx: crossbeam_channel::Receiver<Result<Batch, Error>>,
    current: std::vec::IntoIter<RawEntry>,
    releaser: PageReleaser,
    /// End offsets of the batches taken and not yet released.
    taken: std::collections::VecDeque<usize>,
    /// Keeps the mapping alive as long as the releaser may touch it.
    _mapping: Bytes,
}

impl Iterator for Consumer {
    type Item = Result<RawEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.current.next() {
                return Some(Ok(e));
            }
            match self.rx.recv() {
                Ok(Ok((batch, end))) => {
                    self.taken.push_back(end);
                    if self.taken.len() > RELEASE_LAG {
                        if let Some(off) = self.taken.pop_front() {
                            self.releaser.release_to(off);
                        }
                    }
                    self.current = batch.into_iter();
                }
                Ok(Err(e)) => return Some(Err(e)),
                Err(_) => {
                    // Scanner finished and everything was taken.
                    if let Some(&off) = self.taken.back() {
                        self.releaser.release_to(off);
                    }
                    self.taken.clear();
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard of `skipped` bytes of versions outside the index prefix, then one inside.
    fn shard_with_one_indexed_key_at_the_end(skipped: usize) -> SnapshotShard {
        let mut v = container::payload_header(9).to_vec();
        let value = vec![0u8; 9 + 4000];
        let mut i = 0u64;
        while v.len() < skipped {
            let key = [
                format!("!redis|str|k{i:08}").as_bytes(),
                &(!5u64).to_be_bytes(),
            ]
            .concat();
            container::push_frame(&mut v, &key, &value);
            i += 1;
        }
        let key = [&b"!zz|indexed"[..], &(!5u64).to_be_bytes()].concat();
        container::push_frame(&mut v, &key, &[0u8; 9]);
        SnapshotShard::from_bytes("s.fsm", Bytes::from(v)).unwrap()
    }

    #[test]
    fn a_prefix_filtered_scan_reaches_the_end_while_nobody_reads_it() {
        // Several times the channel's capacity in skipped input: the index pass's scanner
        // must not wait for the merge to take progress-only batches.
        let skipped = (BATCHES_IN_FLIGHT + 4) * BATCH_BYTES;
        let shard = shard_with_one_indexed_key_at_the_end(skipped);
        let (tx, rx) = bounded::<Result<Batch, Error>>(BATCHES_IN_FLIGHT);
        let (done_tx, done_rx) = bounded(1);
        let payload = shard.payload.clone();
        let scanner = std::thread::spawn(move || {
            let filter = Filter {
                prefixes: vec![b"!zz|"],
                skip: SkipFamilies::default(),
            };
            scan_frames(&payload, &filter, "s.fsm", &tx);
            let _ = done_tx.send(());
        });
        // Generous: a stalled scanner never finishes (it would wait for this test).
        let finished = done_rx.recv_timeout(std::time::Duration::from_secs(60));
        let sent: Vec<_> = rx.try_iter().collect();
        assert!(
            finished.is_ok(),
            "the scanner stalled with {} batches sent",
            sent.len()
        );
        scanner.join().unwrap();
        let entries: Vec<_> = sent.into_iter().flat_map(|b| b.unwrap().0).collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(&entries[0].user_key[..], b"!zz|indexed");
    }

    /// The main pass's scanners drop the skipped families' versions, decided by the user
    /// key's family: `!lst|meta|` is a whole user key here, and its timestamp suffix
    /// begins with `d|`, so the stored key reads like a `!lst|meta|d|` key.
    #[test]
    fn a_skipping_scan_drops_whole_families_by_the_user_keys_family() {
        use elastickv_backup_format::keyspace::Family;
        let suffix = |ts: u64| (!ts).to_be_bytes();
        let looks_like_delta = !u64::from_be_bytes(*b"d|\0\0\0\0\0\x07");
        let rows: Vec<(Vec<u8>, u64)> = vec![
            (b"!ddb|gsi|t|row".to_vec(), 5),
            (b"!lst|meta|".to_vec(), looks_like_delta),
            (b"!lst|meta|d|k".to_vec(), 5),
            (b"!lst|meta|k".to_vec(), 5),
            (b"!redis|str|a".to_vec(), 5),
            (b"!txn|lock|x".to_vec(), 5),
            (b"plain".to_vec(), 5),
        ];
        let mut v = container::payload_header(9).to_vec();
        for (k, ts) in &rows {
            let key = [&k[..], &suffix(*ts)].concat();
            assert!(key.starts_with(b"!lst|meta|d|") || k != b"!lst|meta|");
            container::push_frame(&mut v, &key, &[0u8; 9]);
        }
        let shard = SnapshotShard::from_bytes("s.fsm", Bytes::from(v)).unwrap();
        let skip = SkipFamilies::default()
            .with(Family::DdbGsi)
            .with(Family::RedisListMetaDelta)
            .with(Family::Txn);
        let before = crate::progress::counters().skipped.load(Ordering::SeqCst);
        let kept: Vec<Vec<u8>> = shard
            .scan_skipping(skip)
            .unwrap()
            .map(|e| e.unwrap().user_key.to_vec())
            .collect();
        let want: [&[u8]; 4] = [b"!lst|meta|", b"!lst|meta|k", b"!redis|str|a", b"plain"];
        assert_eq!(kept, want.map(|k| k.to_vec()));
        // Process-wide: other tests may add to it at the same time, never take away.
        let after = crate::progress::counters().skipped.load(Ordering::SeqCst);
        assert!(after - before >= 3, "{before} -> {after}");
        // Without a skip set every version comes through.
        assert_eq!(shard.scan(&[]).unwrap().count(), rows.len());
    }

    #[test]
    fn tv17_snapshot_index() {
        assert_eq!(
            snapshot_index_from_path("/data/fsm-snap/0000000000000064.fsm"),
            Some(100)
        );
        assert_eq!(snapshot_index_from_path("00000000000000ff.fsm"), Some(255));
        assert_eq!(snapshot_index_from_path("42.fsm"), Some(42));
        assert_eq!(snapshot_index_from_path("007.fsm"), Some(7));
        assert_eq!(
            snapshot_index_from_path("18446744073709551615.fsm"),
            Some(u64::MAX)
        );
        for none in [
            "x.FSM",
            ".fsm",
            "+5.fsm",
            "0xff.fsm",
            "18446744073709551616.fsm",
            "snapshot.bin",
            "input.fsm",
        ] {
            assert_eq!(snapshot_index_from_path(none), None, "{none}");
        }
    }
}
