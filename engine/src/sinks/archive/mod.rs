//! The archive sink: the whole dump as one `tar` or `tar.zst` stream, written while the dump
//! runs (no tree on disk first), to a file or to standard output.
//!
//! Contract (spec README §3): unpacking the archive yields exactly the tree the directory
//! sink writes — same paths, same bytes, empty directories included — on which
//! `sha256sum -c CHECKSUMS` passes; `MANIFEST.json` then `CHECKSUMS` are the last two
//! entries, so a reader of the stream knows the dump is complete when it sees them.
//!
//! * Files written whole ([`Sink::write_file`], from the worker threads) go into the
//!   archive at once, under a lock: header, content, padding. They are hashed before the
//!   lock is taken.
//! * Streams ([`Sink::open_stream`]) spill to an anonymous temp file and are appended as
//!   one entry when finished (see `spill`).
//! * The first time a directory is seen, an entry for it (and for each parent not seen
//!   yet) precedes the file: mode 0755. Files are 0600, `MANIFEST.json`/`CHECKSUMS` 0644;
//!   every mtime is the run's start; the owner is the user running the dump, as for the
//!   directory output.
//! * A failed run never leaves a complete-looking archive: a file output is written under
//!   a hidden temporary name in the same directory and renamed into place only after
//!   `CHECKSUMS` and the end-of-archive marker; on failure it is deleted. On standard
//!   output a failed run stops mid-stream, without `MANIFEST.json`/`CHECKSUMS` or the
//!   end-of-archive marker (and, for zstd, without the end of the frame), which `tar` and
//!   `zstd -d` report as a truncated archive.

pub mod header;
pub(crate) mod output;
pub(crate) mod spill;

pub use output::{Compression, Destination};

use super::{DigestLog, FileDigest, RelPath, Sink, StreamFile};
use crate::error::Error;
use header::{EntryHeader, EntryKind};
use output::Output;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Default zstd level for `--archive tar.zst`: 3, chosen by measurement on this 2-core
/// machine (shared, so timings are the best of three runs).
///
/// Sample A: a 127 MB tar of dump-shaped content (60k DynamoDB item JSON files, a 40k-line
/// SQS `messages.jsonl`, 20k Redis values of which a third binary, 40 S3 log objects and
/// 12 MiB of incompressible S3 bodies). Sample B: our own 211 MB tar of a 150k-key Redis
/// string dump (JSON documents, tokens, 3% binary). `zstd -b<level> -T1`, ratio and
/// single-thread compression speed:
///
/// | level | A ratio | A MB/s | B ratio | B MB/s |
/// |------:|--------:|-------:|--------:|-------:|
/// |     1 |    4.38 |    369 |    4.70 |    427 |
/// |     3 |    4.73 |    220 |    5.22 |    280 |
/// |     6 |    4.83 |     61 |    5.28 |     88 |
/// |     9 |    4.88 |     28 |    5.29 |     39 |
/// |    19 |       – |      – |    5.63 |    1.6 |
///
/// End to end on sample B's snapshot (`decode --archive`, dev build): plain tar 1.07 s;
/// tar.zst level 1 0.84 s, level 3 1.32 s, level 6 3.6 s. Level 3 is 8–11% smaller
/// than level 1 and still keeps up with the decode pipeline on two cores (DynamoDB, S3
/// and SQS decoding are slower than these Redis strings, which makes compression even
/// less of a bottleneck); from level 6 on compression dominates the run for about 2% more.
/// Raise it with `--zstd-level` for archives kept long.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// Highest zstd level.
pub const MAX_ZSTD_LEVEL: i32 = 22;

/// zstd worker threads (`zstdmt`) for `tar.zst`. One worker moves compression off the
/// threads that render and write files, so the two overlap: on sample B (see
/// [`DEFAULT_ZSTD_LEVEL`]) at level 3, 0 workers (compress inline) took 1.51 s, 1 worker
/// 1.32 s, 2 workers 1.48 s on two cores — a second worker only competes with the pipeline
/// for the same cores. Beyond two cores, one more worker per two more cores.
pub fn default_zstd_workers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores.saturating_sub(2) / 2 + 1) as u32
}

/// Directory entries remembered before the memory is cleared (a huge per-item table has
/// one directory per partition key). A directory seen again after a clear gets a second
/// entry, which is harmless: unpacking gives the same tree.
const DIR_SET_MAX: usize = 1 << 16;

/// A dump written as one tar / tar.zst stream.
pub struct ArchiveSink {
    shared: Arc<Shared>,
    log: DigestLog,
    spill_dir: PathBuf,
}

/// State shared by the sink and its streams' spill writers.
pub(crate) struct Shared {
    state: Mutex<State>,
    mtime: u64,
    uid: u32,
    gid: u32,
    name: String,
}

struct State {
    /// `None` once finished, or after a failure (the partial file is deleted then).
    out: Option<tar::Builder<Output>>,
    finished: bool,
    failed: Option<String>,
    dirs_seen: HashSet<String>,
    /// Directories created explicitly (they may hold no file), for the end checks.
    explicit_dirs: Vec<RelPath>,
}

impl State {
    /// Drops the output without ending the archive: a `tar::Builder` dropped unfinished
    /// writes the end-of-archive marker, which would make a cut-off stream on standard
    /// output look complete; an abandoned [`Output`] refuses that write.
    fn abandon(&mut self) {
        if let Some(mut b) = self.out.take() {
            b.get_mut().abandon();
        }
    }
}

impl Drop for State {
    /// A sink dropped before `CHECKSUMS` (a failed run) must not complete the archive.
    fn drop(&mut self) {
        self.abandon();
    }
}

impl ArchiveSink {
    /// Opens the destination (refusing an existing file unless `force`) and starts the
    /// archive. The run's start time is taken now, for every entry's mtime.
    pub fn create(
        dest: &Destination,
        compression: Compression,
        force: bool,
    ) -> Result<Self, Error> {
        let out = tar::Builder::new(Output::open(dest, compression, force)?);
        let mtime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (uid, gid) = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        Ok(ArchiveSink {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    out: Some(out),
                    finished: false,
                    failed: None,
                    dirs_seen: HashSet::new(),
                    explicit_dirs: Vec::new(),
                }),
                mtime,
                uid,
                gid,
                name: dest.display(),
            }),
            log: DigestLog::default(),
            spill_dir: dest.spill_dir(),
        })
    }

    /// Hashes the archive's entries with `kind` (default SHA-256), which names the
    /// checksum entry. Set before the first file is written.
    pub fn with_digest(mut self, kind: super::DigestKind) -> Self {
        self.log.set_kind(kind);
        self
    }

    /// Refuses a dump in which two files share a path or a path is both a file and a
    /// directory: the directory sink refuses those at once (`O_EXCL`, `ENOTDIR`); here they
    /// are caught before `MANIFEST.json`, so such an archive is never completed.
    fn check_paths(&self) -> Result<(), Error> {
        let digests = self.log.sorted()?;
        let explicit = self
            .shared
            .lock()
            .map(|s| s.explicit_dirs.clone())
            .unwrap_or_default();
        super::check_unique_paths(&digests, &explicit)
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>, Error> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("archive sink lock poisoned".into()))
    }

    /// Runs `f` on the open output; a failure poisons the archive (later writes fail with
    /// the same message) and deletes a partial output file.
    fn with_output<T>(
        &self,
        f: impl FnOnce(&Self, &mut State) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut st = self.lock()?;
        if let Some(m) = &st.failed {
            return Err(Error::Cancelled(format!("archive {}: {m}", self.name)));
        }
        if st.finished {
            return Err(Error::Internal(format!(
                "archive {}: write after CHECKSUMS",
                self.name
            )));
        }
        let r = f(self, &mut st);
        if let Err(e) = &r {
            st.failed = Some(e.to_string());
            st.abandon();
        }
        r
    }

    /// Appends one entry (header, `data`, padding) through the tar builder.
    fn append(
        &self,
        st: &mut State,
        path: &str,
        kind: EntryKind,
        mode: u32,
        size: u64,
        data: impl Read,
    ) -> Result<(), Error> {
        let h = EntryHeader {
            path,
            kind,
            mode,
            size,
            mtime: self.mtime,
            uid: self.uid,
            gid: self.gid,
        };
        header::append(out(st)?, &h, data)
            .map_err(|e| Error::io(format!("{} ({path})", self.name), e))
    }

    /// Directory entries for `dir` and every ancestor not seen yet, outermost first.
    fn ensure_dirs(&self, st: &mut State, dir: &RelPath) -> Result<(), Error> {
        let s = dir.as_str();
        if s.is_empty() || st.dirs_seen.contains(s) {
            return Ok(());
        }
        if st.dirs_seen.len() >= DIR_SET_MAX {
            st.dirs_seen.clear();
        }
        let mut prefix_ends: Vec<usize> = s.match_indices('/').map(|(i, _)| i).collect();
        prefix_ends.push(s.len());
        for end in prefix_ends {
            let d = &s[..end];
            if !st.dirs_seen.contains(d) {
                self.append(st, d, EntryKind::Dir, 0o755, 0, io::empty())?;
                st.dirs_seen.insert(d.to_string());
            }
        }
        Ok(())
    }

    /// One whole file entry.
    fn write_entry(&self, path: &RelPath, mode: u32, data: &[u8]) -> Result<(), Error> {
        self.with_output(|me, st| {
            if let Some((dir, _)) = path.split_last() {
                me.ensure_dirs(st, &dir)?;
            }
            me.append(
                st,
                path.as_str(),
                EntryKind::File,
                mode,
                data.len() as u64,
                data,
            )
        })
    }

    /// Copies a finished stream's spill (`len` bytes from the start of `src`) in as one
    /// entry.
    pub(crate) fn append_stream(
        &self,
        path: &RelPath,
        src: &mut File,
        len: u64,
    ) -> Result<(), Error> {
        self.with_output(|me, st| {
            if let Some((dir, _)) = path.split_last() {
                me.ensure_dirs(st, &dir)?;
            }
            // A 64 KiB buffer: `io::copy` then moves the spill in large reads.
            let spill = BufReader::with_capacity(1 << 16, &mut *src);
            me.append(st, path.as_str(), EntryKind::File, 0o600, len, spill)
        })
    }
}

fn out(st: &mut State) -> Result<&mut tar::Builder<Output>, Error> {
    st.out
        .as_mut()
        .ok_or_else(|| Error::Internal("archive output already closed".into()))
}

impl Sink for ArchiveSink {
    fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error> {
        let digest = self.log.kind().digest(data);
        self.shared.write_entry(path, 0o600, data)?;
        self.log.record(path, digest)
    }

    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
        let file = tempfile::tempfile_in(&self.spill_dir).map_err(|e| {
            Error::io(
                format!("{} (spill file for {path})", self.spill_dir.display()),
                e,
            )
        })?;
        let w = spill::SpillWriter::new(path.clone(), file, self.shared.clone());
        Ok(StreamFile::new(path.clone(), Box::new(w), self.log.clone()))
    }

    fn write_control(&self, name: &str, data: &[u8]) -> Result<(), Error> {
        let path = RelPath::root().join(name)?;
        if name == "MANIFEST.json" {
            if let Err(e) = self.check_paths() {
                // Nothing may complete this archive now.
                if let Ok(mut st) = self.shared.lock() {
                    st.failed = Some(e.to_string());
                    st.abandon();
                }
                return Err(e);
            }
        }
        self.shared.write_entry(&path, 0o644, data)?;
        if !super::is_checksums_name(name) {
            return self.log.record(&path, self.log.kind().digest(data));
        }
        // CHECKSUMS is the last entry: end the archive and put it in place.
        let name = self.shared.name.clone();
        self.shared.with_output(|_, st| {
            let b = st
                .out
                .take()
                .ok_or_else(|| Error::Internal("archive output already closed".into()))?;
            st.finished = true;
            // `into_inner` writes the end-of-archive marker (two zero blocks).
            let o = b.into_inner().map_err(|e| Error::io(&name, e))?;
            o.finish()
        })
    }

    fn create_dir(&self, path: &RelPath) -> Result<(), Error> {
        self.shared.with_output(|me, st| {
            st.explicit_dirs.push(path.clone());
            me.ensure_dirs(st, path)
        })
    }

    fn digest_kind(&self) -> super::DigestKind {
        self.log.kind()
    }

    fn digests(&self) -> Result<Vec<FileDigest>, Error> {
        self.log.sorted()
    }
}

#[cfg(test)]
mod tests;
