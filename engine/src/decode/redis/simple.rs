//! Strings, HLLs and the `!redis|ttl|` index (docs/format/40-redis.md §5).
//!
//! Strings and HLLs are written as they arrive. A `!redis|ttl|` row goes to the string's
//! or HLL's sidecar unless the value's own envelope owns the TTL; otherwise it is kept
//! for the collections. Upstream looks the key's kind up in an in-memory map of every
//! string and HLL key; here the keys are logged in arrival order (which is user-key
//! order, as is the order of the `!redis|ttl|` rows that follow them) and merge-joined,
//! so memory stays bounded.

use super::envelope::{decode_simple, decode_ttl};
use super::error::RedisError;
use super::outputs::{Outputs, Sidecar};
use super::sort::{Cursor, Item, Sorter};
use crate::encode::Emitter;
use crate::error::Error;
use crate::sources::Entry;

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
    cursors: Option<(Cursor, Cursor)>,
}

impl SimpleState {
    /// Nothing seen yet.
    pub fn new() -> Self {
        SimpleState {
            strings: Some(Sorter::new("string keys", KEY_LOG_BYTES)),
            hlls: Some(Sorter::new("HLL keys", KEY_LOG_BYTES)),
            cursors: None,
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
            ("!redis|hll|", 2, "hll", Sidecar::Hll)
        } else {
            ("!redis|str|", 1, "strings", Sidecar::Strings)
        };
        let log = if hll {
            &mut self.hlls
        } else {
            &mut self.strings
        };
        let Some(log) = log.as_mut() else {
            return Err(RedisError::Internal(format!(
                "{family} row after !redis|ttl| rows: entries out of key order"
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

    /// A `!redis|ttl|` row. Returns the expiry when neither a string nor an HLL takes it
    /// (it then belongs to a collection, or to nothing).
    pub fn ttl(
        &mut self,
        uk: &[u8],
        value: &[u8],
        outs: &mut Outputs,
        out: &Emitter,
    ) -> Result<Option<u64>, Error> {
        let v = decode_ttl(value)
            .map_err(|len| RedisError::value("!redis|ttl|", uk, format!("length {len} != 8")))?;
        if self.cursors.is_none() {
            let s = self.strings.take().map(Sorter::finish).transpose()?;
            let h = self.hlls.take().map(Sorter::finish).transpose()?;
            let open = |s: Option<_>| s.map_or(Ok(Cursor::empty()), Cursor::new);
            self.cursors = Some((open(s)?, open(h)?));
        }
        let Some((sc, hc)) = self.cursors.as_mut() else {
            return Err(RedisError::Internal("key cursors missing".into()).into());
        };
        let owned = |i: &Item| matches!(i, Item::Owned(_));
        let s = sc.seek_take(uk, owned)?;
        let h = hc.seek_take(uk, owned)?;
        // Upstream's kind map says "string" when both exist (strings come later); the
        // inline-owned set is shared by both types.
        match (s, h) {
            (Some(Item::Owned(s_owned)), h) => {
                if !(s_owned || matches!(h, Some(Item::Owned(true)))) {
                    outs.ttl_line(Sidecar::Strings, uk, v, out)?;
                }
                Ok(None)
            }
            (_, Some(Item::Owned(h_owned))) => {
                if !h_owned {
                    outs.ttl_line(Sidecar::Hll, uk, v, out)?;
                }
                Ok(None)
            }
            _ => Ok(Some(v)),
        }
    }
}

impl Default for SimpleState {
    fn default() -> Self {
        Self::new()
    }
}
