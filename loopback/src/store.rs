//! One group's MVCC store: every version of every key, newest first, with reads at a
//! timestamp, deletes as tombstones, store-level expiry and compaction below a safe point.

use super::hlc::physical_ms;
use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::ops::Bound;

/// One version of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Commit timestamp (HLC).
    pub ts: u64,
    /// Delete marker.
    pub tombstone: bool,
    /// Store-level expiry, Unix ms; 0 = none.
    pub expire_at_ms: u64,
    /// The value (adapter-encoded payload).
    pub value: Bytes,
}

/// Values up to this size are packed, in key order, by [`GroupStore::pack`]; larger ones
/// (S3 chunks) keep their own allocation, read whole when they are read at all.
const PACK_VALUE_MAX: usize = 16 << 10;
/// Bytes per shared chunk of [`GroupStore::pack`].
const PACK_CHUNK: usize = 256 << 10;

/// A read below the retained window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("read timestamp has been compacted")]
pub struct Compacted;

/// Keys the store never returns to readers (transaction-internal families).
const HIDDEN: [&[u8]; 5] = [
    b"!txn|lock|",
    b"!txn|int|",
    b"!txn|cmt|",
    b"!txn|rb|",
    b"!txn|meta|",
];

/// The prefix every [`HIDDEN`] family shares: one fixed-width compare rules out almost every
/// key before the families are looked at (this runs once per key of every scan and count).
const TXN: &[u8; 5] = b"!txn|";

fn hidden(key: &[u8]) -> bool {
    key.first_chunk::<5>() == Some(TXN) && HIDDEN.iter().any(|p| key.starts_with(p))
}

/// A key's versions, newest first. Nearly every key has one, kept in the map's own node:
/// a scan or count that checks which version is visible then reads no other memory (with
/// a `Vec`, one cache miss per key on every pass — the `BeginBackup` count and the
/// keys-only and value scans of every dump).
type Versions = SmallVec<[Version; 1]>;

/// The MVCC map of one group.
#[derive(Debug, Default)]
pub struct GroupStore {
    data: BTreeMap<Bytes, Versions>,
    min_retained_ts: u64,
    last_commit_ts: u64,
}

fn visible(versions: &[Version], ts: u64) -> Option<&Version> {
    let v = versions.iter().find(|v| v.ts <= ts)?;
    if v.tombstone || (v.expire_at_ms != 0 && v.expire_at_ms <= physical_ms(ts)) {
        return None;
    }
    Some(v)
}

impl GroupStore {
    /// Adds a version (any order; versions are kept newest first).
    pub fn apply(&mut self, key: Bytes, v: Version) {
        self.last_commit_ts = self.last_commit_ts.max(v.ts);
        let versions = self.data.entry(key).or_default();
        let at = versions.partition_point(|x| x.ts > v.ts);
        if versions.get(at).map(|x| x.ts) == Some(v.ts) {
            versions[at] = v;
        } else {
            versions.insert(at, v);
        }
    }

    /// Newest commit timestamp applied.
    pub fn last_commit_ts(&self) -> u64 {
        self.last_commit_ts
    }

    fn check(&self, ts: u64) -> Result<(), Compacted> {
        if ts < self.min_retained_ts {
            Err(Compacted)
        } else {
            Ok(())
        }
    }

    /// The value visible at `ts`.
    pub fn get(&self, key: &[u8], ts: u64) -> Result<Option<Bytes>, Compacted> {
        self.check(ts)?;
        if hidden(key) {
            return Ok(None);
        }
        Ok(self
            .data
            .get(key)
            .and_then(|vs| visible(vs, ts))
            .map(|v| v.value.clone()))
    }

    /// Up to `limit` visible pairs in `[start, end)` (empty `end` = unbounded), in key order
    /// (descending when `reverse`). `keys_only` returns empty values.
    pub fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        ts: u64,
        limit: usize,
        reverse: bool,
        keys_only: bool,
    ) -> Result<Vec<(Bytes, Bytes)>, Compacted> {
        self.check(ts)?;
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        if !end.is_empty() && start >= end {
            return Ok(Vec::new());
        }
        let range = self.data.range::<[u8], _>((Bound::Included(start), upper));
        let pick = |(k, vs): (&Bytes, &Versions)| {
            if hidden(k) {
                return None;
            }
            let v = visible(vs, ts)?;
            Some((
                k.clone(),
                if keys_only {
                    Bytes::new()
                } else {
                    v.value.clone()
                },
            ))
        };
        let out = if reverse {
            range.rev().filter_map(pick).take(limit).collect()
        } else {
            range.filter_map(pick).take(limit).collect()
        };
        Ok(out)
    }

    /// Visits every key visible at `ts` whose key starts with `prefix` (empty = all).
    pub fn for_each_visible(
        &self,
        prefix: &[u8],
        ts: u64,
        mut f: impl FnMut(&[u8], &Bytes),
    ) -> Result<(), Compacted> {
        self.check(ts)?;
        for (k, vs) in self
            .data
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
        {
            if !prefix.is_empty() && !k.starts_with(prefix) {
                break;
            }
            if hidden(k) {
                continue;
            }
            if let Some(v) = visible(vs, ts) {
                f(k, &v.value);
            }
        }
        Ok(())
    }

    /// Visits every stored version (hidden families, tombstones and expired values
    /// included), keys ascending, each key's versions newest first — what a snapshot of
    /// this group holds (the export test hook).
    pub fn for_each_version(&self, mut f: impl FnMut(&Bytes, &Version)) {
        for (k, vs) in &self.data {
            for v in vs {
                f(k, v);
            }
        }
    }

    /// Retires versions no reader at or above `safe_ts` can see; later reads below `safe_ts`
    /// fail. Returns the number of versions removed.
    pub fn compact(&mut self, safe_ts: u64) -> usize {
        if safe_ts <= self.min_retained_ts {
            return 0;
        }
        self.min_retained_ts = safe_ts;
        let mut removed = 0;
        self.data.retain(|_, vs| {
            if let Some(i) = vs.iter().position(|v| v.ts <= safe_ts) {
                let keep = if vs[i].tombstone { i } else { i + 1 };
                removed += vs.len() - keep;
                vs.truncate(keep);
            }
            !vs.is_empty()
        });
        removed
    }

    /// Physically removes every `nth` key (1-based stride) under `prefix`, all versions — the
    /// effect of a replica that lost data (a test fault). Returns the number removed.
    pub fn drop_keys(&mut self, prefix: &[u8], nth: usize) -> usize {
        let victims: Vec<Bytes> = self
            .data
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .enumerate()
            .filter(|(i, _)| nth > 0 && (i + 1) % nth == 0)
            .map(|(_, k)| k)
            .collect();
        for k in &victims {
            self.data.remove(k);
        }
        victims.len()
    }

    /// Number of distinct keys held (any version).
    pub fn key_count(&self) -> usize {
        self.data.len()
    }

    /// Lays the store out again in key order: keys, and apart from them values up to
    /// 16 KiB, copied back to back into shared chunks of 256 KiB (a keys-only pass then
    /// reads keys alone), and the map rebuilt from its sorted entries (its nodes then also
    /// lie in key order).
    ///
    /// Why: a loaded store holds every key and value in an allocation of its own, in load
    /// order (snapshot by snapshot, interleaved across groups), so each key a scan or count
    /// checks is a cache miss of its own, three passes per dump (the `BeginBackup` count,
    /// the keys-only and the value scans). Laid out in key order, a pass reads memory
    /// sequentially. A chunk's reference count is shared by a few thousand keys or values,
    /// not by a whole group. Writes after this keep their own allocations.
    pub fn pack(&mut self) {
        let (mut keys, mut values) = (Chunks::default(), Chunks::default());
        let old = std::mem::take(&mut self.data);
        self.data = old
            .into_iter()
            .map(|(key, mut versions)| {
                let key = keys.copy(&key);
                for v in versions.iter_mut() {
                    if !v.value.is_empty() && v.value.len() <= PACK_VALUE_MAX {
                        v.value = values.copy(&v.value);
                    }
                }
                (key, versions)
            })
            .collect();
    }
}

/// Where [`GroupStore::pack`] copies keys (or values) to: one chunk after another, each
/// piece a slice of the chunk it was copied into.
#[derive(Default)]
struct Chunks {
    chunk: BytesMut,
}

impl Chunks {
    fn copy(&mut self, bytes: &[u8]) -> Bytes {
        if self.chunk.capacity() - self.chunk.len() < bytes.len() {
            self.chunk = BytesMut::with_capacity(PACK_CHUNK.max(bytes.len()));
        }
        self.chunk.extend_from_slice(bytes);
        self.chunk.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(s: &mut GroupStore, k: &str, ts: u64, v: &str) {
        s.apply(
            Bytes::copy_from_slice(k.as_bytes()),
            Version {
                ts,
                tombstone: false,
                expire_at_ms: 0,
                value: Bytes::copy_from_slice(v.as_bytes()),
            },
        );
    }

    fn del(s: &mut GroupStore, k: &str, ts: u64) {
        s.apply(
            Bytes::copy_from_slice(k.as_bytes()),
            Version {
                ts,
                tombstone: true,
                expire_at_ms: 0,
                value: Bytes::new(),
            },
        );
    }

    #[test]
    fn transaction_internal_families_are_hidden_and_nothing_else() {
        for p in HIDDEN {
            assert!(p.starts_with(TXN), "{p:?} escapes the fast prefix test");
            let mut k = p.to_vec();
            k.extend_from_slice(b"user-key");
            assert!(hidden(&k), "{k:?}");
            assert!(hidden(p));
        }
        for k in [
            &b""[..],
            b"!txn",
            b"!txn|",
            b"!txn|other|k",
            b"!txn|loc|k",
            b"!ddb|item|t|k",
            b"!redis|str|!txn|lock|k",
            b"plain",
        ] {
            assert!(!hidden(k), "{k:?}");
        }
    }

    #[test]
    fn reads_see_the_newest_version_at_ts() {
        let mut s = GroupStore::default();
        put(&mut s, "a", 10, "a10");
        put(&mut s, "a", 20, "a20");
        del(&mut s, "b", 15);
        put(&mut s, "b", 5, "b5");
        put(&mut s, "!txn|lock|a", 5, "x");
        assert_eq!(s.get(b"a", 15).unwrap().unwrap(), "a10");
        assert_eq!(s.get(b"a", 25).unwrap().unwrap(), "a20");
        assert_eq!(s.get(b"a", 5).unwrap(), None);
        assert_eq!(s.get(b"b", 10).unwrap().unwrap(), "b5");
        assert_eq!(s.get(b"b", 20).unwrap(), None);
        let page = s.scan(b"", b"", 12, 10, false, false).unwrap();
        assert_eq!(page.len(), 2);
        let page = s.scan(b"", b"", 30, 10, false, true).unwrap();
        assert_eq!(page, vec![(Bytes::from_static(b"a"), Bytes::new())]);
        let page = s.scan(b"a\0", b"", 12, 10, true, false).unwrap();
        assert_eq!(page[0].0, "b");
    }

    #[test]
    fn expiry_uses_the_physical_part_of_ts() {
        let mut s = GroupStore::default();
        s.apply(
            Bytes::from_static(b"k"),
            Version {
                ts: 1,
                tombstone: false,
                expire_at_ms: 1000,
                value: Bytes::from_static(b"v"),
            },
        );
        assert!(s.get(b"k", 999 << 16).unwrap().is_some());
        assert!(s.get(b"k", 1000 << 16).unwrap().is_none());
    }

    #[test]
    fn compaction_keeps_what_readers_above_the_safe_point_see() {
        let mut s = GroupStore::default();
        put(&mut s, "a", 10, "a10");
        put(&mut s, "a", 20, "a20");
        put(&mut s, "a", 30, "a30");
        put(&mut s, "b", 10, "b10");
        del(&mut s, "b", 20);
        assert_eq!(s.compact(25), 3);
        assert_eq!(s.get(b"a", 25).unwrap().unwrap(), "a20");
        assert_eq!(s.get(b"a", 24), Err(Compacted));
        assert_eq!(s.key_count(), 1);
        assert_eq!(s.compact(20), 0);
    }

    #[test]
    fn pack_keeps_every_version_and_lays_keys_and_small_values_out_in_order() {
        let mut s = GroupStore::default();
        // Inserted out of order, with several versions, a tombstone, an empty value and
        // one value too large to pack.
        let big = "x".repeat(PACK_VALUE_MAX + 1);
        for i in (0..2000).rev() {
            put(&mut s, &format!("k{i:05}"), 10, &format!("v{i}"));
        }
        put(&mut s, "k00007", 20, "newer");
        del(&mut s, "k00008", 20);
        put(&mut s, "k00009", 20, "");
        put(&mut s, "k00010", 20, &big);
        let before: Vec<(Bytes, Versions)> =
            s.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        s.pack();
        let after: Vec<(Bytes, Versions)> =
            s.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(before, after);
        assert_eq!(
            s.get(b"k00007", 30).unwrap().as_deref(),
            Some(&b"newer"[..])
        );
        assert_eq!(s.get(b"k00008", 30).unwrap(), None);
        assert_eq!(
            s.get(b"k00010", 30).unwrap().map(|v| v.len()),
            Some(big.len())
        );
        // Keys lie back to back in key order, apart from the values; so do small values.
        let keys: Vec<&Bytes> = s.data.keys().collect();
        let adjacent = |a: &[u8], b: &[u8]| a.as_ptr().wrapping_add(a.len()) == b.as_ptr();
        let key_runs = keys.windows(2).filter(|w| adjacent(w[0], w[1])).count();
        assert!(key_runs >= keys.len() - 2, "{key_runs} of {}", keys.len());
        let v1 = &s.data[&b"k00001"[..]][0].value;
        let v2 = &s.data[&b"k00002"[..]][0].value;
        assert!(adjacent(v1, v2));
        assert!(!adjacent(keys[0], v1) && !adjacent(v1, keys[1]));
        // The large value kept its own allocation.
        let large = &s.data[&b"k00010"[..]][0].value;
        assert!(!adjacent(&s.data[&b"k00009"[..]][1].value, large));
        // A write after packing still lands.
        put(&mut s, "k00000", 40, "later");
        assert_eq!(
            s.get(b"k00000", 40).unwrap().as_deref(),
            Some(&b"later"[..])
        );
    }

    #[test]
    fn drop_keys_removes_a_stride() {
        let mut s = GroupStore::default();
        for i in 0..10 {
            put(&mut s, &format!("p{i}"), 1, "v");
        }
        put(&mut s, "q", 1, "v");
        assert_eq!(s.drop_keys(b"p", 5), 2);
        assert_eq!(s.key_count(), 9);
    }
}
