//! The strict per-bucket S3 rename log, `KEYMAP.jsonl` on the way back
//! (docs/format/20-s3.md §11); its records are read by [`elastickv_backup_dumptree::keymap`].
//!
//! A bucket's log maps a path on disk back to the original object key: upstream's renames
//! (`s3-leaf-data`, `meta-suffix-rename`, `sha-fallback`) and this project's escapes
//! (`s3-unsafe-key`, `s3-control-name`, always `_escaped_keys/<flat name>`). A record that
//! the decoder could not have written is refused rather than restored under a wrong key.

use crate::fsutil::read_regular;
use crate::ReverseError;
pub(crate) use elastickv_backup_dumptree::keymap::Record;
use elastickv_backup_dumptree::keymap::{lines, parse_line};
use elastickv_backup_engine::decode::s3::naming::{
    flat_name, ESCAPED_DIR, LEAF_SUFFIX, META_SUFFIX,
};
use std::collections::BTreeMap;
use std::path::Path;

/// Upstream's kinds that an S3 log may hold.
const UPSTREAM_KINDS: [&str; 3] = ["s3-leaf-data", "meta-suffix-rename", "sha-fallback"];
/// This project's escape kinds (objects stored flat under `_escaped_keys/`).
const ESCAPE_KINDS: [&str; 2] = ["s3-unsafe-key", "s3-control-name"];
/// First segments owned by the dump's payload directories.
const RESERVED_ROOTS: [&str; 2] = ["_orphans", "_incomplete_uploads"];

fn bad_segment(path: &str) -> Option<&str> {
    path.split('/')
        .find(|s| s.is_empty() || *s == "." || *s == "..")
}

/// Spec 20 §11.2's checks on the `encoded` path: a name the object walk would visit.
fn check_encoded(enc: &str) -> Result<(), String> {
    if enc.contains('\\') {
        return Err(format!("encoded path {enc:?} contains a backslash"));
    }
    if let Some(s) = bad_segment(enc) {
        return Err(format!("encoded path {enc:?} has an invalid segment {s:?}"));
    }
    let mut segs = enc.split('/');
    let first = segs.next().unwrap_or_default();
    let last = enc.rsplit('/').next().unwrap_or_default();
    if last.ends_with(META_SUFFIX) {
        return Err(format!(
            "encoded path {enc:?} ends in the reserved sidecar suffix"
        ));
    }
    if segs.next().is_none() && (first == "_bucket.json" || first == "KEYMAP.jsonl") {
        return Err(format!("encoded path {enc:?} names a control file"));
    }
    if RESERVED_ROOTS.contains(&first) {
        return Err(format!(
            "encoded path {enc:?} lies in the reserved directory {first:?}"
        ));
    }
    Ok(())
}

/// Validates a record of a bucket's log (docs/format/20-s3.md §11, plus the escape kinds).
fn check_s3_record(r: &Record) -> Result<(), String> {
    check_encoded(&r.encoded)?;
    if r.original.is_empty() {
        return Err(format!("empty original key for {:?}", r.encoded));
    }
    if ESCAPE_KINDS.contains(&r.kind.as_str()) {
        let want = format!("{ESCAPED_DIR}/{}", flat_name(&r.original));
        if r.encoded != want {
            return Err(format!(
                "kind {:?}: encoded path {:?} is not the escaped name {want:?} of its original",
                r.kind, r.encoded
            ));
        }
        return Ok(());
    }
    if !UPSTREAM_KINDS.contains(&r.kind.as_str()) {
        return Err(format!("unknown kind {:?} for {:?}", r.kind, r.encoded));
    }
    let orig = String::from_utf8_lossy(&r.original);
    if r.original.contains(&0) || r.original.contains(&b'\\') {
        return Err(format!(
            "original key {orig:?} contains a NUL or backslash (kind {:?})",
            r.kind
        ));
    }
    if let Some(s) = bad_segment(&orig) {
        return Err(format!(
            "original key {orig:?} has an invalid segment {s:?}"
        ));
    }
    let first = orig.split('/').next().unwrap_or_default();
    if RESERVED_ROOTS.contains(&first) {
        return Err(format!(
            "original key {orig:?} lies in the reserved directory {first:?}"
        ));
    }
    match r.kind.as_str() {
        "s3-leaf-data" if !r.encoded.ends_with(LEAF_SUFFIX) => Err(format!(
            "kind s3-leaf-data but {:?} does not end in {LEAF_SUFFIX}",
            r.encoded
        )),
        "meta-suffix-rename" if !r.original.ends_with(META_SUFFIX.as_bytes()) => Err(format!(
            "kind meta-suffix-rename but original {orig:?} does not end in {META_SUFFIX}"
        )),
        _ => Ok(()),
    }
}

/// Whether `bucket/KEYMAP.jsonl` is the rename log: a regular file with no regular
/// sidecar beside it (otherwise it is a user object named `KEYMAP.jsonl`).
pub(crate) fn is_rename_log(bucket: &Path) -> bool {
    let is_file = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file());
    is_file(&bucket.join("KEYMAP.jsonl"))
        && !is_file(&bucket.join(format!("KEYMAP.jsonl{META_SUFFIX}")))
}

/// Loads and validates a bucket's rename log: `encoded` path → record. Every record's
/// path must exist as a regular file below `bucket`.
pub(crate) fn load_bucket_log(
    bucket: &Path,
    shown: &str,
) -> Result<BTreeMap<String, Record>, ReverseError> {
    let shown_log = format!("{shown}/KEYMAP.jsonl");
    let data = read_regular(&bucket.join("KEYMAP.jsonl"), &shown_log)?;
    let mut out = BTreeMap::new();
    for (n, line) in lines(&data) {
        let bad = |why: String| {
            ReverseError::invalid(
                &shown_log,
                format!("line {n}: invalid KEYMAP record: {why}"),
            )
        };
        let rec = parse_line(line).map_err(bad)?;
        check_s3_record(&rec).map_err(bad)?;
        if out.contains_key(&rec.encoded) {
            return Err(bad(format!("duplicate encoded path {:?}", rec.encoded)));
        }
        let target = std::fs::symlink_metadata(bucket.join(&rec.encoded));
        if !target.is_ok_and(|m| m.file_type().is_file()) {
            return Err(bad(format!(
                "encoded path {:?} is not a regular file in the bucket directory",
                rec.encoded
            )));
        }
        out.insert(rec.encoded.clone(), rec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(encoded: &str, original: &[u8], kind: &str) -> Record {
        Record {
            encoded: encoded.into(),
            original: original.to_vec(),
            kind: kind.into(),
        }
    }

    #[test]
    fn s3_record_rules() {
        assert!(check_s3_record(&rec("a/b.elastickv-leaf-data", b"a/b", "s3-leaf-data")).is_ok());
        assert!(check_s3_record(&rec(
            "x.elastickv-meta.json.user-data",
            b"x.elastickv-meta.json",
            "meta-suffix-rename"
        ))
        .is_ok());
        assert!(check_s3_record(&rec(
            "_escaped_keys/a%2F%2E%2E%2Fb",
            b"a/../b",
            "s3-unsafe-key"
        ))
        .is_ok());
        assert!(check_s3_record(&rec(
            "_escaped_keys/_bucket%2Ejson",
            b"_bucket.json",
            "s3-control-name"
        ))
        .is_ok());
        for (enc, orig, kind) in [
            ("_escaped_keys/other", &b"a/../b"[..], "s3-unsafe-key"),
            ("a/b", b"a/b", "s3-leaf-data"),
            ("y.user-data", b"y", "meta-suffix-rename"),
            ("x", b"a//b", "sha-fallback"),
            ("x", b"_orphans/x", "sha-fallback"),
            ("x", b"", "sha-fallback"),
            ("x", b"a\\b", "sha-fallback"),
            ("x", b"a", "made-up"),
            ("_bucket.json", b"a", "sha-fallback"),
            ("a/x.elastickv-meta.json", b"a", "sha-fallback"),
            ("_orphans/x", b"a", "sha-fallback"),
            ("a/./b", b"a", "sha-fallback"),
        ] {
            assert!(
                check_s3_record(&rec(enc, orig, kind)).is_err(),
                "{enc} {kind}"
            );
        }
    }
}
