//! Collection rows during the main pass: elements go to the scratch body spill in chunks,
//! metas and chunk locations to one sorter per type, keyed by user key.
//!
//! Rows arrive in *encoded*-key order (`key ‖ BE64(!commit_ts)`), which is output order
//! for list items (fixed-width sequence) and stream entries (fixed-width ID), but not
//! always for hash fields and set and zset members: a name that is a proper prefix of
//! another (`""` before `"a"`, `"a"` before `"ab"`) arrives *after* it whenever the next
//! byte of the longer name is below the first byte of the inverted timestamp, while
//! upstream writes names in plain bytewise order. So each collection's last name is
//! remembered, and a collection whose names arrive out of order is marked
//! ([`Item::Unsorted`]) and re-sorted when its file is written. Otherwise its elements are
//! a concatenation of its chunks in arrival order. Only one chunk is open at a time: a
//! different key (even a list whose items interleave with another's) closes it, and a
//! later chunk of the same key sorts after it.

use super::envelope::Meta;
use super::error::RedisError;
use super::raw::{put_bytes, put_u64};
use super::render::CollKind;
use super::scratch::{BodyReader, BodySpill};
use super::sort::{Item, Sorted, Sorter};

// Unit tests use tiny limits so that every spill, merge and chunk path runs.

/// Scratch bytes per chunk before it is closed.
pub const CHUNK_BYTES: usize = if cfg!(test) { 1 << 10 } else { 128 << 10 };

/// Collections with at most this many scratch bytes are rendered on a worker thread (the
/// bytes travel in the bounded job queue); larger ones are streamed from the decode thread.
pub const WORKER_RENDER_MAX: u64 = if cfg!(test) { 512 } else { 64 << 10 };

/// In-memory budget of each sorter before it spills a run (one type fills at a time:
/// the families arrive one after the other).
const SORTER_BYTES: usize = if cfg!(test) { 4 << 10 } else { 8 << 20 };

/// In-memory bytes of the TTL log before it moves to scratch.
const TTL_LOG_BYTES: usize = if cfg!(test) { 256 } else { 1 << 20 };

struct Open {
    kind: CollKind,
    uk: Vec<u8>,
    buf: Vec<u8>,
    count: u64,
}

/// The collection whose elements arrive now, for the order check (kept across chunks).
struct Current {
    kind: CollKind,
    uk: Vec<u8>,
    /// Name of the previous element (hash field, set or zset member).
    last: Vec<u8>,
    /// Whether an element was seen (the first has nothing to compare with).
    any: bool,
    /// Already marked [`Item::Unsorted`].
    marked: bool,
}

/// Everything the main pass collected.
pub struct Collected {
    /// Per type (in [`CollKind::ALL`] order), metas and chunks sorted by user key.
    pub sorted: Vec<Sorted>,
    /// `!redis|ttl|` values not taken by strings or HLLs, by user key.
    pub ttls: Sorted,
    /// The element bytes.
    pub body: BodyReader,
}

/// Main-pass state of the collection types.
pub struct Collector {
    sorters: Vec<Sorter>,
    ttls: Sorter,
    body: BodySpill,
    open: Option<Open>,
    current: Option<Current>,
}

impl Collector {
    /// Nothing collected yet.
    pub fn new() -> Self {
        Collector {
            sorters: CollKind::ALL
                .iter()
                .map(|k| Sorter::new(k.dir(), SORTER_BYTES))
                .collect(),
            ttls: Sorter::new("collection TTLs", TTL_LOG_BYTES),
            body: BodySpill::new(),
            open: None,
            current: None,
        }
    }

    fn sorter(&mut self, kind: CollKind) -> Result<&mut Sorter, RedisError> {
        self.sorters
            .get_mut(kind.index())
            .ok_or_else(|| RedisError::Internal("collection kind out of range".into()))
    }

    fn close(&mut self) -> Result<(), RedisError> {
        let Some(mut o) = self.open.take() else {
            return Ok(());
        };
        if !o.buf.is_empty() {
            let c = self.body.append(&o.buf, o.count)?;
            self.sorter(o.kind)?.push(&o.uk, Item::Chunk(c))?;
        }
        o.buf.clear();
        o.count = 0;
        self.open = Some(o); // keep the allocation for the next chunk
        Ok(())
    }

    /// Appends one element of collection `uk`, written by `put` in scratch encoding.
    pub fn element(
        &mut self,
        kind: CollKind,
        uk: &[u8],
        put: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), RedisError> {
        let same = self
            .open
            .as_ref()
            .is_some_and(|o| o.kind == kind && o.uk == uk && !o.buf.is_empty());
        if !same {
            self.close()?;
            let o = self.open.get_or_insert_with(|| Open {
                kind,
                uk: Vec::new(),
                buf: Vec::new(),
                count: 0,
            });
            o.kind = kind;
            o.uk.clear();
            o.uk.extend_from_slice(uk);
        }
        let full = match self.open.as_mut() {
            Some(o) => {
                put(&mut o.buf);
                o.count += 1;
                o.buf.len() >= CHUNK_BYTES
            }
            None => false,
        };
        if full {
            self.close()?;
        }
        Ok(())
    }

    /// Notes the name of the next element of collection `uk`; the first one out of
    /// bytewise order marks the collection for a re-sort.
    fn check_order(&mut self, kind: CollKind, uk: &[u8], name: &[u8]) -> Result<(), RedisError> {
        let cur = match self.current.as_mut() {
            Some(c) if c.kind == kind && c.uk == uk => c,
            _ => self.current.insert(Current {
                kind,
                uk: uk.to_vec(),
                last: Vec::new(),
                any: false,
                marked: false,
            }),
        };
        let out_of_order = cur.any && name < cur.last.as_slice();
        cur.any = true;
        cur.last.clear();
        cur.last.extend_from_slice(name);
        if out_of_order && !cur.marked {
            cur.marked = true;
            self.sorter(kind)?.push(uk, Item::Unsorted)?;
        }
        Ok(())
    }

    /// A hash field.
    pub fn hash_field(&mut self, uk: &[u8], name: &[u8], value: &[u8]) -> Result<(), RedisError> {
        self.check_order(CollKind::Hash, uk, name)?;
        self.element(CollKind::Hash, uk, |b| {
            put_bytes(b, name);
            put_bytes(b, value);
        })
    }

    /// A list item, set member or (with its score) zset member.
    pub fn member(
        &mut self,
        kind: CollKind,
        uk: &[u8],
        m: &[u8],
        score: Option<f64>,
    ) -> Result<(), RedisError> {
        if kind != CollKind::List {
            self.check_order(kind, uk, m)?;
        }
        self.element(kind, uk, |b| {
            put_bytes(b, m);
            if let Some(s) = score {
                put_u64(b, s.to_bits());
            }
        })
    }

    /// A meta row.
    pub fn meta(&mut self, kind: CollKind, uk: &[u8], meta: Meta) -> Result<(), RedisError> {
        self.sorter(kind)?.push(uk, Item::Meta(meta))
    }

    /// A legacy whole-value zset, already in scratch encoding (sorted, deduplicated).
    pub fn legacy_zset(&mut self, uk: &[u8], raw: &[u8], count: u64) -> Result<(), RedisError> {
        let c = self.body.append(raw, count)?;
        self.sorter(CollKind::Zset)?.push(uk, Item::Legacy(c))
    }

    /// A `!redis|ttl|` value for a key that is not a string or HLL.
    pub fn ttl(&mut self, uk: &[u8], v: u64) -> Result<(), RedisError> {
        self.ttls.push(uk, Item::Ttl(v))
    }

    /// Closes the open chunk and sorts everything.
    pub fn finish(mut self) -> Result<Collected, RedisError> {
        self.close()?;
        let sorted = self
            .sorters
            .into_iter()
            .map(Sorter::finish)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Collected {
            sorted,
            ttls: self.ttls.finish()?,
            body: self.body.into_reader()?,
        })
    }
}

impl Default for Collector {
    fn default() -> Self {
        Self::new()
    }
}
