//! Strings, HLLs and the `!redis|ttl|` index (docs/format/40-redis.md §5).
//!
//! Strings and HLLs are written as they arrive. A `!redis|ttl|` row goes to the string's
//! or HLL's sidecar unless the value's own envelope owns the TTL; otherwise it is kept
//! for the collections. Upstream looks the key's kind up in an in-memory map of every
//! string and HLL key; here the string/HLL keys and the `!redis|ttl|` rows are each
//! sorted by user key and merge-joined at the end of input, so memory stays bounded.
//!
//! Neither arrives in user-key order: rows come in encoded-key order
//! (`key ‖ BE64(!commit_ts)`), where a key that is a proper prefix of another (`""`,
//! `user` next to `user:1`) comes *after* it. So the join runs on sorted copies, and the
//! sidecar lines it decides are put back in arrival order (upstream writes them while it
//! reads the `!redis|ttl|` rows) before they are written — after every inline-TTL line,
//! as upstream's are, since all `!redis|str|`/`!redis|hll|` rows precede the TTL rows.

use super::envelope::{decode_simple, decode_ttl};
use super::error::RedisError;
use super::outputs::{Outputs, Sidecar};
use super::sort::{Cursor, Item, Sorter};
use crate::decode::Family;
use crate::encode::Emitter;
use crate::error::Error;
use crate::extsort::ExternalSorter;
use elastickv_backup_format::Entry;

/// The TTL index's prefix, as messages name it.
const TTL: &str = Family::RedisTtl.prefix_str();
/// The string and HLL prefixes, as messages name them (constants: outside a constant,
/// `prefix_str` validates its text on every call, and every string key asks).
const STRING: &str = Family::RedisString.prefix_str();
const HLL: &str = Family::RedisHll.prefix_str();

/// Bodies larger than this are written from the decode thread straight from the
/// snapshot's memory instead of being copied into a worker's buffer.
const DIRECT_WRITE: usize = 1 << 20;

/// In-memory bytes of each key sorter before it spills to scratch. Keys are sorted, not
/// appended: entries arrive in encoded-key order, where `a\x00` comes before `a`.
const KEY_LOG_BYTES: usize = if cfg!(test) { 256 } else { 1 << 20 };

/// State of the simple types.
pub struct SimpleState {
    strings: Option<Sorter>,
    hlls: Option<Sorter>,
    /// `!redis|ttl|` rows by user key (arrival number kept); `None` once joined.
    ttls: Option<Sorter>,
    /// A `!redis|ttl|` row was seen (string/HLL rows must all come before).
    ttl_seen: bool,
}

/// Where a `!redis|ttl|` row goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// A line in a sidecar.
    Line(Sidecar),
    /// Nowhere: the string's or HLL's envelope owns its TTL.
    Owned,
    /// To the collections (or to nothing: an orphan).
    Collection,
}

/// Upstream's kind map says "string" when both a string and an HLL exist (strings come
/// later); the inline-owned set is shared by both types.
fn route(s: Option<Item>, h: Option<Item>) -> Route {
    match (s, h) {
        (Some(Item::Owned(s_owned)), h) => {
            if s_owned || matches!(h, Some(Item::Owned(true))) {
                Route::Owned
            } else {
                Route::Line(Sidecar::Strings)
            }
        }
        (_, Some(Item::Owned(true))) => Route::Owned,
        (_, Some(Item::Owned(false))) => Route::Line(Sidecar::Hll),
        _ => Route::Collection,
    }
}

impl SimpleState {
    /// Nothing seen yet.
    pub fn new() -> Self {
        SimpleState {
            strings: Some(Sorter::new("string keys", KEY_LOG_BYTES)),
            hlls: Some(Sorter::new("HLL keys", KEY_LOG_BYTES)),
            ttls: Some(Sorter::new("TTL index rows", KEY_LOG_BYTES)),
            ttl_seen: false,
        }
    }

    /// A `!redis|str|` (`hll == false`) or `!redis|hll|` row: writes the body and an
    /// inline TTL line.
    pub fn blob(
        &mut self,
        hll: bool,
        uk: &[u8],
        entry: &Entry,
        outs: &mut Outputs,
        out: &Emitter,
    ) -> Result<(), Error> {
        let (family, version, dir, sidecar) = if hll {
            (HLL, 2, "hll", Sidecar::Hll)
        } else {
            (STRING, 1, "strings", Sidecar::Strings)
        };
        let log = if hll {
            &mut self.hlls
        } else {
            &mut self.strings
        };
        let Some(log) = log.as_mut().filter(|_| !self.ttl_seen) else {
            return Err(RedisError::Internal(format!(
                "{family} row after {TTL} rows: entries out of key order"
            ))
            .into());
        };
        let d = decode_simple(&entry.value, version)
            .map_err(|detail| RedisError::value(family, uk, detail))?;
        log.push(uk, Item::Owned(d.new_format))?;
        let body = entry.value.slice(d.body_at.min(entry.value.len())..);
        let seg = outs.seg_now(uk, out)?;
        let path = outs.path(dir, &seg, ".bin")?;
        if body.len() > DIRECT_WRITE {
            let mut f = out.stream(&path)?;
            f.write_all(&body)?;
            f.finish()?;
        } else {
            out.file_holding(path, body.len(), move |buf| {
                buf.extend_from_slice(&body);
                Ok(())
            })?;
        }
        if d.expire_at_ms != 0 {
            outs.ttl_line(sidecar, uk, d.expire_at_ms, out)?;
        }
        Ok(())
    }

    /// A `!redis|ttl|` row: kept until the end of input (see the module docs).
    pub fn ttl(&mut self, uk: &[u8], value: &[u8]) -> Result<(), Error> {
        let v = decode_ttl(value)
            .map_err(|len| RedisError::value(TTL, uk, format!("length {len} != 8")))?;
        self.ttl_seen = true;
        let Some(ttls) = self.ttls.as_mut() else {
            return Err(RedisError::Internal(format!("a {TTL} row after the end of input")).into());
        };
        Ok(ttls.push(uk, Item::Ttl(v))?)
    }

    /// The end of input: joins the `!redis|ttl|` rows with the string and HLL keys, writes
    /// the sidecar lines in arrival order and hands every other TTL to `to_coll`.
    pub fn finish(
        &mut self,
        outs: &mut Outputs,
        out: &Emitter,
        mut to_coll: impl FnMut(&[u8], u64) -> Result<(), RedisError>,
    ) -> Result<(), Error> {
        let Some(ttls) = self.ttls.take() else {
            return Err(RedisError::Internal("TTL rows joined twice".into()).into());
        };
        let open = |s: Option<Sorter>| -> Result<Cursor, RedisError> {
            match s {
                Some(s) => Cursor::new(s.finish()?),
                None => Ok(Cursor::empty()),
            }
        };
        let mut sc = open(self.strings.take())?;
        let mut hc = open(self.hlls.take())?;
        let mut rows = Cursor::new(ttls.finish()?)?;
        // Sidecar lines keyed by arrival number, payload `sidecar ‖ BE64(expiry) ‖ UK`.
        let mut lines = ExternalSorter::new("redis TTL sidecar lines", KEY_LOG_BYTES);
        let owned = |i: &Item| matches!(i, Item::Owned(_));
        let mut last: Option<(Vec<u8>, Route)> = None;
        while let Some(rec) = rows.take()? {
            let Item::Ttl(v) = rec.item else { continue };
            let r = match &last {
                Some((uk, r)) if *uk == rec.uk => *r,
                _ => {
                    let s = sc.seek_take(&rec.uk, owned)?;
                    let h = hc.seek_take(&rec.uk, owned)?;
                    let r = route(s, h);
                    last = Some((rec.uk.clone(), r));
                    r
                }
            };
            match r {
                Route::Line(which) => {
                    let tag = u8::from(which == Sidecar::Hll);
                    let payload = [&[tag][..], &v.to_be_bytes(), &rec.uk].concat();
                    lines.push(&rec.seq.to_be_bytes(), &payload)?;
                }
                Route::Owned => {}
                Route::Collection => to_coll(&rec.uk, v)?,
            }
        }
        lines.drain(|_, p| -> Result<(), Error> {
            let (Some(&tag), Some(v), Some(uk)) = (p.first(), p.get(1..9), p.get(9..)) else {
                return Err(RedisError::Internal("a sorted TTL line is truncated".into()).into());
            };
            let mut b = [0u8; 8];
            b.copy_from_slice(v);
            let which = if tag == 1 {
                Sidecar::Hll
            } else {
                Sidecar::Strings
            };
            outs.ttl_line(which, uk, u64::from_be_bytes(b), out)
        })
    }
}

impl Default for SimpleState {
    fn default() -> Self {
        Self::new()
    }
}
