//! Collection files in upstream's exact bytes (docs/format/40-redis.md §6): two-space indented `.json`
//! without a trailing newline for hashes, lists, sets and zsets; compact JSONL with a
//! trailing `_meta` line for streams. Strings inside collections use Go's `json.Marshal`
//! escaping *with* HTML escaping (`<` → `\u003c`), and non-UTF-8 bytes become a
//! `{"base64": …}` envelope.
//!
//! A file is rendered in three parts so a huge collection can be streamed: the header,
//! any number of element chunks (in scratch encoding, see [`super::raw`]), and the tail
//! that carries what is known only at the end (`expire_at_ms`, the stream meta).

use super::envelope::Meta;
use super::error::RedisError;
use super::raw::Reader;
use crate::encode::json::{write_f64, write_u64, write_utf8_str_html};
use elastickv_backup_gocompat::base64::append_url_raw;

/// The five collection types, in upstream's finalisation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CollKind {
    /// `hashes/<seg>.json`.
    Hash,
    /// `lists/<seg>.json`.
    List,
    /// `sets/<seg>.json`.
    Set,
    /// `zsets/<seg>.json`.
    Zset,
    /// `streams/<seg>.jsonl`.
    Stream,
}

impl CollKind {
    /// All five, in finalisation order.
    pub const ALL: [CollKind; 5] = [
        CollKind::Hash,
        CollKind::List,
        CollKind::Set,
        CollKind::Zset,
        CollKind::Stream,
    ];

    /// Subdirectory under `redis/db_<n>/`.
    pub fn dir(self) -> &'static str {
        match self {
            CollKind::Hash => "hashes",
            CollKind::List => "lists",
            CollKind::Set => "sets",
            CollKind::Zset => "zsets",
            CollKind::Stream => "streams",
        }
    }

    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            CollKind::Stream => ".jsonl",
            _ => ".json",
        }
    }

    /// Name used in warnings (`redis_<name>_length_mismatch`).
    pub fn name(self) -> &'static str {
        match self {
            CollKind::Hash => "hash",
            CollKind::List => "list",
            CollKind::Set => "set",
            CollKind::Zset => "zset",
            CollKind::Stream => "stream",
        }
    }

    /// Index in [`CollKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    fn array_key(self) -> &'static [u8] {
        match self {
            CollKind::Hash => b"fields",
            CollKind::List => b"items",
            CollKind::Set | CollKind::Zset | CollKind::Stream => b"members",
        }
    }
}

fn indent(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    for _ in 0..depth {
        out.extend_from_slice(b"  ");
    }
}

fn write_b64(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    append_url_raw(out, b);
    out.push(b'"');
}

/// A binary-safe value inside an indented document, whose own line is at `depth`: a
/// string when the bytes are UTF-8, else the expanded `{"base64": …}` envelope.
pub fn write_value_pretty(out: &mut Vec<u8>, b: &[u8], depth: usize) {
    if write_utf8_str_html(out, b) {
        return;
    }
    out.push(b'{');
    indent(out, depth + 1);
    out.extend_from_slice(b"\"base64\": ");
    write_b64(out, b);
    indent(out, depth);
    out.push(b'}');
}

/// A binary-safe value in compact JSON.
pub fn write_value_compact(out: &mut Vec<u8>, b: &[u8]) {
    if write_utf8_str_html(out, b) {
        return;
    }
    out.extend_from_slice(b"{\"base64\":");
    write_b64(out, b);
    out.push(b'}');
}

/// A zset score: `"+inf"`/`"-inf"` for infinities, Go's float format otherwise (NaN is
/// rejected on input and never reaches here; it would render as `null`).
pub fn write_score(out: &mut Vec<u8>, f: f64) {
    if f == f64::INFINITY {
        out.extend_from_slice(b"\"+inf\"");
    } else if f == f64::NEG_INFINITY {
        out.extend_from_slice(b"\"-inf\"");
    } else if !write_f64(out, f) {
        out.extend_from_slice(b"null");
    }
}

/// The start of an indented collection file, up to the opening `[` of its array. Streams
/// have no header.
pub fn header(kind: CollKind, out: &mut Vec<u8>) {
    if kind == CollKind::Stream {
        return;
    }
    out.extend_from_slice(b"{\n  \"format_version\": 1,\n  \"");
    out.extend_from_slice(kind.array_key());
    out.extend_from_slice(b"\": [");
}

/// Renders one scratch chunk of `kind` elements, appending to `out`; `first` tracks
/// whether an element was already written (for the separators). Returns the number of
/// elements.
pub fn chunk(
    kind: CollKind,
    raw: &[u8],
    first: &mut bool,
    out: &mut Vec<u8>,
) -> Result<u64, RedisError> {
    let mut r = Reader::new(raw);
    let mut n = 0u64;
    while !r.is_empty() {
        if kind != CollKind::Stream {
            out.extend_from_slice(if *first { b"\n    " } else { b",\n    " });
            *first = false;
        }
        match kind {
            CollKind::Hash => {
                let name = r.bytes()?;
                let value = r.bytes()?;
                out.extend_from_slice(b"{\n      \"name\": ");
                write_value_pretty(out, name, 3);
                out.extend_from_slice(b",\n      \"value\": ");
                write_value_pretty(out, value, 3);
                out.extend_from_slice(b"\n    }");
            }
            CollKind::List | CollKind::Set => write_value_pretty(out, r.bytes()?, 2),
            CollKind::Zset => {
                let member = r.bytes()?;
                let score = f64::from_bits(r.u64()?);
                out.extend_from_slice(b"{\n      \"member\": ");
                write_value_pretty(out, member, 3);
                out.extend_from_slice(b",\n      \"score\": ");
                write_score(out, score);
                out.extend_from_slice(b"\n    }");
            }
            CollKind::Stream => stream_line(&mut r, out)?,
        }
        n += 1;
    }
    Ok(n)
}

fn stream_line(r: &mut Reader<'_>, out: &mut Vec<u8>) -> Result<(), RedisError> {
    let ms = r.u64()?;
    let seq = r.u64()?;
    let n = r.varint()?;
    out.extend_from_slice(b"{\"id\":\"");
    write_u64(out, ms);
    out.push(b'-');
    write_u64(out, seq);
    out.extend_from_slice(b"\",\"fields\":[");
    let mut i = 0;
    while i < n {
        let name = r.bytes()?;
        if i + 1 >= n {
            break; // a dangling name (never stored: odd counts are refused on input)
        }
        let value = r.bytes()?;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        write_value_compact(out, name);
        out.extend_from_slice(b",\"value\":");
        write_value_compact(out, value);
        out.push(b'}');
        i += 2;
    }
    out.extend_from_slice(b"]}\n");
    Ok(())
}

fn expire(out: &mut Vec<u8>, e: Option<u64>) {
    match e {
        Some(v) => write_u64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// The end of a collection file: for the indented kinds, the array's close (`any`: at
/// least one element was written) and `expire_at_ms`; for streams, the `_meta` line from
/// the stream's meta row.
pub fn tail(kind: CollKind, any: bool, meta: &Meta, expire_at: Option<u64>, out: &mut Vec<u8>) {
    if kind == CollKind::Stream {
        out.extend_from_slice(b"{\"_meta\":true,\"length\":");
        crate::encode::json::write_i64(out, meta.declared);
        out.extend_from_slice(b",\"last_ms\":");
        write_u64(out, meta.last_ms);
        out.extend_from_slice(b",\"last_seq\":");
        write_u64(out, meta.last_seq);
        out.extend_from_slice(b",\"expire_at_ms\":");
        expire(out, expire_at);
        out.extend_from_slice(b"}\n");
        return;
    }
    out.extend_from_slice(if any { b"\n  ]" } else { b"]" });
    out.extend_from_slice(b",\n  \"expire_at_ms\": ");
    expire(out, expire_at);
    out.extend_from_slice(b"\n}");
}

#[cfg(test)]
mod tests {
    use super::super::raw::{put_bytes, put_u64, put_varint};
    use super::*;

    fn file(kind: CollKind, raw: &[u8], meta: &Meta, exp: Option<u64>) -> String {
        let mut out = Vec::new();
        header(kind, &mut out);
        let mut first = true;
        chunk(kind, raw, &mut first, &mut out).unwrap();
        tail(kind, !first, meta, exp, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn hash_raw(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (n, v) in fields {
            put_bytes(&mut b, n);
            put_bytes(&mut b, v);
        }
        b
    }

    #[test]
    fn v6_hash() {
        let raw = hash_raw(&[(b"age", b"30"), (b"name", b"alice"), (b"\xff", b"\x01\x02")]);
        let s = file(CollKind::Hash, &raw, &Meta::default(), Some(1735689600000));
        let want = "{\n  \"format_version\": 1,\n  \"fields\": [\n    {\n      \"name\": \"age\",\n      \"value\": \"30\"\n    },\n    {\n      \"name\": \"name\",\n      \"value\": \"alice\"\n    },\n    {\n      \"name\": {\n        \"base64\": \"_w\"\n      },\n      \"value\": \"\\u0001\\u0002\"\n    }\n  ],\n  \"expire_at_ms\": 1735689600000\n}";
        assert_eq!(s, want);
        assert_eq!(s.len(), 279);
    }

    #[test]
    fn v7_empty_hash() {
        let s = file(CollKind::Hash, &[], &Meta::default(), None);
        assert_eq!(
            s,
            "{\n  \"format_version\": 1,\n  \"fields\": [],\n  \"expire_at_ms\": null\n}"
        );
        assert_eq!(s.len(), 65);
    }

    #[test]
    fn v16_escaping() {
        let raw = hash_raw(&[
            (b"", b""),
            (b"<a&b>", b"line1\nline2\t\"q\"\\"),
            (b"ctl", b"\x01\x08\x0c\x7f\xe2\x80\xa8"),
        ]);
        let s = file(CollKind::Hash, &raw, &Meta::default(), None);
        assert_eq!(s.len(), 275);
        assert!(s.contains(r#""name": "\u003ca\u0026b\u003e","#));
        assert!(s.contains(r#""value": "line1\nline2\t\"q\"\\""#));
        assert!(s.contains("\"value\": \"\\u0001\\b\\f\x7f\\u2028\""));
    }

    #[test]
    fn v8_v9_lists() {
        let mut raw = Vec::new();
        for i in [b"c", b"b", b"a"] {
            put_bytes(&mut raw, i);
        }
        let s = file(CollKind::List, &raw, &Meta::default(), None);
        assert_eq!(s.len(), 93);
        let mut raw = Vec::new();
        put_bytes(&mut raw, b"\xfe");
        let s = file(CollKind::List, &raw, &Meta::default(), Some(1735689600000));
        assert_eq!(
            s,
            "{\n  \"format_version\": 1,\n  \"items\": [\n    {\n      \"base64\": \"_g\"\n    }\n  ],\n  \"expire_at_ms\": 1735689600000\n}"
        );
        assert_eq!(s.len(), 109);
    }

    #[test]
    fn v10_v11_sets() {
        let mut raw = Vec::new();
        for m in ["Blue", "green", "red", "é"] {
            put_bytes(&mut raw, m.as_bytes());
        }
        let s = file(CollKind::Set, &raw, &Meta::default(), Some(1735689600000));
        assert_eq!(s.len(), 123);
        assert!(s.contains("\n    \"é\"\n  ],"));
        let mut raw = Vec::new();
        put_bytes(&mut raw, b"x");
        assert_eq!(
            file(CollKind::Set, &raw, &Meta::default(), Some(1767225600000)).len(),
            86
        );
    }

    #[test]
    fn v12_v13_zsets() {
        let mut raw = Vec::new();
        for (m, bits) in [
            ("alice", 0x4059000000000000u64),
            ("bob", 0xfff0000000000000),
            ("carol", 0x7ff0000000000000),
            ("dave", 0x3ff8000000000000),
            ("erin", 0x444b1ae4d6e2ef50),
            ("frank", 0x3e7ad7f29abcaf48),
            ("gina", 0x8000000000000000),
        ] {
            put_bytes(&mut raw, m.as_bytes());
            put_u64(&mut raw, bits);
        }
        let s = file(CollKind::Zset, &raw, &Meta::default(), None);
        assert_eq!(s.len(), 470);
        for want in [
            "\"score\": 100\n",
            "\"score\": \"-inf\"",
            "\"score\": \"+inf\"",
            "\"score\": 1.5\n",
            "\"score\": 1e+21\n",
            "\"score\": 1e-7\n",
            "\"score\": -0\n",
        ] {
            assert!(s.contains(want), "{want} in {s}");
        }
        let mut raw = Vec::new();
        put_bytes(&mut raw, b"m0");
        put_u64(&mut raw, (-1.0f64).to_bits());
        put_bytes(&mut raw, b"m1");
        put_u64(&mut raw, 2.5f64.to_bits());
        assert_eq!(
            file(CollKind::Zset, &raw, &Meta::default(), Some(1735689600000)).len(),
            184
        );
    }

    #[test]
    fn v14_stream() {
        let mut raw = Vec::new();
        for (ms, fields) in [
            (1714400000000u64, &["event", "login", "user", "alice"][..]),
            (1714400000001, &["event", "logout"][..]),
        ] {
            put_u64(&mut raw, ms);
            put_u64(&mut raw, 0);
            put_varint(&mut raw, fields.len() as u64);
            for f in fields {
                put_bytes(&mut raw, f.as_bytes());
            }
        }
        let meta = Meta {
            declared: 2,
            last_ms: 1714400000001,
            last_seq: 0,
            slot: Some(1735689600000),
        };
        let s = file(CollKind::Stream, &raw, &meta, Some(1735689600000));
        assert_eq!(
            s,
            "{\"id\":\"1714400000000-0\",\"fields\":[{\"name\":\"event\",\"value\":\"login\"},{\"name\":\"user\",\"value\":\"alice\"}]}\n{\"id\":\"1714400000001-0\",\"fields\":[{\"name\":\"event\",\"value\":\"logout\"}]}\n{\"_meta\":true,\"length\":2,\"last_ms\":1714400000001,\"last_seq\":0,\"expire_at_ms\":1735689600000}\n"
        );
        assert_eq!(s.len(), 263);
        // No fields, binary field, and an empty stream.
        let mut raw = Vec::new();
        put_u64(&mut raw, 1);
        put_u64(&mut raw, 2);
        put_varint(&mut raw, 0);
        put_u64(&mut raw, 3);
        put_u64(&mut raw, 4);
        put_varint(&mut raw, 2);
        put_bytes(&mut raw, b"\xff");
        put_bytes(&mut raw, b"<");
        let s = file(CollKind::Stream, &raw, &Meta::default(), None);
        assert!(s.starts_with("{\"id\":\"1-2\",\"fields\":[]}\n{\"id\":\"3-4\",\"fields\":[{\"name\":{\"base64\":\"_w\"},\"value\":\"\\u003c\"}]}\n"));
        assert_eq!(
            file(CollKind::Stream, &[], &Meta::default(), None),
            "{\"_meta\":true,\"length\":0,\"last_ms\":0,\"last_seq\":0,\"expire_at_ms\":null}\n"
        );
    }
}
