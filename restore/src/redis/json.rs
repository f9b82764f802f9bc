//! A pull reader for the JSON the decoder writes, over any `BufRead`, so collection files
//! of any size are read element by element in bounded memory (a million-field hash is never
//! materialised). Strings come back as raw bytes (escapes resolved); numbers as their text,
//! parsed by the caller into the integer or float it expects.
//!
//! ## Why not the engine's shared reader (decided by measurement)
//!
//! `encode` reads collection files with `elastickv_backup_dumptree::redis::collection::walk`
//! (Go-compatible rules, one element at a time); restore was to use it too, unless it was
//! more than ~10% slower. Reading every element of a 44.5 MB hash file (500 000 fields,
//! one name in eight a base64 envelope; `measure_readers` in `collection.rs`, run with
//! `cargo test -p elastickv-backup-restore --lib measure_readers -- --ignored --nocapture`),
//! best of three:
//!
//! | build | this reader | shared reader |
//! |---|---|---|
//! | workspace crates at opt-level 3 | 0.16 s | 0.46 s (2.8×) |
//! | dev profile (opt-level 1) | 0.38 s | 0.62 s (1.6×) |
//!
//! The shared reader validates each element with the Go scanner and then splits it into
//! members again (two passes, allocations per element). So this one stays for collection
//! and stream files; KEYMAP.jsonl and the TTL sidecars are read by the shared name join
//! (`dumptree::redis::names`).

use super::RestoreError;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Deepest nesting accepted when skipping unknown values (the dump's own files nest 4 deep).
const MAX_DEPTH: usize = 128;

/// A JSON scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A string's bytes (escapes resolved; UTF-8 as written).
    Str(Vec<u8>),
    /// A number's literal text.
    Num(String),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Reads JSON tokens from `r`; every error names the file and byte offset.
pub struct JsonReader<R> {
    r: R,
    offset: u64,
    path: PathBuf,
}

impl<R: BufRead> JsonReader<R> {
    /// A reader over `r`, which holds the file at `path` (for messages).
    pub fn new(r: R, path: &Path) -> Self {
        JsonReader {
            r,
            offset: 0,
            path: path.to_path_buf(),
        }
    }

    /// A format error at the current offset.
    pub fn error(&self, why: impl Into<String>) -> RestoreError {
        RestoreError::format(&self.path, self.offset, why)
    }

    fn io(&self, e: std::io::Error) -> RestoreError {
        RestoreError::io(&self.path, e)
    }

    fn peek(&mut self) -> Result<Option<u8>, RestoreError> {
        loop {
            match self.r.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    fn bump(&mut self) {
        self.r.consume(1);
        self.offset += 1;
    }

    /// Skips whitespace; the next byte, if any.
    fn skip_ws(&mut self) -> Result<Option<u8>, RestoreError> {
        loop {
            let (n, next) = {
                let buf = match self.r.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.io(e)),
                };
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = buf
                    .iter()
                    .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                    .count();
                (n, buf.get(n).copied())
            };
            self.r.consume(n);
            self.offset += n as u64;
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), RestoreError> {
        match self.skip_ws()? {
            Some(b) if b == want => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(self.error(format!(
                "expected {:?}, found {:?}",
                want as char, b as char
            ))),
            None => Err(self.error(format!(
                "expected {:?}, found the end of the file",
                want as char
            ))),
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> Result<bool, RestoreError> {
        Ok(self.skip_ws()?.is_none())
    }

    /// The first byte of the next value (after whitespace), not consumed.
    pub fn peek_value(&mut self) -> Result<u8, RestoreError> {
        self.skip_ws()?
            .ok_or_else(|| self.error("expected a value, found the end of the file"))
    }

    /// Consumes `{`.
    pub fn begin_object(&mut self) -> Result<(), RestoreError> {
        self.expect(b'{')
    }

    /// The next key of the current object (its `:` consumed), or `None` after the closing
    /// `}`. `first` must start `true` for each object.
    pub fn next_key(&mut self, first: &mut bool) -> Result<Option<Vec<u8>>, RestoreError> {
        if self.skip_ws()? == Some(b'}') {
            self.bump();
            return Ok(None);
        }
        if !*first {
            self.expect(b',')?;
        }
        *first = false;
        let k = self.read_string()?;
        self.expect(b':')?;
        Ok(Some(k))
    }

    /// Consumes `[`.
    pub fn begin_array(&mut self) -> Result<(), RestoreError> {
        self.expect(b'[')
    }

    /// Whether another element follows in the current array (its `,` consumed); `false`
    /// after the closing `]`. `first` must start `true` for each array.
    pub fn next_element(&mut self, first: &mut bool) -> Result<bool, RestoreError> {
        if self.skip_ws()? == Some(b']') {
            self.bump();
            return Ok(false);
        }
        if !*first {
            self.expect(b',')?;
        }
        *first = false;
        Ok(true)
    }

    /// Reads a string value.
    pub fn read_string(&mut self) -> Result<Vec<u8>, RestoreError> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let (n, stop) = {
                let buf = match self.r.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.io(e)),
                };
                if buf.is_empty() {
                    return Err(self.error("unterminated string"));
                }
                let n = buf
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                    .unwrap_or(buf.len());
                out.extend_from_slice(&buf[..n]);
                (n, buf.get(n).copied())
            };
            self.r.consume(n);
            self.offset += n as u64;
            match stop {
                None => continue,
                Some(b'"') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.bump();
                    self.read_escape(&mut out)?;
                }
                Some(c) => {
                    return Err(self.error(format!("unescaped control byte {c:#04x} in a string")))
                }
            }
        }
    }

    fn read_escape(&mut self, out: &mut Vec<u8>) -> Result<(), RestoreError> {
        let c = self
            .peek()?
            .ok_or_else(|| self.error("unterminated escape"))?;
        self.bump();
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
                let hi = self.read_hex4()?;
                let ch = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate: a low one must follow to make a character.
                    if self.peek()? == Some(b'\\') {
                        self.bump();
                        if self.peek()? != Some(b'u') {
                            // Lone high surrogate then another escape: U+FFFD, then that.
                            out.extend_from_slice("\u{FFFD}".as_bytes());
                            return self.read_escape(out);
                        }
                        self.bump();
                        let lo = self.read_hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            out.extend_from_slice("\u{FFFD}".as_bytes());
                            char::from_u32(lo)
                        }
                    } else {
                        None
                    }
                } else {
                    char::from_u32(hi)
                };
                let ch = ch.unwrap_or('\u{FFFD}');
                let mut b = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                return Ok(());
            }
            other => return Err(self.error(format!("invalid escape \\{}", other as char))),
        };
        out.push(simple);
        Ok(())
    }

    fn read_hex4(&mut self) -> Result<u32, RestoreError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self
                .peek()?
                .ok_or_else(|| self.error("unterminated \\u escape"))?;
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            self.bump();
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn read_literal(&mut self, word: &'static [u8]) -> Result<(), RestoreError> {
        for &w in word {
            if self.peek()? != Some(w) {
                return Err(self.error("invalid literal"));
            }
            self.bump();
        }
        Ok(())
    }

    fn read_number(&mut self) -> Result<String, RestoreError> {
        let mut s = String::new();
        while let Some(c) = self.peek()? {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                s.push(c as char);
                self.bump();
            } else {
                break;
            }
        }
        if s.is_empty() || s.len() > 400 {
            return Err(self.error("invalid number"));
        }
        Ok(s)
    }

    /// Reads a scalar (an object or array here is an error).
    pub fn read_scalar(&mut self) -> Result<Scalar, RestoreError> {
        match self.peek_value()? {
            b'"' => Ok(Scalar::Str(self.read_string()?)),
            b't' => self.read_literal(b"true").map(|_| Scalar::Bool(true)),
            b'f' => self.read_literal(b"false").map(|_| Scalar::Bool(false)),
            b'n' => self.read_literal(b"null").map(|_| Scalar::Null),
            b'-' | b'0'..=b'9' => Ok(Scalar::Num(self.read_number()?)),
            b'{' | b'[' => Err(self.error("expected a string, number, boolean or null")),
            c => Err(self.error(format!("unexpected {:?}", c as char))),
        }
    }

    /// Skips one value of any kind.
    pub fn skip_value(&mut self) -> Result<(), RestoreError> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Result<(), RestoreError> {
        if depth > MAX_DEPTH {
            return Err(self.error("values nested too deeply"));
        }
        match self.peek_value()? {
            b'{' => {
                self.begin_object()?;
                let mut first = true;
                while self.next_key(&mut first)?.is_some() {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            b'[' => {
                self.begin_array()?;
                let mut first = true;
                while self.next_element(&mut first)? {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            _ => self.read_scalar().map(|_| ()),
        }
    }

    /// Reads an unsigned integer (`null` → `None`).
    pub fn read_u64_or_null(&mut self, what: &str) -> Result<Option<u64>, RestoreError> {
        match self.read_scalar()? {
            Scalar::Null => Ok(None),
            Scalar::Num(n) => n
                .parse::<u64>()
                .map(Some)
                .map_err(|_| self.error(format!("{what}: {n} is not an unsigned integer"))),
            other => Err(self.error(format!("{what}: expected a number, found {other:?}"))),
        }
    }

    /// Reads a signed integer.
    pub fn read_i64(&mut self, what: &str) -> Result<i64, RestoreError> {
        match self.read_scalar()? {
            Scalar::Num(n) => n
                .parse::<i64>()
                .map_err(|_| self.error(format!("{what}: {n} is not an integer"))),
            other => Err(self.error(format!("{what}: expected a number, found {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(s: &[u8]) -> JsonReader<&[u8]> {
        JsonReader::new(s, Path::new("t.json"))
    }

    #[test]
    fn walks_objects_and_arrays() {
        let mut r = rd(b" {\"a\": [1, \"x\", null, true], \"b\": {}, \"c\": []} ");
        r.begin_object().unwrap();
        let mut f = true;
        assert_eq!(r.next_key(&mut f).unwrap().unwrap(), b"a");
        r.begin_array().unwrap();
        let mut g = true;
        let mut got = Vec::new();
        while r.next_element(&mut g).unwrap() {
            got.push(r.read_scalar().unwrap());
        }
        assert_eq!(
            got,
            vec![
                Scalar::Num("1".into()),
                Scalar::Str(b"x".to_vec()),
                Scalar::Null,
                Scalar::Bool(true)
            ]
        );
        assert_eq!(r.next_key(&mut f).unwrap().unwrap(), b"b");
        r.skip_value().unwrap();
        assert_eq!(r.next_key(&mut f).unwrap().unwrap(), b"c");
        r.skip_value().unwrap();
        assert_eq!(r.next_key(&mut f).unwrap(), None);
        assert!(r.at_end().unwrap());
    }

    #[test]
    fn resolves_go_escapes() {
        // What Go's encoder writes (docs/format/40-redis.md §6), back to the raw bytes.
        let mut r =
            rd(br#""\u003ca\u0026b\u003e \"q\"\\ \b\f\n\r\t \u0001 \u2028 \ud83d\ude00 \/""#);
        assert_eq!(
            r.read_string().unwrap(),
            "<a&b> \"q\"\\ \u{8}\u{c}\n\r\t \u{1} \u{2028} 😀 /".as_bytes()
        );
        let mut r = rd(b"\"\xc3\xa9\x7f\"");
        assert_eq!(r.read_string().unwrap(), "é\u{7f}".as_bytes());
        let mut r = rd(br#""\ud800x""#);
        assert_eq!(r.read_string().unwrap(), "\u{FFFD}x".as_bytes());
    }

    #[test]
    fn errors_name_the_offset() {
        let mut r = rd(b"{\"a\" 1}");
        r.begin_object().unwrap();
        let e = r.next_key(&mut true).unwrap_err().to_string();
        assert!(e.contains("t.json: byte 5"), "{e}");
        for bad in [&b"\"abc"[..], b"\"a\nb\"", b"\"\\x\"", b"\"\\u12\""] {
            assert!(rd(bad).read_string().is_err());
        }
        assert!(rd(b"[1,]").skip_value().is_err());
        assert!(rd(b"nul").read_scalar().is_err());
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(rd(deep.as_bytes()).skip_value().is_err());
    }

    #[test]
    fn reads_across_small_buffers() {
        let data = b"{\"key\":\"a%2Fb\",\"expire_at_ms\":1735689600000}";
        let mut r = JsonReader::new(
            std::io::BufReader::with_capacity(1, &data[..]),
            Path::new("x"),
        );
        r.begin_object().unwrap();
        let mut f = true;
        assert_eq!(r.next_key(&mut f).unwrap().unwrap(), b"key");
        assert_eq!(r.read_string().unwrap(), b"a%2Fb");
        assert_eq!(r.next_key(&mut f).unwrap().unwrap(), b"expire_at_ms");
        assert_eq!(r.read_u64_or_null("t").unwrap(), Some(1735689600000));
        assert_eq!(r.next_key(&mut f).unwrap(), None);
    }
}
