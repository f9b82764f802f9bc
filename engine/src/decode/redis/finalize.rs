//! The end of the input: one walk over every collection in user-key order — upstream's
//! finalisation order — resolving TTLs and writing the files.
//!
//! TTL resolution follows upstream's effective rules (docs/format/40-redis.md §5) for one visible
//! version per key. A `!redis|ttl|` value not taken by a string or HLL goes to the first
//! type present for the key in this order: list, then hash (their rows precede the TTL
//! row and upstream's kind map names the last state created: `!lst|` rows sort after
//! `!hs|` rows), then a legacy `!redis|zset|` blob, stream, set, wide zset (the order in
//! which those states claim the parked TTL: `!redis|zset|` < `!stream|` < `!st|` <
//! `!zs|`). A collection whose meta has an inline TTL slot keeps its own value (0 = none)
//! whatever the index says.

use super::collect::{Collected, CHUNK_BYTES, WORKER_RENDER_MAX};
use super::envelope::Meta;
use super::error::RedisError;
use super::outputs::Outputs;
use super::raw::Reader;
use super::render::{self, CollKind};
use super::scratch::BodyReader;
use super::sort::{Chunk, Cursor, Item};
use crate::decode::Family;
use crate::encode::emitter::InOrder;
use crate::encode::Emitter;
use crate::error::Error;
use crate::extsort::ExternalSorter;
use crate::sinks::{RelPath, StreamFile};

/// Chunks of a large collection rendered or being rendered ahead of the one appended.
const CHUNKS_IN_FLIGHT: usize = 8;

/// In-memory budget of the re-sort of one large collection whose names arrived out of
/// order (rare: it takes names that are prefixes of one another).
const RESORT_BYTES: usize = if cfg!(test) { 1 << 10 } else { 16 << 20 };

/// What one type holds for one user key.
#[derive(Default)]
struct Group {
    meta: Option<Meta>,
    legacy: Option<Chunk>,
    chunks: Vec<Chunk>,
    /// Element names arrived out of bytewise order (see [`Item::Unsorted`]).
    unsorted: bool,
}

impl Group {
    fn present(&self) -> bool {
        self.meta.is_some() || self.legacy.is_some() || !self.chunks.is_empty()
    }
}

/// Takes every record of `uk` from `c`.
fn group(c: &mut Cursor, uk: &[u8]) -> Result<Group, RedisError> {
    let mut g = Group::default();
    while c.peek_uk() == Some(uk) {
        match c.take()?.map(|r| r.item) {
            Some(Item::Meta(m)) => g.meta = Some(m),
            Some(Item::Legacy(ch)) => g.legacy = Some(ch),
            Some(Item::Chunk(ch)) => g.chunks.push(ch),
            Some(Item::Unsorted) => g.unsorted = true,
            _ => {}
        }
    }
    Ok(g)
}

/// Writes every collection file; returns the number of orphan TTL rows.
pub fn write_collections(col: Collected, outs: &mut Outputs, out: &Emitter) -> Result<u64, Error> {
    let mut cursors = col
        .sorted
        .into_iter()
        .map(Cursor::new)
        .collect::<Result<Vec<_>, _>>()?;
    let mut ttls = Cursor::new(col.ttls)?;
    let mut orphans = 0u64;
    loop {
        let next = cursors
            .iter()
            .chain(std::iter::once(&ttls))
            .filter_map(Cursor::peek_uk)
            .min()
            .map(<[u8]>::to_vec);
        let Some(uk) = next else { break };
        let mut ttl = None;
        while ttls.peek_uk() == Some(uk.as_slice()) {
            if let Some(Item::Ttl(v)) = ttls.take()?.map(|r| r.item) {
                ttl = Some(v);
            }
        }
        let mut groups = Vec::with_capacity(cursors.len());
        for c in cursors.iter_mut() {
            groups.push(group(c, &uk)?);
        }
        let has = |k: CollKind| groups.get(k.index()).is_some_and(Group::present);
        let legacy = groups
            .get(CollKind::Zset.index())
            .is_some_and(|g| g.legacy.is_some());
        let target = if has(CollKind::List) {
            Some(CollKind::List)
        } else if has(CollKind::Hash) {
            Some(CollKind::Hash)
        } else if legacy {
            Some(CollKind::Zset)
        } else if has(CollKind::Stream) {
            Some(CollKind::Stream)
        } else if has(CollKind::Set) {
            Some(CollKind::Set)
        } else if has(CollKind::Zset) {
            Some(CollKind::Zset)
        } else {
            None
        };
        if ttl.is_some() && target.is_none() {
            orphans += 1;
        }
        for (kind, g) in CollKind::ALL.into_iter().zip(groups) {
            if !g.present() {
                continue;
            }
            let expire = match g.meta.and_then(|m| m.slot) {
                Some(slot) => (slot != 0).then_some(slot),
                None if target == Some(kind) => ttl,
                None => None,
            };
            write_one(kind, &uk, g, expire, &col.body, outs, out)?;
        }
    }
    Ok(orphans)
}

fn write_one(
    kind: CollKind,
    uk: &[u8],
    g: Group,
    expire: Option<u64>,
    body: &BodyReader,
    outs: &mut Outputs,
    out: &Emitter,
) -> Result<(), Error> {
    // Wide member rows win over a legacy blob (upstream discards blob members on the
    // first wide row).
    let chunks = match (kind, g.legacy) {
        (CollKind::Zset, Some(l)) if g.chunks.is_empty() => vec![l],
        _ => g.chunks,
    };
    let count: u64 = chunks.iter().map(|c| c.count).sum();
    let Some(meta) = g.meta.or((kind != CollKind::Stream).then(Meta::default)) else {
        out.warn(
            "redis_stream_orphan_entries_without_meta",
            &format!(
                "user_key_len={} observed_entries={count} hint={} rows without a {} row; no file is written",
                uk.len(),
                Family::RedisStreamEntry.prefix_str(),
                Family::RedisStreamMeta.label()
            ),
        );
        return Ok(());
    };
    if g.meta.is_some() && i64::try_from(count).ok() != Some(meta.declared) {
        out.warn(
            &format!("redis_{}_length_mismatch", kind.name()),
            &format!(
                "user_key_len={} declared_len={} observed={count}",
                uk.len(),
                meta.declared
            ),
        );
    }
    let seg = outs.seg_coll(kind, uk)?;
    let path = outs.path(kind.dir(), &seg, kind.ext())?;
    let total: u64 = chunks.iter().map(|c| c.len).sum();
    // Only wide rows are marked (a legacy blob is sorted when it is decoded).
    let resort = g.unsorted;
    if total <= WORKER_RENDER_MAX {
        let mut raw = Vec::with_capacity(total as usize);
        for c in &chunks {
            body.read(*c, &mut raw)?;
        }
        if resort {
            raw = sort_small(kind, &raw)?;
        }
        return out.file_with(path, move |buf| {
            render::header(kind, buf);
            let mut first = true;
            render::chunk(kind, &raw, &mut first, buf)?;
            render::tail(kind, !first, &meta, expire, buf);
            Ok(())
        });
    }
    let mut app = Appender::start(kind, &path, out)?;
    if resort {
        let mut sorter = ExternalSorter::new("redis collection", RESORT_BYTES);
        let mut raw = Vec::with_capacity(CHUNK_BYTES);
        for c in &chunks {
            raw.clear();
            body.read(*c, &mut raw)?;
            for (name, elem) in elements(kind, &raw)? {
                sorter.push(name, elem)?;
            }
        }
        let mut buf = Vec::with_capacity(CHUNK_BYTES);
        sorter.drain(|_, elem| -> Result<(), Error> {
            buf.extend_from_slice(elem);
            if buf.len() >= CHUNK_BYTES {
                app.push(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES)))?;
            }
            Ok(())
        })?;
        if !buf.is_empty() {
            app.push(buf)?;
        }
    } else {
        for c in &chunks {
            let mut raw = Vec::with_capacity(CHUNK_BYTES);
            body.read(*c, &mut raw)?;
            app.push(raw)?;
        }
    }
    app.finish(&meta, expire)
}

/// A large collection's file: its chunks are rendered on the pool (a huge zset must not
/// keep the workers idle while this thread renders millions of members) and appended to
/// its file here, in order, a few chunks in flight.
struct Appender<'a> {
    kind: CollKind,
    f: StreamFile,
    in_flight: InOrder<Result<Vec<u8>, RedisError>>,
    /// Whether an element precedes the next chunk (every non-empty chunk holds one).
    any: bool,
    out: &'a Emitter,
}

impl<'a> Appender<'a> {
    fn start(kind: CollKind, path: &RelPath, out: &'a Emitter) -> Result<Self, Error> {
        let mut f = out.stream(path)?;
        let mut text = Vec::new();
        render::header(kind, &mut text);
        f.write_all(&text)?;
        Ok(Appender {
            kind,
            f,
            in_flight: InOrder::new(CHUNKS_IN_FLIGHT),
            any: false,
            out,
        })
    }

    /// Renders `raw` (whole elements in scratch encoding) after what came before.
    fn push(&mut self, raw: Vec<u8>) -> Result<(), Error> {
        let kind = self.kind;
        let mut first = !self.any;
        self.any |= !raw.is_empty();
        self.in_flight.push(self.out.submit(move || {
            let mut text = Vec::with_capacity(raw.len() * 2);
            render::chunk(kind, &raw, &mut first, &mut text).map(|_| text)
        })?);
        while let Some(text) = self.in_flight.next(false, self.out) {
            self.f.write_all(&text??)?;
        }
        Ok(())
    }

    fn finish(mut self, meta: &Meta, expire: Option<u64>) -> Result<(), Error> {
        while let Some(text) = self.in_flight.next(true, self.out) {
            self.f.write_all(&text??)?;
        }
        let mut text = Vec::new();
        render::tail(self.kind, self.any, meta, expire, &mut text);
        self.f.write_all(&text)?;
        self.f.finish()
    }
}

/// An element's name and its whole scratch encoding.
type Element<'a> = (&'a [u8], &'a [u8]);

/// Splits scratch-encoded hash, set or zset elements into `(name, element bytes)`.
fn elements(kind: CollKind, raw: &[u8]) -> Result<Vec<Element<'_>>, RedisError> {
    let mut r = Reader::new(raw);
    let mut v = Vec::new();
    while !r.is_empty() {
        let start = raw.len() - r.remaining();
        let name = r.bytes()?;
        match kind {
            CollKind::Hash => {
                r.bytes()?;
            }
            CollKind::Zset => {
                r.u64()?;
            }
            CollKind::Set => {}
            CollKind::List | CollKind::Stream => {
                return Err(RedisError::Internal(format!(
                    "a {} cannot be re-sorted by name",
                    kind.name()
                )))
            }
        }
        let end = raw.len() - r.remaining();
        let elem = raw
            .get(start..end)
            .ok_or_else(|| RedisError::Internal("scratch element out of range".into()))?;
        v.push((name, elem));
    }
    Ok(v)
}

/// Elements in bytewise name order (stable: equal names keep arrival order).
fn sort_small(kind: CollKind, raw: &[u8]) -> Result<Vec<u8>, RedisError> {
    let mut els = elements(kind, raw)?;
    els.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(raw.len());
    for (_, e) in els {
        out.extend_from_slice(e);
    }
    Ok(out)
}
