//! The cursor: one pass over one JSON document with Go's acceptance rules.
//!
//! Callers walk the top-level object with [`Doc::members`] and read each value with a typed
//! reader; a type mismatch is remembered (Go reports it after finishing the document) while
//! syntax errors stop at once. Deeply nested unknown values are skipped iteratively (no
//! recursion), so Go's nesting limit holds on any thread's stack.

use super::error::JsonError;
use super::fold::fold_name;
use super::text::utf8_len;

/// Go's limit on nesting depth (`maxNestingDepth`).
pub(crate) const MAX_DEPTH: usize = 10_000;

/// The JSON type of the value under the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Num,
    Bool,
    Null,
    Obj,
    Arr,
}

impl Kind {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Num => "number",
            Kind::Bool => "bool",
            Kind::Null => "null",
            Kind::Obj => "object",
            Kind::Arr => "array",
        }
    }
}

/// Members of a raw-valued object: (name, raw JSON value) in document order.
pub type RawMembers = Vec<(Vec<u8>, Vec<u8>)>;

/// A cursor over one JSON document.
pub struct Doc<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) pos: usize,
    /// The first type error seen; reported once the document proved valid.
    pub(crate) type_err: Option<JsonError>,
}

pub(crate) type Res<T> = Result<T, JsonError>;

impl<'a> Doc<'a> {
    /// A cursor at the start of `s`.
    pub fn new(s: &'a [u8]) -> Self {
        Doc {
            s,
            pos: 0,
            type_err: None,
        }
    }

    pub(crate) fn syntax<T>(&self, what: &'static str) -> Res<T> {
        Err(JsonError::Syntax {
            offset: self.pos,
            what,
        })
    }

    fn mismatch(&mut self, field: &'static str, what: String) {
        if self.type_err.is_none() {
            self.type_err = Some(JsonError::Type { field, what });
        }
    }

    pub(crate) fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    pub(crate) fn peek_kind(&mut self) -> Res<Kind> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'"') => Ok(Kind::Str),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Num),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            Some(b'{') => Ok(Kind::Obj),
            Some(b'[') => Ok(Kind::Arr),
            Some(_) => self.syntax("invalid character looking for beginning of value"),
            None => self.syntax("unexpected end of JSON input"),
        }
    }

    /// Walks the top-level value, which Go requires to be an object (or `null`, which
    /// leaves every field at zero). `member` is called with each member's folded name
    /// (see [`fold_name`](super::fold_name)) and must consume the member's value with one of the readers.
    /// Returns the first type error after the whole document proved valid.
    pub fn members<F>(mut self, mut member: F) -> Res<()>
    where
        F: FnMut(&mut Self, &[u8]) -> Res<()>,
    {
        match self.peek_kind()? {
            Kind::Obj => self.object_members(&mut member)?,
            Kind::Null => self.literal(b"null")?,
            k => {
                self.mismatch(
                    "",
                    format!("cannot unmarshal {} into a record", k.go_name()),
                );
                self.skip()?;
            }
        }
        self.ws();
        if self.pos != self.s.len() {
            return self.syntax("invalid character after top-level value");
        }
        match self.type_err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn object_members<F>(&mut self, member: &mut F) -> Res<()>
    where
        F: FnMut(&mut Self, &[u8]) -> Res<()>,
    {
        self.pos += 1; // '{'
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return self.syntax("looking for beginning of object key string");
            }
            let name = self.string()?;
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return self.syntax("after object key");
            }
            self.pos += 1;
            let folded = fold_name(&name);
            member(self, &folded)?;
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return self.syntax("after object key:value pair"),
            }
        }
    }

    pub(crate) fn literal(&mut self, lit: &'static [u8]) -> Res<()> {
        if self.s.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            self.syntax("invalid literal")
        }
    }

    /// Scans a number and returns its text.
    pub(crate) fn number(&mut self) -> Res<&'a [u8]> {
        let s = self.s;
        let start = self.pos;
        let mut i = self.pos;
        let digit = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
        if s.get(i) == Some(&b'-') {
            i += 1;
        }
        match s.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while digit(i) {
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return self.syntax("in numeric literal");
            }
        }
        if s.get(i) == Some(&b'.') {
            i += 1;
            if !digit(i) {
                self.pos = i;
                return self.syntax("after decimal point in numeric literal");
            }
            while digit(i) {
                i += 1;
            }
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digit(i) {
                self.pos = i;
                return self.syntax("in exponent of numeric literal");
            }
            while digit(i) {
                i += 1;
            }
        }
        self.pos = i;
        Ok(&s[start..i])
    }

    /// Scans a string literal and returns its decoded bytes, as Go's `unquote` does:
    /// escapes resolved, invalid UTF-8 bytes and unpaired surrogates → U+FFFD.
    pub(crate) fn string(&mut self) -> Res<Vec<u8>> {
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        loop {
            // A run of plain text (printable ASCII but `"` and `\`) is copied in one go.
            let rest = self.s.get(self.pos..).unwrap_or_default();
            let plain = super::text::plain_run(rest);
            out.extend_from_slice(&rest[..plain]);
            self.pos += plain;
            let Some(&c) = self.s.get(self.pos) else {
                return self.syntax("unexpected end of JSON input in string literal");
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return self.syntax("invalid control character in string literal"),
                0x20..=0x7f => {
                    out.push(c);
                    self.pos += 1;
                }
                _ => {
                    let n = utf8_len(&self.s[self.pos..]);
                    if n == 0 {
                        out.extend_from_slice("\u{fffd}".as_bytes());
                        self.pos += 1;
                    } else {
                        out.extend_from_slice(&self.s[self.pos..self.pos + n]);
                        self.pos += n;
                    }
                }
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Res<()> {
        self.pos += 1; // backslash
        let Some(&c) = self.s.get(self.pos) else {
            return self.syntax("unexpected end of JSON input in string escape");
        };
        self.pos += 1;
        let simple = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let r = self.hex4()?;
                let ch = if (0xd800..0xe000).contains(&r) {
                    // A surrogate: only a valid high+low pair makes a character; Go
                    // consumes the second escape only when the pair is valid.
                    let low = self.peek_low_surrogate();
                    match (r, low) {
                        (0xd800..=0xdbff, Some(lo)) => {
                            self.pos += 6;
                            char::from_u32(0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00))
                        }
                        _ => None,
                    }
                } else {
                    char::from_u32(r)
                };
                let ch = ch.unwrap_or('\u{fffd}');
                let mut b = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                return Ok(());
            }
            _ => return self.syntax("invalid character in string escape code"),
        };
        out.push(simple);
        Ok(())
    }

    fn hex4(&mut self) -> Res<u32> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else {
            return self.syntax("in \\u hexadecimal character escape");
        };
        let mut v = 0u32;
        for &d in h {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return self.syntax("in \\u hexadecimal character escape"),
            };
            v = v << 4 | u32::from(n);
        }
        self.pos += 4;
        Ok(v)
    }

    /// A `\uDC00`–`\uDFFF` escape right at the cursor, without consuming it.
    fn peek_low_surrogate(&self) -> Option<u32> {
        let t = self.s.get(self.pos..self.pos + 6)?;
        if t[0] != b'\\' || t[1] != b'u' {
            return None;
        }
        let mut v = 0u32;
        for &d in &t[2..] {
            v = v << 4 | char::from(d).to_digit(16)?;
        }
        (0xdc00..0xe000).contains(&v).then_some(v)
    }

    /// Skips one value of any shape (validating it) and returns its exact bytes.
    pub(crate) fn skip(&mut self) -> Res<&'a [u8]> {
        self.ws();
        let start = self.pos;
        // Open containers: true = object, false = array.
        let mut stack: Vec<bool> = Vec::new();
        loop {
            // A value.
            match self.peek_kind()? {
                Kind::Str => {
                    self.string()?;
                }
                Kind::Num => {
                    self.number()?;
                }
                Kind::Bool => {
                    let lit: &'static [u8] = if self.s.get(self.pos) == Some(&b't') {
                        b"true"
                    } else {
                        b"false"
                    };
                    self.literal(lit)?;
                }
                Kind::Null => self.literal(b"null")?,
                Kind::Obj | Kind::Arr => {
                    let is_obj = self.s.get(self.pos) == Some(&b'{');
                    self.pos += 1;
                    if stack.len() >= MAX_DEPTH {
                        return self.syntax("exceeded max depth");
                    }
                    stack.push(is_obj);
                    self.ws();
                    let close = if is_obj { b'}' } else { b']' };
                    if self.s.get(self.pos) == Some(&close) {
                        self.pos += 1;
                        stack.pop();
                    } else {
                        if is_obj {
                            self.object_key()?;
                        }
                        continue;
                    }
                }
            }
            // After a value: close containers or move to the next element.
            loop {
                let Some(&is_obj) = stack.last() else {
                    return Ok(&self.s[start..self.pos]);
                };
                self.ws();
                match self.s.get(self.pos) {
                    Some(b',') => {
                        self.pos += 1;
                        if is_obj {
                            self.object_key()?;
                        }
                        break;
                    }
                    Some(b'}') if is_obj => {
                        self.pos += 1;
                        stack.pop();
                    }
                    Some(b']') if !is_obj => {
                        self.pos += 1;
                        stack.pop();
                    }
                    _ => return self.syntax("after value in object or array"),
                }
            }
        }
    }

    /// `"name":` inside an object being skipped.
    fn object_key(&mut self) -> Res<()> {
        self.ws();
        if self.s.get(self.pos) != Some(&b'"') {
            return self.syntax("looking for beginning of object key string");
        }
        self.string()?;
        self.ws();
        if self.s.get(self.pos) != Some(&b':') {
            return self.syntax("after object key");
        }
        self.pos += 1;
        Ok(())
    }

    /// Skips a value of an unknown member.
    pub fn ignore(&mut self) -> Res<()> {
        self.skip().map(|_| ())
    }

    fn wrong(&mut self, field: &'static str, kind: Kind, want: &str) -> Res<()> {
        self.mismatch(
            field,
            format!(
                "cannot unmarshal {} into Go value of type {want}",
                kind.go_name()
            ),
        );
        self.skip().map(|_| ())
    }

    /// A Go `string` field: `Some` for a string, `None` when the value is `null` (Go
    /// leaves the field unchanged) or of another type (a type error is recorded).
    pub fn str_field(&mut self, field: &'static str) -> Res<Option<Vec<u8>>> {
        match self.peek_kind()? {
            Kind::Str => self.string().map(Some),
            Kind::Null => self.literal(b"null").map(|()| None),
            k => self.wrong(field, k, "string").map(|()| None),
        }
    }

    /// A Go `bool` field.
    pub fn bool_field(&mut self, field: &'static str) -> Res<Option<bool>> {
        match self.peek_kind()? {
            Kind::Bool => {
                if self.s.get(self.pos) == Some(&b't') {
                    self.literal(b"true").map(|()| Some(true))
                } else {
                    self.literal(b"false").map(|()| Some(false))
                }
            }
            Kind::Null => self.literal(b"null").map(|()| None),
            k => self.wrong(field, k, "bool").map(|()| None),
        }
    }

    /// A Go integer field: the number's text must parse as `T` (no fraction, no
    /// exponent, in range), as `strconv.ParseInt`/`ParseUint` require.
    pub fn int_field<T: std::str::FromStr>(
        &mut self,
        field: &'static str,
        go_type: &'static str,
    ) -> Res<Option<T>> {
        match self.peek_kind()? {
            Kind::Num => {
                let text = self.number()?;
                // Rust's integer parsers accept a leading '+', JSON numbers never have one.
                let parsed = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<T>().ok());
                if parsed.is_none() {
                    let shown = String::from_utf8_lossy(text).into_owned();
                    self.mismatch(
                        field,
                        format!("cannot unmarshal number {shown} into Go value of type {go_type}"),
                    );
                }
                Ok(parsed)
            }
            Kind::Null => self.literal(b"null").map(|()| None),
            k => self.wrong(field, k, go_type).map(|()| None),
        }
    }

    /// A Go `[]byte` field: a standard-base64 string (padding required), or an array of
    /// byte-sized numbers. `Ok(Some(None))` is JSON `null` (the slice becomes nil).
    pub fn bytes_field(&mut self, field: &'static str) -> Res<Option<Option<Vec<u8>>>> {
        match self.peek_kind()? {
            Kind::Str => {
                let s = self.string()?;
                match crate::base64::std_decode(&s) {
                    Some(b) => Ok(Some(Some(b))),
                    None => {
                        self.mismatch(field, "illegal base64 data".to_string());
                        Ok(None)
                    }
                }
            }
            Kind::Null => self.literal(b"null").map(|()| Some(None)),
            Kind::Arr => self.byte_array(field).map(|b| Some(Some(b))),
            k => self.wrong(field, k, "[]uint8").map(|()| None),
        }
    }

    fn byte_array(&mut self, field: &'static str) -> Res<Vec<u8>> {
        self.pos += 1; // '['
        let mut out = Vec::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            let b = self.int_field::<u8>(field, "uint8")?;
            out.push(b.unwrap_or(0));
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return self.syntax("after array element"),
            }
        }
    }

    /// A Go `map[string]json.RawMessage` field. `Ok(Some(None))` is JSON `null` (the map
    /// becomes nil); an object yields its members in document order (the caller merges
    /// them into an existing map, as Go does for a repeated member).
    pub fn raw_map_field(&mut self, field: &'static str) -> Res<Option<Option<RawMembers>>> {
        match self.peek_kind()? {
            Kind::Obj => {}
            Kind::Null => return self.literal(b"null").map(|()| Some(None)),
            k => {
                return self
                    .wrong(field, k, "map[string]json.RawMessage")
                    .map(|()| None)
            }
        }
        self.pos += 1;
        let mut out = Vec::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Some(Some(out)));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return self.syntax("looking for beginning of object key string");
            }
            let k = self.string()?;
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return self.syntax("after object key");
            }
            self.pos += 1;
            let raw = self.skip()?.to_vec();
            out.push((k, raw));
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Some(Some(out)));
                }
                _ => return self.syntax("after object key:value pair"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(json: &[u8]) -> Res<Option<Vec<u8>>> {
        let mut got = None;
        Doc::new(json).members(|d, k| {
            if k == b"v" {
                if let Some(v) = d.str_field("v")? {
                    got = Some(v);
                }
                Ok(())
            } else {
                d.ignore()
            }
        })?;
        Ok(got)
    }

    #[test]
    fn strings_decode_like_go() {
        assert_eq!(
            read_str(br#"{"v":"a\u00e9\n"}"#).unwrap().unwrap(),
            "a\u{e9}\n".as_bytes()
        );
        // Invalid UTF-8 byte → U+FFFD, one per byte.
        assert_eq!(
            read_str(b"{\"v\":\"a\xf0\x90\x80b\"}").unwrap().unwrap(),
            "a\u{fffd}\u{fffd}\u{fffd}b".as_bytes()
        );
        // Lone surrogates → U+FFFD; a valid pair combines.
        assert_eq!(
            read_str(br#"{"v":"\ud800x\udc00\ud83d\ude00"}"#)
                .unwrap()
                .unwrap(),
            "\u{fffd}x\u{fffd}\u{1f600}".as_bytes()
        );
        // High surrogate followed by a non-low escape: the second escape is kept.
        assert_eq!(
            read_str(br#"{"v":"\ud800\u0041"}"#).unwrap().unwrap(),
            "\u{fffd}A".as_bytes()
        );
        // Case-insensitive names, Go folding, later duplicate wins, null leaves value.
        assert_eq!(
            read_str(br#"{"V":"x","v":"y","v":null}"#).unwrap().unwrap(),
            b"y"
        );
        assert_eq!(read_str(b"null").unwrap(), None);
    }

    #[test]
    fn syntax_and_type_errors() {
        assert!(matches!(
            read_str(br#"{"v":"x"} x"#),
            Err(JsonError::Syntax { .. })
        ));
        assert!(matches!(
            read_str(b"{\"v\":\"a\x01\"}"),
            Err(JsonError::Syntax { .. })
        ));
        assert!(matches!(
            read_str(br#"{"v":1}"#),
            Err(JsonError::Type { .. })
        ));
        assert!(matches!(read_str(br#"[1]"#), Err(JsonError::Type { .. })));
        // A syntax error later in the document wins over an earlier type error.
        assert!(matches!(
            read_str(br#"{"v":1,"w":01}"#),
            Err(JsonError::Syntax { .. })
        ));
        assert!(matches!(
            read_str(br#"{"w":[1,{"a":[]},]}"#),
            Err(JsonError::Syntax { .. })
        ));
        assert!(read_str(br#"{"w":[1,{"a":[true,false,null,-0.5e+3,"\""]}],"v":"q"}"#).is_ok());
        assert!(matches!(read_str(b""), Err(JsonError::Syntax { .. })));
        // Deep nesting of an ignored member is skipped without recursion.
        let mut deep = b"{\"w\":".to_vec();
        deep.extend(std::iter::repeat_n(b'[', 9_000));
        deep.extend(std::iter::repeat_n(b']', 9_000));
        deep.push(b'}');
        assert!(read_str(&deep).is_ok());
    }

    #[test]
    fn integers_follow_strconv() {
        let num = |json: &[u8]| {
            let mut got = None;
            Doc::new(json)
                .members(|d, _| {
                    got = d.int_field::<i64>("n", "int64")?;
                    Ok(())
                })
                .map(|()| got)
        };
        assert_eq!(num(br#"{"n":-0}"#).unwrap(), Some(0));
        assert_eq!(
            num(br#"{"n":9223372036854775807}"#).unwrap(),
            Some(i64::MAX)
        );
        assert!(num(br#"{"n":9223372036854775808}"#).is_err());
        assert!(num(br#"{"n":1.0}"#).is_err());
        assert!(num(br#"{"n":1e3}"#).is_err());
        assert!(num(br#"{"n":"1"}"#).is_err());
        assert!("-0".parse::<u64>().is_err());
    }
}
