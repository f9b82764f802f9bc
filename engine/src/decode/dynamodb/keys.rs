//! Parsing of DynamoDB internal keys (docs/format/10-dynamodb.md §2): the table segment of
//! a [`Family::DdbTableMeta`] key (prefix ‖ b64url(T)) and of a [`Family::DdbItem`] key
//! (prefix ‖ b64url(T) ‖ `|` ‖ gen ‖ `|` ‖ payload).
//!
//! Only what the dump needs is parsed: the encoded table segment (the grouping key), the
//! decoded table name and the item generation. The primary-key payload is never
//! interpreted — the item's key values come from its body, as upstream does.
//!
//! [`Family::DdbTableMeta`]: crate::decode::Family::DdbTableMeta
//! [`Family::DdbItem`]: crate::decode::Family::DdbItem

use super::error::{go_quote, DdbError};
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Go's `base64.RawURLEncoding` decoder: no padding allowed, non-zero trailing bits
/// tolerated (Go's non-strict mode).
const RAW_URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decodes an unpadded base64url table segment as Go does: `\r` and `\n` are skipped.
/// The error text is Go's (`illegal base64 data at input byte N`).
pub fn b64url_decode(seg: &[u8]) -> Result<Vec<u8>, String> {
    let cleaned;
    let input: &[u8] = if seg.iter().any(|&b| b == b'\r' || b == b'\n') {
        cleaned = seg
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect::<Vec<u8>>();
        &cleaned
    } else {
        seg
    };
    RAW_URL_LENIENT.decode(input).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(at, _) => at,
            base64::DecodeError::InvalidLastSymbol(at, _) => at,
            base64::DecodeError::InvalidLength(n) => n.saturating_sub(1),
            base64::DecodeError::InvalidPadding => input.len(),
        };
        format!("illegal base64 data at input byte {at}")
    })
}

/// A parsed [`Family::DdbTableMeta`](crate::decode::Family::DdbTableMeta) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaKey {
    /// The table name (the decoded segment; names the output directory).
    pub name: Vec<u8>,
}

/// Parses the part of a table-meta key after its prefix. `full` is the whole key
/// (for messages).
pub fn parse_meta_key(rest: &[u8], full: &[u8]) -> Result<MetaKey, DdbError> {
    if rest.is_empty() {
        return Err(malformed(
            full,
            format!("empty table segment: {}", go_quote(full)),
        ));
    }
    let name = b64url_decode(rest).map_err(|d| malformed(full, d))?;
    Ok(MetaKey { name })
}

/// A parsed [`Family::DdbItem`](crate::decode::Family::DdbItem) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemKey<'a> {
    /// The encoded table segment (exact bytes; the grouping key).
    pub encoded_table: &'a [u8],
    /// The table name decoded from the segment; `None` when the segment is the caller's
    /// `known_table` (see [`parse_item_key`]).
    pub name: Option<Vec<u8>>,
    /// The item's generation.
    pub generation: u64,
}

/// Parses the part of an item key after its prefix. `full` is the whole key.
///
/// `known_table` is the table segment of the previous item, which decoded: items come in
/// runs of one table, so a segment equal to it is not decoded again (a base64 decode and an
/// allocation per item) and yields the same result — and the same errors, which come from
/// the rest of the key.
pub fn parse_item_key<'a>(
    rest: &'a [u8],
    full: &[u8],
    known_table: Option<&[u8]>,
) -> Result<ItemKey<'a>, DdbError> {
    let table_end = match rest.iter().position(|&b| b == b'|') {
        Some(i) if i > 0 => i,
        _ => {
            let d = format!("item key missing table/gen separator: {}", go_quote(full));
            return Err(malformed(full, d));
        }
    };
    let (encoded_table, after) = rest.split_at(table_end);
    let name = if known_table == Some(encoded_table) {
        None
    } else {
        Some(b64url_decode(encoded_table).map_err(|d| malformed(full, d))?)
    };
    let after = after.get(1..).unwrap_or_default();
    let gen_end = match after.iter().position(|&b| b == b'|') {
        Some(i) if i > 0 => i,
        _ => {
            let d = format!("item key missing gen/rest separator: {}", go_quote(full));
            return Err(malformed(full, d));
        }
    };
    let generation =
        parse_go_uint(after.get(..gen_end).unwrap_or_default()).map_err(|d| malformed(full, d))?;
    if gen_end + 1 == after.len() {
        let d = format!("item key missing primary-key payload: {}", go_quote(full));
        return Err(malformed(full, d));
    }
    Ok(ItemKey {
        encoded_table,
        name,
        generation,
    })
}

/// `strconv.ParseUint(s, 10, 64)`, with Go's error texts.
fn parse_go_uint(s: &[u8]) -> Result<u64, String> {
    // Quoted only on the error path: every item key passes through here.
    let fail = |why: &str| format!("strconv.ParseUint: parsing {}: {why}", go_quote(s));
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(fail("invalid syntax"));
    }
    let mut v: u64 = 0;
    for &d in s {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(|| fail("value out of range"))?;
    }
    Ok(v)
}

fn malformed(full: &[u8], detail: String) -> DdbError {
    DdbError::MalformedKey {
        key: go_quote(full),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Family;

    /// Parses [`Family::DdbItem`] ‖ `rest`.
    fn item(rest: &[u8]) -> Result<ItemKey<'_>, DdbError> {
        parse_item_key(rest, &[Family::DdbItem.prefix(), rest].concat(), None)
    }

    #[test]
    fn item_keys() {
        let k = item(b"dXNlcnM|1|u1\x00\x01").unwrap();
        assert_eq!(
            (k.encoded_table, k.name.as_deref(), k.generation),
            (&b"dXNlcnM"[..], Some(&b"users"[..]), 1)
        );
        // A segment the caller knows is not decoded again; the rest is still checked.
        let full = [Family::DdbItem.prefix(), b"dXNlcnM|2|u1"].concat();
        let k = parse_item_key(b"dXNlcnM|2|u1", &full, Some(b"dXNlcnM")).unwrap();
        assert_eq!((k.name, k.generation), (None, 2));
        let full = [Family::DdbItem.prefix(), b"dXNlcnM|x|u1"].concat();
        assert!(parse_item_key(b"dXNlcnM|x|u1", &full, Some(b"dXNlcnM")).is_err());
        let full = [Family::DdbItem.prefix(), b"b3JkZXJz|1|u1"].concat();
        let k = parse_item_key(b"b3JkZXJz|1|u1", &full, Some(b"dXNlcnM")).unwrap();
        assert_eq!(k.name.as_deref(), Some(&b"orders"[..]));
        let k = item(b"dA|18446744073709551615|x").unwrap();
        assert_eq!(k.generation, u64::MAX);
        // V9: missing primary-key payload.
        let e = item(b"dXNlcnM|1|").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "item key missing primary-key payload: \"!ddb|item|dXNlcnM|1|\": backup: malformed DynamoDB key"
            ),
            "{e}"
        );
        for bad in [
            &b"dXNlcnM"[..],
            b"|1|x",
            b"dA||x",
            b"dA|1",
            b"dA|-1|x",
            b"dA|+1|x",
            b"dA|18446744073709551616|x",
            b"d$|1|x",
            b"d|1|x",
        ] {
            let e = item(bad).unwrap_err().to_string();
            assert!(e.contains("backup: malformed DynamoDB key"), "{e}");
        }
        let e = item(b"dA|x|y").unwrap_err().to_string();
        assert!(
            e.starts_with("strconv.ParseUint: parsing \"x\": invalid syntax: "),
            "{e}"
        );
        let e = item(b"dA|18446744073709551616|y").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "strconv.ParseUint: parsing \"18446744073709551616\": value out of range: "
            ),
            "{e}"
        );
    }

    #[test]
    fn meta_keys_and_lenient_base64() {
        let full = [Family::DdbTableMeta.prefix(), b"QmluIFRhYmxl"].concat();
        let k = parse_meta_key(b"QmluIFRhYmxl", &full).unwrap();
        assert_eq!(k.name, b"Bin Table");
        // V9: empty table segment.
        let e = parse_meta_key(b"", Family::DdbTableMeta.prefix())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "empty table segment: \"!ddb|meta|table|\": backup: malformed DynamoDB key"
            ),
            "{e}"
        );
        // Go skips CR/LF and tolerates non-zero trailing bits; padding is refused.
        assert_eq!(b64url_decode(b"dX\nNl\rcnM").unwrap(), b"users");
        assert_eq!(b64url_decode(b"dB").unwrap(), b"t");
        assert!(b64url_decode(b"dA==").is_err());
        assert_eq!(
            b64url_decode(b"d+A").unwrap_err(),
            "illegal base64 data at input byte 1"
        );
    }
}
