//! `redis/db_0/` back to internal records (docs/format/40-redis.md §9), exactly as upstream's encoder
//! stages them, so that encoding a dump of an encoder-made snapshot gives that snapshot
//! back byte for byte: strings and HLLs with their TTL sidecars folded into the value
//! envelopes, hashes/sets/lists/zsets as consolidated metas plus element rows, streams as
//! entry rows plus a meta, and a `!redis|ttl|` scan-index row for every expiring
//! non-string key.
//!
//! The keyspace has no database number, so only `db_0` can be restored; another
//! `db_<n>` is refused rather than merged into database 0.

mod blobs;
mod colls;

mod names;
mod records;
mod streams;

#[cfg(test)]
mod tests;

use super::{ReverseError, Stage};
use blobs::Blob;
use colls::Coll;
use elastickv_backup_dumptree::fsutil::{list_dir, require_dir, shown_join};
use elastickv_backup_dumptree::redis::names::check_keymap;
use names::Db;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `db_<n>` with `n` canonical decimal (no sign, no leading zeros).
fn db_index(name: &[u8]) -> Option<u64> {
    let digits = name.strip_prefix(b"db_")?;
    let s = std::str::from_utf8(digits).ok()?;
    let n: u64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// The in-memory budget of each name, KEYMAP and sidecar sort, from the encode's sort
/// budget: an eighth of it (a type directory runs three such sorts while the writer's
/// own sorter holds the rest).
pub(crate) fn name_sort_budget(sort_budget: usize) -> usize {
    sort_budget / 8
}

/// Stages the internal records for `root/redis/` (if present) on `out`, sorting names,
/// KEYMAP and sidecars in `budget` bytes each.
pub fn encode_into<S: Stage + ?Sized>(
    root: &Path,
    budget: usize,
    out: &mut S,
) -> Result<(), ReverseError> {
    let dir = root.join("redis");
    if !require_dir(&dir, "redis")? {
        return Ok(());
    }
    let mut dbs = Vec::new();
    for (name, t) in list_dir(&dir, "redis")? {
        let Some(n) = db_index(name.as_bytes()) else {
            continue;
        };
        let shown = shown_join("redis", name.as_bytes());
        if !t.is_dir() {
            return Err(ReverseError::invalid(
                &shown,
                "backup: redis db path is not a directory",
            ));
        }
        dbs.push((n, shown));
    }
    match dbs.as_slice() {
        [] => Ok(()),
        [(0, shown)] => encode_db(
            Db {
                path: &dir.join("db_0"),
                shown,
                budget,
            },
            out,
        ),
        _ => Err(ReverseError::invalid(
            "redis",
            format!(
                "backup: redis encoder requires single db_0 (multi-DB or non-zero DB not yet \
                 supported): found {}",
                dbs.iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Appends the internal entries for `root/redis/` (if present) to `out`
/// ([`encode_into`] on a vector).
#[cfg(test)]
pub fn encode_tree(root: &Path, out: &mut super::Entries) -> Result<(), ReverseError> {
    encode_into(root, 16 << 20, out)
}

/// Stages one database's records. KEYMAP is checked first, whether or not a name needs
/// it, as upstream loads it before reading anything else.
fn encode_db<S: Stage + ?Sized>(db: Db<'_>, out: &mut S) -> Result<(), ReverseError> {
    check_keymap(db.path, db.shown)?;
    blobs::encode(Blob::Str, db, out)?;
    blobs::encode(Blob::Hll, db, out)?;
    for c in [Coll::Hash, Coll::Set, Coll::List, Coll::ZSet] {
        colls::encode(c, db, out)?;
    }
    streams::encode(db, out)
}
