//! Errors of the S3 adapter. Each message ends in upstream's sentinel text (docs/format/20-s3.md §9)
//! where upstream has one, preceded — as upstream's wrapped errors are — by the bucket,
//! object and what exactly is wrong.

use elastickv_backup_format::Family;

/// Go's `%q` rendering of key bytes, used to name buckets and objects in messages.
pub(crate) fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    let mut rest = b;
    while !rest.is_empty() {
        let (chunk, bad) = match std::str::from_utf8(rest) {
            Ok(v) => (v, None),
            Err(e) => {
                let good = e.valid_up_to();
                (
                    std::str::from_utf8(&rest[..good]).unwrap_or_default(),
                    rest.get(good).copied(),
                )
            }
        };
        for c in chunk.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\x07' => s.push_str("\\a"),
                '\x08' => s.push_str("\\b"),
                '\x0c' => s.push_str("\\f"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                '\x0b' => s.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    s.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{ad}' => {
                    let n = c as u32;
                    if n <= 0xffff {
                        s.push_str(&format!("\\u{n:04x}"));
                    } else {
                        s.push_str(&format!("\\U{n:08x}"));
                    }
                }
                c => s.push(c),
            }
        }
        rest = &rest[chunk.len()..];
        if let Some(byte) = bad {
            s.push_str(&format!("\\x{byte:02x}"));
            rest = &rest[1..];
        }
    }
    s.push('"');
    s
}

/// Errors of the S3 adapter.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// A key of an S3 family does not parse (or names a bucket that cannot be a directory).
    #[error("{what} {key}: backup: malformed S3 key")]
    MalformedKey {
        /// Which family / what is wrong.
        what: &'static str,
        /// The key, quoted.
        key: String,
    },
    /// A bucket meta value is not the JSON upstream writes.
    #[error("bucket {bucket}: {detail}: backup: invalid {} value", Family::S3BucketMeta.label())]
    InvalidBucketMeta {
        /// Bucket name, quoted.
        bucket: String,
        /// The decode failure, as Go's decoder would report it.
        detail: elastickv_backup_gocompat::json::JsonError,
    },
    /// A manifest value is not the JSON upstream writes, or declares an impossible part.
    #[error("bucket {bucket} object {object}: {detail}: backup: invalid {} value", Family::S3ObjHead.label())]
    InvalidManifest {
        /// Bucket name, quoted.
        bucket: String,
        /// Object key, quoted.
        object: String,
        /// What is wrong.
        detail: String,
    },
    /// An object key ends in the reserved sidecar suffix and `--rename-collisions` is off.
    #[error("bucket {bucket} object {object}: backup: user S3 object key collides with reserved sidecar suffix")]
    MetaSuffixCollision {
        /// Bucket name, quoted.
        bucket: String,
        /// Object key, quoted.
        object: String,
    },
    /// A declared part's chunks are missing (or an undeclared chunk number exists).
    #[error("bucket {bucket} object {object}: {detail}: backup: incomplete blob chunks for manifest-declared part")]
    IncompleteBlobChunks {
        /// Bucket name, quoted.
        bucket: String,
        /// Object key, quoted.
        object: String,
        /// Which part, which chunk, what was found.
        detail: String,
    },
    /// A chunk reference does not match its payload or the manifest.
    #[error("bucket {bucket} object {object}: {detail}: backup: invalid S3 chunk reference")]
    InvalidChunkRef {
        /// Bucket name, quoted.
        bucket: String,
        /// Object key, quoted.
        object: String,
        /// What disagrees.
        detail: String,
    },
    /// A chunk reference value cannot be decoded.
    #[error("chunkref key {key}: {detail}: backup: invalid S3 chunk reference")]
    UndecodableChunkRef {
        /// The key, quoted.
        key: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// A content-addressed payload does not hash to its key.
    #[error("key digest={key_digest} actual={actual}: backup: S3 chunkblob hash mismatch")]
    ChunkBlobHashMismatch {
        /// Digest named by the key.
        key_digest: String,
        /// Digest of the value.
        actual: String,
    },
    /// The assembled body disagrees with the sizes the manifest declares (ours: upstream
    /// writes such a body without complaint).
    #[error(
        "bucket {bucket} object {object}: {detail}: S3 object body does not match its manifest"
    )]
    SizeMismatch {
        /// Bucket name, quoted.
        bucket: String,
        /// Object key, quoted.
        object: String,
        /// Which sizes disagree.
        detail: String,
    },
    /// A manifest disappeared between the index pass and the main pass.
    #[error("bucket {bucket} object {object}: manifest seen in the index pass but not in the main pass (the source changed while being read)")]
    ManifestVanished {
        /// Bucket name, quoted.
        bucket: String,
        /// Object key, quoted.
        object: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_like_go() {
        assert_eq!(quote(b"meta"), "\"meta\"");
        assert_eq!(quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote(b"\x00\x01\n\x7f"), r#""\x00\x01\n\x7f""#);
        assert_eq!(quote("値".as_bytes()), "\"値\"");
        assert_eq!(quote(b"a\xffb"), r#""a\xffb""#);
        assert_eq!(quote("\u{2028}".as_bytes()), r#""\u2028""#);
    }

    #[test]
    fn golden_message() {
        let e = S3Error::MetaSuffixCollision {
            bucket: quote(b"meta"),
            object: quote(b"report.elastickv-meta.json"),
        };
        assert_eq!(
            e.to_string(),
            "bucket \"meta\" object \"report.elastickv-meta.json\": backup: user S3 object key collides with reserved sidecar suffix"
        );
    }
}
