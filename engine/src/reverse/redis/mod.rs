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
mod incr;
mod names;
mod records;
mod streams;

#[cfg(test)]
mod tests;

use super::fsutil::{list_dir, require_dir, shown_join};
use super::{ReverseError, Stage};
use blobs::Blob;
use colls::Coll;
use names::Names;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `db_<n>` with `n` canonical decimal (no sign, no leading zeros).
fn db_index(name: &[u8]) -> Option<u64> {
    let digits = name.strip_prefix(b"db_")?;
    let s = std::str::from_utf8(digits).ok()?;
    let n: u64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// Stages the internal records for `root/redis/` (if present) on `out`.
pub fn encode_into<S: Stage + ?Sized>(root: &Path, out: &mut S) -> Result<(), ReverseError> {
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
        [(0, shown)] => encode_db(&dir.join("db_0"), shown, out),
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
    encode_into(root, out)
}

fn encode_db<S: Stage + ?Sized>(db: &Path, shown: &str, out: &mut S) -> Result<(), ReverseError> {
    let names = Names::load(db, shown)?;
    blobs::encode(Blob::Str, db, shown, &names, out)?;
    blobs::encode(Blob::Hll, db, shown, &names, out)?;
    for c in [Coll::Hash, Coll::Set, Coll::List, Coll::ZSet] {
        colls::encode(c, db, shown, &names, out)?;
    }
    streams::encode(db, shown, &names, out)
}
