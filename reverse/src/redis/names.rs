//! The type directories as `encode` walks them: the shared joined listing
//! ([`elastickv_backup_dumptree::redis::names`]), with a file name that maps to no key refused in
//! upstream's words (docs/format/40-redis.md §9) rather than skipped.

use crate::ReverseError;
use elastickv_backup_dumptree::redis::names::{check_sidecar, KeyFile, Listing, KEYMAP};
use elastickv_backup_dumptree::redis::TypeDir;
use elastickv_backup_dumptree::NameError;
use std::path::Path;

/// Upstream's message for a fallback name without a KEYMAP record.
pub(crate) const MISSING_KEYMAP: &str =
    "backup: redis encode missing KEYMAP entry for sha-fallback key";

/// Where a database is and how its sorts are bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Db<'a> {
    /// The `redis/db_0` directory.
    pub path: &'a Path,
    /// It, relative to the dump root (for messages).
    pub shown: &'a str,
    /// In-memory budget of each sort.
    pub budget: usize,
}

/// Calls `each(file, key)` for every file of the type directory `t`, in name order
/// (`file.ttl` is its sidecar TTL). An absent directory has no files, but its sidecar is
/// still checked, as upstream reads it first.
pub(crate) fn each_file(
    db: Db<'_>,
    t: TypeDir,
    mut each: impl FnMut(&KeyFile, Vec<u8>) -> Result<(), ReverseError>,
) -> Result<(), ReverseError> {
    let Some(mut l) = Listing::open(db.path, db.shown, t, db.budget)? else {
        return Ok(check_sidecar(db.path, db.shown, t)?);
    };
    while let Some(mut f) = l.next_file()? {
        let key = std::mem::replace(&mut f.key, Ok(Vec::new()));
        let uk = resolve(&f, key, db.shown)?;
        each(&f, uk)?;
    }
    Ok(())
}

/// The user key of a file, or upstream's refusal naming the file.
fn resolve(
    f: &KeyFile,
    key: Result<Vec<u8>, NameError>,
    shown_db: &str,
) -> Result<Vec<u8>, ReverseError> {
    key.map_err(|e| {
        let why = match e {
            NameError::NotUtf8 => {
                "the file name is not UTF-8, so not an encoded Redis key".to_string()
            }
            NameError::NotEncoded(e) => {
                format!("the file name is not an encoded Redis key: {e}")
            }
            NameError::NoKeymap | NameError::NotInKeymap => format!(
                "{MISSING_KEYMAP}: {:?} has no record in {shown_db}/{KEYMAP}",
                f.stem
            ),
        };
        ReverseError::invalid(&f.shown, why)
    })
}
