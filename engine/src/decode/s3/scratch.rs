//! Scratch space for the few S3 bytes that cannot be streamed in key order: chunks of
//! objects whose key order differs from body order, content-addressed payloads (they
//! sort by digest, not by object), and incomplete-upload records of a bucket waiting for
//! that bucket's part records.
//!
//! It lives in the system temp directory — never inside the output tree — is created on
//! first use, and is removed when the adapter finishes or is dropped (also on failure).

use crate::error::Error;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A lazily created private temp directory.
#[derive(Default)]
pub(crate) struct Scratch {
    dir: Option<tempfile::TempDir>,
    seq: u64,
}

impl Scratch {
    fn root(&mut self) -> Result<&Path, Error> {
        if self.dir.is_none() {
            let d = tempfile::Builder::new()
                .prefix("elastickv-backup-s3-")
                .tempdir()
                .map_err(|e| Error::io("S3 scratch directory in the system temp dir", e))?;
            self.dir = Some(d);
        }
        self.dir
            .as_ref()
            .map(|d| d.path())
            .ok_or_else(|| Error::Internal("scratch directory vanished".into()))
    }

    /// A new, empty scratch file.
    pub fn create(&mut self, kind: &str) -> Result<(PathBuf, File), Error> {
        self.seq += 1;
        let name = format!("{kind}-{}", self.seq);
        let path = self.root()?.join(name);
        let f = File::create(&path).map_err(|e| Error::io(path.display(), e))?;
        Ok((path, f))
    }

    /// Where the payload with this digest is (or will be) spilled.
    pub fn payload_path(&mut self, digest: &[u8; 32]) -> Result<PathBuf, Error> {
        let hex = hex::encode(digest);
        let dir = self.root()?.join("chunkblob").join(&hex[..2]);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        Ok(dir.join(hex))
    }

    /// Removes everything.
    pub fn close(&mut self) -> Result<(), Error> {
        if let Some(d) = self.dir.take() {
            let p = d.path().to_path_buf();
            d.close().map_err(|e| Error::io(p.display(), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_lazily_and_removed() {
        let mut s = Scratch::default();
        assert!(s.dir.is_none());
        let (p, _f) = s.create("obj").unwrap();
        let q = s.payload_path(&[0xab; 32]).unwrap();
        std::fs::write(&q, b"x").unwrap();
        assert!(p.exists() && q.exists());
        let root = s.dir.as_ref().unwrap().path().to_path_buf();
        assert!(root.starts_with(std::env::temp_dir()));
        s.close().unwrap();
        assert!(!root.exists());
    }
}
