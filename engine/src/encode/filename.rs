//! Key bytes → one path segment, exactly as upstream names files (docs/format/00-container.md §4).
//!
//! Every directory or file name derived from user bytes (tables, keys, buckets, queues)
//! goes through here so the dump is readable with plain tools and still reversible:
//! percent-encoding of everything outside RFC 3986's unreserved set, a `b64.` form for
//! binary DynamoDB keys, and a SHA-256 fallback (recorded in KEYMAP.jsonl) for long names.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Longest encoded segment upstream writes (bytes).
pub const KEY_SEGMENT_MAX_BYTES: usize = 240;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'
}

fn percent_encode_into(out: &mut String, raw: &[u8]) {
    for &b in raw {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[(b >> 4) as usize] as char);
            out.push(HEX_UPPER[(b & 0xf) as usize] as char);
        }
    }
}

/// `hex(sha256(raw))[..32] + "__" + percent(raw[..64])`: the name for inputs too long (or
/// too ambiguous) to percent-encode. Not reversible from the name alone.
pub fn sha_fallback(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let mut out = hex::encode(&digest[..16]);
    out.push_str("__");
    percent_encode_into(&mut out, &raw[..raw.len().min(64)]);
    out
}

/// Whether an encoded segment has the shape of a SHA fallback (32 hex digits of either
/// case, then `__`). Names of that shape are always written as real fallbacks so that a
/// reader can tell the two apart.
pub fn is_sha_fallback(encoded: &str) -> bool {
    let b = encoded.as_bytes();
    b.len() >= 34 && b[..32].iter().all(|c| c.is_ascii_hexdigit()) && &b[32..34] == b"__"
}

/// Spare capacity in an encoded segment for the extension most callers append (`.json`,
/// `.bin`), so appending it does not reallocate.
const EXTENSION_ROOM: usize = 8;

/// Upstream's `EncodeSegment`: percent-encoding with the fallback rules of docs/format/00-container.md §4.
pub fn encode_segment(raw: &[u8]) -> String {
    if raw.len() > KEY_SEGMENT_MAX_BYTES {
        return sha_fallback(raw);
    }
    let mut out = String::with_capacity(raw.len() + EXTENSION_ROOM);
    for &b in raw {
        let need = if is_unreserved(b) { 1 } else { 3 };
        if out.len() + need > KEY_SEGMENT_MAX_BYTES {
            return sha_fallback(raw);
        }
        if need == 1 {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[(b >> 4) as usize] as char);
            out.push(HEX_UPPER[(b & 0xf) as usize] as char);
        }
    }
    if is_sha_fallback(&out) || out.starts_with("b64.") {
        return sha_fallback(raw);
    }
    out
}

/// Upstream's `EncodeBinarySegment` for DynamoDB `B` key attributes: `b64.` + base64url
/// without padding, or the SHA fallback past 177 bytes.
pub fn encode_binary_segment(raw: &[u8]) -> String {
    let b64_len = (8 * raw.len()).div_ceil(6);
    if 4 + b64_len > KEY_SEGMENT_MAX_BYTES {
        return sha_fallback(raw);
    }
    let mut out = String::with_capacity(4 + b64_len + EXTENSION_ROOM);
    out.push_str("b64.");
    URL_SAFE_NO_PAD.encode_string(raw, &mut out);
    out
}

/// What a segment decodes back to (the consumer side: verify, encode, restore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedSegment {
    /// The original bytes.
    Bytes(Vec<u8>),
    /// A `b64.` binary segment's bytes.
    Binary(Vec<u8>),
    /// A SHA fallback: the original is only in KEYMAP.jsonl.
    NeedsKeymap,
}

/// Why a name is not a segment this encoder could have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentDecodeError {
    /// Longer than [`KEY_SEGMENT_MAX_BYTES`].
    #[error("segment longer than {KEY_SEGMENT_MAX_BYTES} bytes")]
    TooLong,
    /// A raw byte outside the unreserved set.
    #[error("byte {0:#04x} is not allowed unescaped")]
    BadByte(u8),
    /// `%` not followed by two hex digits.
    #[error("malformed percent escape")]
    BadEscape,
    /// Invalid base64url after `b64.`.
    #[error("malformed b64. segment")]
    BadBase64,
}

/// Inverse of [`encode_segment`] / [`encode_binary_segment`] (docs/format/00-container.md §4).
pub fn decode_segment(seg: &str) -> Result<DecodedSegment, SegmentDecodeError> {
    if seg.len() > KEY_SEGMENT_MAX_BYTES {
        return Err(SegmentDecodeError::TooLong);
    }
    if is_sha_fallback(seg) {
        return Ok(DecodedSegment::NeedsKeymap);
    }
    if let Some(rest) = seg.strip_prefix("b64.") {
        return URL_SAFE_NO_PAD
            .decode(rest)
            .map(DecodedSegment::Binary)
            .map_err(|_| SegmentDecodeError::BadBase64);
    }
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let h = b.get(i + 1..i + 3).ok_or(SegmentDecodeError::BadEscape)?;
            let s = std::str::from_utf8(h).map_err(|_| SegmentDecodeError::BadEscape)?;
            out.push(u8::from_str_radix(s, 16).map_err(|_| SegmentDecodeError::BadEscape)?);
            i += 3;
        } else if is_unreserved(c) {
            out.push(c);
            i += 1;
        } else {
            return Err(SegmentDecodeError::BadByte(c));
        }
    }
    Ok(DecodedSegment::Bytes(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table_4_6() {
        assert_eq!(encode_segment(b"orders"), "orders");
        assert_eq!(encode_segment(b"session:abc 123"), "session%3Aabc%20123");
        assert_eq!(encode_segment(b""), "");
        assert_eq!(encode_segment(b"."), ".");
        assert_eq!(encode_segment(b".."), "..");
        assert_eq!(encode_segment(b"a~b"), "a%7Eb");
        assert_eq!(encode_segment("Ümlaut".as_bytes()), "%C3%9Cmlaut");
        assert_eq!(encode_segment(b"\x00\xff/"), "%00%FF%2F");
        assert_eq!(
            encode_segment(b"b64.foo"),
            "72ef1a090c013093607ce5a62f598cf4__b64.foo"
        );
        assert_eq!(
            encode_segment(b"0123456789abcdef0123456789ABCDEF__x"),
            "0a1ebe5eba653863220d4fc80ba87050__0123456789abcdef0123456789ABCDEF__x"
        );
        let a240 = "a".repeat(240);
        assert_eq!(encode_segment(a240.as_bytes()), a240);
        assert_eq!(
            encode_segment("a".repeat(241).as_bytes()),
            format!("ec6e326ef29fe322b62111584194c54e__{}", "a".repeat(64))
        );
        assert_eq!(encode_segment("/".repeat(80).as_bytes()), "%2F".repeat(80));
        assert_eq!(
            encode_segment("/".repeat(81).as_bytes()),
            format!("2a5bc5b1b5314ecd2a310f8d021df0d1__{}", "%2F".repeat(64))
        );
        assert_eq!(encode_binary_segment(&[0, 1, 2, 3]), "b64.AAECAw");
        assert_eq!(encode_binary_segment(&[0xfb, 0xff]), "b64.-_8");
        assert_eq!(encode_binary_segment(&[]), "b64.");
        assert_eq!(
            encode_binary_segment(&[1u8; 177]),
            format!("b64.{}", "AQEB".repeat(59))
        );
        assert_eq!(
            encode_binary_segment(&[1u8; 178]),
            format!("e07509dd944e17538aab94c229b3ce20__{}", "%01".repeat(64))
        );
    }

    #[test]
    fn decode_inverts_encode() {
        for raw in [
            &b"orders"[..],
            b"session:abc 123",
            b"\x00\xff/",
            b"a~b",
            b"",
        ] {
            assert_eq!(
                decode_segment(&encode_segment(raw)).unwrap(),
                DecodedSegment::Bytes(raw.to_vec())
            );
        }
        assert_eq!(
            decode_segment(&encode_binary_segment(&[0xfb, 0xff])).unwrap(),
            DecodedSegment::Binary(vec![0xfb, 0xff])
        );
        assert_eq!(
            decode_segment(&encode_segment(&[b'k'; 300])).unwrap(),
            DecodedSegment::NeedsKeymap
        );
        assert_eq!(
            decode_segment("a/b"),
            Err(SegmentDecodeError::BadByte(b'/'))
        );
        assert_eq!(decode_segment("%4"), Err(SegmentDecodeError::BadEscape));
    }
}
