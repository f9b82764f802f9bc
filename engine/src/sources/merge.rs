//! Merges the shards' ordered streams into one stream in global encoded-key order.
//!
//! Shards are contiguous key ranges, so in practice this is a concatenation; a heap keeps
//! it correct for any split, including one that separates two versions of a user key.

use crate::error::Error;
use crate::sources::{RawEntry, ShardStream};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Compares two versions by their stored (encoded) key: `user_key || BE64(!commit_ts)`.
pub fn cmp_encoded(a: &RawEntry, b: &RawEntry) -> Ordering {
    let (ak, bk) = (&a.user_key[..], &b.user_key[..]);
    let n = ak.len().min(bk.len());
    match ak[..n].cmp(&bk[..n]) {
        Ordering::Equal => {}
        o => return o,
    }
    let asfx = (!a.commit_ts).to_be_bytes();
    let bsfx = (!b.commit_ts).to_be_bytes();
    ak[n..]
        .iter()
        .chain(asfx.iter())
        .cmp(bk[n..].iter().chain(bsfx.iter()))
}

/// A visible-stream item: the entry and the read timestamp of the shard it came from.
pub type Tagged = (RawEntry, u64);

struct Head {
    entry: RawEntry,
    shard: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse for smallest-first; ties by shard order.
        cmp_encoded(&other.entry, &self.entry).then(other.shard.cmp(&self.shard))
    }
}

/// The merged stream.
pub struct Merged {
    streams: Vec<ShardStream>,
    read_ts: Vec<u64>,
    heap: BinaryHeap<Head>,
    started: bool,
    failed: bool,
    /// Count consumed input bytes in the process-wide progress counters.
    count_progress: bool,
}

impl Merged {
    /// Merges `streams`; `read_ts[i]` is shard i's read timestamp.
    pub fn new(streams: Vec<ShardStream>, read_ts: Vec<u64>) -> Self {
        Merged {
            heap: BinaryHeap::with_capacity(streams.len()),
            streams,
            read_ts,
            started: false,
            failed: false,
            count_progress: false,
        }
    }

    /// Makes this stream report consumed input bytes to [`crate::progress`].
    pub fn with_progress(mut self) -> Self {
        self.count_progress = true;
        self
    }

    fn pull(&mut self, shard: usize) -> Result<(), Error> {
        if let Some(next) = self.streams[shard].next() {
            self.heap.push(Head {
                entry: next?,
                shard,
            });
        }
        Ok(())
    }
}

impl Iterator for Merged {
    type Item = Result<Tagged, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if !self.started {
            self.started = true;
            for i in 0..self.streams.len() {
                if let Err(e) = self.pull(i) {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let head = self.heap.pop()?;
        if let Err(e) = self.pull(head.shard) {
            self.failed = true;
            return Some(Err(e));
        }
        if self.count_progress {
            // Stored size: two length fields, timestamp suffix, value header.
            let n = head.entry.user_key.len() + head.entry.value.len() + 33;
            crate::progress::counters()
                .input_bytes
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Some(Ok((head.entry, self.read_ts[head.shard])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn e(k: &[u8], ts: u64) -> RawEntry {
        RawEntry {
            user_key: Bytes::copy_from_slice(k),
            commit_ts: ts,
            expire_at_ms: 0,
            tombstone: false,
            value: Bytes::new(),
        }
    }

    #[test]
    fn encoded_order() {
        // Newer version first.
        assert_eq!(cmp_encoded(&e(b"k", 6), &e(b"k", 5)), Ordering::Less);
        // "k2" sorts before "k"'s versions: '2' < 0xff.. of an inverted small ts.
        assert_eq!(cmp_encoded(&e(b"k2", 1), &e(b"k", 5)), Ordering::Less);
        // A key extending with 0xff sorts after.
        assert_eq!(
            cmp_encoded(&e(b"k\xff\xff\xff\xff\xff\xff\xff\xff", 1), &e(b"k", 5)),
            Ordering::Greater
        );
    }

    #[test]
    fn merges_split_shards() {
        let a: ShardStream = Box::new(vec![Ok(e(b"a", 2)), Ok(e(b"c", 2))].into_iter());
        let b: ShardStream = Box::new(vec![Ok(e(b"a", 1)), Ok(e(b"b", 1))].into_iter());
        let m: Vec<_> = Merged::new(vec![a, b], vec![10, 20])
            .map(|r| r.unwrap())
            .map(|(e, ts)| (e.user_key.to_vec(), e.commit_ts, ts))
            .collect();
        assert_eq!(
            m,
            vec![
                (b"a".to_vec(), 2, 10),
                (b"a".to_vec(), 1, 20),
                (b"b".to_vec(), 1, 20),
                (b"c".to_vec(), 2, 10)
            ]
        );
    }
}
