//! An external sort of small per-key records, ordered by `(user key, kind, arrival)`.
//!
//! Why: collection rows arrive in internal key order — `BE32(len) ‖ UK` for hashes, sets,
//! zsets and streams (shorter keys first), `UK ‖ seq` for lists (prefix-related keys
//! interleave), and everything in encoded-key order (`key ‖ BE64(!ts)`) — while upstream
//! writes collections, resolves TTLs and orders KEYMAP lines by plain user-key order.
//! The records go through the engine's one external sorter ([`crate::extsort`]) keyed by
//! the user key in an order-preserving, prefix-free encoding (`0x00` → `00 FF`, then the
//! terminator `00 01`) followed by the kind; equal keys keep arrival order (the sorter is
//! stable), and the arrival number travels in the payload.

use super::envelope::Meta;
use super::error::RedisError;
use super::raw::put_u64;
use crate::extsort::{ExternalSorter, SortError, SortedRecords};

/// Where a run of scratch element bytes lives in the body spill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Byte offset in the body spill.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Number of elements in it.
    pub count: u64,
}

/// What a record says about its user key. The variant order is the sort order within a
/// key: a collection's meta comes before its legacy blob, which comes before its element
/// chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item {
    /// A collection's meta row.
    Meta(Meta),
    /// A legacy whole-value zset, decoded into element bytes.
    Legacy(Chunk),
    /// Elements of a collection, in output order.
    Chunk(Chunk),
    /// A string/HLL key; `true` when its envelope owns the TTL.
    Owned(bool),
    /// A `!redis|ttl|` value not taken by a string or HLL.
    Ttl(u64),
    /// The collection's element names arrived out of bytewise order (a name that is a
    /// prefix of another arrives after it in encoded-key order): re-sort before writing.
    Unsorted,
}

impl Item {
    fn tag(&self) -> u8 {
        match self {
            Item::Meta(_) => 0,
            Item::Legacy(_) => 1,
            Item::Chunk(_) => 2,
            Item::Owned(_) => 3,
            Item::Ttl(_) => 4,
            Item::Unsorted => 5,
        }
    }
}

/// One sorted record.
#[derive(Debug, Clone, PartialEq)]
pub struct Rec {
    /// The Redis user key.
    pub uk: Vec<u8>,
    /// Arrival number: keeps chunks of one key in element order.
    pub seq: u64,
    /// The payload.
    pub item: Item,
}

impl Rec {
    #[cfg(test)]
    fn cmp_key(&self, o: &Rec) -> std::cmp::Ordering {
        self.uk
            .cmp(&o.uk)
            .then(self.item.tag().cmp(&o.item.tag()))
            .then(self.seq.cmp(&o.seq))
    }
}

fn sort_err(e: SortError) -> RedisError {
    match e {
        SortError::Scratch { what, source, .. } => RedisError::scratch(what, source),
        other => RedisError::Internal(other.to_string()),
    }
}

fn corrupt() -> RedisError {
    RedisError::Internal("a sorted scratch record is truncated or corrupt".into())
}

/// The sort key: `escaped(uk) ‖ 00 01 ‖ tag`.
fn encode_key(uk: &[u8], tag: u8, out: &mut Vec<u8>) {
    out.clear();
    for &b in uk {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 1, tag]);
}

fn decode_key(k: &[u8]) -> Result<(Vec<u8>, u8), RedisError> {
    let mut uk = Vec::with_capacity(k.len());
    let mut i = 0;
    while let Some(&b) = k.get(i) {
        if b != 0 {
            uk.push(b);
            i += 1;
            continue;
        }
        match k.get(i + 1) {
            Some(0xff) => {
                uk.push(0);
                i += 2;
            }
            Some(1) => {
                let [tag] = k.get(i + 2..).ok_or_else(corrupt)? else {
                    return Err(corrupt());
                };
                return Ok((uk, *tag));
            }
            _ => return Err(corrupt()),
        }
    }
    Err(corrupt())
}

/// The payload: `u64(arrival) ‖ item fields`.
fn encode_payload(seq: u64, item: &Item, out: &mut Vec<u8>) {
    out.clear();
    put_u64(out, seq);
    match *item {
        Item::Meta(m) => {
            put_u64(out, m.declared as u64);
            put_u64(out, m.last_ms);
            put_u64(out, m.last_seq);
            out.push(u8::from(m.slot.is_some()));
            put_u64(out, m.slot.unwrap_or(0));
        }
        Item::Legacy(c) | Item::Chunk(c) => {
            put_u64(out, c.offset);
            put_u64(out, c.len);
            put_u64(out, c.count);
        }
        Item::Owned(b) => out.push(u8::from(b)),
        Item::Ttl(v) => put_u64(out, v),
        Item::Unsorted => {}
    }
}

fn decode_payload(tag: u8, p: &[u8]) -> Result<(u64, Item), RedisError> {
    let mut r = super::raw::Reader::new(p);
    let seq = r.u64()?;
    let item = match tag {
        0 => {
            let declared = r.u64()? as i64;
            let last_ms = r.u64()?;
            let last_seq = r.u64()?;
            let has = p.get(32).copied().ok_or_else(corrupt)?;
            let slot = p.get(33..41).ok_or_else(corrupt)?;
            let slot = u64::from_le_bytes(slot.try_into().map_err(|_| corrupt())?);
            Item::Meta(Meta {
                declared,
                last_ms,
                last_seq,
                slot: (has != 0).then_some(slot),
            })
        }
        1 | 2 => {
            let c = Chunk {
                offset: r.u64()?,
                len: r.u64()?,
                count: r.u64()?,
            };
            if tag == 1 {
                Item::Legacy(c)
            } else {
                Item::Chunk(c)
            }
        }
        3 => Item::Owned(p.get(8).copied().ok_or_else(corrupt)? != 0),
        4 => Item::Ttl(r.u64()?),
        5 => Item::Unsorted,
        _ => return Err(corrupt()),
    };
    Ok((seq, item))
}

/// Collects records and hands them back sorted.
pub struct Sorter {
    inner: ExternalSorter,
    seq: u64,
    key: Vec<u8>,
    payload: Vec<u8>,
}

impl Sorter {
    /// A sorter keeping at most about `limit` bytes in memory; `what` names it in errors.
    pub fn new(what: &'static str, limit: usize) -> Self {
        Sorter {
            inner: ExternalSorter::new(what, limit),
            seq: 0,
            key: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// Adds a record.
    pub fn push(&mut self, uk: &[u8], item: Item) -> Result<(), RedisError> {
        encode_key(uk, item.tag(), &mut self.key);
        encode_payload(self.seq, &item, &mut self.payload);
        self.seq += 1;
        self.inner.push(&self.key, &self.payload).map_err(sort_err)
    }

    /// All records, sorted by `(user key, kind, arrival)`.
    pub fn finish(self) -> Result<Sorted, RedisError> {
        Ok(Sorted {
            src: Some(self.inner.into_sorted().map_err(sort_err)?),
        })
    }
}

/// Records in sorted order.
pub struct Sorted {
    src: Option<SortedRecords>,
}

impl Sorted {
    /// The next record, or `None` at the end.
    pub fn next_rec(&mut self) -> Result<Option<Rec>, RedisError> {
        let Some(src) = self.src.as_mut() else {
            return Ok(None);
        };
        let Some((k, p)) = src.next_record().map_err(sort_err)? else {
            return Ok(None);
        };
        let (uk, tag) = decode_key(&k)?;
        let (seq, item) = decode_payload(tag, &p)?;
        Ok(Some(Rec { uk, seq, item }))
    }
}

/// A sorted stream with one record of lookahead, for merge-joins by user key.
pub struct Cursor {
    src: Sorted,
    head: Option<Rec>,
}

impl Cursor {
    /// Starts reading `src`.
    pub fn new(mut src: Sorted) -> Result<Self, RedisError> {
        let head = src.next_rec()?;
        Ok(Cursor { src, head })
    }

    /// An empty cursor.
    pub fn empty() -> Self {
        Cursor {
            src: Sorted { src: None },
            head: None,
        }
    }

    /// The next record's user key.
    pub fn peek_uk(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|r| r.uk.as_slice())
    }

    /// Consumes the next record.
    pub fn take(&mut self) -> Result<Option<Rec>, RedisError> {
        let next = self.src.next_rec()?;
        Ok(std::mem::replace(&mut self.head, next))
    }

    /// Skips records whose key sorts before `uk`, then takes the records of `uk` whose
    /// item matches `pick` (consuming them); returns the last such item.
    pub fn seek_take(
        &mut self,
        uk: &[u8],
        pick: impl Fn(&Item) -> bool,
    ) -> Result<Option<Item>, RedisError> {
        while self.peek_uk().is_some_and(|k| k < uk) {
            self.take()?;
        }
        let mut found = None;
        while let Some(r) = self.head.as_ref() {
            if r.uk.as_slice() != uk || !pick(&r.item) {
                break;
            }
            found = Some(r.item);
            self.take()?;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut s: Sorted) -> Vec<Rec> {
        let mut v = Vec::new();
        while let Some(r) = s.next_rec().unwrap() {
            v.push(r);
        }
        v
    }

    fn chunk(o: u64) -> Item {
        Item::Chunk(Chunk {
            offset: o,
            len: 1,
            count: 1,
        })
    }

    #[test]
    fn orders_by_key_then_kind_then_arrival() {
        // Wide-column arrival order: shorter keys first.
        let mut s = Sorter::new("test", 1 << 20);
        s.push(b"b", chunk(1)).unwrap();
        s.push(b"b", chunk(2)).unwrap();
        s.push(b"aa", chunk(3)).unwrap();
        s.push(b"b", Item::Meta(Meta::default())).unwrap();
        s.push(b"a", Item::Ttl(5)).unwrap();
        let got: Vec<_> = drain(s.finish().unwrap())
            .into_iter()
            .map(|r| (r.uk, r.item))
            .collect();
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), Item::Ttl(5)),
                (b"aa".to_vec(), chunk(3)),
                (b"b".to_vec(), Item::Meta(Meta::default())),
                (b"b".to_vec(), chunk(1)),
                (b"b".to_vec(), chunk(2)),
            ]
        );
    }

    #[test]
    fn spills_and_merges_in_rounds() {
        // A tiny limit forces one run per record and several merge rounds.
        let mut s = Sorter::new("test", 1);
        let n = 200u64;
        for i in 0..n {
            let k = format!("k{:03}", (i * 7919) % n);
            let item = match i % 4 {
                0 => Item::Meta(Meta {
                    declared: -(i as i64),
                    last_ms: i,
                    last_seq: 3,
                    slot: (i % 8 == 0).then_some(i),
                }),
                1 => Item::Legacy(Chunk {
                    offset: i,
                    len: 2,
                    count: i,
                }),
                2 if i % 8 == 2 => Item::Unsorted,
                2 => Item::Owned(i % 3 == 0),
                _ => Item::Ttl(i),
            };
            s.push(k.as_bytes(), item).unwrap();
        }
        let got = drain(s.finish().unwrap());
        assert_eq!(got.len(), n as usize);
        for w in got.windows(2) {
            assert_ne!(w[0].cmp_key(&w[1]), std::cmp::Ordering::Greater);
        }
        // Items survive the round trip through scratch files.
        let meta0 = got.iter().find(|r| r.uk == b"k000").unwrap();
        assert_eq!(
            meta0.item,
            Item::Meta(Meta {
                declared: 0,
                last_ms: 0,
                last_seq: 3,
                slot: Some(0)
            })
        );
    }

    #[test]
    fn empty_nul_and_prefix_keys_sort_bytewise_in_memory_and_spilled() {
        let keys: [&[u8]; 8] = [b"ab", b"a\0\0", b"", b"a\0", b"\0", b"a", b"\xff", b"a\x01"];
        for limit in [1 << 20, 1] {
            let mut s = Sorter::new("test", limit);
            for k in keys {
                s.push(k, Item::Ttl(k.len() as u64)).unwrap();
            }
            let got: Vec<Vec<u8>> = drain(s.finish().unwrap())
                .into_iter()
                .map(|r| r.uk)
                .collect();
            let mut want: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
            want.sort();
            assert_eq!(got, want, "limit {limit}");
        }
        assert!(decode_key(b"a\0").is_err());
        assert!(decode_key(b"a\0\x02\x00").is_err());
        assert!(decode_key(b"a").is_err());
    }

    #[test]
    fn cursor_seek_take() {
        let mut s = Sorter::new("test", 1 << 20);
        for k in [&b"a"[..], b"c", b"e"] {
            s.push(k, Item::Owned(true)).unwrap();
        }
        let mut c = Cursor::new(s.finish().unwrap()).unwrap();
        let owned = |i: &Item| matches!(i, Item::Owned(_));
        assert_eq!(c.seek_take(b"b", owned).unwrap(), None);
        assert_eq!(c.seek_take(b"c", owned).unwrap(), Some(Item::Owned(true)));
        assert_eq!(c.peek_uk(), Some(&b"e"[..]));
        assert_eq!(c.seek_take(b"z", owned).unwrap(), None);
        assert!(c.peek_uk().is_none());
    }
}
