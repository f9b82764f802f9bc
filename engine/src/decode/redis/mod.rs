//! Redis adapter (docs/format/40-redis.md): strings, HLLs and the TTL index, and the wide-column hash,
//! list, set, zset and stream layouts, written to `redis/db_0/` byte-identically to
//! upstream's decoder.
//!
//! Memory stays bounded whatever the data size. Strings and HLLs are written as they
//! arrive. Collection elements stream into a scratch file in chunks (they arrive in
//! output order within each collection) and each collection's meta and chunk locations
//! into a per-type external sorter keyed by user key; at the end one merge walk in
//! user-key order resolves TTLs (which may arrive before or after a collection's rows)
//! and writes the files — small ones rendered on worker threads, large ones streamed.
//!
//! Where upstream misreads a key: a list whose user key starts with `d|` has its meta at
//! `!lst|meta|d|…`, which upstream takes for a delta row and ignores. Delta values are
//! always 16 bytes and list metas 24 or 32, so such a row is read as the list's meta here.

mod collect;
mod envelope;
use crate::error::redis as error;
mod finalize;
mod keys;
mod outputs;
mod proto;
pub mod raw;
pub mod render;
mod scratch;
mod simple;
mod sort;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

pub use error::RedisError;

use super::{Adapter, AdapterKind, Family};
use crate::encode::Emitter;
use crate::error::Error;
use crate::options::DecodeOptions;
use collect::Collector;
use elastickv_backup_format::Entry;
use outputs::Outputs;
use raw::{put_bytes, put_u64, put_varint};
use render::CollKind;
use simple::SimpleState;

/// The database every record goes to: the keyspace carries no database number and the
/// CLI always selects 0.
pub const DB_INDEX: u32 = 0;

/// Redis decoder.
pub struct RedisAdapter {
    /// `--scope` excludes this adapter's only database.
    disabled: bool,
    outs: Option<Outputs>,
    simple: SimpleState,
    coll: Option<Collector>,
}

impl RedisAdapter {
    /// A decoder for the given options.
    pub fn new(opts: &DecodeOptions) -> Self {
        RedisAdapter {
            disabled: !opts.scope_allows(AdapterKind::Redis, DB_INDEX.to_string().as_bytes()),
            outs: None,
            simple: SimpleState::new(),
            coll: Some(Collector::new()),
        }
    }

    /// The database directory's outputs, set up on first use (a borrow of the one field,
    /// so the caller can use the others alongside).
    fn outs(slot: &mut Option<Outputs>) -> Result<&mut Outputs, Error> {
        match slot {
            Some(o) => Ok(o),
            None => Ok(slot.insert(Outputs::new(DB_INDEX)?)),
        }
    }

    fn coll(&mut self) -> Result<&mut Collector, Error> {
        self.coll.as_mut().ok_or_else(|| {
            RedisError::Internal("a redis row arrived after the end of input".into()).into()
        })
    }

    /// Splits a `BE32(len) ‖ UK ‖ tail` key or reports it malformed.
    fn wide<'k>(
        family: &'static str,
        what: &'static str,
        key: &'k [u8],
        entry: &Entry,
    ) -> Result<(&'k [u8], &'k [u8]), RedisError> {
        keys::split_len_prefixed(key).ok_or_else(|| RedisError::key(family, what, &entry.user_key))
    }

    fn list_meta(&mut self, uk: &[u8], value: &[u8]) -> Result<(), Error> {
        let meta = envelope::decode_list_meta(value)
            .map_err(|d| RedisError::value("!lst|meta|", uk, d))?;
        Ok(self.coll()?.meta(CollKind::List, uk, meta)?)
    }

    fn count_meta(
        &mut self,
        kind: CollKind,
        family: &'static str,
        short: &'static str,
        key: &[u8],
        entry: &Entry,
    ) -> Result<(), Error> {
        let (uk, _) = Self::wide(short, "meta", key, entry)?;
        let meta = envelope::decode_count_meta(&entry.value)
            .map_err(|d| RedisError::value(family, uk, d))?;
        Ok(self.coll()?.meta(kind, uk, meta)?)
    }

    fn zset_member(&mut self, key: &[u8], entry: &Entry) -> Result<(), Error> {
        let (uk, member) = Self::wide("!zs|", "member", key, entry)?;
        let v = &entry.value;
        let bits = envelope::be64(v, 0)
            .filter(|_| v.len() == 8)
            .ok_or_else(|| RedisError::value("!zs|mem|", uk, format!("length {} != 8", v.len())))?;
        let score = f64::from_bits(bits);
        if score.is_nan() {
            return Err(RedisError::value(
                "!zs|mem|",
                uk,
                format!(
                    "NaN score for member of user key {} (length {})",
                    error::quote(uk),
                    uk.len()
                ),
            )
            .into());
        }
        Ok(self
            .coll()?
            .member(CollKind::Zset, uk, member, Some(score))?)
    }

    fn legacy_zset(&mut self, uk: &[u8], value: &[u8]) -> Result<(), Error> {
        let mut entries = proto::decode_legacy_zset(value)
            .map_err(|d| RedisError::value("!redis|zset|", uk, d))?;
        // Upstream fills a map in wire order (last wins) and writes it by member bytes.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(b.cmp(&a)));
        order.dedup_by(|a, b| entries[*a].0 == entries[*b].0);
        let mut raw = Vec::new();
        for &i in &order {
            let (m, s) = std::mem::take(&mut entries[i]);
            put_bytes(&mut raw, m.as_bytes());
            put_u64(&mut raw, s.to_bits());
        }
        Ok(self.coll()?.legacy_zset(uk, &raw, order.len() as u64)?)
    }

    fn stream_entry(&mut self, key: &[u8], entry: &Entry) -> Result<(), Error> {
        let (uk, ms, seq) = keys::stream_entry(key)
            .ok_or_else(|| RedisError::key("!stream|", "entry", &entry.user_key))?;
        let fields = proto::decode_stream_entry(&entry.value)
            .map_err(|d| RedisError::value("!stream|entry|", uk, d))?;
        Ok(self.coll()?.element(CollKind::Stream, uk, |b| {
            put_u64(b, ms);
            put_u64(b, seq);
            put_varint(b, fields.len() as u64);
            for f in &fields {
                put_bytes(b, f.as_bytes());
            }
        })?)
    }
}

impl Adapter for RedisAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Redis
    }

    fn handle(
        &mut self,
        family: Family,
        key: &[u8],
        entry: &Entry,
        out: &Emitter,
    ) -> Result<(), Error> {
        if self.disabled {
            return Ok(());
        }
        let v = &entry.value;
        match family {
            Family::RedisString | Family::RedisHll => {
                let hll = family == Family::RedisHll;
                let outs = Self::outs(&mut self.outs)?;
                self.simple.blob(hll, key, entry, outs, out)?;
            }
            Family::RedisTtl => {
                Self::outs(&mut self.outs)?;
                self.simple.ttl(key, v)?;
            }
            Family::RedisHashField => {
                let (uk, name) = Self::wide("!hs|", "field", key, entry)?;
                self.coll()?.hash_field(uk, name, v)?;
            }
            Family::RedisHashMeta => {
                self.count_meta(CollKind::Hash, "!hs|meta|", "!hs|", key, entry)?;
            }
            Family::RedisListItem => {
                let uk = keys::list_item_user_key(key)
                    .ok_or_else(|| RedisError::key("!lst|", "item", &entry.user_key))?;
                self.coll()?.member(CollKind::List, uk, v, None)?;
            }
            Family::RedisListMeta => self.list_meta(key, v)?,
            Family::RedisListMetaDelta if envelope::is_list_meta_len(v.len()) => {
                // The meta of a list whose key starts with `d|` (see the module docs).
                let mut uk = b"d|".to_vec();
                uk.extend_from_slice(key);
                self.list_meta(&uk, v)?;
            }
            Family::RedisSetMember => {
                let (uk, member) = Self::wide("!st|", "member", key, entry)?;
                self.coll()?.member(CollKind::Set, uk, member, None)?;
            }
            Family::RedisSetMeta => {
                self.count_meta(CollKind::Set, "!st|meta|", "!st|", key, entry)?;
            }
            Family::RedisZsetMember => self.zset_member(key, entry)?,
            Family::RedisZsetMeta => {
                self.count_meta(CollKind::Zset, "!zs|meta|", "!zs|", key, entry)?;
            }
            Family::RedisLegacyZset => self.legacy_zset(key, v)?,
            Family::RedisStreamEntry => self.stream_entry(key, entry)?,
            Family::RedisStreamMeta => {
                let (uk, _) = Self::wide("!stream|", "meta", key, entry)?;
                let meta = envelope::decode_stream_meta(v)
                    .map_err(|d| RedisError::value("!stream|meta|", uk, d))?;
                self.coll()?.meta(CollKind::Stream, uk, meta)?;
            }
            // Deltas, list claims and the zset score index carry nothing the logical
            // dump needs (upstream ignores them too).
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, out: &Emitter) -> Result<(), Error> {
        if self.disabled {
            return Ok(());
        }
        let mut coll = self
            .coll
            .take()
            .ok_or_else(|| Error::from(RedisError::Internal("finish called twice".into())))?;
        let outs = Self::outs(&mut self.outs)?;
        self.simple.finish(outs, out, |uk, t| coll.ttl(uk, t))?;
        let collected = coll.finish()?;
        let orphans = finalize::write_collections(collected, outs, out)?;
        if orphans > 0 {
            out.warn(
                "redis_orphan_ttl",
                &format!("count={orphans} hint=TTL records whose user key never appeared in a typed record"),
            );
        }
        match self.outs.take() {
            Some(o) => o.finish(out),
            None => Ok(()),
        }
    }
}
