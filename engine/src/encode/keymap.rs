//! `KEYMAP.jsonl` lines (docs/format/00-container.md §5): how a reader maps a name on disk back to the
//! original key bytes when the name alone cannot say (fallbacks, renames).

use super::json::write_str;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Why a KEYMAP record exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeymapKind {
    /// The name is a SHA-256 fallback of a long or ambiguous key.
    ShaFallback,
    /// An S3 object renamed with `.elastickv-leaf-data` because a directory has its name.
    S3LeafData,
    /// An S3 object whose key ends in the sidecar suffix, renamed with `.user-data`.
    MetaSuffixRename,
    /// Ours: an S3 object key that is not a safe relative path, stored under an encoded name.
    S3UnsafeKey,
    /// Ours: an S3 object whose name would overwrite a control file of the bucket directory.
    S3ControlName,
}

impl KeymapKind {
    /// The `kind` string written in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            KeymapKind::ShaFallback => "sha-fallback",
            KeymapKind::S3LeafData => "s3-leaf-data",
            KeymapKind::MetaSuffixRename => "meta-suffix-rename",
            KeymapKind::S3UnsafeKey => "s3-unsafe-key",
            KeymapKind::S3ControlName => "s3-control-name",
        }
    }
}

/// Appends one record line (with its trailing `\n`) to `out`:
/// `{"encoded":…,"original":<base64url no pad>,"kind":…}`.
pub fn write_keymap_line(out: &mut Vec<u8>, encoded: &[u8], original: &[u8], kind: KeymapKind) {
    out.extend_from_slice(b"{\"encoded\":");
    write_str(out, encoded);
    out.extend_from_slice(b",\"original\":\"");
    let mut b64 = String::new();
    URL_SAFE_NO_PAD.encode_string(original, &mut b64);
    out.extend_from_slice(b64.as_bytes());
    out.extend_from_slice(b"\",\"kind\":");
    write_str(out, kind.as_str().as_bytes());
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(enc: &[u8], orig: &[u8], kind: KeymapKind) -> String {
        let mut o = Vec::new();
        write_keymap_line(&mut o, enc, orig, kind);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn tv14() {
        let orig = vec![b'k'; 300];
        let enc = crate::encode::filename::encode_segment(&orig);
        assert_eq!(
            line(enc.as_bytes(), &orig, KeymapKind::ShaFallback),
            format!(
                "{{\"encoded\":\"17b16d8ef494060fefa36a6a41567b8c__{}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
                "k".repeat(64),
                "a2tr".repeat(100)
            )
        );
        assert_eq!(
            line(b"path/to.elastickv-leaf-data", b"path/to", KeymapKind::S3LeafData),
            "{\"encoded\":\"path/to.elastickv-leaf-data\",\"original\":\"cGF0aC90bw\",\"kind\":\"s3-leaf-data\"}\n"
        );
        assert_eq!(
            line(
                b"a<b>&.elastickv-meta.json.user-data",
                b"a<b>&.elastickv-meta.json",
                KeymapKind::MetaSuffixRename
            ),
            "{\"encoded\":\"a<b>&.elastickv-meta.json.user-data\",\"original\":\"YTxiPiYuZWxhc3RpY2t2LW1ldGEuanNvbg\",\"kind\":\"meta-suffix-rename\"}\n"
        );
        assert!(
            line(b"x", &[0xfb, 0xff, 0], KeymapKind::ShaFallback).contains("\"original\":\"-_8A\"")
        );
    }
}
