//! Test hook: the cluster's MVCC state at a timestamp as snapshot files, one bare
//! [`PAYLOAD_MAGIC`] payload per group (docs/format/00-container.md §1), so a test can decode exactly what the
//! cluster held at a dump's `read_ts` with the snapshot path and compare it with the live
//! dump — an independent reference computed by the server, not by the producer.

use super::cluster::Cluster;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sources::snapshot::container::PAYLOAD_MAGIC;
use elastickv_backup_live::source::routes::OwnerHint;
use std::path::{Path, PathBuf};

/// File name of group `id`'s payload (sorts in group order).
pub fn group_file_name(id: u64) -> String {
    format!("group-{id:04}.fsm")
}

/// One framed entry: `LE64 len ‖ key ‖ LE64 len ‖ value`.
fn frame(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(&(key.len() as u64).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
}

impl Cluster {
    /// Writes every group's versions with `commit_ts <= ts` (tombstones, expiring values and
    /// hidden transaction keys included, as a snapshot holds them) into `dir/group-NNNN.fsm`,
    /// with `last_commit_ts = ts` so a decode reads at `ts`. Only keys the group owns under
    /// the current catalog are written (stale copies elsewhere are not the cluster's state).
    /// Returns the files written, in group order.
    ///
    /// Test API: a group's payload is assembled in memory (entries must be sorted by encoded
    /// key, which is not the store's key order when a key prefixes another).
    pub fn export_fsm(&self, ts: u64, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        let routes = self.routes();
        let mut files = Vec::with_capacity(self.groups().len());
        for g in self.groups() {
            let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut hint = OwnerHint::default();
            g.read().for_each_version(|k, v| {
                if v.ts > ts || !self.owns_hinted(&routes, g.id, k, &mut hint) {
                    return;
                }
                let mut key = Vec::with_capacity(k.len() + 8);
                key.extend_from_slice(k);
                key.extend_from_slice(&(!v.ts).to_be_bytes());
                let mut value = Vec::with_capacity(9 + v.value.len());
                value.push(u8::from(v.tombstone));
                value.extend_from_slice(&v.expire_at_ms.to_le_bytes());
                value.extend_from_slice(&v.value);
                entries.push((key, value));
            });
            entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut payload = Vec::with_capacity(16 + entries.len() * 64);
            payload.extend_from_slice(PAYLOAD_MAGIC);
            payload.extend_from_slice(&ts.to_le_bytes());
            for (k, v) in &entries {
                frame(&mut payload, k, v);
            }
            let path = dir.join(group_file_name(g.id));
            std::fs::write(&path, &payload).map_err(|e| Error::io(path.display(), e))?;
            files.push(path);
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Cluster, ServerConfig};
    use bytes::Bytes;
    use elastickv_backup_engine::decode::Family;
    use elastickv_backup_engine::sources::snapshot::SnapshotShard;
    use elastickv_backup_engine::sources::{RawEntry, Shard};

    #[test]
    fn exports_versions_up_to_ts_in_encoded_key_order() {
        let (a, ab) = (
            [Family::RedisString.prefix(), b"a"].concat(),
            [Family::RedisString.prefix(), b"ab"].concat(),
        );
        let c = Cluster::new(
            ServerConfig {
                groups: 2,
                ..ServerConfig::default()
            },
            vec![RawEntry {
                user_key: Bytes::from(a.clone()),
                commit_ts: 10,
                expire_at_ms: 0,
                tombstone: false,
                value: Bytes::from_static(b"old"),
            }],
        );
        let t1 = c.put(&ab, b"x");
        let t2 = c.delete(&a);
        let t3 = c.put(&a, b"late");
        let dir = tempfile::tempdir().unwrap();
        let files = c.export_fsm(t2, dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        let mut seen = Vec::new();
        for f in &files {
            let shard = SnapshotShard::open(f.to_str().unwrap()).unwrap();
            assert_eq!(shard.read_ts(), t2);
            for e in shard.scan(&[]).unwrap() {
                let e = e.unwrap();
                seen.push((e.user_key.to_vec(), e.commit_ts, e.tombstone));
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![(a.clone(), 10, false), (a, t2, true), (ab, t1, false),]
        );
        assert!(t3 > t2);
    }
}
