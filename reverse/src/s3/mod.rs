//! `s3/` back to internal records (docs/format/20-s3.md §11): for each bucket directory its bucket
//! meta (K1) and generation counter (K2), and for each object body its K6 chunks and K3
//! manifest, exactly as upstream's encoder stages them — so encoding a dump of an
//! encoder-made snapshot gives that snapshot back byte for byte.
//!
//! Beyond upstream: objects this project's decoder stored under `_escaped_keys/` (keys
//! that cannot be paths, or that would shadow control files; kinds `s3-unsafe-key` and
//! `s3-control-name` in KEYMAP.jsonl) get their original keys back, and a bucket
//! directory without `_bucket.json` (the snapshot held no bucket meta) is encoded without
//! K1/K2 instead of refused, so that it decodes to the same tree again.
//!
//! Dumps written with `--include-orphans` / `--include-incomplete-uploads` are refused
//! by the caller ([`super::encode`]) before this runs.

mod hlc;
pub(crate) mod keymap;
mod keys;
pub mod objects;
pub mod values;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

use super::{ReverseError, Stage};
use crate::fsutil::{list_dir, require_dir, shown_join};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Stages the internal records for `root/s3/` (if present) on `out`; object bodies are
/// read one 1 MiB chunk at a time.
pub fn encode_into<S: Stage + ?Sized>(root: &Path, out: &mut S) -> Result<(), ReverseError> {
    each_bucket(root, |dir, name, shown| {
        objects::encode_bucket(dir, name, shown, out)
    })
}

/// Walks every bucket directory of `root/s3/` (nothing when absent) with `v`: shared by
/// `encode` and `restore s3`.
pub fn walk<V: objects::BucketVisitor + ?Sized>(root: &Path, v: &mut V) -> Result<(), V::Error> {
    each_bucket(root, |dir, name, shown| {
        objects::walk_bucket(dir, name, shown, v)
    })
}

/// Calls `f(dir, dir_name, shown)` for each bucket directory of `root/s3/`.
fn each_bucket<E: From<ReverseError>>(
    root: &Path,
    mut f: impl FnMut(&Path, &[u8], &str) -> Result<(), E>,
) -> Result<(), E> {
    let dir = root.join("s3");
    if !require_dir(&dir, "s3")? {
        return Ok(());
    }
    for (name, t) in list_dir(&dir, "s3")? {
        let shown = shown_join("s3", name.as_bytes());
        if !t.is_dir() {
            if name.as_bytes().starts_with(b"_") {
                continue;
            }
            return Err(ReverseError::invalid(
                &shown,
                "backup: s3 dump file is not a regular file: only bucket directories may \
                 sit directly in s3/",
            )
            .into());
        }
        f(&dir.join(&name), name.as_bytes(), &shown)?;
    }
    Ok(())
}

/// Appends the internal entries for `root/s3/` (if present) to `out`
/// ([`encode_into`] on a vector).
#[cfg(test)]
pub fn encode_tree(root: &Path, out: &mut super::Entries) -> Result<(), ReverseError> {
    encode_into(root, out)
}
