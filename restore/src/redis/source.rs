//! One dump file, read once into memory when small (both reading passes then cost no I/O)
//! or reopened per pass when large (memory stays bounded).

use super::RestoreError;
use elastickv_backup_engine::progress::counters;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Files up to this size are read into memory.
pub const SMALL_FILE: u64 = 256 << 10;

/// A key's file.
pub enum Source {
    /// The whole file.
    Mem(PathBuf, Vec<u8>),
    /// A large file, opened again for each pass.
    File(PathBuf, u64),
}

impl Source {
    /// Opens `path` (a regular file; symlinks are refused).
    pub fn open(path: &Path) -> Result<Self, RestoreError> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| RestoreError::io(path, e))?;
        if !meta.is_file() {
            return Err(RestoreError::format(path, 0, "not a regular file"));
        }
        counters().files.fetch_add(1, Ordering::Relaxed);
        counters()
            .input_bytes
            .fetch_add(meta.len(), Ordering::Relaxed);
        if meta.len() <= SMALL_FILE {
            let bytes = std::fs::read(path).map_err(|e| RestoreError::io(path, e))?;
            Ok(Source::Mem(path.to_path_buf(), bytes))
        } else {
            Ok(Source::File(path.to_path_buf(), meta.len()))
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            Source::Mem(p, _) | Source::File(p, _) => p,
        }
    }

    /// Whether the file is held in memory.
    pub fn is_small(&self) -> bool {
        matches!(self, Source::Mem(..))
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Source::Mem(_, b) => b.len() as u64,
            Source::File(_, n) => *n,
        }
    }

    /// A reader over the whole file, from its start.
    pub fn reader(&self) -> Result<Box<dyn BufRead + '_>, RestoreError> {
        match self {
            Source::Mem(_, b) => Ok(Box::new(b.as_slice())),
            Source::File(p, _) => {
                let f = File::open(p).map_err(|e| RestoreError::io(p, e))?;
                Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
            }
        }
    }

    /// The first `n` bytes (fewer if the file is shorter).
    pub fn head(&self, n: usize) -> Result<Vec<u8>, RestoreError> {
        let mut out = Vec::with_capacity(n);
        let mut r = self.reader()?;
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut r, n as u64), &mut out)
            .map_err(|e| RestoreError::io(self.path(), e))?;
        Ok(out)
    }
}
