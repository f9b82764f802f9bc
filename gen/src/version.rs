//! Stored versions and ordered family streams: the generator's unit of output.
//!
//! A [`Version`] holds its bytes exactly as a snapshot stores them (encoded key =
//! `user_key ‖ BE64(!commit_ts)`, encoded value = `flags ‖ LE64(expire_at) ‖ body`, docs/format/00-container.md
//! §2), so ordering is a plain byte comparison and the shard writer only adds framing.
//! Each key family is a lazy [`Family`] iterator already in encoded-key order; [`Merge`]
//! joins them into the global order with a heap, holding one version per family.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// One MVCC version as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// `user_key ‖ BE64(!commit_ts)`.
    pub key: Vec<u8>,
    /// `flags ‖ LE64(expire_at_ms) ‖ body`.
    pub value: Vec<u8>,
}

impl Version {
    /// A value version; `expire_at_ms` 0 = no MVCC expiry.
    pub fn put(user_key: &[u8], commit_ts: u64, expire_at_ms: u64, body: &[u8]) -> Self {
        let mut value = Vec::with_capacity(9 + body.len());
        value.push(0);
        value.extend_from_slice(&expire_at_ms.to_le_bytes());
        value.extend_from_slice(body);
        Version {
            key: encode_key(user_key, commit_ts),
            value,
        }
    }

    /// A delete marker.
    pub fn tombstone(user_key: &[u8], commit_ts: u64) -> Self {
        let mut value = vec![1];
        value.extend_from_slice(&0u64.to_le_bytes());
        Version {
            key: encode_key(user_key, commit_ts),
            value,
        }
    }

    /// The user key (the encoded key without its timestamp suffix).
    pub fn user_key(&self) -> &[u8] {
        &self.key[..self.key.len().saturating_sub(8)]
    }

    /// The commit timestamp.
    pub fn commit_ts(&self) -> u64 {
        let n = self.key.len();
        let mut b = [0u8; 8];
        if n >= 8 {
            b.copy_from_slice(&self.key[n - 8..]);
        }
        !u64::from_be_bytes(b)
    }

    /// Bytes this version takes in a snapshot file (two length fields included).
    pub fn stored_len(&self) -> u64 {
        16 + self.key.len() as u64 + self.value.len() as u64
    }
}

/// `user_key ‖ BE64(!commit_ts)`.
pub fn encode_key(user_key: &[u8], commit_ts: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + 8);
    k.extend_from_slice(user_key);
    k.extend_from_slice(&(!commit_ts).to_be_bytes());
    k
}

/// A key family's versions in ascending encoded-key order.
pub type Family = Box<dyn Iterator<Item = Version> + Send>;

/// A family made of `count` units, unit `i` expanding (in order) to the versions `f`
/// pushes for it. Units are expanded one at a time, so a unit should be small (a record,
/// or a block of a huge collection's members), never a whole dataset.
pub fn units<F>(count: u64, f: F) -> Family
where
    F: FnMut(u64, &mut Vec<Version>) + Send + 'static,
{
    Box::new(Units {
        next: 0,
        count,
        f,
        buf: VecDeque::new(),
        scratch: Vec::new(),
    })
}

/// A family from versions already in memory (a few metadata rows), sorted here.
pub fn fixed(mut v: Vec<Version>) -> Family {
    v.sort_by(|a, b| a.key.cmp(&b.key));
    Box::new(v.into_iter())
}

struct Units<F> {
    next: u64,
    count: u64,
    f: F,
    buf: VecDeque<Version>,
    scratch: Vec<Version>,
}

impl<F: FnMut(u64, &mut Vec<Version>) + Send> Iterator for Units<F> {
    type Item = Version;

    fn next(&mut self) -> Option<Version> {
        while self.buf.is_empty() {
            if self.next >= self.count {
                return None;
            }
            (self.f)(self.next, &mut self.scratch);
            self.next += 1;
            self.buf.extend(self.scratch.drain(..));
        }
        self.buf.pop_front()
    }
}

struct Head {
    v: Version,
    family: usize,
}

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    fn cmp(&self, o: &Self) -> Ordering {
        // Max-heap: reversed for smallest key first.
        o.v.key.cmp(&self.v.key).then(o.family.cmp(&self.family))
    }
}

/// The families merged into one stream in global encoded-key order.
pub struct Merge {
    families: Vec<Family>,
    heap: BinaryHeap<Head>,
}

impl Merge {
    /// Merges `families` (each already ordered).
    pub fn new(mut families: Vec<Family>) -> Self {
        let mut heap = BinaryHeap::with_capacity(families.len());
        for (i, f) in families.iter_mut().enumerate() {
            if let Some(v) = f.next() {
                heap.push(Head { v, family: i });
            }
        }
        Merge { families, heap }
    }
}

impl Iterator for Merge {
    type Item = Version;

    fn next(&mut self) -> Option<Version> {
        let head = self.heap.pop()?;
        if let Some(v) = self.families[head.family].next() {
            self.heap.push(Head {
                v,
                family: head.family,
            });
        }
        Some(head.v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_merge() {
        let v = Version::put(b"k", 5, 7, b"body");
        assert_eq!(v.key, b"k\xff\xff\xff\xff\xff\xff\xff\xfa".to_vec());
        assert_eq!(v.value[0], 0);
        assert_eq!(&v.value[1..9], &7u64.to_le_bytes());
        assert_eq!(&v.value[9..], b"body");
        assert_eq!(v.user_key(), b"k");
        assert_eq!(v.commit_ts(), 5);
        assert_eq!(v.stored_len(), 16 + 9 + 13);
        let t = Version::tombstone(b"k", 6);
        assert_eq!(t.value, vec![1, 0, 0, 0, 0, 0, 0, 0, 0]);

        let a = units(3, |i, out| {
            out.push(Version::put(format!("a{i}").as_bytes(), 2, 0, b""));
            out.push(Version::put(format!("a{i}").as_bytes(), 1, 0, b""));
        });
        let b = fixed(vec![
            Version::put(b"b", 1, 0, b""),
            Version::put(b"a", 1, 0, b""),
        ]);
        let keys: Vec<Vec<u8>> = Merge::new(vec![a, b]).map(|v| v.key).collect();
        assert_eq!(keys.len(), 8);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
