//! Where a loopback server's data comes from: snapshot files (every version, tombstones
//! included, exactly as the file holds them), a directory of them, or the sample generator.

use bytes::Bytes;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sources::snapshot::SnapshotShard;
use elastickv_backup_engine::sources::{RawEntry, Shard};

/// Every entry of the given `.fsm` files.
pub fn from_snapshots(paths: &[String]) -> Result<Vec<RawEntry>, Error> {
    let mut out = Vec::new();
    for p in paths {
        let shard = SnapshotShard::open(p)?;
        for e in shard.scan(&[])? {
            let e = e?;
            // Each key and value gets its own allocation instead of staying a slice of the
            // snapshot mapping: slices share one reference count per file, which every serving
            // thread would bump and drop for every pair it sends (a contended cache line), and
            // the scanner releases the mapping's pages behind itself, so serving would fault
            // them back in.
            out.push(RawEntry {
                user_key: Bytes::copy_from_slice(&e.user_key),
                value: Bytes::copy_from_slice(&e.value),
                ..e
            });
        }
    }
    Ok(out)
}

/// Every `*.fsm` file of `dir` (sorted by name).
pub fn snapshot_dir_files(dir: &str) -> Result<Vec<String>, Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let path = ent.path();
        if path.extension().is_some_and(|x| x == "fsm") {
            files.push(path.to_string_lossy().into_owned());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Usage(format!("{dir}: no .fsm files")));
    }
    Ok(files)
}

/// `(user_key, value)` pairs as live versions committed at `ts`.
pub fn from_pairs(pairs: Vec<(Vec<u8>, Vec<u8>)>, ts: u64) -> Vec<RawEntry> {
    pairs
        .into_iter()
        .map(|(k, v)| RawEntry {
            user_key: Bytes::from(k),
            commit_ts: ts,
            expire_at_ms: 0,
            tombstone: false,
            value: Bytes::from(v),
        })
        .collect()
}
