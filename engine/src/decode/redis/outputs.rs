//! The database directory's shared files: file names from user keys (with KEYMAP lines for
//! SHA fallbacks, in upstream's order), the two TTL sidecars and `KEYMAP.jsonl`.
//!
//! Upstream's KEYMAP order: lines for strings and HLLs as they are written (blob, then
//! sidecar), then, at the end, hashes, lists, sets, zsets and streams, each in user-key
//! order. Collection lines are produced interleaved by key, so each type collects its
//! lines in its own buffer and they are appended type by type at the end.

use super::error::RedisError;
use super::render::CollKind;
use super::scratch::SpillBuf;
use crate::encode::filename::{encode_segment, is_sha_fallback};
use crate::encode::keymap::{write_keymap_line, KeymapKind};
use crate::encode::Emitter;
use crate::error::Error;
use crate::sinks::{RelPath, StreamFile};

/// Which TTL sidecar a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sidecar {
    /// `strings_ttl.jsonl`.
    Strings,
    /// `hll_ttl.jsonl`.
    Hll,
}

/// In-memory bytes of collection KEYMAP lines per type before they move to scratch.
const KEYMAP_BUF: usize = if cfg!(test) { 64 } else { 1 << 20 };

/// Open files and buffers of one `redis/db_<n>/` directory.
pub struct Outputs {
    db: RelPath,
    strings_ttl: Option<StreamFile>,
    hll_ttl: Option<StreamFile>,
    keymap: Option<StreamFile>,
    coll_keymap: [SpillBuf; 5],
    line: Vec<u8>,
}

impl Outputs {
    /// Files under `redis/db_<db>/`.
    pub fn new(db: u32) -> Result<Self, Error> {
        let db = RelPath::root().join("redis")?.join(&format!("db_{db}"))?;
        Ok(Outputs {
            db,
            strings_ttl: None,
            hll_ttl: None,
            keymap: None,
            coll_keymap: std::array::from_fn(|_| {
                SpillBuf::new("collection KEYMAP lines", KEYMAP_BUF)
            }),
            line: Vec::new(),
        })
    }

    /// `redis/db_<n>/<dir>/<seg><ext>`.
    pub fn path(&self, dir: &str, seg: &str, ext: &str) -> Result<RelPath, Error> {
        Ok(self.db.join_file(dir, seg, ext)?)
    }

    fn keymap_line(&mut self, seg: &str, uk: &[u8]) {
        self.line.clear();
        write_keymap_line(&mut self.line, seg.as_bytes(), uk, KeymapKind::ShaFallback);
    }

    /// The segment for a string/HLL key; a SHA fallback is recorded in KEYMAP now.
    pub fn seg_now(&mut self, uk: &[u8], out: &Emitter) -> Result<String, Error> {
        let seg = encode_segment(uk);
        if is_sha_fallback(&seg) {
            self.keymap_line(&seg, uk);
            if self.keymap.is_none() {
                self.keymap = Some(out.stream(&self.db.join("KEYMAP.jsonl")?)?);
            }
            if let Some(k) = self.keymap.as_mut() {
                k.write_all(&self.line)?;
            }
        }
        Ok(seg)
    }

    /// The segment for a collection key; a SHA fallback is recorded in that type's
    /// KEYMAP buffer (appended at the end, in type order).
    pub fn seg_coll(&mut self, kind: CollKind, uk: &[u8]) -> Result<String, RedisError> {
        let seg = encode_segment(uk);
        if is_sha_fallback(&seg) {
            self.keymap_line(&seg, uk);
            if let Some(buf) = self.coll_keymap.get_mut(kind.index()) {
                buf.append(&self.line)?;
            }
        }
        Ok(seg)
    }

    /// Appends `{"key":"<seg>","expire_at_ms":N}` to a sidecar (opened on first use).
    pub fn ttl_line(
        &mut self,
        which: Sidecar,
        uk: &[u8],
        expire_at_ms: u64,
        out: &Emitter,
    ) -> Result<(), Error> {
        let (slot, name) = match which {
            Sidecar::Strings => (&mut self.strings_ttl, "strings_ttl.jsonl"),
            Sidecar::Hll => (&mut self.hll_ttl, "hll_ttl.jsonl"),
        };
        if slot.is_none() {
            *slot = Some(out.stream(&self.db.join(name)?)?);
        }
        // Upstream opens the sidecar first, then records the KEYMAP line.
        let seg = self.seg_now(uk, out)?;
        self.line.clear();
        self.line.extend_from_slice(b"{\"key\":\"");
        self.line.extend_from_slice(seg.as_bytes());
        self.line.extend_from_slice(b"\",\"expire_at_ms\":");
        crate::encode::json::write_u64(&mut self.line, expire_at_ms);
        self.line.extend_from_slice(b"}\n");
        let line = &self.line;
        let slot = match which {
            Sidecar::Strings => &mut self.strings_ttl,
            Sidecar::Hll => &mut self.hll_ttl,
        };
        match slot.as_mut() {
            Some(f) => f.write_all(line),
            None => Err(RedisError::Internal("TTL sidecar not open".into()).into()),
        }
    }

    /// Closes the sidecars and KEYMAP (appending the collection lines type by type).
    pub fn finish(mut self, out: &Emitter) -> Result<(), Error> {
        for f in [self.strings_ttl.take(), self.hll_ttl.take()]
            .into_iter()
            .flatten()
        {
            f.finish()?;
        }
        let bufs = std::mem::replace(
            &mut self.coll_keymap,
            std::array::from_fn(|_| SpillBuf::new("collection KEYMAP lines", 0)),
        );
        for buf in bufs {
            if buf.is_empty() {
                continue;
            }
            if self.keymap.is_none() {
                self.keymap = Some(out.stream(&self.db.join("KEYMAP.jsonl")?)?);
            }
            if let Some(k) = self.keymap.as_mut() {
                buf.copy_to(k)?;
            }
        }
        if let Some(k) = self.keymap.take() {
            k.finish()?;
        }
        Ok(())
    }
}
