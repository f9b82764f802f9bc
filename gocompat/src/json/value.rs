//! A JSON document as a tree with members in document order, and Go's rules for decoding
//! it into struct fields.
//!
//! Some records are easiest to decode as Go does — member by member, into fields that may
//! already hold values — from a tree: a later duplicate wins, an array decodes *into* the
//! slice already there, `null` leaves a scalar unchanged and resets a slice or map, and a
//! number must fit the field as `strconv` would parse it. The tree is built by the same
//! cursor as every other reader here ([`Doc`]), so it accepts exactly what Go accepts
//! (invalid UTF-8 and lone surrogates become U+FFFD, nesting up to Go's limit, no
//! recursion).

use super::doc::{Doc, Kind, Res, MAX_DEPTH};
use super::error::JsonError;
use super::fold::field_index;

/// A parsed JSON value with object members in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum JVal {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number literal that `strconv.ParseUint` accepts.
    U(u64),
    /// A number literal that `strconv.ParseInt` accepts and `ParseUint` does not
    /// (negative, or `-0`).
    I(i64),
    /// Any other number (fraction, exponent, out of integer range): fits no integer field.
    F,
    /// A string (already unquoted; invalid UTF-8 replaced as Go does).
    Str(String),
    /// An array.
    Arr(Vec<JVal>),
    /// An object, members in document order (duplicates kept).
    Obj(Vec<(String, JVal)>),
}

/// Classifies a number literal the way integer fields will parse it.
fn number(text: &[u8]) -> JVal {
    let t = std::str::from_utf8(text).unwrap_or_default();
    if let Ok(u) = t.parse::<u64>() {
        JVal::U(u)
    } else if let Ok(i) = t.parse::<i64>() {
        JVal::I(i)
    } else {
        JVal::F
    }
}

/// A container being built: its values so far, and for an object the pending member name.
enum Open {
    Arr(Vec<JVal>),
    Obj(Vec<(String, JVal)>, String),
}

fn text(b: Vec<u8>) -> String {
    // The cursor replaces every invalid sequence with U+FFFD, so this never loses bytes.
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl<'a> Doc<'a> {
    /// Reads the `"name":` of an object member into `name`.
    fn member_name(&mut self) -> Res<String> {
        self.ws();
        if self.s.get(self.pos) != Some(&b'"') {
            return self.syntax("looking for beginning of object key string");
        }
        let name = text(self.string()?);
        self.ws();
        if self.s.get(self.pos) != Some(&b':') {
            return self.syntax("after object key");
        }
        self.pos += 1;
        Ok(name)
    }

    /// Reads one value of any shape as a tree, iteratively.
    fn tree(&mut self) -> Res<JVal> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // A value starts here.
            let mut done = match self.peek_kind()? {
                Kind::Str => JVal::Str(text(self.string()?)),
                Kind::Num => number(self.number()?),
                Kind::Bool => {
                    if self.s.get(self.pos) == Some(&b't') {
                        self.literal(b"true")?;
                        JVal::Bool(true)
                    } else {
                        self.literal(b"false")?;
                        JVal::Bool(false)
                    }
                }
                Kind::Null => {
                    self.literal(b"null")?;
                    JVal::Null
                }
                Kind::Obj | Kind::Arr => {
                    let is_obj = self.s.get(self.pos) == Some(&b'{');
                    self.pos += 1;
                    if stack.len() >= MAX_DEPTH {
                        return self.syntax("exceeded max depth");
                    }
                    self.ws();
                    let close = if is_obj { b'}' } else { b']' };
                    if self.s.get(self.pos) == Some(&close) {
                        self.pos += 1;
                        if is_obj {
                            JVal::Obj(Vec::new())
                        } else {
                            JVal::Arr(Vec::new())
                        }
                    } else {
                        stack.push(if is_obj {
                            Open::Obj(Vec::new(), self.member_name()?)
                        } else {
                            Open::Arr(Vec::new())
                        });
                        continue;
                    }
                }
            };
            // A value is complete: store it, then close containers or go to the next one.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(done);
                };
                match top {
                    Open::Arr(items) => items.push(done),
                    Open::Obj(members, name) => members.push((std::mem::take(name), done)),
                }
                self.ws();
                let c = self.s.get(self.pos).copied();
                match (c, &mut *top) {
                    (Some(b','), Open::Arr(_)) => {
                        self.pos += 1;
                        break;
                    }
                    (Some(b','), Open::Obj(_, name)) => {
                        self.pos += 1;
                        *name = self.member_name()?;
                        break;
                    }
                    (Some(b']'), Open::Arr(_)) | (Some(b'}'), Open::Obj(..)) => {
                        self.pos += 1;
                        done = match stack.pop() {
                            Some(Open::Arr(items)) => JVal::Arr(items),
                            Some(Open::Obj(members, _)) => JVal::Obj(members),
                            None => return self.syntax("unbalanced container"),
                        };
                    }
                    (_, Open::Arr(_)) => return self.syntax("after array element"),
                    (_, Open::Obj(..)) => return self.syntax("after object key:value pair"),
                }
            }
        }
    }
}

/// Parses one JSON document (the whole input; trailing non-space is an error) with Go's
/// acceptance rules.
pub fn parse(b: &[u8]) -> Result<JVal, JsonError> {
    let mut d = Doc::new(b);
    let v = d.tree()?;
    d.ws();
    if d.pos != b.len() {
        return d.syntax("invalid character after top-level value");
    }
    Ok(v)
}

/// A type error while filling a field (Go's `UnmarshalTypeError`).
pub fn type_err(field: &'static str, want: &str, got: &JVal) -> JsonError {
    let what = match got {
        JVal::Null => "null",
        JVal::Bool(_) => "bool",
        JVal::U(_) | JVal::I(_) | JVal::F => "number",
        JVal::Str(_) => "string",
        JVal::Arr(_) => "array",
        JVal::Obj(_) => "object",
    };
    JsonError::Type {
        field,
        what: format!("cannot unmarshal {what} into Go value of type {want}"),
    }
}

/// Fills a `string` field; `null` leaves it unchanged.
pub fn set_str(dst: &mut String, v: &JVal, field: &'static str) -> Result<(), JsonError> {
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
pub fn set_u64(dst: &mut u64, v: &JVal, field: &'static str) -> Result<(), JsonError> {
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
pub fn set_i64(dst: &mut i64, v: &JVal, field: &'static str) -> Result<(), JsonError> {
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
pub fn set_bool(dst: &mut bool, v: &JVal, field: &'static str) -> Result<(), JsonError> {
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
pub fn set_slice<T: Default>(
    dst: &mut Vec<T>,
    v: &JVal,
    field: &'static str,
    mut elem: impl FnMut(&mut T, &JVal) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
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
pub fn for_fields(
    v: &JVal,
    what: &'static str,
    fields: &[&str],
    mut apply: impl FnMut(usize, &JVal) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
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
    fn parse_keeps_order_and_number_kinds() {
        let v =
            parse(br#"{"b":1,"a":-2,"b":1.5,"c":1e3,"d":18446744073709551616,"e":null,"f":-0}"#)
                .unwrap();
        let JVal::Obj(m) = v else { panic!() };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b", "c", "d", "e", "f"]);
        assert_eq!(m[0].1, JVal::U(1));
        assert_eq!(m[1].1, JVal::I(-2));
        assert_eq!(m[2].1, JVal::F);
        assert_eq!(m[3].1, JVal::F);
        assert_eq!(m[4].1, JVal::F);
        assert_eq!(m[5].1, JVal::Null);
        // Go: ParseInt("-0") = 0, ParseUint("-0") fails.
        assert_eq!(m[6].1, JVal::I(0));
        assert!(parse(b"").is_err());
        assert!(parse(b"{} x").is_err());
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"a":[1,]}"#).is_err());
        assert!(parse(br#"{"a" 1}"#).is_err());
        assert!(parse(b"01").is_err());
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
        // Invalid UTF-8 inside a string becomes U+FFFD per byte instead of failing.
        assert_eq!(
            parse(b"\"a\xe2\x82b\"").unwrap(),
            JVal::Str("a\u{fffd}\u{fffd}b".into())
        );
        assert_eq!(
            parse(br#"[{"k":[true,false,{}]},[]]"#).unwrap(),
            JVal::Arr(vec![
                JVal::Obj(vec![(
                    "k".into(),
                    JVal::Arr(vec![JVal::Bool(true), JVal::Bool(false), JVal::Obj(vec![])])
                )]),
                JVal::Arr(vec![])
            ])
        );
    }

    #[test]
    fn nesting_follows_go_limit_without_recursion() {
        let nest = |n: usize| {
            let mut d = vec![b'['; n];
            d.extend(std::iter::repeat_n(b']', n));
            d
        };
        // Deeper than serde_json's 128 and than a small thread stack would allow by
        // recursion; Go accepts up to 10,000.
        assert!(parse(&nest(9_999)).is_ok());
        assert!(parse(&nest(10_001)).is_err());
    }

    #[test]
    fn setters_follow_go_types() {
        let mut u = 5u64;
        assert!(set_u64(&mut u, &JVal::Null, "x").is_ok());
        assert_eq!(u, 5);
        assert!(set_u64(&mut u, &JVal::I(-1), "x").is_err());
        assert!(set_u64(&mut u, &JVal::I(0), "x").is_err());
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
        let e = set_u64(&mut u, &JVal::F, "generation").unwrap_err();
        assert!(
            matches!(
                e,
                JsonError::Type {
                    field: "generation",
                    ..
                }
            ),
            "{e}"
        );
    }
}
