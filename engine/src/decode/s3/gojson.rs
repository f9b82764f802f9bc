//! Reading S3 metadata JSON with the semantics of Go's `encoding/json` (docs/format/20-s3.md §4).
//!
//! Upstream decodes bucket and manifest values with `json.Unmarshal` into structs, so a
//! compatible reader must: match object keys to fields case-insensitively (exact match
//! preferred), process members in document order (a later duplicate wins, and decoding
//! into a slice or map that already holds values *merges* into it), treat `null` as a
//! no-op for scalars and as "reset" for slices and maps, refuse numbers that do not fit
//! the field, and replace each invalid UTF-8 byte with U+FFFD. serde_json parses the
//! syntax; this module keeps member order and applies those rules.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A parsed JSON value with object members in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JVal {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A non-negative integer literal.
    U(u64),
    /// A negative integer literal.
    I(i64),
    /// Any other number (fraction, exponent, out of integer range).
    F,
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<JVal>),
    /// An object, members in document order (duplicates kept).
    Obj(Vec<(String, JVal)>),
}

struct JValVisitor;

impl<'de> Visitor<'de> for JValVisitor {
    type Value = JVal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<JVal, E> {
        Ok(JVal::Null)
    }
    fn visit_none<E>(self) -> Result<JVal, E> {
        Ok(JVal::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<JVal, E> {
        Ok(JVal::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JVal, E> {
        Ok(JVal::U(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JVal, E> {
        Ok(JVal::I(v))
    }
    fn visit_f64<E>(self, _v: f64) -> Result<JVal, E> {
        Ok(JVal::F)
    }
    fn visit_str<E>(self, v: &str) -> Result<JVal, E> {
        Ok(JVal::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<JVal, E> {
        Ok(JVal::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JVal, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element::<JVal>()? {
            v.push(x);
        }
        Ok(JVal::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JVal, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = map.next_entry::<String, JVal>()? {
            v.push((k, x));
        }
        Ok(JVal::Obj(v))
    }
}

impl<'de> Deserialize<'de> for JVal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JVal, D::Error> {
        d.deserialize_any(JValVisitor)
    }
}

/// Replaces every byte that does not start a valid UTF-8 sequence with U+FFFD, one
/// replacement per byte, as Go's decoder does (Rust's lossy conversion would merge a
/// truncated sequence into one replacement).
pub(crate) fn go_lossy(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let good = e.valid_up_to();
                // Safe split: `good` bytes are valid UTF-8.
                out.push_str(std::str::from_utf8(&rest[..good]).unwrap_or_default());
                out.push('\u{fffd}');
                rest = &rest[good + 1..];
            }
        }
    }
    out
}

fn hex4(s: &[u8]) -> Option<u32> {
    let h = std::str::from_utf8(s.get(..4)?).ok()?;
    u32::from_str_radix(h, 16).ok()
}

/// Rewrites `\uXXXX` escapes of unpaired UTF-16 surrogates to `\ufffd`, as Go's decoder
/// substitutes U+FFFD for them where serde_json would fail.
fn fix_surrogates(s: String) -> String {
    let b = s.as_bytes();
    if !b.windows(2).any(|w| w == b"\\u") {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let (mut i, mut start) = (0, 0);
    while i + 1 < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b[i + 1] != b'u' {
            i += 2; // another escape, e.g. `\\`: its second byte is not an escape start
            continue;
        }
        let Some(v) = hex4(&b[i + 2..]) else {
            i += 2;
            continue;
        };
        let paired = (0xD800..0xDC00).contains(&v)
            && b.get(i + 6..i + 8) == Some(b"\\u")
            && hex4(&b[i + 8..]).is_some_and(|w| (0xDC00..0xE000).contains(&w));
        if paired {
            i += 12;
        } else if (0xD800..0xE000).contains(&v) {
            out.push_str(&s[start..i]);
            out.push_str("\\ufffd");
            i += 6;
            start = i;
        } else {
            i += 6;
        }
    }
    out.push_str(&s[start..]);
    out
}

/// Parses one JSON document (the whole input; trailing non-space is an error).
pub(crate) fn parse(b: &[u8]) -> Result<JVal, String> {
    serde_json::from_str::<JVal>(&fix_surrogates(go_lossy(b))).map_err(|e| e.to_string())
}

/// Go's key folding for matching struct fields: ASCII case plus the four non-ASCII
/// letters whose simple case folding lands on an ASCII letter (`ſ`, Kelvin `K`, `ı`,
/// `İ`). Field names here are ASCII, so nothing else can match.
fn fold_eq(key: &str, field: &str) -> bool {
    let mut k = key.chars();
    for f in field.bytes() {
        let Some(c) = k.next() else { return false };
        let c = match c {
            'ſ' => 'S',
            '\u{212A}' => 'K',
            'ı' | 'İ' => 'I',
            c if c.is_ascii() => c.to_ascii_uppercase(),
            _ => return false,
        };
        if c as u32 != f.to_ascii_uppercase() as u32 {
            return false;
        }
    }
    k.next().is_none()
}

/// Which of `fields` a member name fills: the exact match if any, else the first
/// case-insensitive one (Go's rule), else `None` (ignored).
pub(crate) fn field_index(key: &str, fields: &[&str]) -> Option<usize> {
    fields
        .iter()
        .position(|f| *f == key)
        .or_else(|| fields.iter().position(|f| fold_eq(key, f)))
}

/// A type error while filling a field (Go's `UnmarshalTypeError`).
pub(crate) fn type_err(field: &str, want: &str, got: &JVal) -> String {
    let what = match got {
        JVal::Null => "null",
        JVal::Bool(_) => "bool",
        JVal::U(_) | JVal::I(_) | JVal::F => "number",
        JVal::Str(_) => "string",
        JVal::Arr(_) => "array",
        JVal::Obj(_) => "object",
    };
    format!("cannot unmarshal {what} into field {field} of type {want}")
}

/// Fills a `string` field; `null` leaves it unchanged.
pub(crate) fn set_str(dst: &mut String, v: &JVal, field: &str) -> Result<(), String> {
    match v {
        JVal::Null => Ok(()),
        JVal::Str(s) => {
            dst.clone_from(s);
            Ok(())
        }
        other => Err(type_err(field, "string", other)),
    }
}

/// Fills a `uint64` field: only a non-negative integer literal fits.
pub(crate) fn set_u64(dst: &mut u64, v: &JVal, field: &str) -> Result<(), String> {
    match v {
        JVal::Null => Ok(()),
        JVal::U(n) => {
            *dst = *n;
            Ok(())
        }
        other => Err(type_err(field, "uint64", other)),
    }
}

/// Fills an `int64` field.
pub(crate) fn set_i64(dst: &mut i64, v: &JVal, field: &str) -> Result<(), String> {
    match v {
        JVal::Null => Ok(()),
        JVal::U(n) => {
            *dst = i64::try_from(*n).map_err(|_| type_err(field, "int64", v))?;
            Ok(())
        }
        JVal::I(n) => {
            *dst = *n;
            Ok(())
        }
        other => Err(type_err(field, "int64", other)),
    }
}

/// Fills a `bool` field.
pub(crate) fn set_bool(dst: &mut bool, v: &JVal, field: &str) -> Result<(), String> {
    match v {
        JVal::Null => Ok(()),
        JVal::Bool(b) => {
            *dst = *b;
            Ok(())
        }
        other => Err(type_err(field, "bool", other)),
    }
}

/// Decodes an array into an existing slice the way Go does: elements decode *into* the
/// existing ones (keeping fields the new element does not set), extra old elements are
/// dropped, `null` resets the slice.
pub(crate) fn set_slice<T: Default>(
    dst: &mut Vec<T>,
    v: &JVal,
    field: &str,
    mut elem: impl FnMut(&mut T, &JVal) -> Result<(), String>,
) -> Result<(), String> {
    match v {
        JVal::Null => {
            dst.clear();
            Ok(())
        }
        JVal::Arr(items) => {
            let mut first_err = None;
            for (i, it) in items.iter().enumerate() {
                if i >= dst.len() {
                    dst.push(T::default());
                }
                if let Some(slot) = dst.get_mut(i) {
                    if let Err(e) = elem(slot, it) {
                        first_err.get_or_insert(e);
                    }
                }
            }
            dst.truncate(items.len());
            first_err.map_or(Ok(()), Err)
        }
        other => Err(type_err(field, "array", other)),
    }
}

/// Walks an object's members in order, calling `apply(field_index, value)` for members
/// that match one of `fields`. Non-objects are a type error; `null` is a no-op.
pub(crate) fn for_fields(
    v: &JVal,
    what: &str,
    fields: &[&str],
    mut apply: impl FnMut(usize, &JVal) -> Result<(), String>,
) -> Result<(), String> {
    match v {
        JVal::Null => Ok(()),
        JVal::Obj(members) => {
            // Go keeps decoding after a type error and reports the first one at the end.
            let mut first_err = None;
            for (k, x) in members {
                if let Some(i) = field_index(k, fields) {
                    if let Err(e) = apply(i, x) {
                        first_err.get_or_insert(e);
                    }
                }
            }
            first_err.map_or(Ok(()), Err)
        }
        other => Err(type_err(what, "struct", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_is_per_byte() {
        assert_eq!(go_lossy(b"a\xe2\x82b"), "a\u{fffd}\u{fffd}b");
        assert_eq!(go_lossy("é".as_bytes()), "é");
        assert_eq!(go_lossy(b"\xff"), "\u{fffd}");
    }

    #[test]
    fn parse_keeps_order_and_number_kinds() {
        let v =
            parse(br#"{"b":1,"a":-2,"b":1.5,"c":1e3,"d":18446744073709551616,"e":null}"#).unwrap();
        let JVal::Obj(m) = v else { panic!() };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b", "c", "d", "e"]);
        assert_eq!(m[0].1, JVal::U(1));
        assert_eq!(m[1].1, JVal::I(-2));
        assert_eq!(m[2].1, JVal::F);
        assert_eq!(m[3].1, JVal::F);
        assert_eq!(m[4].1, JVal::F);
        assert_eq!(m[5].1, JVal::Null);
        assert!(parse(b"").is_err());
        assert!(parse(b"{} x").is_err());
        assert!(parse(b"not json").is_err());
        // Lone surrogate escapes become U+FFFD (each escape on its own); pairs combine.
        assert_eq!(
            parse(br#""\ud800x""#).unwrap(),
            JVal::Str("\u{fffd}x".into())
        );
        assert_eq!(
            parse(br#""\udc00\ud800\u0041""#).unwrap(),
            JVal::Str("\u{fffd}\u{fffd}A".into())
        );
        assert_eq!(
            parse(br#""\ud83d\ude00""#).unwrap(),
            JVal::Str("\u{1f600}".into())
        );
        assert_eq!(parse(br#""\\ud800""#).unwrap(), JVal::Str("\\ud800".into()));
        // Invalid UTF-8 inside a string becomes U+FFFD instead of failing.
        assert_eq!(
            parse(b"\"a\xffb\"").unwrap(),
            JVal::Str("a\u{fffd}b".into())
        );
    }

    #[test]
    fn field_matching_is_go_like() {
        let f = ["upload_id", "etag", "size_bytes"];
        assert_eq!(field_index("etag", &f), Some(1));
        assert_eq!(field_index("ETag", &f), Some(1));
        assert_eq!(field_index("UPLOAD_ID", &f), Some(0));
        assert_eq!(field_index("ſize_bytes", &f), Some(2));
        assert_eq!(field_index("etagx", &f), None);
        assert_eq!(field_index("eta", &f), None);
        assert_eq!(field_index("étag", &f), None);
    }

    #[test]
    fn setters_follow_go_types() {
        let mut u = 5u64;
        assert!(set_u64(&mut u, &JVal::Null, "x").is_ok());
        assert_eq!(u, 5);
        assert!(set_u64(&mut u, &JVal::I(-1), "x").is_err());
        assert!(set_u64(&mut u, &JVal::F, "x").is_err());
        assert!(set_u64(&mut u, &JVal::Str("1".into()), "x").is_err());
        let mut i = 0i64;
        assert!(set_i64(&mut i, &JVal::U(u64::MAX), "x").is_err());
        assert!(set_i64(&mut i, &JVal::I(-3), "x").is_ok());
        assert_eq!(i, -3);
        let mut v = vec![1u64, 2, 3];
        set_slice(&mut v, &parse(b"[9,null]").unwrap(), "s", |d, x| {
            set_u64(d, x, "s")
        })
        .unwrap();
        assert_eq!(v, [9, 2]);
        set_slice(&mut v, &JVal::Null, "s", |d, x| set_u64(d, x, "s")).unwrap();
        assert!(v.is_empty());
    }
}
