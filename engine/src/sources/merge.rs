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
    /// The smallest head, kept out of the heap: the shard it came from usually supplies the
    /// next smallest entry too (shards are contiguous ranges), and checking that takes one
    /// comparison with the heap's top, where a heap top replaced in place costs a sift (two
    /// comparisons per level).
    current: Option<Head>,
    /// The other shards' heads.
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
            current: None,
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
            self.current = self.heap.pop();
        }
        let head = self.current.take()?;
        let shard = head.shard;
        self.current = match self.streams[shard].next() {
            Some(Ok(entry)) => {
                let next = Head { entry, shard };
                match self.heap.peek_mut() {
                    // Another shard's head comes first (the heap's order is reversed): it
                    // becomes current and `next` takes its place, sifted on drop.
                    Some(mut top) if *top > next => Some(std::mem::replace(&mut *top, next)),
                    _ => Some(next),
                }
            }
            Some(Err(e)) => {
                self.failed = true;
                return Some(Err(e));
            }
            None => self.heap.pop(),
        };
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

    /// Interleaved shards of uneven lengths (one empty), with versions of one user key
    /// split between shards: the merge yields exactly the entries sorted by encoded key,
    /// ties in shard order, each tagged with its own shard's read timestamp.
    #[test]
    fn merges_interleaved_shards_like_a_sort() {
        let mut shards: Vec<Vec<(RawEntry, u64)>> = vec![Vec::new(); 5];
        let mut x = 12345u64;
        for _ in 0..400 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let shard = (x >> 33) as usize % 4; // shard 4 stays empty
            let key = format!("k{:02}", (x >> 40) % 37);
            let ts = (x >> 20) % 5 + 1;
            shards[shard].push((e(key.as_bytes(), ts), shard as u64));
        }
        for s in &mut shards {
            s.sort_by(|a, b| cmp_encoded(&a.0, &b.0));
        }
        let mut want: Vec<_> = shards.iter().flatten().cloned().collect();
        want.sort_by(|a, b| cmp_encoded(&a.0, &b.0).then(a.1.cmp(&b.1)));
        let streams: Vec<ShardStream> = shards
            .iter()
            .map(|s| {
                let v: Vec<_> = s.iter().map(|(e, _)| Ok(e.clone())).collect();
                Box::new(v.into_iter()) as ShardStream
            })
            .collect();
        let got: Vec<_> = Merged::new(streams, vec![100, 101, 102, 103, 104])
            .map(|r| r.unwrap())
            .map(|(e, ts)| (e.user_key.to_vec(), e.commit_ts, ts))
            .collect();
        let want: Vec<_> = want
            .iter()
            .map(|(e, s)| (e.user_key.to_vec(), e.commit_ts, 100 + s))
            .collect();
        assert_eq!(got.len(), 400);
        assert_eq!(got, want);
    }

    /// A shard's error ends the merge: it is returned once, and nothing follows it.
    #[test]
    fn a_shard_error_ends_the_merge() {
        let a: ShardStream = Box::new(
            vec![
                Ok(e(b"a", 1)),
                Err(Error::Internal("shard a broke".into())),
                Ok(e(b"z", 1)),
            ]
            .into_iter(),
        );
        let b: ShardStream = Box::new(vec![Ok(e(b"b", 1)), Ok(e(b"c", 1))].into_iter());
        let got: Vec<_> = Merged::new(vec![a, b], vec![1, 1]).collect();
        let errors = got.iter().filter(|r| r.is_err()).count();
        assert_eq!(errors, 1, "one error, then the merge stops");
        assert!(
            matches!(got.last(), Some(Err(Error::Internal(m))) if m.contains("shard a broke")),
            "the error comes last"
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
