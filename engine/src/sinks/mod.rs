//! Sinks: where encoded files go. A directory today, an archive later.
//!
//! Every byte of the dump passes through a [`Sink`], which hashes while it writes so that
//! `CHECKSUMS` is assembled from the recorded digests and the tree is never read back.

pub mod archive;
pub mod dir;
pub mod null;
pub mod path;

pub use archive::ArchiveSink;
pub use dir::DirSink;
pub use null::NullSink;
pub use path::{PathError, RelPath};

use crate::error::Error;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A finished data file: its path and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileDigest {
    /// Path relative to the output root.
    pub path: RelPath,
    /// SHA-256 of the bytes written.
    pub sha256: [u8; 32],
}

/// Thread-safe list of digests of completed files.
#[derive(Default, Clone)]
pub struct DigestLog(Arc<Mutex<Vec<FileDigest>>>);

impl DigestLog {
    /// Records one finished file.
    pub fn record(&self, path: RelPath, sha256: [u8; 32]) {
        if let Ok(mut v) = self.0.lock() {
            v.push(FileDigest { path, sha256 });
        }
    }

    /// All digests so far, sorted by path.
    pub fn sorted(&self) -> Vec<FileDigest> {
        let mut v = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        v.sort();
        v
    }
}

/// Destination of a dump. Implementations are shared by the decode thread and the
/// encode/write workers, so every method takes `&self`.
pub trait Sink: Send + Sync {
    /// Creates `path` (parents as needed) holding exactly `data`, mode 0600, recording its
    /// digest. Creating a file that already exists in this run is an error.
    fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error>;

    /// Opens `path` for sequential appends (JSONL sidecars, large bodies). The digest is
    /// recorded when the stream is finished with [`StreamFile::finish`].
    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error>;

    /// Writes a control file at the root (`MANIFEST.json`, `CHECKSUMS`), mode 0644.
    /// `MANIFEST.json`'s digest is recorded; `CHECKSUMS`' is not.
    fn write_control(&self, name: &str, data: &[u8]) -> Result<(), Error>;

    /// Digests of every file in the dump so far (for CHECKSUMS), sorted by path.
    fn digests(&self) -> Result<Vec<FileDigest>, Error>;

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
    hasher: Sha256,
    log: DigestLog,
    written: u64,
}

impl StreamFile {
    /// Wraps a writer; used by sink implementations.
    pub fn new(path: RelPath, inner: Box<dyn Write + Send>, log: DigestLog) -> Self {
        StreamFile {
            path,
            inner,
            hasher: Sha256::new(),
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
        let digest: [u8; 32] = self.hasher.finalize().into();
        crate::progress::file_written(self.written);
        self.log.record(self.path, digest);
        Ok(())
    }
}
