//! An external sorter of small per-key records, ordered by `(user key, kind, arrival)`.
//!
//! Why: collection rows arrive in internal key order — `BE32(len) ‖ UK` for hashes, sets,
//! zsets and streams (shorter keys first), `UK ‖ seq` for lists (prefix-related keys
//! interleave) — while upstream writes collections, resolves TTLs and orders KEYMAP lines
//! by plain user-key order. Records are kept in a bounded in-memory run, spilled as sorted
//! runs to anonymous temporary files (outside the output tree, deleted by the OS when
//! closed), and merged back, so memory stays bounded whatever the key count.

use super::envelope::Meta;
use super::error::RedisError;
use super::raw::{put_u64, put_varint};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

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
    fn cmp_key(&self, o: &Rec) -> Ordering {
        self.uk
            .cmp(&o.uk)
            .then(self.item.tag().cmp(&o.item.tag()))
            .then(self.seq.cmp(&o.seq))
    }

    fn mem(&self) -> usize {
        self.uk.capacity() + std::mem::size_of::<Rec>() + 16
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.uk.len() as u64);
        out.extend_from_slice(&self.uk);
        out.push(self.item.tag());
        put_u64(out, self.seq);
        match self.item {
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
}

fn corrupt() -> RedisError {
    RedisError::Internal("a sorted scratch run is truncated or corrupt".into())
}

/// Reads records back from one run (a scratch file, or memory).
pub struct RunReader {
    r: Box<dyn Read + Send>,
}

impl RunReader {
    fn open(mut f: File) -> Result<Self, RedisError> {
        f.seek(SeekFrom::Start(0))
            .map_err(|e| RedisError::scratch("sorted run", e))?;
        Ok(RunReader {
            r: Box::new(BufReader::with_capacity(64 << 10, f)),
        })
    }

    fn byte(&mut self) -> Result<Option<u8>, RedisError> {
        let mut b = [0u8; 1];
        match self.r.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(b[0])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.byte(),
            Err(e) => Err(RedisError::scratch("sorted run", e)),
        }
    }

    fn exact<const N: usize>(&mut self) -> Result<[u8; N], RedisError> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).map_err(|_| corrupt())?;
        Ok(b)
    }

    fn u64(&mut self) -> Result<u64, RedisError> {
        Ok(u64::from_le_bytes(self.exact::<8>()?))
    }

    fn next(&mut self) -> Result<Option<Rec>, RedisError> {
        // The key length varint; a clean end of file before it is the end of the run.
        let mut len = 0u64;
        let mut shift = 0;
        loop {
            let Some(c) = self.byte()? else {
                return if shift == 0 { Ok(None) } else { Err(corrupt()) };
            };
            len |= u64::from(c & 0x7f) << shift;
            if c & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift >= 64 {
                return Err(corrupt());
            }
        }
        let len = usize::try_from(len).map_err(|_| corrupt())?;
        let mut uk = vec![0u8; len];
        self.r.read_exact(&mut uk).map_err(|_| corrupt())?;
        let [tag] = self.exact::<1>()?;
        let seq = self.u64()?;
        let item = match tag {
            0 => {
                let declared = self.u64()? as i64;
                let last_ms = self.u64()?;
                let last_seq = self.u64()?;
                let [has] = self.exact::<1>()?;
                let slot = self.u64()?;
                Item::Meta(Meta {
                    declared,
                    last_ms,
                    last_seq,
                    slot: (has != 0).then_some(slot),
                })
            }
            1 | 2 => {
                let c = Chunk {
                    offset: self.u64()?,
                    len: self.u64()?,
                    count: self.u64()?,
                };
                if tag == 1 {
                    Item::Legacy(c)
                } else {
                    Item::Chunk(c)
                }
            }
            3 => Item::Owned(self.exact::<1>()?[0] != 0),
            4 => Item::Ttl(self.u64()?),
            5 => Item::Unsorted,
            _ => return Err(corrupt()),
        };
        Ok(Some(Rec { uk, seq, item }))
    }
}

/// Most runs merged at once (each holds a 64 KiB read buffer); more are merged in rounds.
const FAN_IN: usize = 64;

/// Collects records and hands them back sorted.
pub struct Sorter {
    what: &'static str,
    buf: Vec<Rec>,
    mem: usize,
    limit: usize,
    runs: Vec<File>,
    seq: u64,
}

impl Sorter {
    /// A sorter keeping at most about `limit` bytes in memory; `what` names it in errors.
    pub fn new(what: &'static str, limit: usize) -> Self {
        Sorter {
            what,
            buf: Vec::new(),
            mem: 0,
            limit,
            runs: Vec::new(),
            seq: 0,
        }
    }

    /// Adds a record.
    pub fn push(&mut self, uk: &[u8], item: Item) -> Result<(), RedisError> {
        let rec = Rec {
            uk: uk.to_vec(),
            seq: self.seq,
            item,
        };
        self.seq += 1;
        self.mem += rec.mem();
        self.buf.push(rec);
        if self.mem >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), RedisError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.sort_by(Rec::cmp_key);
        let f = write_run(self.what, buf.into_iter().map(Ok))?;
        self.runs.push(f);
        self.mem = 0;
        Ok(())
    }

    /// All records, sorted by `(user key, kind, arrival)`.
    pub fn finish(mut self) -> Result<Sorted, RedisError> {
        if self.runs.is_empty() {
            self.buf.sort_by(Rec::cmp_key);
            return Ok(Sorted::Mem(std::mem::take(&mut self.buf).into_iter()));
        }
        if !self.buf.is_empty() {
            self.spill()?;
        }
        let mut runs = std::mem::take(&mut self.runs);
        while runs.len() > FAN_IN {
            let rest = runs.split_off(FAN_IN);
            let mut merged = Merge::new(runs)?;
            let f = write_run(self.what, std::iter::from_fn(|| merged.next().transpose()))?;
            runs = rest;
            runs.push(f);
        }
        Ok(Sorted::Merge(Merge::new(runs)?))
    }
}

fn write_run(
    what: &'static str,
    recs: impl Iterator<Item = Result<Rec, RedisError>>,
) -> Result<File, RedisError> {
    let f = tempfile::tempfile().map_err(|e| RedisError::scratch(what, e))?;
    let mut w = BufWriter::with_capacity(256 << 10, f);
    let mut line = Vec::with_capacity(256);
    for r in recs {
        line.clear();
        r?.encode(&mut line);
        w.write_all(&line)
            .map_err(|e| RedisError::scratch(what, e))?;
    }
    w.into_inner()
        .map_err(|e| RedisError::scratch(what, e.into_error()))
}

struct Head {
    rec: Rec,
    run: usize,
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
        self.rec.cmp_key(&o.rec)
    }
}

/// A k-way merge of sorted runs.
pub struct Merge {
    readers: Vec<RunReader>,
    heap: BinaryHeap<Reverse<Head>>,
}

impl Merge {
    fn new(files: Vec<File>) -> Result<Self, RedisError> {
        let mut readers = Vec::with_capacity(files.len());
        let mut heap = BinaryHeap::with_capacity(files.len());
        for (run, f) in files.into_iter().enumerate() {
            let mut r = RunReader::open(f)?;
            if let Some(rec) = r.next()? {
                heap.push(Reverse(Head { rec, run }));
            }
            readers.push(r);
        }
        Ok(Merge { readers, heap })
    }

    fn next(&mut self) -> Result<Option<Rec>, RedisError> {
        let Some(Reverse(Head { rec, run })) = self.heap.pop() else {
            return Ok(None);
        };
        let r = self
            .readers
            .get_mut(run)
            .ok_or_else(|| RedisError::Internal("merge run index out of range".into()))?;
        if let Some(next) = r.next()? {
            self.heap.push(Reverse(Head { rec: next, run }));
        }
        Ok(Some(rec))
    }
}

/// Records in sorted order.
pub enum Sorted {
    /// Everything fit in memory.
    Mem(std::vec::IntoIter<Rec>),
    /// Merged from spilled runs.
    Merge(Merge),
}

impl Sorted {
    /// The next record, or `None` at the end.
    pub fn next_rec(&mut self) -> Result<Option<Rec>, RedisError> {
        match self {
            Sorted::Mem(it) => Ok(it.next()),
            Sorted::Merge(m) => m.next(),
        }
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
            src: Sorted::Mem(Vec::new().into_iter()),
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
            assert_ne!(w[0].cmp_key(&w[1]), Ordering::Greater);
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
