//! Writes the merged version stream as N `.fsm` shard files (bare [`PAYLOAD_MAGIC`] payloads,
//! docs/format/00-container.md §1), each a contiguous key range of about the same size.
//!
//! Only one shard is open at a time and nothing but the previous key is remembered, so
//! memory does not grow with the dataset. Cuts fall between user keys (never between two
//! versions of one key), as a real split by route ranges would. The writer refuses a key
//! that is not strictly above the previous one: a generator bug must never produce a
//! snapshot the decoder would read differently from a real one.

use super::version::Version;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sources::snapshot::container::PAYLOAD_MAGIC;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// One written shard file.
#[derive(Debug, Clone)]
pub struct ShardInfo {
    /// Its path.
    pub path: PathBuf,
    /// Versions stored in it.
    pub entries: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// Shard file name for shard `k`: sorts in key-range order, and is not a 16-hex-digit
/// runtime name (so no applied index is read from it).
pub fn shard_name(k: usize) -> String {
    format!("shard-{k:04}.fsm")
}

/// The streaming shard writer.
pub struct ShardWriter {
    dir: PathBuf,
    shards: usize,
    per_shard: u64,
    expected: u64,
    last_commit_ts: u64,
    current: Option<(BufWriter<File>, ShardInfo)>,
    done: Vec<ShardInfo>,
    /// Bytes of entries written so far (all shards).
    total: u64,
    prev_key: Vec<u8>,
}

const HEADER_LEN: u64 = 16;

impl ShardWriter {
    /// Starts writing `shards` files into `dir` (which must exist), cutting about every
    /// `expected_total / shards` bytes.
    pub fn new(
        dir: &Path,
        shards: usize,
        expected_total: u64,
        last_commit_ts: u64,
    ) -> Result<Self, Error> {
        let shards = shards.max(1);
        let mut w = ShardWriter {
            dir: dir.to_path_buf(),
            shards,
            per_shard: (expected_total / shards as u64).max(1),
            expected: expected_total,
            last_commit_ts,
            current: None,
            done: Vec::with_capacity(shards),
            total: 0,
            prev_key: Vec::new(),
        };
        w.open_next()?;
        Ok(w)
    }

    fn open_next(&mut self) -> Result<(), Error> {
        let path = self.dir.join(shard_name(self.done.len()));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(path.display(), e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut header = [0u8; HEADER_LEN as usize];
        header[..8].copy_from_slice(PAYLOAD_MAGIC);
        header[8..].copy_from_slice(&self.last_commit_ts.to_le_bytes());
        w.write_all(&header)
            .map_err(|e| Error::io(path.display(), e))?;
        self.current = Some((
            w,
            ShardInfo {
                path,
                entries: 0,
                bytes: HEADER_LEN,
            },
        ));
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), Error> {
        if let Some((w, info)) = self.current.take() {
            let f = w
                .into_inner()
                .map_err(|e| Error::io(info.path.display(), e.into_error()))?;
            f.sync_all()
                .map_err(|e| Error::io(info.path.display(), e))?;
            self.done.push(info);
        }
        Ok(())
    }

    /// Whether the open shard has its share: an even split of what is still expected over
    /// the shards still to write (so one huge entry overshooting a cut does not leave the
    /// next shards nearly empty), but never less than half the planned size.
    fn shard_full(&self) -> bool {
        let Some((_, info)) = &self.current else {
            return false;
        };
        let left_shards = (self.shards - self.done.len()) as u64;
        let before = self.total - (info.bytes - HEADER_LEN);
        let share = self.expected.saturating_sub(before) / left_shards.max(1);
        info.bytes - HEADER_LEN >= share.max(self.per_shard / 2)
    }

    /// Appends one version (must sort strictly after the previous one).
    pub fn push(&mut self, v: &Version) -> Result<(), Error> {
        if v.key.len() < 8 || v.value.len() < 9 {
            return Err(Error::Internal(format!(
                "generator produced a malformed version (key {} bytes, value {} bytes)",
                v.key.len(),
                v.value.len()
            )));
        }
        if v.key <= self.prev_key {
            return Err(Error::Internal(format!(
                "generator out of order: {:?} after {:?}",
                String::from_utf8_lossy(&v.key),
                String::from_utf8_lossy(&self.prev_key)
            )));
        }
        let prev_user = &self.prev_key[..self.prev_key.len().saturating_sub(8)];
        let new_user_key = self.prev_key.is_empty() || prev_user != v.user_key();
        if new_user_key && self.done.len() + 1 < self.shards && self.shard_full() {
            self.close_current()?;
            self.open_next()?;
        }
        let (w, info) = self
            .current
            .as_mut()
            .ok_or_else(|| Error::Internal("shard writer already finished".into()))?;
        let io = |e| Error::io(info.path.display(), e);
        w.write_all(&(v.key.len() as u64).to_le_bytes())
            .map_err(io)?;
        w.write_all(&v.key).map_err(io)?;
        w.write_all(&(v.value.len() as u64).to_le_bytes())
            .map_err(io)?;
        w.write_all(&v.value).map_err(io)?;
        info.entries += 1;
        info.bytes += v.stored_len();
        self.total += v.stored_len();
        self.prev_key.clear();
        self.prev_key.extend_from_slice(&v.key);
        Ok(())
    }

    /// Closes the last shard and writes any shard the data did not reach as an empty
    /// (header-only, valid) snapshot, so there are always exactly N files.
    pub fn finish(mut self) -> Result<Vec<ShardInfo>, Error> {
        self.close_current()?;
        while self.done.len() < self.shards {
            self.open_next()?;
            self.close_current()?;
        }
        Ok(self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::sources::snapshot::SnapshotShard;
    use elastickv_backup_engine::sources::Shard;

    #[test]
    fn shards_are_valid_contiguous_and_never_split_a_key() {
        let t = tempfile::tempdir().unwrap();
        let mut w = ShardWriter::new(t.path(), 3, 40 * 60, 99).unwrap();
        for i in 0..20u64 {
            let k = format!("key{i:03}");
            w.push(&Version::put(k.as_bytes(), 9, 0, b"value")).unwrap();
            w.push(&Version::put(k.as_bytes(), 8, 0, b"older")).unwrap();
        }
        // Out of order is refused.
        assert!(w.push(&Version::put(b"key000", 1, 0, b"")).is_err());
        let shards = w.finish().unwrap();
        assert_eq!(shards.len(), 3);
        let mut all = Vec::new();
        for s in &shards {
            assert_eq!(std::fs::metadata(&s.path).unwrap().len(), s.bytes);
            let shard = SnapshotShard::open(&s.path.display().to_string()).unwrap();
            assert_eq!(shard.last_commit_ts(), 99);
            let keys: Vec<_> = shard.scan(&[]).unwrap().map(|e| e.unwrap()).collect();
            assert_eq!(keys.len() as u64, s.entries);
            // Both versions of a key are in the same shard.
            assert_eq!(keys.len() % 2, 0);
            all.extend(keys.into_iter().map(|e| (e.user_key, e.commit_ts)));
        }
        assert_eq!(all.len(), 40);
        assert!(shards.iter().all(|s| s.entries > 0));
    }

    #[test]
    fn short_data_still_gives_n_files() {
        let t = tempfile::tempdir().unwrap();
        let mut w = ShardWriter::new(t.path(), 4, 1 << 30, 1).unwrap();
        w.push(&Version::put(b"a", 1, 0, b"x")).unwrap();
        let shards = w.finish().unwrap();
        assert_eq!(shards.len(), 4);
        assert_eq!(shards[3].bytes, HEADER_LEN);
        assert!(SnapshotShard::open(&shards[3].path.display().to_string()).is_ok());
    }
}
