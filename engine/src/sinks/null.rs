//! A sink that hashes and counts but stores nothing: for fuzzing the decoders without
//! touching the filesystem, and for measuring decode speed without write cost.

use super::{DigestLog, DigestVisitor, FileDigest, RelPath, Sink, StreamFile};
use crate::error::Error;
use std::collections::HashSet;
use std::sync::Mutex;

/// Discards bytes; still refuses a path written twice, as a real directory would.
#[derive(Default)]
pub struct NullSink {
    log: DigestLog,
    seen: Mutex<HashSet<RelPath>>,
}

impl NullSink {
    /// A fresh sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hashes with `kind` (default SHA-256), as a real sink asked for it would.
    pub fn with_digest(mut self, kind: super::DigestKind) -> Self {
        self.log.set_kind(kind);
        self
    }

    fn claim(&self, path: &RelPath) -> Result<(), Error> {
        let fresh = self
            .seen
            .lock()
            .map(|mut s| s.insert(path.clone()))
            .unwrap_or(true);
        if fresh {
            Ok(())
        } else {
            Err(Error::UnsafeOutput {
                path: path.to_string(),
                why: "already exists; two records map to the same file",
            })
        }
    }
}

impl Sink for NullSink {
    fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error> {
        self.claim(path)?;
        self.log.record(path, self.log.kind().digest(data))
    }

    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
        self.claim(path)?;
        Ok(StreamFile::new(
            path.clone(),
            Box::new(std::io::sink()),
            self.log.clone(),
        ))
    }

    fn write_control(&self, name: &str, data: &[u8]) -> Result<(), Error> {
        let path = RelPath::root().join(name)?;
        if !super::is_checksums_name(name) {
            self.log.record(&path, self.log.kind().digest(data))?;
        }
        Ok(())
    }

    fn digest_kind(&self) -> super::DigestKind {
        self.log.kind()
    }

    fn digests(&self) -> Result<Vec<FileDigest>, Error> {
        self.log.sorted()
    }

    fn for_each_digest(&self, f: DigestVisitor<'_>) -> Result<(), Error> {
        self.log.drain_sorted(f)
    }
}
