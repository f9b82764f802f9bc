//! One type directory's files, in name order, each with its Redis key (decoded from the
//! file name, or looked up in `KEYMAP.jsonl` for SHA-fallback names) and, for strings and
//! HLLs, its TTL from the sidecar (docs/format/40-redis.md §4, §9).
//!
//! Why a three-way merge join over externally sorted streams (directory listing ⋈ KEYMAP ⋈
//! TTL sidecar): a database can hold millions of keys, and loading KEYMAP or a sidecar
//! into a map would make memory grow with them. Each stream is sorted by the encoded name
//! within a byte budget (spilling runs beyond it) and joined in one pass.
//!
//! The rules are upstream's encoder's: KEYMAP lines are read with Go's line scanner and
//! `parse_line`'s checks, the last record per name wins; sidecar values are read as Go
//! structs (`{"key", "expire_at_ms"}`), the last line per key wins, and a line for a key
//! without a file is ignored. A name that maps to no key is not a failure of the listing:
//! it comes back as the file's [`NameError`], so `encode` can refuse the dump and `restore`
//! can count one failed key.

use super::TypeDir;
use crate::error::{NameError, TreeError};
use crate::fsutil::{open_regular, require_dir};
use crate::join::{clamp_budget, LastWins};
use crate::json::{Record, ValueStream};
use crate::keymap::{self, each_line, parse_line};
use elastickv_backup_engine::encode::filename::{decode_segment, is_sha_fallback, DecodedSegment};
use elastickv_backup_engine::extsort::{ExternalSorter, SortedRecords};
use std::ffi::OsStr;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `KEYMAP.jsonl`, beside the type directories.
pub const KEYMAP: &str = "KEYMAP.jsonl";

/// Read buffer of KEYMAP and sidecar files.
const READ_BUF: usize = 256 << 10;

/// One key's file of a type directory.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// The file name without its suffix: the encoded key (lossy when not UTF-8).
    pub stem: String,
    /// The file.
    pub path: PathBuf,
    /// The file as the caller shows the tree (for messages).
    pub shown: String,
    /// Whether the directory entry is a regular file (not a symlink, FIFO, …); the file
    /// must still be opened with [`crate::fsutil`]'s checks.
    pub regular: bool,
    /// The Redis key, or why the name does not map back to one.
    pub key: Result<Vec<u8>, NameError>,
    /// `expire_at_ms` from the type's sidecar (last line wins; `None` without a line).
    pub ttl: Option<u64>,
}

/// A directory entry that is not a key file (wrong suffix, or a directory).
#[derive(Debug, Clone)]
pub struct Ignored {
    /// The entry.
    pub path: PathBuf,
    /// Why it is not a key file.
    pub why: &'static str,
}

/// The files of one type directory, joined with KEYMAP and the type's TTL sidecar.
pub struct Listing {
    dir: PathBuf,
    shown_dir: String,
    ext: &'static str,
    names: SortedRecords,
    keymap: Option<LastWins>,
    ttl: Option<LastWins>,
    spilled_runs: usize,
    /// Entries that are not key files, in directory order.
    pub ignored: Vec<Ignored>,
}

/// Calls `each` with every record of `db/KEYMAP.jsonl` in file order; `Ok(false)` when the
/// file does not exist. A line that is not a valid record is an error naming the line.
fn read_keymap(
    db: &Path,
    shown_db: &str,
    mut each: impl FnMut(keymap::Record) -> Result<(), TreeError>,
) -> Result<bool, TreeError> {
    let shown = format!("{shown_db}/{KEYMAP}");
    let Some(f) = open_regular(&db.join(KEYMAP), &shown)? else {
        return Ok(false);
    };
    each_line(BufReader::with_capacity(READ_BUF, f), &shown, |n, line| {
        let r = parse_line(line).map_err(|why| {
            TreeError::invalid(&shown, format!("line {n}: invalid KEYMAP record: {why}"))
        })?;
        each(r)
    })?;
    Ok(true)
}

/// Checks every line of `db/KEYMAP.jsonl` (absent is fine), as upstream's encoder does
/// when it loads the file whether or not a name needs it.
pub fn check_keymap(db: &Path, shown_db: &str) -> Result<(), TreeError> {
    read_keymap(db, shown_db, |_| Ok(())).map(drop)
}

/// Calls `each(key, expire_at_ms)` for every value of the sidecar `db/file` in file
/// order; `Ok(false)` when the file does not exist. `null` or absent fields read as Go
/// reads them into a struct (empty key, expiry 0).
fn read_sidecar(
    db: &Path,
    shown_db: &str,
    file: &str,
    mut each: impl FnMut(String, u64) -> Result<(), TreeError>,
) -> Result<bool, TreeError> {
    let shown = format!("{shown_db}/{file}");
    let Some(f) = open_regular(&db.join(file), &shown)? else {
        return Ok(false);
    };
    let mut s = ValueStream::new(BufReader::with_capacity(READ_BUF, f));
    let mut n = 0usize;
    loop {
        let v = match s.next_value() {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(true),
            Err(Ok(e)) => return Err(TreeError::io(&shown, e)),
            Err(Err(why)) => return Err(TreeError::invalid(&shown, why)),
        };
        n += 1;
        let bad = |why: String| TreeError::invalid(&shown, format!("record {n}: {why}"));
        let r = Record::new(&v).map_err(bad)?;
        let key = r.text("key").map_err(bad)?;
        let ttl = r.int::<u64>("expire_at_ms", "uint64").map_err(bad)?;
        each(key, ttl)?;
    }
}

/// Checks every value of the type's sidecar (absent is fine), for a database without the
/// type's directory: upstream's encoder reads the sidecar before it lists the directory.
pub fn check_sidecar(db: &Path, shown_db: &str, t: TypeDir) -> Result<(), TreeError> {
    match t.sidecar {
        Some(file) => read_sidecar(db, shown_db, file, |_, _| Ok(())).map(drop),
        None => Ok(()),
    }
}

/// A finished sort as a last-wins lookup, with the runs it spilled added to `spilled`.
fn last_wins(s: ExternalSorter, spilled: &mut usize) -> Result<LastWins, TreeError> {
    *spilled += s.spilled_runs();
    Ok(LastWins::new(s.into_sorted()?)?)
}

impl Listing {
    /// Lists `db/<t.dir>` and sorts its names, the type's sidecar and (when a name needs
    /// it) KEYMAP, each in about `budget` bytes of memory (clamped to 64 KiB … 1 GiB).
    /// `None` when the database has no such directory; an error when it is not a real
    /// directory, or when the sidecar or KEYMAP is unreadable or malformed.
    pub fn open(
        db: &Path,
        shown_db: &str,
        t: TypeDir,
        budget: usize,
    ) -> Result<Option<Self>, TreeError> {
        let budget = clamp_budget(budget);
        let dir = db.join(t.dir);
        let shown_dir = format!("{shown_db}/{}", t.dir);
        if !require_dir(&dir, &shown_dir)? {
            return Ok(None);
        }
        let mut spilled_runs = 0;
        let ttl = match t.sidecar {
            None => None,
            Some(file) => {
                let mut s = ExternalSorter::new("redis TTL sidecar", budget);
                let present = read_sidecar(db, shown_db, file, |key, ttl| {
                    Ok(s.push(key.as_bytes(), &ttl.to_be_bytes())?)
                })?;
                present
                    .then(|| last_wins(s, &mut spilled_runs))
                    .transpose()?
            }
        };
        let mut names = ExternalSorter::new("redis file names", budget);
        let mut ignored = Vec::new();
        let mut need_keymap = false;
        let io = |e| TreeError::io(&shown_dir, e);
        for ent in std::fs::read_dir(&dir).map_err(io)? {
            let ent = ent.map_err(io)?;
            let name = ent.file_name();
            let Some(stem) = name.as_bytes().strip_suffix(t.ext.as_bytes()) else {
                ignored.push(Ignored {
                    path: ent.path(),
                    why: "not a key file (unexpected suffix)",
                });
                continue;
            };
            let ft = ent.file_type().map_err(io)?;
            if ft.is_dir() {
                ignored.push(Ignored {
                    path: ent.path(),
                    why: "not a regular file (symlink, directory or special file)",
                });
                continue;
            }
            if std::str::from_utf8(stem).is_ok_and(is_sha_fallback) {
                need_keymap = true;
            }
            names.push(stem, &[u8::from(ft.is_file())])?;
        }
        let keymap = if need_keymap {
            let mut s = ExternalSorter::new("redis KEYMAP", budget);
            let present = read_keymap(db, shown_db, |r| {
                Ok(s.push(r.encoded.as_bytes(), &r.original)?)
            })?;
            present
                .then(|| last_wins(s, &mut spilled_runs))
                .transpose()?
        } else {
            None
        };
        spilled_runs += names.spilled_runs();
        Ok(Some(Listing {
            dir,
            shown_dir,
            ext: t.ext,
            names: names.into_sorted()?,
            keymap,
            ttl,
            spilled_runs,
            ignored,
        }))
    }

    /// Sorted runs the listing's sorts wrote to scratch space (0 when everything fit in
    /// the budget).
    pub fn spilled_runs(&self) -> usize {
        self.spilled_runs
    }

    /// The next file in name order (byte order of the encoded names).
    pub fn next_file(&mut self) -> Result<Option<KeyFile>, TreeError> {
        let Some((stem, kind)) = self.names.next_record()? else {
            return Ok(None);
        };
        let mut file_name = stem.clone();
        file_name.extend_from_slice(self.ext.as_bytes());
        let path = self.dir.join(OsStr::from_bytes(&file_name));
        let shown = format!("{}/{}", self.shown_dir, String::from_utf8_lossy(&file_name));
        let ttl = match &mut self.ttl {
            Some(t) => t
                .lookup(&stem)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map(u64::from_be_bytes),
            None => None,
        };
        let (stem_text, key) = match std::str::from_utf8(&stem) {
            Err(_) => (
                String::from_utf8_lossy(&stem).into_owned(),
                Err(NameError::NotUtf8),
            ),
            Ok(s) => {
                let key = match decode_segment(s) {
                    Ok(DecodedSegment::Bytes(b) | DecodedSegment::Binary(b)) => Ok(b),
                    Ok(DecodedSegment::NeedsKeymap) => match &mut self.keymap {
                        Some(km) => km.lookup(&stem)?.ok_or(NameError::NotInKeymap),
                        None => Err(NameError::NoKeymap),
                    },
                    Err(e) => Err(NameError::NotEncoded(e.to_string())),
                };
                (s.to_string(), key)
            }
        };
        Ok(Some(KeyFile {
            stem: stem_text,
            path,
            shown,
            regular: kind.first() == Some(&1),
            key,
            ttl,
        }))
    }
}

#[cfg(test)]
mod tests;
