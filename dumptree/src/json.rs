//! Reading the dump's JSON files with Go `encoding/json` semantics, as upstream's encoder
//! does: documents are validated by the decoder's Go-compatible scanner, strings are
//! unquoted the Go way (invalid UTF-8 and lone surrogates → U+FFFD), struct fields match
//! member names case-insensitively with the last non-null occurrence winning, and raw
//! values can be kept byte for byte (SQS message attributes are stored as raw JSON).
//!
//! Values are read shallowly: a validated value is a byte slice, and objects/arrays are
//! split into member/element slices only when a caller asks, so nothing recurses over
//! untrusted nesting depth.

use elastickv_backup_gocompat::json::{fold_name, next_value, unquote, JsonError};
use std::io::BufRead;

/// The JSON type of a validated value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// A number.
    Num,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
    /// An object.
    Obj,
    /// An array.
    Arr,
}

impl Kind {
    /// The type of the value `raw` (validated, no leading white space).
    pub fn of(raw: &[u8]) -> Kind {
        match raw.first() {
            Some(b'"') => Kind::Str,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            Some(b'{') => Kind::Obj,
            Some(b'[') => Kind::Arr,
            _ => Kind::Num,
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Num => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
            Kind::Obj => "an object",
            Kind::Arr => "an array",
        }
    }
}

fn err_text(e: JsonError) -> String {
    e.to_string()
}

/// The single JSON value of a whole file (white space around it allowed; anything else
/// after it is an error, as upstream's `decodeOneJSON` refuses trailing data).
pub fn one_value(text: &[u8]) -> Result<&[u8], String> {
    let Some((start, end)) = next_value(text, 0).map_err(err_text)? else {
        return Err("empty file: expected one JSON value".into());
    };
    if next_value(text, end).map_err(err_text)?.is_some() {
        return Err("trailing data after the JSON value".into());
    }
    Ok(&text[start..end])
}

fn ws(s: &[u8], mut i: usize) -> usize {
    while matches!(s.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

fn broken() -> String {
    "internal error: JSON value changed after validation".into()
}

/// An object's members: (unquoted name, raw value), in document order.
pub type Members<'a> = Vec<(Vec<u8>, &'a [u8])>;

/// The members of a validated object, in document order (duplicates kept).
pub fn members(raw: &[u8]) -> Result<Members<'_>, String> {
    if Kind::of(raw) != Kind::Obj {
        return Err(format!(
            "expected an object, found {}",
            Kind::of(raw).name()
        ));
    }
    let mut out = Vec::new();
    let mut i = ws(raw, 1);
    if raw.get(i) == Some(&b'}') {
        return Ok(out);
    }
    loop {
        i = ws(raw, i);
        let (name, n) = unquote(raw.get(i..).unwrap_or_default()).map_err(err_text)?;
        i = ws(raw, i + n);
        if raw.get(i) != Some(&b':') {
            return Err(broken());
        }
        let (s, e) = next_value(raw, i + 1)
            .map_err(err_text)?
            .ok_or_else(broken)?;
        out.push((name, &raw[s..e]));
        i = ws(raw, e);
        match raw.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(out),
            _ => return Err(broken()),
        }
    }
}

/// The elements of a validated array.
pub fn elements(raw: &[u8]) -> Result<Vec<&[u8]>, String> {
    if Kind::of(raw) != Kind::Arr {
        return Err(format!("expected an array, found {}", Kind::of(raw).name()));
    }
    let mut out = Vec::new();
    let mut i = ws(raw, 1);
    if raw.get(i) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let (s, e) = next_value(raw, i).map_err(err_text)?.ok_or_else(broken)?;
        out.push(&raw[s..e]);
        i = ws(raw, e);
        match raw.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Ok(out),
            _ => return Err(broken()),
        }
    }
}

/// A validated string value, unquoted; `None` for any other type.
pub fn string(raw: &[u8]) -> Option<Vec<u8>> {
    if Kind::of(raw) != Kind::Str {
        return None;
    }
    unquote(raw).ok().map(|(v, _)| v)
}

/// A validated string value as `String` (Go's unquoting always yields valid UTF-8).
pub fn text(raw: &[u8]) -> Option<String> {
    string(raw).map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// A validated boolean value.
pub fn boolean(raw: &[u8]) -> Option<bool> {
    match raw {
        b"true" => Some(true),
        b"false" => Some(false),
        _ => None,
    }
}

/// A validated number that parses as the integer type `T` (no fraction, no exponent, in
/// range), as Go's `strconv` requires for integer fields.
pub fn integer<T: std::str::FromStr>(raw: &[u8]) -> Option<T> {
    if Kind::of(raw) != Kind::Num {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// An object read as a Go struct: member names match field names case-insensitively
/// (Go's folding) and the last non-null occurrence of a field wins; unknown members are
/// ignored.
pub struct Record<'a> {
    members: Members<'a>,
}

impl<'a> Record<'a> {
    /// Reads `raw` as a struct: an object, or `null` (every field zero).
    pub fn new(raw: &'a [u8]) -> Result<Self, String> {
        if Kind::of(raw) == Kind::Null {
            return Ok(Record {
                members: Vec::new(),
            });
        }
        let members = members(raw)?
            .into_iter()
            .map(|(k, v)| (fold_name(&k), v))
            .collect();
        Ok(Record { members })
    }

    /// The raw value of field `name` (lower-case ASCII), if present and not null.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.members
            .iter()
            .rev()
            .find(|(k, v)| k.as_slice() == name.as_bytes() && Kind::of(v) != Kind::Null)
            .map(|(_, v)| *v)
    }

    fn typed<T>(
        &self,
        name: &str,
        want: &str,
        read: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => read(v)
                .map(Some)
                .ok_or_else(|| format!("field {name}: expected {want}, found {}", describe(v))),
        }
    }

    /// A string field ("" when absent).
    pub fn str(&self, name: &str) -> Result<Vec<u8>, String> {
        Ok(self.typed(name, "a string", string)?.unwrap_or_default())
    }

    /// A string field as `String` ("" when absent).
    pub fn text(&self, name: &str) -> Result<String, String> {
        Ok(self.typed(name, "a string", text)?.unwrap_or_default())
    }

    /// A boolean field (false when absent).
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        Ok(self.typed(name, "true or false", boolean)?.unwrap_or(false))
    }

    /// An integer field, `None` when absent.
    pub fn opt_int<T: std::str::FromStr>(
        &self,
        name: &str,
        go_type: &str,
    ) -> Result<Option<T>, String> {
        self.typed(name, &format!("an integer ({go_type})"), integer::<T>)
    }

    /// An integer field (0 when absent).
    pub fn int<T: std::str::FromStr + Default>(
        &self,
        name: &str,
        go_type: &str,
    ) -> Result<T, String> {
        Ok(self.opt_int(name, go_type)?.unwrap_or_default())
    }

    /// A nested struct field (all zero when absent).
    pub fn record(&self, name: &str) -> Result<Record<'a>, String> {
        match self.get(name) {
            None => Ok(Record {
                members: Vec::new(),
            }),
            Some(v) if Kind::of(v) == Kind::Obj => Record::new(v),
            Some(v) => Err(format!(
                "field {name}: expected an object, found {}",
                describe(v)
            )),
        }
    }

    /// An array field (empty when absent).
    pub fn array(&self, name: &str) -> Result<Vec<&'a [u8]>, String> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(v) if Kind::of(v) == Kind::Arr => elements(v),
            Some(v) => Err(format!(
                "field {name}: expected an array, found {}",
                describe(v)
            )),
        }
    }
}

/// A short description of a value for type errors: its type and, for scalars, its text.
pub fn describe(raw: &[u8]) -> String {
    match Kind::of(raw) {
        Kind::Obj | Kind::Arr | Kind::Null => Kind::of(raw).name().to_string(),
        k => {
            let t = String::from_utf8_lossy(&raw[..raw.len().min(40)]);
            format!("{} {t}", k.name())
        }
    }
}

/// Longest single value a stream accepts: far above any record the store can hold (256 MiB
/// values, base64-expanded), so only a broken file reaches it.
const MAX_VALUE_BYTES: usize = 512 << 20;

/// A stream of JSON values separated by white space (`messages.jsonl`, JSONL item
/// bundles), read incrementally: memory holds one value at a time, whatever the file
/// size. Values may span lines; one line may hold several values.
pub struct ValueStream<R> {
    r: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

impl<R: BufRead> ValueStream<R> {
    /// A stream over `r`.
    pub fn new(r: R) -> Self {
        ValueStream {
            r,
            buf: Vec::new(),
            start: 0,
            eof: false,
        }
    }

    /// The next value's bytes, `Ok(None)` at the end. An error is `Err(Ok(io_error))`
    /// when reading failed, `Err(Err(text))` when the text is not a stream of JSON values
    /// (Go's scanner message).
    pub fn next_value(&mut self) -> Result<Option<Vec<u8>>, Result<std::io::Error, String>> {
        loop {
            match next_value(&self.buf, self.start) {
                Ok(Some((s, e))) => {
                    // A number running into the end of the buffer may continue on the
                    // next read; everything else ends at its last byte.
                    let at_end = e == self.buf.len();
                    if !(at_end && Kind::of(&self.buf[s..e]) == Kind::Num && !self.eof) {
                        let v = self.buf[s..e].to_vec();
                        self.start = e;
                        return Ok(Some(v));
                    }
                }
                Ok(None) if self.eof => return Ok(None),
                Ok(None) => {}
                Err(JsonError::Syntax { offset, .. }) if offset >= self.buf.len() && !self.eof => {}
                Err(e) => return Err(Err(e.to_string())),
            }
            if self.buf.len() - self.start > MAX_VALUE_BYTES {
                return Err(Err(format!(
                    "a JSON value longer than {MAX_VALUE_BYTES} bytes (unterminated?)"
                )));
            }
            self.fill().map_err(Ok)?;
        }
    }

    /// Drops consumed bytes and reads one more line.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.r.read_until(b'\n', &mut self.buf)? == 0 {
            self.eof = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_go_struct_rules() {
        let raw =
            one_value(br#" {"Name":"a","name":"b","NAME":null,"n":7,"x":{"y":[1,"z"]}} "#).unwrap();
        let r = Record::new(raw).unwrap();
        assert_eq!(r.str("name").unwrap(), b"b");
        assert_eq!(r.int::<i64>("n", "int64").unwrap(), 7);
        assert_eq!(r.int::<i64>("missing", "int64").unwrap(), 0);
        assert!(r.int::<u8>("name", "uint8").is_err());
        assert!(r.bool("n").is_err());
        let x = r.record("x").unwrap();
        let ys = x.array("y").unwrap();
        assert_eq!(ys, vec![&b"1"[..], &br#""z""#[..]]);
        assert!(r.record("n").is_err());
        assert!(Record::new(b"null").unwrap().get("a").is_none());
        assert!(Record::new(b"[1]").is_err());
        assert!(one_value(b"{} {}").is_err());
        assert!(one_value(b"  ").is_err());
        assert!(one_value(b"{\"a\":}").is_err());
        assert!(integer::<i64>(b"1.0").is_none());
        assert!(integer::<u64>(b"-1").is_none());
    }

    #[test]
    fn members_keep_raw_values_and_order() {
        let raw = br#"{ "b" : { "k" : [ 1 ] } , "a":"\u003c\ud800" }"#;
        let m = members(raw).unwrap();
        assert_eq!(m[0].0, b"b");
        assert_eq!(m[0].1, br#"{ "k" : [ 1 ] }"#);
        assert_eq!(m[1].0, b"a");
        assert_eq!(string(m[1].1).unwrap(), "<\u{fffd}".as_bytes());
        assert!(elements(b"[]").unwrap().is_empty());
        assert!(members(b"{}").unwrap().is_empty());
    }

    #[test]
    fn value_stream_splits_lines_and_values() {
        let text = b"{\"a\":1}\n{\"b\":\n2} 3 \n\n[4]\n12";
        let mut s = ValueStream::new(&text[..]);
        let mut got = Vec::new();
        while let Some(v) = s.next_value().unwrap() {
            got.push(String::from_utf8(v).unwrap());
        }
        assert_eq!(got, ["{\"a\":1}", "{\"b\":\n2}", "3", "[4]", "12"]);
        let mut s = ValueStream::new(&b"{\"a\":1}\n{\"a\":x}\n{}"[..]);
        assert!(s.next_value().unwrap().is_some());
        assert!(matches!(s.next_value(), Err(Err(_))));
        let mut s = ValueStream::new(&b"{\"a\":"[..]);
        assert!(matches!(s.next_value(), Err(Err(_))));
        let mut s = ValueStream::new(&b""[..]);
        assert!(s.next_value().unwrap().is_none());
    }
}
