//! One bucket directory back to records (docs/format/20-s3.md §11–§11.3): the bucket's K1/K2, then
//! every object body below it as 1 MiB K6 chunks plus its K3 manifest.
//!
//! Object keys are the bucket-relative paths, except where the bucket's rename log says
//! otherwise (upstream's renames and this project's `_escaped_keys/` escapes). Bodies are
//! read one chunk at a time.

use super::hlc::hlc_of;
use super::keymap::{is_rename_log, load_bucket_log, Record};
use super::keys::{self, CHUNK_SIZE, GENERATION};
use super::values::{
    bucket_meta_value, manifest_value, parse_bucket, parse_sidecar, BucketFile, Sidecar,
};
use crate::fsutil::{list_dir, open_regular, read_regular, shown_join};
use crate::{ReverseError, Stage};
use elastickv_backup_engine::decode::s3::naming::{ESCAPED_DIR, META_SUFFIX};
use elastickv_backup_engine::encode::filename::{decode_segment, encode_segment, DecodedSegment};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Top-level directories of a bucket that hold the dump's own payload (only with
/// `--include-orphans` / `--include-incomplete-uploads`, which the encoder refuses).
const PAYLOAD_DIRS: [&[u8]; 2] = [b"_incomplete_uploads", b"_orphans"];

/// The bucket name a directory stands for: from `_bucket.json` when present (its
/// encoded form must be the directory name), else decoded from the directory name
/// (a bucket the snapshot held no metadata for; it gets no K1/K2 either).
fn bucket_name<V: BucketVisitor + ?Sized>(
    dir: &Path,
    dir_name: &[u8],
    shown: &str,
    out: &mut V,
) -> Result<Vec<u8>, V::Error> {
    let meta_path = dir.join("_bucket.json");
    let shown_meta = format!("{shown}/_bucket.json");
    if std::fs::symlink_metadata(&meta_path)
        .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        let name = std::str::from_utf8(dir_name)
            .ok()
            .and_then(|s| match decode_segment(s) {
                Ok(DecodedSegment::Bytes(b)) if encode_segment(&b).as_bytes() == dir_name => {
                    Some(b)
                }
                _ => None,
            })
            .filter(|b| !matches!(b.as_slice(), b"" | b"." | b".."));
        let name = name.ok_or_else(|| {
            ReverseError::invalid(
                shown,
                "backup: s3 encode invalid _bucket.json: the bucket directory has no \
                 _bucket.json and its name does not decode to a bucket name",
            )
        })?;
        out.bucket(&name, None, shown)?;
        return Ok(name);
    }
    let bucket = parse_bucket(&read_regular(&meta_path, &shown_meta)?).map_err(|e| {
        ReverseError::invalid(
            &shown_meta,
            format!("backup: s3 encode invalid _bucket.json: {e}"),
        )
    })?;
    if bucket.name.is_empty() {
        return Err(ReverseError::invalid(
            &shown_meta,
            "backup: s3 encode invalid _bucket.json: empty bucket name",
        )
        .into());
    }
    let want = encode_segment(bucket.name.as_bytes());
    if want.as_bytes() != dir_name {
        return Err(ReverseError::invalid(
            &shown_meta,
            format!(
                "backup: s3 encode invalid _bucket.json: bucket name {:?} belongs in directory \
                 {want:?}, not {:?}",
                bucket.name,
                String::from_utf8_lossy(dir_name)
            ),
        )
        .into());
    }
    let name = bucket.name.as_bytes().to_vec();
    out.bucket(&name, Some(&bucket), &shown_meta)?;
    Ok(name)
}

/// One object found in a bucket directory: its key (renames and escapes undone), its
/// parsed sidecar, and its body opened, its length checked against `size_bytes`.
pub struct ObjectFile<'a> {
    /// The object key.
    pub key: Vec<u8>,
    /// The body, opened (read it to `len` bytes).
    pub body: std::fs::File,
    /// The body's length, equal to the sidecar's `size_bytes`.
    pub len: u64,
    /// The parsed `.elastickv-meta.json`.
    pub sidecar: Sidecar,
    /// The body's path as shown in messages.
    pub shown: &'a str,
}

/// What a walk over one bucket directory hands on: shared by `encode` (records) and
/// `restore s3` (API calls), so both read the tree with the same rules.
pub trait BucketVisitor {
    /// The caller's error; reading the tree fails with a [`ReverseError`].
    type Error: From<ReverseError>;
    /// The bucket, before its objects: its name, and `_bucket.json` when present.
    fn bucket(
        &mut self,
        name: &[u8],
        meta: Option<&BucketFile>,
        shown: &str,
    ) -> Result<(), Self::Error>;
    /// One object of the bucket.
    fn object(&mut self, bucket: &[u8], obj: ObjectFile<'_>) -> Result<(), Self::Error>;
}

/// The encoder's visitor: K1/K2 per bucket, K6 chunks and the K3 manifest per object.
struct Encoder<'a, S: ?Sized> {
    out: &'a mut S,
}

impl<S: Stage + ?Sized> BucketVisitor for Encoder<'_, S> {
    type Error = ReverseError;

    fn bucket(
        &mut self,
        name: &[u8],
        meta: Option<&BucketFile>,
        _shown: &str,
    ) -> Result<(), ReverseError> {
        if let Some(bucket) = meta {
            self.out.add(
                keys::bucket_meta(name),
                bucket_meta_value(bucket, GENERATION),
            )?;
            self.out
                .add(keys::bucket_gen(name), GENERATION.to_be_bytes().to_vec())?;
        }
        Ok(())
    }

    fn object(&mut self, bucket: &[u8], obj: ObjectFile<'_>) -> Result<(), ReverseError> {
        let ObjectFile {
            key,
            body: mut f,
            len,
            sidecar,
            shown,
        } = obj;
        let mut sizes = Vec::new();
        let mut total = 0u64;
        loop {
            let left = usize::try_from(len.saturating_sub(total)).unwrap_or(CHUNK_SIZE);
            let mut chunk = Vec::with_capacity(CHUNK_SIZE.min(left));
            let n = (&mut f)
                .take(CHUNK_SIZE as u64)
                .read_to_end(&mut chunk)
                .map_err(|e| ReverseError::io(shown, e))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > len {
                break;
            }
            self.out
                .add(keys::blob(bucket, &key, sizes.len() as u64), chunk)?;
            sizes.push(n as u64);
        }
        if total != len {
            return Err(ReverseError::invalid(
                shown,
                format!("changed while being read ({len} bytes expected, {total} read)"),
            ));
        }
        let value = manifest_value(&sidecar, hlc_of(&sidecar.last_modified), &sizes);
        self.out.add(keys::manifest(bucket, &key), value)
    }
}

/// Encodes the bucket directory `dir` (named `dir_name` inside `s3/`).
pub(crate) fn encode_bucket<S: Stage + ?Sized>(
    dir: &Path,
    dir_name: &[u8],
    shown: &str,
    out: &mut S,
) -> Result<(), ReverseError> {
    walk_bucket(dir, dir_name, shown, &mut Encoder { out })
}

/// Walks the bucket directory `dir` (named `dir_name` inside `s3/`): the bucket, then
/// every object body below it (control files, sidecars and payload directories skipped).
pub(crate) fn walk_bucket<V: BucketVisitor + ?Sized>(
    dir: &Path,
    dir_name: &[u8],
    shown: &str,
    out: &mut V,
) -> Result<(), V::Error> {
    let bucket = bucket_name(dir, dir_name, shown, out)?;
    let log = if is_rename_log(dir) {
        Some(load_bucket_log(dir, shown)?)
    } else {
        None
    };
    let mut w = Walk {
        bucket: &bucket,
        shown_bucket: shown,
        log,
        out,
    };
    w.dir(dir, &[], shown)
}

struct Walk<'a, V: ?Sized> {
    bucket: &'a [u8],
    shown_bucket: &'a str,
    log: Option<BTreeMap<String, Record>>,
    out: &'a mut V,
}

/// Whether any file below `dir` is a sidecar (a user object hiding in a payload dir).
fn holds_sidecar(dir: &Path, shown: &str) -> Result<bool, ReverseError> {
    for (name, t) in list_dir(dir, shown)? {
        if t.is_dir() {
            let child = shown_join(shown, name.as_bytes());
            if holds_sidecar(&dir.join(&name), &child)? {
                return Ok(true);
            }
        } else if name.as_bytes().ends_with(META_SUFFIX.as_bytes()) {
            return Ok(true);
        }
    }
    Ok(false)
}

impl<V: BucketVisitor + ?Sized> Walk<'_, V> {
    /// Walks `dir`, whose bucket-relative path is `rel` (empty at the bucket root).
    fn dir(&mut self, dir: &Path, rel: &[u8], shown: &str) -> Result<(), V::Error> {
        for (name, t) in list_dir(dir, shown)? {
            let name = name.as_bytes();
            let child_shown = shown_join(shown, name);
            let mut child_rel = rel.to_vec();
            if !child_rel.is_empty() {
                child_rel.push(b'/');
            }
            child_rel.extend_from_slice(name);
            let path = dir.join(std::ffi::OsStr::from_bytes(name));
            let top = rel.is_empty();
            if t.is_dir() {
                if top && PAYLOAD_DIRS.contains(&name) {
                    if holds_sidecar(&path, &child_shown)? {
                        return Err(ReverseError::invalid(
                            &child_shown,
                            "backup: s3 encode user object key collides with reserved dump \
                             directory (it holds object sidecars)",
                        )
                        .into());
                    }
                    continue;
                }
                self.dir(&path, &child_rel, &child_shown)?;
            } else if (top && name == b"_bucket.json")
                || (top && name == b"KEYMAP.jsonl" && self.log.is_some())
                || name.ends_with(META_SUFFIX.as_bytes())
            {
                continue;
            } else {
                self.object(&path, &child_rel, &child_shown)?;
            }
        }
        Ok(())
    }

    /// The object key stored at bucket-relative path `rel`.
    fn object_key(&self, rel: &[u8], shown: &str) -> Result<Vec<u8>, ReverseError> {
        let rec = std::str::from_utf8(rel)
            .ok()
            .and_then(|r| self.log.as_ref()?.get(r));
        match rec {
            Some(r) => Ok(r.original.clone()),
            None if rel.starts_with(ESCAPED_DIR.as_bytes())
                && rel.get(ESCAPED_DIR.len()) == Some(&b'/') =>
            {
                Err(ReverseError::invalid(
                    shown,
                    format!(
                        "an escaped object has no record in {}/KEYMAP.jsonl, so its key is unknown",
                        self.shown_bucket
                    ),
                ))
            }
            None => Ok(rel.to_vec()),
        }
    }

    fn object(&mut self, body: &Path, rel: &[u8], shown: &str) -> Result<(), V::Error> {
        let key = self.object_key(rel, shown)?;
        let mut side_path = body.as_os_str().to_os_string();
        side_path.push(META_SUFFIX);
        let shown_side = format!("{shown}{META_SUFFIX}");
        let sidecar =
            parse_sidecar(&read_regular(Path::new(&side_path), &shown_side)?).map_err(|e| {
                ReverseError::invalid(
                    &shown_side,
                    format!("backup: s3 encode invalid object sidecar: {e}"),
                )
            })?;
        let f = open_regular(body, shown)?
            .ok_or_else(|| ReverseError::invalid(shown, "vanished while being read"))?;
        let len = f.metadata().map_err(|e| ReverseError::io(shown, e))?.len();
        if i64::try_from(len).ok() != Some(sidecar.size_bytes) {
            return Err(ReverseError::invalid(
                &shown_side,
                format!(
                    "backup: s3 encode invalid object sidecar: size_bytes {} != body length {len}",
                    sidecar.size_bytes
                ),
            )
            .into());
        }
        self.out.object(
            self.bucket,
            ObjectFile {
                key,
                body: f,
                len,
                sidecar,
                shown,
            },
        )
    }
}
