//! `strings/` and `hll/` back to records (docs/format/40-redis.md §9): each `<seg>.bin` body with its TTL
//! from the sidecar folded into the value envelope. Strings always get the `FF 01`
//! envelope and no scan-index row; an HLL keeps its raw body when it has no TTL, and gets
//! the `FF 02` envelope plus a `!redis|ttl|` row when it has one.

use crate::decode::Family;

use super::names::{load_ttls, type_files, Names};
use super::records::{envelope, plain_key, TTL_PREFIX};
use crate::reverse::fsutil::read_regular;
use crate::reverse::{ReverseError, Stage};
use std::path::Path;

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
    db: &Path,
    shown_db: &str,
    names: &Names,
    out: &mut S,
) -> Result<(), ReverseError> {
    let (sub, sidecar, prefix): (&str, &str, &[u8]) = match kind {
        Blob::Str => ("strings", "strings_ttl.jsonl", Family::RedisString.prefix()),
        Blob::Hll => ("hll", "hll_ttl.jsonl", Family::RedisHll.prefix()),
    };
    let ttls = load_ttls(db, shown_db, sidecar)?;
    for f in type_files(db, shown_db, sub, ".bin")? {
        let uk = names.resolve(&f.stem, &f.shown)?;
        let body = read_regular(&f.path, &f.shown)?;
        let ttl = ttls.get(&f.stem).copied().unwrap_or(0);
        match kind {
            Blob::Str => out.add(plain_key(prefix, &uk), envelope(1, ttl, &body))?,
            Blob::Hll if ttl == 0 => out.add(plain_key(prefix, &uk), body)?,
            Blob::Hll => {
                out.add(plain_key(prefix, &uk), envelope(2, ttl, &body))?;
                out.add(plain_key(TTL_PREFIX, &uk), ttl.to_be_bytes().to_vec())?;
            }
        }
    }
    Ok(())
}
