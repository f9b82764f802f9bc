//! Reading one collection file (`{"format_version":1,"fields":[…],"expire_at_ms":…}`)
//! without holding it in memory: the element array is handed over one element at a
//! time while the file is read in 64 KiB pieces, so a hash of millions of fields costs
//! one element of memory. Values are validated with the decoder's Go-compatible scanner
//! (`elastickv_backup_gocompat::json`), member names are matched as Go matches struct fields, and the
//! few scalar fields are read with [`Record`] semantics afterwards.
//!
//! One deliberate narrowing of Go's rules: the element array may appear only once (Go
//! would merge a repeated array into the first); the decoder never writes it twice.
//!
//! [`walk`] is the typed reader `encode` and `restore redis` share: each element comes
//! back as an [`Element`] (binary-safe values decoded, scores parsed), then the header.
//!
//! `restore redis` does not use it yet: its own single-pass pull tokenizer
//! (`restore/src/redis/json.rs`) reads the same files 2.8× faster (numbers in that
//! module's doc); this reader scans each element with the Go scanner and then splits it
//! into members again. Making it one pass would let restore switch.

use super::values::{binary_value, score};
use crate::json::{describe, Kind, Record};
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
pub enum IncrError {
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
pub struct Scalars(Vec<u8>);

impl Scalars {
    /// Reads them with Go's struct rules.
    pub fn record(&self) -> Result<Record<'_>, String> {
        Record::new(&self.0)
    }
}

/// Reads a collection document: `array` (folded name) is streamed to `each(index,
/// element)`, the fields named in `keep` are returned, others are skipped. Returns the
/// kept scalars and the element count. `null` as the document reads as an empty struct.
pub fn read_collection<R: Read, E>(
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

/// The shape of a collection file: which array holds the elements, and what an element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `hashes/`: `fields`, each `{"name": <value>, "value": <value>}`.
    Hash,
    /// `sets/`: `members`, each a `<value>`.
    Set,
    /// `lists/`: `items`, each a `<value>`.
    List,
    /// `zsets/`: `members`, each `{"member": <value>, "score": <score>}`.
    ZSet,
}

impl Shape {
    /// The (folded) name of the element array.
    fn array(self) -> &'static str {
        match self {
            Shape::Hash => "fields",
            Shape::Set | Shape::ZSet => "members",
            Shape::List => "items",
        }
    }
}

/// One element of a collection, its values decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    /// A hash field: name, value.
    Field(Vec<u8>, Vec<u8>),
    /// A list item or set member.
    Item(Vec<u8>),
    /// A zset member and its score.
    Scored(Vec<u8>, f64),
}

/// What a collection file says besides its elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Elements in the file.
    pub count: u64,
    /// `expire_at_ms` (`None` when absent or `null`; 0 also means no TTL).
    pub expire_at_ms: Option<u64>,
}

/// Decodes element `i` (validated JSON) of a `shape` file; messages name the element as
/// upstream's encoder does (`fields[3].name: …`).
fn element(shape: Shape, i: usize, raw: &[u8]) -> Result<Element, String> {
    match shape {
        Shape::Hash => {
            let e = Record::new(raw).map_err(|e| format!("fields[{i}]: {e}"))?;
            let name = binary_value(e.get("name"), &format!("fields[{i}].name"))?;
            let value = binary_value(e.get("value"), &format!("fields[{i}].value"))?;
            Ok(Element::Field(name, value))
        }
        Shape::Set => Ok(Element::Item(binary_value(
            Some(raw),
            &format!("members[{i}]"),
        )?)),
        Shape::List => Ok(Element::Item(binary_value(
            Some(raw),
            &format!("items[{i}]"),
        )?)),
        Shape::ZSet => {
            let e = Record::new(raw).map_err(|e| format!("members[{i}]: {e}"))?;
            let member = binary_value(e.get("member"), &format!("members[{i}].member"))?;
            let s = score(e.get("score")).map_err(|e| format!("members[{i}].{e}"))?;
            Ok(Element::Scored(member, s))
        }
    }
}

/// Reads a whole collection file, calling `each(index, element)` in file order, and
/// returns the header: `format_version` must be 1, `expire_at_ms` an unsigned integer or
/// null. An error is `Ok(e)` when `each` failed, `Err(IncrError)` when the file did.
pub fn walk<R: Read, E>(
    r: R,
    shape: Shape,
    mut each: impl FnMut(usize, Element) -> Result<(), E>,
) -> Result<Header, Result<E, IncrError>> {
    let (scalars, n) = read_collection(
        r,
        shape.array(),
        &["format_version", "expire_at_ms"],
        |i, raw| match element(shape, i, raw) {
            Ok(e) => each(i, e).map_err(Ok),
            Err(why) => Err(Err(IncrError::Bad(why))),
        },
    )
    .map_err(|e| match e {
        Ok(inner) => inner,
        Err(io_or_bad) => Err(io_or_bad),
    })?;
    let bad = |why: String| Err(IncrError::Bad(why));
    let r = scalars.record().map_err(bad)?;
    let version: u32 = r.int("format_version", "uint32").map_err(bad)?;
    if version != 1 {
        return Err(bad(format!("unsupported format_version {version}")));
    }
    let expire_at_ms = r.opt_int("expire_at_ms", "uint64").map_err(bad)?;
    Ok(Header {
        count: n as u64,
        expire_at_ms,
    })
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

    #[test]
    fn typed_walk() {
        let mut got = Vec::new();
        let h = walk(
            Trickle(b"{\"format_version\":1,\"members\":[{\"member\":{\"base64\":\"_w\"},\"score\":\"-inf\"},{\"score\":1e+21,\"member\":\"b\"}],\"expire_at_ms\":null}"),
            Shape::ZSet,
            |i, e| {
                got.push((i, e));
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        assert_eq!(
            h,
            Header {
                count: 2,
                expire_at_ms: None
            }
        );
        assert_eq!(
            got,
            [
                (0, Element::Scored(vec![0xff], f64::NEG_INFINITY)),
                (1, Element::Scored(b"b".to_vec(), 1e21))
            ]
        );
        let err = |text: &[u8], shape| match walk(text, shape, |_, _| Ok::<(), ()>(())) {
            Err(Err(IncrError::Bad(why))) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(b"{\"format_version\":2}", Shape::Set),
            "unsupported format_version 2"
        );
        assert!(err(
            b"{\"format_version\":1,\"fields\":[{\"name\":\"a\"}]}",
            Shape::Hash
        )
        .starts_with("fields[0].value: "));
        assert!(err(b"{\"format_version\":1,\"items\":[1]}", Shape::List).starts_with("items[0]: "));
        assert!(matches!(
            walk(
                &b"{\"format_version\":1,\"items\":[\"a\"]}"[..],
                Shape::List,
                |_, _| Err("stop")
            ),
            Err(Ok("stop"))
        ));
        let h = walk(
            &b"{\"format_version\":1,\"expire_at_ms\":5}"[..],
            Shape::List,
            |_, _| Ok::<(), ()>(()),
        )
        .unwrap();
        assert_eq!(
            h,
            Header {
                count: 0,
                expire_at_ms: Some(5)
            }
        );
    }
}
