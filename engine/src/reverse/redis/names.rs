//! File names back to Redis user keys, and the TTL sidecars (docs/format/40-redis.md §4, §9).
//!
//! A file stem is `EncodeSegment(key)`: percent-decoded directly, or — for a SHA
//! fallback — looked up in the database's `KEYMAP.jsonl` (last record per name wins, as
//! upstream loads it). TTL sidecar lines are keyed by the same encoded stem.

use crate::encode::filename::{decode_segment, DecodedSegment};
use crate::reverse::fsutil::{list_dir, open_regular, read_regular, require_dir, shown_join};
use crate::reverse::json::{Record, ValueStream};
use crate::reverse::s3::keymap::{lines, parse_line};
use crate::reverse::ReverseError;
use std::collections::HashMap;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Upstream's message for a fallback name without a KEYMAP record.
const MISSING_KEYMAP: &str = "backup: redis encode missing KEYMAP entry for sha-fallback key";

/// The database's name → original-key table.
pub(crate) struct Names {
    keymap: HashMap<String, Vec<u8>>,
    shown_keymap: String,
}

impl Names {
    /// Loads `db/KEYMAP.jsonl` (absent = no fallback names).
    pub(crate) fn load(db: &Path, shown_db: &str) -> Result<Self, ReverseError> {
        let shown_keymap = format!("{shown_db}/KEYMAP.jsonl");
        let path = db.join("KEYMAP.jsonl");
        let mut keymap = HashMap::new();
        if open_regular(&path, &shown_keymap)?.is_some() {
            let data = read_regular(&path, &shown_keymap)?;
            for (n, line) in lines(&data) {
                let r = parse_line(line).map_err(|why| {
                    ReverseError::invalid(
                        &shown_keymap,
                        format!("line {n}: invalid KEYMAP record: {why}"),
                    )
                })?;
                keymap.insert(r.encoded, r.original);
            }
        }
        Ok(Names {
            keymap,
            shown_keymap,
        })
    }

    /// The user key a file stem (or TTL sidecar key) stands for.
    pub(crate) fn resolve(&self, encoded: &str, shown: &str) -> Result<Vec<u8>, ReverseError> {
        match decode_segment(encoded) {
            Ok(DecodedSegment::Bytes(b) | DecodedSegment::Binary(b)) => Ok(b),
            Ok(DecodedSegment::NeedsKeymap) => self.keymap.get(encoded).cloned().ok_or_else(|| {
                ReverseError::invalid(
                    shown,
                    format!(
                        "{MISSING_KEYMAP}: {encoded:?} has no record in {}",
                        self.shown_keymap
                    ),
                )
            }),
            Err(e) => Err(ReverseError::invalid(
                shown,
                format!("the file name is not an encoded Redis key: {e}"),
            )),
        }
    }
}

/// Reads a TTL sidecar (`strings_ttl.jsonl`, `hll_ttl.jsonl`): encoded key → expiry
/// (last line wins; absent file = no TTLs).
pub(crate) fn load_ttls(
    db: &Path,
    shown_db: &str,
    file: &str,
) -> Result<HashMap<String, u64>, ReverseError> {
    let shown = format!("{shown_db}/{file}");
    let mut out = HashMap::new();
    let Some(f) = open_regular(&db.join(file), &shown)? else {
        return Ok(out);
    };
    let mut s = ValueStream::new(BufReader::new(f));
    let mut n = 0usize;
    loop {
        let v = match s.next_value() {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(out),
            Err(Ok(e)) => return Err(ReverseError::io(&shown, e)),
            Err(Err(why)) => return Err(ReverseError::invalid(&shown, why)),
        };
        n += 1;
        let bad = |why: String| ReverseError::invalid(&shown, format!("record {n}: {why}"));
        let r = Record::new(&v).map_err(bad)?;
        let key = r.text("key").map_err(bad)?;
        let ttl = r.int::<u64>("expire_at_ms", "uint64").map_err(bad)?;
        out.insert(key, ttl);
    }
}

/// A file of a type directory: its path, its name without the extension, and its path
/// for messages.
pub(crate) struct TypeFile {
    /// Full path.
    pub path: PathBuf,
    /// The encoded key (file name without the extension).
    pub stem: String,
    /// Path relative to the dump root.
    pub shown: String,
}

/// The files of `db/sub` ending in `ext`, sorted by name (absent directory = none).
/// Subdirectories and other names are ignored, as upstream does; a name that is not
/// UTF-8 cannot be an encoded key and is refused.
pub(crate) fn type_files(
    db: &Path,
    shown_db: &str,
    sub: &str,
    ext: &str,
) -> Result<Vec<TypeFile>, ReverseError> {
    let dir = db.join(sub);
    let shown_dir = format!("{shown_db}/{sub}");
    if !require_dir(&dir, &shown_dir)? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (name, t) in list_dir(&dir, &shown_dir)? {
        let bytes = name.as_bytes();
        if t.is_dir() || !bytes.ends_with(ext.as_bytes()) {
            continue;
        }
        let shown = shown_join(&shown_dir, bytes);
        let Ok(s) = std::str::from_utf8(bytes) else {
            return Err(ReverseError::invalid(
                &shown,
                "the file name is not UTF-8, so not an encoded Redis key",
            ));
        };
        out.push(TypeFile {
            path: dir.join(&name),
            stem: s.strip_suffix(ext).unwrap_or(s).to_string(),
            shown,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ttls() {
        let d = tempfile::tempdir().unwrap();
        let k300 = "k".repeat(300);
        let seg = crate::encode::filename::encode_segment(k300.as_bytes());
        let mut km = Vec::new();
        crate::encode::keymap::write_keymap_line(
            &mut km,
            seg.as_bytes(),
            k300.as_bytes(),
            crate::encode::keymap::KeymapKind::ShaFallback,
        );
        km.extend_from_slice(&km.clone());
        std::fs::write(d.path().join("KEYMAP.jsonl"), &km).unwrap();
        let n = Names::load(d.path(), "db").unwrap();
        assert_eq!(n.resolve(&seg, "x").unwrap(), k300.as_bytes());
        assert_eq!(n.resolve("k%00%FF%20%7E", "x").unwrap(), b"k\x00\xff ~");
        assert_eq!(n.resolve("", "x").unwrap(), b"");
        assert_eq!(n.resolve("b64.AAE", "x").unwrap(), [0, 1]);
        let other = crate::encode::filename::encode_segment("q".repeat(300).as_bytes());
        assert!(n
            .resolve(&other, "x")
            .unwrap_err()
            .to_string()
            .contains(MISSING_KEYMAP));
        assert!(n.resolve("a b", "x").is_err());
        assert!(n.resolve("%zz", "x").is_err());

        std::fs::write(
            d.path().join("strings_ttl.jsonl"),
            b"{\"key\":\"a\",\"expire_at_ms\":5}\n{\"key\":\"b\",\"expire_at_ms\":6}\n{\"KEY\":\"a\",\"expire_at_ms\":7}\n",
        )
        .unwrap();
        let t = load_ttls(d.path(), "db", "strings_ttl.jsonl").unwrap();
        assert_eq!((t["a"], t["b"], t.len()), (7, 6, 2));
        assert!(load_ttls(d.path(), "db", "hll_ttl.jsonl")
            .unwrap()
            .is_empty());
        std::fs::write(
            d.path().join("hll_ttl.jsonl"),
            b"{\"key\":\"a\",\"expire_at_ms\":-1}\n",
        )
        .unwrap();
        assert!(load_ttls(d.path(), "db", "hll_ttl.jsonl").is_err());
    }
}
