//! The binary-safe `<value>` and the zset score of collection and stream files
//! (docs/format/40-redis.md §6), read from a validated JSON value with upstream's
//! encoder's rules — shared by `encode` and `restore redis`, so both accept the same files.

use crate::json::{describe, string, Kind, Record};
use crate::keymap::RAW_URL;
use base64::Engine as _;

/// A binary-safe value (docs/format/40-redis.md §6) back to bytes: a JSON string is its UTF-8 bytes,
/// `{"base64": "<unpadded base64url>"}` the decoded bytes; anything else is refused.
pub fn binary_value(raw: Option<&[u8]>, what: &str) -> Result<Vec<u8>, String> {
    let Some(raw) = raw else {
        return Err(format!("{what}: missing"));
    };
    match Kind::of(raw) {
        Kind::Str => string(raw).ok_or_else(|| format!("{what}: unreadable string")),
        Kind::Obj => {
            let r = Record::new(raw).map_err(|e| format!("{what}: {e}"))?;
            let Some(b) = r.get("base64") else {
                return Err(format!(
                    "{what}: binary value is neither a string nor a base64 envelope"
                ));
            };
            let text = string(b).ok_or_else(|| format!("{what}: base64 must be a string"))?;
            RAW_URL
                .decode(&text)
                .map_err(|e| format!("{what}: base64: {e}"))
        }
        k => Err(format!(
            "{what}: binary value is neither a string nor a base64 envelope (found {})",
            k.name()
        )),
    }
}

/// A zset score: `"+inf"`, `"-inf"` or a JSON number in `f64` range.
pub fn score(raw: Option<&[u8]>) -> Result<f64, String> {
    let raw = raw.ok_or("score: missing")?;
    match raw {
        b"\"+inf\"" => return Ok(f64::INFINITY),
        b"\"-inf\"" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    if Kind::of(raw) != Kind::Num {
        return Err(format!(
            "score: expected a number, \"+inf\" or \"-inf\", found {}",
            describe(raw)
        ));
    }
    let text = std::str::from_utf8(raw).map_err(|_| "score: not a number".to_string())?;
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err(format!("score: {text} is out of range for a float64")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_values() {
        assert_eq!(
            binary_value(Some(br#""a\u00e9""#), "x").unwrap(),
            "aé".as_bytes()
        );
        assert_eq!(
            binary_value(Some(br#"{"base64":"_w"}"#), "x").unwrap(),
            [0xff]
        );
        assert_eq!(
            binary_value(Some(br#"{"BASE64":"AAE"}"#), "x").unwrap(),
            [0, 1]
        );
        assert_eq!(binary_value(Some(br#""""#), "x").unwrap(), b"");
        for bad in [
            &br#"{"wrong":"x"}"#[..],
            br#"{"base64":null}"#,
            br#"{"base64":"AA=="}"#,
            br#"{"base64":"+/"}"#,
            br#"{"base64":1}"#,
            b"1",
            b"null",
            b"[]",
        ] {
            assert!(
                binary_value(Some(bad), "x").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(binary_value(None, "x").is_err());
    }

    #[test]
    fn scores() {
        assert_eq!(score(Some(br#""+inf""#)).unwrap(), f64::INFINITY);
        assert_eq!(score(Some(br#""-inf""#)).unwrap(), f64::NEG_INFINITY);
        assert_eq!(
            score(Some(b"-1e300")).unwrap().to_bits(),
            0xfe37e43c8800759c
        );
        assert_eq!(score(Some(b"1e+21")).unwrap(), 1e21);
        assert_eq!(score(Some(b"0.1")).unwrap().to_bits(), 0x3fb999999999999a);
        assert_eq!(score(Some(b"-0")).unwrap().to_bits(), 0x8000000000000000);
        assert_eq!(
            score(Some(b"123456789012345680000")).unwrap(),
            123456789012345680000.0
        );
        for bad in [&b"1e400"[..], br#""inf""#, br#""1""#, b"true"] {
            assert!(
                score(Some(bad)).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
