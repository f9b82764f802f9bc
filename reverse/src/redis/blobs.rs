//! `strings/` and `hll/` back to records (docs/format/40-redis.md §9): each `<seg>.bin` body with its TTL
//! from the sidecar folded into the value envelope. Strings always get the `FF 01`
//! envelope and no scan-index row; an HLL keeps its raw body when it has no TTL, and gets
//! the `FF 02` envelope plus a `!redis|ttl|` row when it has one.

use elastickv_backup_engine::decode::Family;

use super::names::{each_file, Db};
use super::records::{envelope, plain_key, TTL_PREFIX};
use crate::{ReverseError, Stage};
use elastickv_backup_dumptree::fsutil::read_regular;
use elastickv_backup_dumptree::redis::{HLL, STRINGS};

/// Which blob type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blob {
    /// `strings/`, `strings_ttl.jsonl`, `!redis|str|`.
    Str,
    /// `hll/`, `hll_ttl.jsonl`, `!redis|hll|`.
    Hll,
}

/// Stages every blob of one type.
pub(crate) fn encode<S: Stage + ?Sized>(
    kind: Blob,
    db: Db<'_>,
    out: &mut S,
) -> Result<(), ReverseError> {
    let (t, prefix) = match kind {
        Blob::Str => (STRINGS, Family::RedisString.prefix()),
        Blob::Hll => (HLL, Family::RedisHll.prefix()),
    };
    each_file(db, t, |f, uk| {
        let body = read_regular(&f.path, &f.shown)?;
        let ttl = f.ttl.unwrap_or(0);
        match kind {
            Blob::Str => out.add(plain_key(prefix, &uk), envelope(1, ttl, &body))?,
            Blob::Hll if ttl == 0 => out.add(plain_key(prefix, &uk), body)?,
            Blob::Hll => {
                out.add(plain_key(prefix, &uk), envelope(2, ttl, &body))?;
                out.add(plain_key(TTL_PREFIX, &uk), ttl.to_be_bytes().to_vec())?;
            }
        }
        Ok(())
    })
}
