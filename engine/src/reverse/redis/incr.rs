//! Reading one collection file (`{"format_version":1,"fields":[…],"expire_at_ms":…}`)
//! without holding it in memory: the element array is handed over one element at a
//! time while the file is read in 64 KiB pieces, so a hash of millions of fields costs
//! one element of memory. Values are validated with the decoder's Go-compatible scanner
//! (`elastickv_backup_gocompat::json`), member names are matched as Go matches struct fields, and the
//! few scalar fields are read with [`Record`] semantics afterwards.
//!
//! One deliberate narrowing of Go's rules: the element array may appear only once (Go
//! would merge a repeated array into the first); the decoder never writes it twice.

use crate::dumptree::json::{describe, Kind, Record};
use elastickv_backup_gocompat::json::{fold_name, next_value, unquote, JsonError};
use std::io::Read;

/// Longest single element accepted: far above any element the store can hold (1 MiB
/// keys, 256 MiB values, base64-expanded), so only a broken file reaches it.
const MAX_VALUE_BYTES: usize = 512 << 20;
/// Read size.
const READ: usize = 64 << 10;
/// How close to the end of the buffer a syntax error may be and still mean "read more"
/// (longer than any literal or escape sequence).
const NEAR_END: usize = 16;

/// Why reading failed.
#[derive(Debug)]
pub(crate) enum IncrError {
    /// The file could not be read.
    Io(std::io::Error),
    /// The content is not what the format allows.
    Bad(String),
}

impl From<String> for IncrError {
    fn from(s: String) -> Self {
        IncrError::Bad(s)
    }
}

impl From<JsonError> for IncrError {
    fn from(e: JsonError) -> Self {
        IncrError::Bad(e.to_string())
    }
}

/// An incremental reader over JSON text.
pub(crate) struct Incr<R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Read> Incr<R> {
    /// A reader over `r`.
    pub(crate) fn new(r: R) -> Self {
        Incr {
            r,
            buf: Vec::new(),
            pos: 0,
            eof: false,
        }
    }

    /// Drops consumed bytes and reads one more piece (sets `eof` at the end).
    fn fill(&mut self) -> Result<(), IncrError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ, 0);
        let n = loop {
            match self.r.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(IncrError::Io(e));
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next non-white-space byte (not consumed), `None` at the end of the input.
    pub(crate) fn peek(&mut self) -> Result<Option<u8>, IncrError> {
        loop {
            while let Some(&c) = self.buf.get(self.pos) {
                if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                    self.pos += 1;
                } else {
                    return Ok(Some(c));
                }
            }
            if self.eof {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// Consumes the byte `c` (after white space), or fails with `what`.
    pub(crate) fn expect(&mut self, c: u8, what: &str) -> Result<(), IncrError> {
        if self.peek()? == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(IncrError::Bad(format!("invalid JSON: expected {what}")))
        }
    }

    /// The next complete JSON value (white space before it skipped).
    pub(crate) fn value(&mut self) -> Result<Vec<u8>, IncrError> {
        loop {
            match next_value(&self.buf, self.pos) {
                Ok(Some((s, e))) => {
                    // A number running into the end of the buffer may go on.
                    let at_end = e == self.buf.len();
                    if !(at_end && Kind::of(&self.buf[s..e]) == Kind::Num && !self.eof) {
                        self.pos = e;
                        return Ok(self.buf[s..e].to_vec());
                    }
                }
                Ok(None) if self.eof => {
                    return Err(IncrError::Bad(
                        "invalid JSON: unexpected end of file".into(),
                    ))
                }
                Ok(None) => {}
                // A value cut by the end of the buffer fails at or just before the end
                // (a partial literal or escape is judged as soon as it starts).
                Err(JsonError::Syntax { offset, .. })
                    if offset + NEAR_END >= self.buf.len() && !self.eof => {}
                Err(e) => return Err(e.into()),
            }
            if self.buf.len() - self.pos > MAX_VALUE_BYTES {
                return Err(IncrError::Bad(format!(
                    "a JSON value longer than {MAX_VALUE_BYTES} bytes"
                )));
            }
            self.fill()?;
        }
    }
}

/// The scalar fields of a collection file kept while its array streams past, as a small
/// JSON object (folded names) for [`Record`] to read.
pub(crate) struct Scalars(Vec<u8>);

impl Scalars {
    /// Reads them with Go's struct rules.
    pub(crate) fn record(&self) -> Result<Record<'_>, String> {
        Record::new(&self.0)
    }
}

/// Reads a collection document: `array` (folded name) is streamed to `each(index,
/// element)`, the fields named in `keep` are returned, others are skipped. Returns the
/// kept scalars and the element count. `null` as the document reads as an empty struct.
pub(crate) fn read_collection<R: Read, E>(
    r: R,
    array: &str,
    keep: &[&str],
    mut each: impl FnMut(usize, &[u8]) -> Result<(), E>,
) -> Result<(Scalars, usize), Result<E, IncrError>> {
    let mut p = Incr::new(r);
    let mut kept = b"{".to_vec();
    let mut count = 0usize;
    let mut seen_array = false;
    if p.peek().map_err(Err)? != Some(b'{') {
        let v = p.value().map_err(Err)?;
        if Kind::of(&v) != Kind::Null {
            return Err(Err(IncrError::Bad(format!(
                "expected an object, found {}",
                describe(&v)
            ))));
        }
    } else {
        p.expect(b'{', "'{'").map_err(Err)?;
        if p.peek().map_err(Err)? == Some(b'}') {
            p.expect(b'}', "'}'").map_err(Err)?;
        } else {
            loop {
                let k = p.value().map_err(Err)?;
                if Kind::of(&k) != Kind::Str {
                    return Err(Err(IncrError::Bad(
                        "invalid JSON: object key is not a string".into(),
                    )));
                }
                let (name, _) = unquote(&k).map_err(|e| Err(e.into()))?;
                let name = fold_name(&name);
                p.expect(b':', "':' after object key").map_err(Err)?;
                if name == array.as_bytes() && p.peek().map_err(Err)? == Some(b'[') {
                    if seen_array {
                        return Err(Err(IncrError::Bad(format!(
                            "the {array} array appears twice"
                        ))));
                    }
                    seen_array = true;
                    p.expect(b'[', "'['").map_err(Err)?;
                    if p.peek().map_err(Err)? == Some(b']') {
                        p.expect(b']', "']'").map_err(Err)?;
                    } else {
                        loop {
                            let v = p.value().map_err(Err)?;
                            each(count, &v).map_err(Ok)?;
                            count += 1;
                            match p.peek().map_err(Err)? {
                                Some(b',') => p.expect(b',', "','").map_err(Err)?,
                                Some(b']') => {
                                    p.expect(b']', "']'").map_err(Err)?;
                                    break;
                                }
                                _ => {
                                    return Err(Err(IncrError::Bad(
                                        "invalid JSON: expected ',' or ']' in array".into(),
                                    )))
                                }
                            }
                        }
                    }
                } else {
                    let v = p.value().map_err(Err)?;
                    if name == array.as_bytes() && Kind::of(&v) != Kind::Null {
                        return Err(Err(IncrError::Bad(format!(
                            "field {array}: expected an array, found {}",
                            describe(&v)
                        ))));
                    }
                    if keep.iter().any(|f| f.as_bytes() == name) {
                        if kept.len() > 1 {
                            kept.push(b',');
                        }
                        kept.push(b'"');
                        kept.extend_from_slice(&name);
                        kept.extend_from_slice(b"\":");
                        kept.extend_from_slice(&v);
                    }
                }
                match p.peek().map_err(Err)? {
                    Some(b',') => p.expect(b',', "','").map_err(Err)?,
                    Some(b'}') => {
                        p.expect(b'}', "'}'").map_err(Err)?;
                        break;
                    }
                    _ => {
                        return Err(Err(IncrError::Bad(
                            "invalid JSON: expected ',' or '}' in object".into(),
                        )))
                    }
                }
            }
        }
    }
    if p.peek().map_err(Err)?.is_some() {
        return Err(Err(IncrError::Bad(
            "trailing data after the JSON value".into(),
        )));
    }
    kept.push(b'}');
    Ok((Scalars(kept), count))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader handing out one byte per call, to cross every buffer boundary.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&c, rest)), Some(b)) => {
                    *b = c;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn read(text: &[u8]) -> Result<(Vec<String>, String, usize), String> {
        let mut els = Vec::new();
        let r = read_collection(
            Trickle(text),
            "fields",
            &["format_version", "expire_at_ms"],
            |i, v| {
                els.push(format!("{i}:{}", String::from_utf8_lossy(v)));
                Ok::<(), String>(())
            },
        );
        match r {
            Ok((s, n)) => Ok((els, String::from_utf8(s.0).unwrap(), n)),
            Err(Ok(e)) => Err(e),
            Err(Err(IncrError::Bad(e))) => Err(e),
            Err(Err(IncrError::Io(e))) => Err(e.to_string()),
        }
    }

    #[test]
    fn streams_elements_and_keeps_scalars() {
        let (els, kept, n) = read(
            b" {\n  \"format_version\": 1,\n  \"FIELDS\": [\n {\"name\": \"a\", \"value\": 12},\n 3.5e1 ],\n  \"other\": [1, {\"x\": null}],\n  \"expire_at_ms\": 1735689600000\n} \n",
        )
        .unwrap();
        assert_eq!(els, ["0:{\"name\": \"a\", \"value\": 12}", "1:3.5e1"]);
        assert_eq!(
            kept,
            "{\"format_version\":1,\"expire_at_ms\":1735689600000}"
        );
        assert_eq!(n, 2);
        let (els, kept, n) = read(b"{}").unwrap();
        assert!(els.is_empty() && n == 0);
        assert_eq!(kept, "{}");
        assert_eq!(read(b"null").unwrap().2, 0);
        assert_eq!(read(b"{\"fields\":null,\"fields\":[]}").unwrap().2, 0);
        for bad in [
            &b""[..],
            b"[]",
            b"{\"fields\":[1,]}",
            b"{\"fields\":[1 2]}",
            b"{\"fields\":[1],\"fields\":[2]}",
            b"{\"fields\":{}}",
            b"{\"fields\":[1]} {}",
            b"{\"fields\":[1]",
            b"{\"a\" 1}",
            b"{1:2}",
            b"{\"fields\":[\"unterminated]}",
        ] {
            assert!(read(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn element_errors_pass_through() {
        let r = read_collection(&b"{\"fields\":[1,2]}"[..], "fields", &[], |i, _| {
            if i == 1 {
                Err("second")
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(Ok("second"))));
    }
}
