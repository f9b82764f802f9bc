//! `KEYMAP.jsonl` on the way back (docs/format/00-container.md §5, docs/format/20-s3.md §11): the record reader shared
//! with the Redis encoder, and the strict per-bucket S3 rename log.
//!
//! A bucket's log maps a path on disk back to the original object key: upstream's renames
//! (`s3-leaf-data`, `meta-suffix-rename`, `sha-fallback`) and this project's escapes
//! (`s3-unsafe-key`, `s3-control-name`, always `_escaped_keys/<flat name>`). A record that
//! the decoder could not have written is refused rather than restored under a wrong key.

use crate::decode::s3::naming::{flat_name, ESCAPED_DIR, LEAF_SUFFIX, META_SUFFIX};
use crate::reverse::fsutil::read_regular;
use crate::reverse::ReverseError;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use elastickv_backup_gocompat::json::{self as gojson, set_str, JVal};
use std::collections::BTreeMap;
use std::path::Path;

/// Go's `base64.RawURLEncoding` on decode: no padding, non-zero trailing bits accepted.
pub(crate) const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Longest line Go's scanner accepts in a KEYMAP file.
const MAX_LINE: usize = 4 << 20;

/// One KEYMAP record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The name on disk (a segment, or an S3 bucket-relative path).
    pub encoded: String,
    /// The original key bytes.
    pub original: Vec<u8>,
    /// Why the record exists.
    pub kind: String,
}

/// The lines of a JSONL file as Go's line scanner yields them: split at `\n`, one
/// trailing `\r` dropped, no empty token after a final newline. Numbered from 1.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut it = (!data.is_empty()).then(|| body.split(|&b| b == b'\n'));
    std::iter::from_fn(move || it.as_mut()?.next())
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

/// Parses one record line with upstream's rules: `encoded`, `original` and `kind` present
/// and not null, `encoded` and `kind` non-empty, `original` unpadded base64url.
pub(crate) fn parse_line(line: &[u8]) -> Result<Record, String> {
    if line.len() > MAX_LINE {
        return Err(format!("line longer than {MAX_LINE} bytes"));
    }
    let v = gojson::parse(line).map_err(|e| e.to_string())?;
    let JVal::Obj(members) = &v else {
        return Err("a record must be a JSON object".into());
    };
    for name in ["encoded", "original", "kind"] {
        match members.iter().rev().find(|(k, _)| k == name) {
            None => return Err(format!("missing field {name:?}")),
            Some((_, JVal::Null)) => return Err(format!("field {name:?} is null")),
            Some(_) => {}
        }
    }
    let (mut encoded, mut b64, mut kind) = (String::new(), String::new(), String::new());
    gojson::for_fields(
        &v,
        "KeymapRecord",
        &["encoded", "original", "kind"],
        |i, x| match i {
            0 => set_str(&mut encoded, x, "encoded"),
            1 => set_str(&mut b64, x, "original"),
            _ => set_str(&mut kind, x, "kind"),
        },
    )
    .map_err(|e| e.to_string())?;
    if encoded.is_empty() || kind.is_empty() {
        return Err("missing encoded or kind".into());
    }
    let original = RAW_URL
        .decode(b64.as_bytes())
        .map_err(|e| format!("original is not unpadded base64url: {e}"))?;
    Ok(Record {
        encoded,
        original,
        kind,
    })
}

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
    fn line_parsing_tv14() {
        let r = parse_line(
            br#"{"encoded":"a/b.elastickv-leaf-data","original":"YS9i","kind":"s3-leaf-data"}"#,
        )
        .unwrap();
        assert_eq!(r, rec("a/b.elastickv-leaf-data", b"a/b", "s3-leaf-data"));
        assert_eq!(
            parse_line(br#"{"encoded":"x","original":"-_8A","kind":"sha-fallback"}"#)
                .unwrap()
                .original,
            [0xfb, 0xff, 0x00]
        );
        for bad in [
            &br#"{"encoded":"x","original":"YQ","kind":null}"#[..],
            br#"{"encoded":"x","kind":"k"}"#,
            br#"{"encoded":"","original":"YQ","kind":"k"}"#,
            br#"{"encoded":"x","original":"YQ==","kind":"k"}"#,
            br#"{"encoded":"x","original":"Y+","kind":"k"}"#,
            br#"{"encoded":1,"original":"YQ","kind":"k"}"#,
            b"[]",
            b"",
        ] {
            assert!(parse_line(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let got: Vec<_> = lines(b"a\r\nb\n\nc").collect();
        assert_eq!(got, [(1, &b"a"[..]), (2, b"b"), (3, b""), (4, b"c")]);
        assert_eq!(lines(b"a\n").count(), 1);
        assert_eq!(lines(b"").count(), 0);
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
