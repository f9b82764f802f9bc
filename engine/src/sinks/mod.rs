//! Sinks: where encoded files go: a directory, an archive, or S3-compatible object storage.
//!
//! Every byte of the dump passes through a [`Sink`], which hashes while it writes so that
//! `CHECKSUMS` is assembled from the recorded digests and the tree is never read back.

pub mod archive;
pub mod digest;
pub(crate) mod dir;
pub mod fd_budget;
pub(crate) mod flusher;
pub(crate) mod null;
pub mod object;
pub(crate) mod path;
pub mod preflight;
pub mod sha_pair;
pub(crate) mod writeback;

pub use archive::ArchiveSink;
pub use digest::{is_checksums_name, DigestKind, FileHasher};
pub use dir::DirSink;
pub use flusher::has_write_back;
pub use null::NullSink;
pub use object::ObjectSink;
pub use path::{PathError, RelPath};

use crate::error::Error;
use crate::extsort::{ExternalSorter, FullArena, Run, SortError};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A finished data file: its path and digest (SHA-256 unless the dump was asked for
/// another [`DigestKind`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileDigest {
    /// Path relative to the output root.
    pub path: RelPath,
    /// Digest of the bytes written (of the log's [`DigestKind`]; the field keeps the
    /// default's name).
    pub sha256: [u8; 32],
}

/// Receives digests in path order (see [`Sink::for_each_digest`]) as a path and its digest,
/// borrowed: `CHECKSUMS` only needs their text, and building a [`RelPath`] per file of the
/// dump was a fifth of writing it.
pub type DigestVisitor<'a> = &'a mut dyn FnMut(&str, &[u8; 32]) -> Result<(), Error>;

/// Digests held in memory before a sorted run goes to a spill file: about 150,000 files.
/// A dump has one digest per file, so without spilling, a dump of tens of millions of
/// small items would hold gigabytes here and memory would grow with the dataset.
pub const DIGEST_BUDGET: usize = 16 << 20;

/// Overrides [`DIGEST_BUDGET`] (bytes), so tests can force every digest through a spill
/// file.
pub const DIGEST_BUDGET_ENV: &str = "ELASTICKV_BACKUP_DIGEST_BUDGET";

/// Names the digest sorter's temp dir and errors.
const DIGEST_SORT: &str = "checksums";

/// Thread-safe log of the digests of completed files, in bounded memory: an external
/// sorter keyed by path (see [`crate::extsort`]).
#[derive(Clone)]
pub struct DigestLog {
    sorter: Arc<Mutex<ExternalSorter>>,
    /// The spill thread writing the last full arena, if any (see [`DigestLog::record`]).
    spill: Arc<Mutex<Option<SpillThread>>>,
    budget: usize,
    kind: DigestKind,
}

/// A full arena being sorted and written to its run file off the writing threads.
type SpillThread = JoinHandle<Result<Run, SortError>>;

impl Default for DigestLog {
    /// A log with [`DIGEST_BUDGET`], or the budget in [`DIGEST_BUDGET_ENV`].
    fn default() -> Self {
        let budget = std::env::var(DIGEST_BUDGET_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DIGEST_BUDGET);
        DigestLog::with_budget(budget)
    }
}

fn poisoned() -> Error {
    Error::Internal("the digest log's lock was poisoned by a panicking writer".into())
}

impl DigestLog {
    /// A log that spills past `budget` bytes of digests (tests use tiny budgets).
    pub fn with_budget(budget: usize) -> Self {
        DigestLog {
            sorter: Arc::new(Mutex::new(ExternalSorter::new(DIGEST_SORT, budget))),
            spill: Arc::new(Mutex::new(None)),
            budget,
            kind: DigestKind::default(),
        }
    }

    /// Records digests of `kind` from now on (set before the first file is written).
    pub fn set_kind(&mut self, kind: DigestKind) {
        self.kind = kind;
    }

    /// The digest this log's files are hashed with.
    pub fn kind(&self) -> DigestKind {
        self.kind
    }

    /// Records one finished file (fails only when a spill file cannot be written). A full
    /// arena is sorted and written out on a thread of its own, after the lock is released:
    /// the thread that filled it is often the decode thread (running a batch itself when
    /// the workers' queue is full), and sorting 16 MiB of digests there stopped it feeding
    /// the workers, which then sat idle for ~25 ms per spill (`perf` timeline of a 2-thread
    /// per-item decode). At most one spill is in flight: the next full arena first waits
    /// for the previous one, so memory stays at two arenas.
    pub fn record(&self, path: &RelPath, sha256: [u8; 32]) -> Result<(), Error> {
        self.record_many([(path, sha256)])
    }

    /// [`DigestLog::record`] for a run of files, under one take of the lock (released
    /// while a full arena is handed to a spill thread): both workers record every file
    /// they write, and a run of 16 files took and passed the lock between them 16 times.
    pub fn record_many<'a>(
        &self,
        digests: impl IntoIterator<Item = (&'a RelPath, [u8; 32])>,
    ) -> Result<(), Error> {
        let mut digests = digests.into_iter().peekable();
        while digests.peek().is_some() {
            let full = {
                let mut s = self.sorter.lock().map_err(|_| poisoned())?;
                let mut full = None;
                for (path, sha256) in digests.by_ref() {
                    full = s.push_or_take(path.as_str().as_bytes(), &sha256)?;
                    if full.is_some() {
                        break;
                    }
                }
                full
            };
            if let Some(full) = full {
                self.spill(full)?;
            }
        }
        Ok(())
    }

    /// Hands `full` to a spill thread (written here if no thread can be started).
    fn spill(&self, full: FullArena) -> Result<(), Error> {
        let mut slot = self.spill.lock().map_err(|_| poisoned())?;
        self.join_spill(&mut slot)?;
        let cell = Arc::new(Mutex::new(Some(full)));
        let theirs = cell.clone();
        let started = std::thread::Builder::new()
            .name("ekvb-spill".into())
            .spawn(move || {
                let full = theirs.lock().ok().and_then(|mut f| f.take());
                match full {
                    Some(f) => f.write(),
                    None => Err(SortError::Internal {
                        what: DIGEST_SORT,
                        detail: "the spill thread found no arena".into(),
                    }),
                }
            });
        match started {
            Ok(h) => *slot = Some(h),
            Err(_) => {
                let full = cell.lock().ok().and_then(|mut f| f.take());
                if let Some(full) = full {
                    let run = full.write()?;
                    self.sorter.lock().map_err(|_| poisoned())?.add_run(run);
                }
            }
        }
        Ok(())
    }

    /// Waits for the spill thread in `slot` (if any) and adds its run to the sorter.
    fn join_spill(&self, slot: &mut Option<SpillThread>) -> Result<(), Error> {
        let Some(h) = slot.take() else {
            return Ok(());
        };
        let run = h
            .join()
            .map_err(|_| Error::Internal("the checksums spill thread panicked".into()))??;
        self.sorter.lock().map_err(|_| poisoned())?.add_run(run);
        Ok(())
    }

    /// Hands every digest recorded so far to `f` in path order, leaving the log empty:
    /// what `CHECKSUMS` is written from, in bounded memory.
    pub fn drain_sorted(&self, f: DigestVisitor<'_>) -> Result<(), Error> {
        self.join_spill(&mut *self.spill.lock().map_err(|_| poisoned())?)?;
        let fresh = ExternalSorter::new(DIGEST_SORT, self.budget);
        let sorter = std::mem::replace(&mut *self.sorter.lock().map_err(|_| poisoned())?, fresh);
        sorter.drain(|key: &[u8], sha: &[u8]| -> Result<(), Error> {
            let path = std::str::from_utf8(key)
                .map_err(|_| Error::Internal("a spilled digest path is corrupt".into()))?;
            let sha256 = <&[u8; 32]>::try_from(sha)
                .map_err(|_| Error::Internal(format!("{path}: spilled digest is corrupt")))?;
            f(path, sha256)
        })
    }

    /// All digests so far, sorted by path, in memory; the log keeps them. For the callers
    /// that need the whole list at once (archive path checks, resumable units).
    pub fn sorted(&self) -> Result<Vec<FileDigest>, Error> {
        let mut v = Vec::new();
        self.drain_sorted(&mut |path, sha256| {
            let path = RelPath::parse(path)
                .map_err(|_| Error::Internal("a spilled digest path is corrupt".into()))?;
            v.push(FileDigest {
                path,
                sha256: *sha256,
            });
            Ok(())
        })?;
        for d in &v {
            self.record(&d.path, d.sha256)?;
        }
        Ok(v)
    }
}

/// Refuses a dump in which two files share a path or a path is both a file and a
/// directory: the directory sink refuses those at once (`O_EXCL`, `ENOTDIR`); sinks that
/// cannot (an archive, object storage) call this before `MANIFEST.json`, so such a dump is
/// never completed. `digests` must be sorted by path.
pub(crate) fn check_unique_paths(
    digests: &[FileDigest],
    explicit: &[RelPath],
) -> Result<(), Error> {
    use std::collections::HashSet;
    let mut dirs: HashSet<&str> = HashSet::new();
    for w in digests.windows(2) {
        if w[0].path == w[1].path {
            return Err(Error::UnsafeOutput {
                path: w[0].path.to_string(),
                why: "already exists; two records map to the same file",
            });
        }
    }
    for p in digests.iter().map(|d| &d.path).chain(explicit.iter()) {
        let s = p.as_str();
        let mut end = s.len();
        while let Some(i) = s[..end].rfind('/') {
            if !dirs.insert(&s[..i]) {
                break;
            }
            end = i;
        }
    }
    for d in explicit.iter() {
        dirs.insert(d.as_str());
    }
    if let Some(d) = digests.iter().find(|d| dirs.contains(d.path.as_str())) {
        return Err(Error::UnsafeOutput {
            path: d.path.to_string(),
            why: "is needed both as a file and as a directory",
        });
    }
    Ok(())
}

/// Destination of a dump. Implementations are shared by the decode thread and the
/// encode/write workers, so every method takes `&self`.
pub trait Sink: Send + Sync {
    /// Creates `path` (parents as needed) holding exactly `data`, mode 0600, recording its
    /// digest. Creating a file that already exists in this run is an error.
    fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error>;

    /// [`Sink::write_file`] of several files, in order: a sink that hashes what it writes
    /// may hash them together, which is faster for SHA-256 than one after the other (see
    /// `sinks::sha_pair`). The first failure is returned; the files after it are then not
    /// written.
    fn write_files(&self, files: &[(&RelPath, &[u8])]) -> Result<(), Error> {
        files.iter().try_for_each(|(p, d)| self.write_file(p, d))
    }

    /// Opens `path` for sequential appends (JSONL sidecars, large bodies). The digest is
    /// recorded when the stream is finished with [`StreamFile::finish`].
    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error>;

    /// Writes a control file at the root (`MANIFEST.json`, `CHECKSUMS` or
    /// `CHECKSUMS.b3`), mode 0644. `MANIFEST.json`'s digest is recorded; the checksum
    /// file's is not.
    fn write_control(&self, name: &str, data: &[u8]) -> Result<(), Error>;

    /// Digests of every file in the dump so far, sorted by path, in memory.
    fn digests(&self) -> Result<Vec<FileDigest>, Error>;

    /// The digest the files are hashed with, which names the checksum file
    /// ([`DigestKind::file_name`]). Sinks that cannot be configured hash with SHA-256.
    fn digest_kind(&self) -> DigestKind {
        DigestKind::Sha256
    }

    /// Hands the same digests to `f` in path order, once, for `CHECKSUMS`: sinks that
    /// can (the directory sink) keep memory bounded here; the default collects
    /// [`Sink::digests`].
    fn for_each_digest(&self, f: DigestVisitor<'_>) -> Result<(), Error> {
        (self.digests()?.iter()).try_for_each(|d| f(d.path.as_str(), &d.sha256))
    }

    /// Writes a control file whose bytes `fill` produces. Sinks that can stream it (the
    /// directory sink, for `CHECKSUMS`, which has a line per file of the dump) override
    /// this; the default collects the bytes and calls [`Sink::write_control`].
    fn write_control_with(
        &self,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut v = Vec::new();
        fill(&mut v)?;
        self.write_control(name, &v)
    }

    /// Takes back control file `name` written earlier in this run: `MANIFEST.json` when
    /// `CHECKSUMS`, written after it (it lists the manifest), could not be written, so a
    /// failed run does not leave a manifest presenting the directory as a dump. Sinks that
    /// cannot take a file back (an archive stream already written) leave it: their output
    /// is incomplete anyway.
    fn retract_control(&self, name: &str) -> Result<(), Error> {
        let _ = name;
        Ok(())
    }

    /// Creates directory `path` (and its parents) even if no file is ever written in it:
    /// upstream's tree has such directories (a DynamoDB table without items still has an
    /// empty `items/`). Sinks that cannot hold empty directories may ignore it.
    fn create_dir(&self, path: &RelPath) -> Result<(), Error> {
        let _ = path;
        Ok(())
    }
}

/// A file written front to back, hashed as it goes.
pub struct StreamFile {
    path: RelPath,
    inner: Box<dyn Write + Send>,
    hasher: FileHasher,
    log: DigestLog,
    written: u64,
}

impl StreamFile {
    /// Wraps a writer; used by sink implementations.
    pub fn new(path: RelPath, inner: Box<dyn Write + Send>, log: DigestLog) -> Self {
        StreamFile {
            path,
            inner,
            hasher: log.kind().hasher(),
            log,
            written: 0,
        }
    }

    /// Appends bytes.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        let t = crate::progress::stage_start();
        self.hasher.update(data);
        let stage = &crate::progress::stages().stream_hash;
        crate::progress::stage_end(stage, t, 1, data.len() as u64);
        self.written += data.len() as u64;
        self.inner
            .write_all(data)
            .map_err(|e| Error::io(self.path.as_str(), e))
    }

    /// Bytes appended so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// The file's path.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// Flushes, closes and records the digest. A stream dropped without `finish` is not
    /// listed in CHECKSUMS, so a failed run can never look complete.
    pub fn finish(mut self) -> Result<(), Error> {
        self.inner
            .flush()
            .map_err(|e| Error::io(self.path.as_str(), e))?;
        let digest = self.hasher.finalize();
        crate::progress::file_written(self.written);
        self.log.record(&self.path, digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn digest_log_recorded_from_threads_at_once_keeps_every_digest() {
        // Arenas fill on either thread and are written outside the log's lock; one thread
        // records file by file, the other in runs of 16 whose arena fills mid-run.
        let log = DigestLog::with_budget(500);
        let mut want: Vec<String> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..2)
                .map(|t| {
                    let log = &log;
                    sc.spawn(move || {
                        let paths: Vec<String> = (0..2_000u32)
                            .map(|i| format!("t{t}/d{}/f{i}", i.wrapping_mul(7919) % 17))
                            .collect();
                        let parsed: Vec<RelPath> =
                            paths.iter().map(|p| RelPath::parse(p).unwrap()).collect();
                        let sha = |p: &RelPath| Sha256::digest(p.as_str().as_bytes()).into();
                        if t == 0 {
                            for p in &parsed {
                                log.record(p, sha(p)).unwrap();
                            }
                        } else {
                            for run in parsed.chunks(16) {
                                log.record_many(run.iter().map(|p| (p, sha(p)))).unwrap();
                            }
                        }
                        paths
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        assert!(log.sorter.lock().unwrap().spilled_runs() > 10);
        want.sort();
        let mut got = Vec::new();
        log.drain_sorted(&mut |path, sha256| {
            assert_eq!(sha256, &<[u8; 32]>::from(Sha256::digest(path.as_bytes())));
            got.push(path.to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn digest_log_spills_and_streams_in_path_order() {
        let log = DigestLog::with_budget(300);
        let mut want = Vec::new();
        for i in 0..400u32 {
            let p = format!(
                "d{}/f{}",
                i.wrapping_mul(7919) % 13,
                i.wrapping_mul(104_729) % 997
            );
            let sha = Sha256::digest(p.as_bytes()).into();
            log.record(&RelPath::parse(&p).unwrap(), sha).unwrap();
            want.push(FileDigest {
                path: RelPath::parse(&p).unwrap(),
                sha256: sha,
            });
        }
        assert!(log.sorter.lock().unwrap().spilled_runs() > 10);
        want.sort();
        // `sorted` keeps the log; `drain_sorted` then empties it.
        assert_eq!(log.sorted().unwrap(), want);
        let drain = |log: &DigestLog| {
            let mut got = Vec::new();
            log.drain_sorted(&mut |path, sha256| {
                got.push(FileDigest {
                    path: RelPath::parse(path).unwrap(),
                    sha256: *sha256,
                });
                Ok(())
            })
            .unwrap();
            got
        };
        assert_eq!(drain(&log), want);
        assert!(drain(&log).is_empty());
    }
}
