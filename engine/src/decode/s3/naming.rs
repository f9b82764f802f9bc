//! Where an S3 object lands inside its bucket directory (docs/format/20-s3.md §7, §8, §8.6, plus
//! this project's encoding for keys that cannot be a path).
//!
//! An object key is normally used verbatim as a relative path. Keys that cannot be one
//! safely — empty, `.`/`..` or empty segments, NUL, `\`, non-UTF-8 bytes, or a name too
//! long for the filesystem once the sidecar suffix is added — and keys whose first
//! segment is one of the bucket directory's control names are instead stored flat under
//! [`ESCAPED_DIR`], named by [`flat_name`], and recorded in `KEYMAP.jsonl`. Since every
//! key whose first segment is `_escaped_keys` is itself escaped, nothing else ever lives
//! there and the scheme cannot collide.

use crate::encode::filename::{encode_segment, is_sha_fallback, sha_fallback};
use crate::sinks::path::NAME_MAX;
use sha2::{Digest, Sha256};

/// The sidecar suffix (reserved: object keys ending in it need `--rename-collisions`).
pub const META_SUFFIX: &str = ".elastickv-meta.json";
/// Appended to an object whose name is also a directory prefix of another object.
pub const LEAF_SUFFIX: &str = ".elastickv-leaf-data";
/// Appended to an object whose name ends in [`META_SUFFIX`] (with `--rename-collisions`).
pub(crate) const USER_DATA_SUFFIX: &str = ".user-data";
/// The directory holding objects stored under an encoded flat name.
pub const ESCAPED_DIR: &str = "_escaped_keys";

/// First segments owned by the dump format: control files and directories of the bucket
/// directory. An object key starting with one of them is escaped.
pub(crate) const RESERVED_FIRST: [&str; 5] = [
    "_bucket.json",
    "KEYMAP.jsonl",
    "_orphans",
    "_incomplete_uploads",
    ESCAPED_DIR,
];

/// How a key relates to the path namespace of the bucket directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Usable verbatim as a relative path.
    Natural,
    /// Not a safe relative path (escaped, kind `s3-unsafe-key`).
    Unsafe,
    /// Would overwrite or shadow a control file (escaped, kind `s3-control-name`).
    Control,
}

/// Classifies an object key. Long segments are judged with the sidecar suffix added, so a
/// natural name always leaves room for its sidecar.
pub(crate) fn classify(name: &[u8]) -> Class {
    let Ok(s) = std::str::from_utf8(name) else {
        return Class::Unsafe;
    };
    if s.is_empty() || s.contains('\0') || s.contains('\\') {
        return Class::Unsafe;
    }
    let mut segs = s.split('/').peekable();
    let first = segs.peek().copied().unwrap_or("");
    while let Some(seg) = segs.next() {
        let limit = if segs.peek().is_none() {
            NAME_MAX - META_SUFFIX.len()
        } else {
            NAME_MAX
        };
        if seg.is_empty() || seg == "." || seg == ".." || seg.len() > limit {
            return Class::Unsafe;
        }
    }
    if RESERVED_FIRST.contains(&first) {
        return Class::Control;
    }
    Class::Natural
}

/// Whether the last segment of `name` plus `extra` bytes of rename suffix still leaves
/// room for the sidecar suffix within one file name.
pub(crate) fn last_segment_fits(name: &str, extra: usize) -> bool {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.len() + extra + META_SUFFIX.len() <= NAME_MAX
}

/// Longest flat name kept in percent form; leaves room for the sidecar suffix.
const FLAT_MAX: usize = NAME_MAX - META_SUFFIX.len();

fn percent_no_dot(out: &mut String, raw: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in raw {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        }
    }
}

/// The file name of an escaped object inside [`ESCAPED_DIR`]: every byte outside
/// `[A-Za-z0-9_-]` percent-encoded (`.` and `/` included, so the name never ends in the
/// sidecar suffix and is never `.`/`..`); when that is empty, longer than 235 bytes or
/// shaped like a SHA fallback, `hex(sha256(key))[..32]__` followed by the same encoding
/// of the first 64 key bytes instead. Injective (up to SHA-256 collisions), so two keys
/// never share a name; KEYMAP.jsonl holds the exact original.
pub fn flat_name(key: &[u8]) -> String {
    if key.len() <= FLAT_MAX {
        let mut s = String::with_capacity(key.len());
        percent_no_dot(&mut s, key);
        if !s.is_empty() && s.len() <= FLAT_MAX && !is_sha_fallback(&s) {
            return s;
        }
    }
    let digest = Sha256::digest(key);
    let mut s = hex::encode(&digest[..16]);
    s.push_str("__");
    percent_no_dot(&mut s, &key[..key.len().min(64)]);
    s
}

/// The orphan directory name of an object (§8.6): the generic segment encoding, or the
/// SHA fallback form for the three names that encoding cannot make a directory of
/// (``, `.`, `..`, which upstream refuses).
pub(crate) fn orphan_object_dir(name: &[u8]) -> String {
    let e = encode_segment(name);
    if e.is_empty() || e == "." || e == ".." {
        sha_fallback(name)
    } else {
        e
    }
}

/// An orphan chunk's file name (§8.6): `E(upload)_<part>_<chunk>_<version>.bin`, the
/// numbers as 16 lowercase hex digits. An upload ID too long for that to fit in one file
/// name is written as `hex(sha256(upload))[..32]__` (upstream fails on it).
pub(crate) fn orphan_chunk_file(upload: &[u8], part: u64, chunk: u64, version: u64) -> String {
    let tail = format!("_{part:016x}_{chunk:016x}_{version:016x}.bin");
    let mut e = encode_segment(upload);
    if e.len() + tail.len() > NAME_MAX {
        let digest = Sha256::digest(upload);
        e = hex::encode(&digest[..16]);
        e.push_str("__");
    }
    e.push_str(&tail);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(b"2026/04/img.jpg"), Class::Natural);
        assert_eq!(classify(b"ctl\x01\n.txt"), Class::Natural);
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"a/../b",
            b"a//b",
            b"/lead",
            b"trail/",
            b"back\\slash",
            b"nul\x00x",
            b"\xff",
        ] {
            assert_eq!(classify(bad), Class::Unsafe, "{bad:?}");
        }
        let long = format!("p/{}", "L".repeat(300));
        assert_eq!(classify(long.as_bytes()), Class::Unsafe);
        assert_eq!(classify("L".repeat(235).as_bytes()), Class::Natural);
        assert_eq!(classify("L".repeat(236).as_bytes()), Class::Unsafe);
        assert_eq!(
            classify(format!("{}/x", "L".repeat(255)).as_bytes()),
            Class::Natural
        );
        for c in [
            "_bucket.json",
            "KEYMAP.jsonl",
            "_orphans/x",
            "_incomplete_uploads/r",
            "_escaped_keys",
        ] {
            assert_eq!(classify(c.as_bytes()), Class::Control, "{c}");
        }
        assert_eq!(classify(b"_bucket.json.bak"), Class::Natural);
        assert_eq!(classify(b"x/_bucket.json"), Class::Natural);
        assert!(last_segment_fits(&"L".repeat(215), 20));
        assert!(!last_segment_fits(&"L".repeat(216), 20));
    }

    #[test]
    fn flat_names_are_distinct_and_safe() {
        assert_eq!(flat_name(b"_bucket.json"), "_bucket%2Ejson");
        assert_eq!(flat_name(b"a/../b"), "a%2F%2E%2E%2Fb");
        assert_eq!(flat_name(b"."), "%2E");
        assert_eq!(
            flat_name(b"x.elastickv-meta.json"),
            "x%2Eelastickv-meta%2Ejson"
        );
        let empty = flat_name(b"");
        assert_eq!(empty, "e3b0c44298fc1c149afbf4c8996fb924__");
        let long = vec![b'L'; 300];
        let f = flat_name(&long);
        assert!(is_sha_fallback(&f) && f.len() <= FLAT_MAX, "{f}");
        // A key that already looks like a fallback is not mistaken for one.
        let fake = b"e3b0c44298fc1c149afbf4c8996fb924__";
        assert_ne!(flat_name(fake), empty);
        for k in [&b""[..], b".", b"..", b"a/b", &long] {
            let f = flat_name(k);
            assert!(crate::sinks::path::check_segment(&f).is_ok());
            assert!(!f.ends_with(META_SUFFIX));
        }
    }

    #[test]
    fn orphan_names_tv6() {
        assert_eq!(orphan_object_dir(b"orph/an"), "orph%2Fan");
        assert_eq!(orphan_object_dir(b"old.txt"), "old.txt");
        assert!(is_sha_fallback(&orphan_object_dir(b"..")));
        assert_eq!(
            orphan_chunk_file(b"u0", 1, 0, 0),
            "u0_0000000000000001_0000000000000000_0000000000000000.bin"
        );
        assert_eq!(
            orphan_chunk_file(b"up 1", 2, 3, 4),
            "up%201_0000000000000002_0000000000000003_0000000000000004.bin"
        );
        let long = orphan_chunk_file(&[b'u'; 230], 1, 0, 0);
        assert!(
            long.len() <= NAME_MAX
                && long.starts_with(&hex::encode(&Sha256::digest([b'u'; 230])[..16]))
        );
    }
}
