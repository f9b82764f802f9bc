//! One type directory's files, in name order, each with its Redis key (decoded from the
//! file name, or looked up in KEYMAP.jsonl for SHA-fallback names) and, for strings and
//! HLLs, its TTL from the sidecar — a three-way merge join over externally sorted streams,
//! so memory stays bounded however many keys the dump holds.

use super::extsort::{LastWins, Sorted, Sorter};
use super::json::{JsonReader, Scalar};
use super::kind::Kind;
use super::RestoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use elastickv_backup_engine::encode::filename::{decode_segment, is_sha_fallback, DecodedSegment};
use std::fs::File;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// KEYMAP.jsonl, beside the type directories.
pub const KEYMAP: &str = "KEYMAP.jsonl";

/// One key's file.
#[derive(Debug, Clone)]
pub struct Named {
    /// The file name without its suffix (the encoded key; shown in messages).
    pub stem: String,
    /// The file.
    pub path: PathBuf,
    /// The Redis key, or why the name cannot be mapped back to one.
    pub key: Result<Vec<u8>, String>,
    /// `expire_at_ms` from the sidecar (last line wins; strings and HLLs only).
    pub sidecar_ttl: Option<u64>,
}

/// A name that is not a key file (wrong suffix, not a regular file).
#[derive(Debug, Clone)]
pub struct Ignored {
    /// The path.
    pub path: PathBuf,
    /// Why it is not restored.
    pub why: &'static str,
}

/// The files of one type directory, joined with KEYMAP.jsonl and the TTL sidecar.
pub struct Listing {
    dir: PathBuf,
    kind: Kind,
    names: Sorted,
    keymap: Option<LastWins>,
    ttl: Option<LastWins>,
    /// Entries that are not key files.
    pub ignored: Vec<Ignored>,
}

/// Reads every JSON value of a `.jsonl` file in turn, calling `each` with the reader
/// positioned at the start of one value.
fn each_value(
    path: &Path,
    mut each: impl FnMut(&mut JsonReader<BufReader<File>>) -> Result<(), RestoreError>,
) -> Result<(), RestoreError> {
    let f = File::open(path).map_err(|e| RestoreError::io(path, e))?;
    let mut r = JsonReader::new(BufReader::with_capacity(256 << 10, f), path);
    while !r.at_end()? {
        each(&mut r)?;
    }
    Ok(())
}

fn sort_keymap(db_dir: &Path, budget: usize) -> Result<Option<LastWins>, RestoreError> {
    let path = db_dir.join(KEYMAP);
    if !path.is_file() {
        return Ok(None);
    }
    let mut s = Sorter::new(budget);
    each_value(&path, |r| {
        r.begin_object()?;
        let mut first = true;
        let (mut encoded, mut original, mut kind) = (None, None, None);
        while let Some(k) = r.next_key(&mut first)? {
            match (k.as_slice(), r.read_scalar()?) {
                (b"encoded", Scalar::Str(s)) => encoded = Some(s),
                (b"original", Scalar::Str(s)) => original = Some(s),
                (b"kind", Scalar::Str(s)) => kind = Some(s),
                (b"encoded" | b"original" | b"kind", _) => {
                    return Err(r.error("KEYMAP fields must be strings"))
                }
                _ => {}
            }
        }
        let (Some(encoded), Some(original)) = (encoded, original) else {
            return Err(r.error("KEYMAP record without \"encoded\" and \"original\""));
        };
        if kind.as_deref().is_some_and(|k| k != b"sha-fallback") {
            return Ok(());
        }
        let raw = URL_SAFE_NO_PAD.decode(&original).map_err(|e| {
            r.error(format!(
                "KEYMAP \"original\" is not unpadded base64url: {e}"
            ))
        })?;
        s.push(encoded, raw)
    })?;
    Ok(Some(LastWins::new(s.finish()?)?))
}

fn sort_sidecar(path: &Path, budget: usize) -> Result<Option<LastWins>, RestoreError> {
    if !path.is_file() {
        return Ok(None);
    }
    let mut s = Sorter::new(budget);
    each_value(path, |r| {
        r.begin_object()?;
        let mut first = true;
        let (mut key, mut ttl, mut seen_ttl) = (None, None, false);
        while let Some(k) = r.next_key(&mut first)? {
            match k.as_slice() {
                b"key" => match r.read_scalar()? {
                    Scalar::Str(s) => key = Some(s),
                    _ => return Err(r.error("TTL sidecar \"key\" must be a string")),
                },
                b"expire_at_ms" => {
                    ttl = r.read_u64_or_null("expire_at_ms")?;
                    seen_ttl = true;
                }
                _ => r.skip_value()?,
            }
        }
        let (Some(key), true) = (key, seen_ttl) else {
            return Err(r.error("TTL sidecar line without \"key\" and \"expire_at_ms\""));
        };
        // 0 and null both mean "no TTL" (docs/format/40-redis.md §9); kept as 0 so a later
        // line can still override an earlier one.
        s.push(key, ttl.unwrap_or(0).to_be_bytes().to_vec())
    })?;
    Ok(Some(LastWins::new(s.finish()?)?))
}

impl Listing {
    /// Lists `db_dir/<kind dir>`; `None` when the dump has no such directory.
    pub fn open(db_dir: &Path, kind: Kind, budget: usize) -> Result<Option<Self>, RestoreError> {
        let dir = db_dir.join(kind.dir());
        let meta = match std::fs::symlink_metadata(&dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RestoreError::io(&dir, e)),
        };
        if !meta.is_dir() {
            return Err(RestoreError::Input(format!(
                "{}: not a directory (a symlink or a file); refusing to restore from it",
                dir.display()
            )));
        }
        let ext = kind.ext().as_bytes();
        let mut names = Sorter::new(budget);
        let mut ignored = Vec::new();
        let mut need_keymap = false;
        for e in std::fs::read_dir(&dir).map_err(|e| RestoreError::io(&dir, e))? {
            let e = e.map_err(|e| RestoreError::io(&dir, e))?;
            let name = e.file_name();
            let b = name.as_bytes();
            let path = e.path();
            let Some(stem) = b.strip_suffix(ext) else {
                ignored.push(Ignored {
                    path,
                    why: "not a key file (unexpected suffix)",
                });
                continue;
            };
            let ft = e.file_type().map_err(|e| RestoreError::io(&path, e))?;
            if !ft.is_file() {
                ignored.push(Ignored {
                    path,
                    why: "not a regular file (symlink, directory or special file)",
                });
                continue;
            }
            if std::str::from_utf8(stem).is_ok_and(is_sha_fallback) {
                need_keymap = true;
            }
            names.push(stem.to_vec(), Vec::new())?;
        }
        let keymap = if need_keymap {
            sort_keymap(db_dir, budget)?
        } else {
            None
        };
        let ttl = match kind.sidecar() {
            Some(s) => sort_sidecar(&db_dir.join(s), budget)?,
            None => None,
        };
        Ok(Some(Listing {
            dir,
            kind,
            names: names.finish()?,
            keymap,
            ttl,
            ignored,
        }))
    }

    /// The next file in name order.
    pub fn next_named(&mut self) -> Result<Option<Named>, RestoreError> {
        let Some((stem, _)) = self.names.next_record()? else {
            return Ok(None);
        };
        let mut file_name = stem.clone();
        file_name.extend_from_slice(self.kind.ext().as_bytes());
        let path = self.dir.join(std::ffi::OsStr::from_bytes(&file_name));
        let sidecar_ttl = match &mut self.ttl {
            Some(t) => t
                .lookup(&stem)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map(u64::from_be_bytes),
            None => None,
        };
        let (stem_text, key) = match std::str::from_utf8(&stem) {
            Err(_) => (
                String::from_utf8_lossy(&stem).into_owned(),
                Err("file name is not ASCII, so not an encoded key".to_string()),
            ),
            Ok(s) => {
                let key = match decode_segment(s) {
                    Ok(DecodedSegment::Bytes(b)) | Ok(DecodedSegment::Binary(b)) => Ok(b),
                    Ok(DecodedSegment::NeedsKeymap) => match &mut self.keymap {
                        Some(km) => km.lookup(&stem)?.ok_or_else(|| {
                            "SHA-fallback file name has no KEYMAP.jsonl record".to_string()
                        }),
                        None => Err("SHA-fallback file name but no KEYMAP.jsonl".to_string()),
                    },
                    Err(e) => Err(format!("file name is not an encoded key: {e}")),
                };
                (s.to_string(), key)
            }
        };
        Ok(Some(Named {
            stem: stem_text,
            path,
            key,
            sidecar_ttl,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::encode::filename::encode_segment;

    #[test]
    fn joins_names_keymap_and_sidecar() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path();
        std::fs::create_dir(db.join("strings")).unwrap();
        let long = vec![b'k'; 300];
        let long_seg = encode_segment(&long);
        for seg in ["a", "b%3Ac", "%FF", long_seg.as_str()] {
            std::fs::write(db.join("strings").join(format!("{seg}.bin")), b"x").unwrap();
        }
        std::fs::write(db.join("strings").join("junk.txt"), b"").unwrap();
        std::fs::write(db.join("strings").join("bad name.bin"), b"").unwrap();
        // Spec 40 V17: the KEYMAP line is written twice; last line wins in the sidecar.
        let km = format!(
            "{{\"encoded\":\"{long_seg}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
            "a2tr".repeat(100)
        );
        std::fs::write(db.join(KEYMAP), format!("{km}{km}")).unwrap();
        std::fs::write(
            db.join("strings_ttl.jsonl"),
            format!(
                "{{\"key\":\"a\",\"expire_at_ms\":5}}\n{{\"key\":\"{long_seg}\",\"expire_at_ms\":7}}\n{{\"key\":\"a\",\"expire_at_ms\":6}}\n{{\"key\":\"zz\",\"expire_at_ms\":1}}\n"
            ),
        )
        .unwrap();
        let mut l = Listing::open(db, Kind::String, 0).unwrap().unwrap();
        assert_eq!(l.ignored.len(), 1);
        let mut got = Vec::new();
        while let Some(n) = l.next_named().unwrap() {
            got.push((n.stem, n.key, n.sidecar_ttl));
        }
        assert_eq!(
            got,
            vec![
                ("%FF".to_string(), Ok(vec![0xff]), None),
                (long_seg.clone(), Ok(long), Some(7)),
                ("a".into(), Ok(b"a".to_vec()), Some(6)),
                ("b%3Ac".into(), Ok(b"b:c".to_vec()), None),
                (
                    "bad name".into(),
                    Err(
                        "file name is not an encoded key: byte 0x20 is not allowed unescaped"
                            .into()
                    ),
                    None
                ),
            ]
        );
        assert!(Listing::open(db, Kind::Hash, 0).unwrap().is_none());
    }
}
