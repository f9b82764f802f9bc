//! `hashes/`, `sets/`, `lists/`, `zsets/` back to records (docs/format/40-redis.md §9): one JSON file per
//! key (`format_version` 1) → the consolidated count meta (TTL inline), one row per
//! element, and a `!redis|ttl|` row when the collection expires.

use elastickv_backup_engine::decode::Family;

use super::names::{each_file, Db};
use super::records::{
    count_meta, list_item_key, list_meta, live_ttl, plain_key, sortable_f64, wide_key, TTL_PREFIX,
};
use crate::{ReverseError, Stage};
use elastickv_backup_dumptree::fsutil::open_regular;
use elastickv_backup_dumptree::redis::collection::{walk, Element, IncrError, Shape};
use elastickv_backup_dumptree::redis::{TypeDir, HASHES, LISTS, SETS, ZSETS};

/// A collection type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coll {
    /// `hashes/`.
    Hash,
    /// `sets/`.
    Set,
    /// `lists/`.
    List,
    /// `zsets/`.
    ZSet,
}

impl Coll {
    fn dir(self) -> TypeDir {
        match self {
            Coll::Hash => HASHES,
            Coll::Set => SETS,
            Coll::List => LISTS,
            Coll::ZSet => ZSETS,
        }
    }

    fn shape(self) -> Shape {
        match self {
            Coll::Hash => Shape::Hash,
            Coll::Set => Shape::Set,
            Coll::List => Shape::List,
            Coll::ZSet => Shape::ZSet,
        }
    }
}

/// Stages every collection file of one type. Each file is read incrementally: element
/// rows are staged as the array streams past, then the meta (whose count and TTL are
/// known only at the end) and the TTL row.
pub(crate) fn encode<S: Stage + ?Sized>(
    coll: Coll,
    db: Db<'_>,
    out: &mut S,
) -> Result<(), ReverseError> {
    each_file(db, coll.dir(), |f, uk| {
        let file = open_regular(&f.path, &f.shown)?
            .ok_or_else(|| ReverseError::invalid(&f.shown, "vanished while being read"))?;
        let bad = |why: String| {
            ReverseError::invalid(
                &f.shown,
                format!("backup: redis encode invalid collection JSON: {why}"),
            )
        };
        let header = walk(file, coll.shape(), |i, e| element(coll, &uk, i, e, out)).map_err(
            |e| match e {
                Ok(stage_err) => stage_err,
                Err(IncrError::Io(e)) => ReverseError::io(&f.shown, e),
                Err(IncrError::Bad(why)) => bad(why),
            },
        )?;
        let (n, ttl) = (header.count, header.expire_at_ms);
        let (key, meta) = match coll {
            Coll::Hash => (
                wide_key(Family::RedisHashMeta.prefix(), &uk, b"")?,
                count_meta(n, ttl),
            ),
            Coll::Set => (
                wide_key(Family::RedisSetMeta.prefix(), &uk, b"")?,
                count_meta(n, ttl),
            ),
            Coll::ZSet => (
                wide_key(Family::RedisZsetMeta.prefix(), &uk, b"")?,
                count_meta(n, ttl),
            ),
            Coll::List => (
                plain_key(Family::RedisListMeta.prefix(), &uk),
                list_meta(n, ttl),
            ),
        };
        out.add(key, meta)?;
        if let Some(t) = live_ttl(ttl) {
            out.add(plain_key(TTL_PREFIX, &uk), t.to_be_bytes().to_vec())?;
        }
        Ok(())
    })
}

/// Stages the row(s) of element `i` of a collection.
fn element<S: Stage + ?Sized>(
    coll: Coll,
    uk: &[u8],
    i: usize,
    e: Element,
    out: &mut S,
) -> Result<(), ReverseError> {
    match e {
        Element::Field(name, value) => {
            out.add(wide_key(Family::RedisHashField.prefix(), uk, &name)?, value)
        }
        Element::Item(v) if coll == Coll::List => out.add(list_item_key(uk, i as u64), v),
        Element::Item(m) => out.add(
            wide_key(Family::RedisSetMember.prefix(), uk, &m)?,
            Vec::new(),
        ),
        Element::Scored(member, s) => {
            out.add(
                wide_key(Family::RedisZsetMember.prefix(), uk, &member)?,
                s.to_bits().to_be_bytes().to_vec(),
            )?;
            let mut suffix = sortable_f64(s).to_vec();
            suffix.extend_from_slice(&member);
            out.add(
                wide_key(Family::RedisZsetScore.prefix(), uk, &suffix)?,
                Vec::new(),
            )
        }
    }
}
