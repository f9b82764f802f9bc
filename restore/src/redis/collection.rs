//! Readers for `hashes/`, `lists/`, `sets/` and `zsets/` files (docs/format/40-redis.md
//! §6): the header (`format_version`, `expire_at_ms`) and the elements, one at a time, in
//! file order.

use super::json::{JsonReader, Scalar};
use super::kind::Kind;
use super::value::{read_score, read_value};
use super::RestoreError;
use std::io::BufRead;

/// One element of a collection.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Elements in the file.
    pub count: u64,
    /// `expire_at_ms` (`None` for `null`; 0 also means no TTL, as in the encoder).
    pub expire_at_ms: Option<u64>,
}

fn array_key(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::Hash => b"fields",
        Kind::List => b"items",
        _ => b"members",
    }
}

fn read_element<R: BufRead>(r: &mut JsonReader<R>, kind: Kind) -> Result<Element, RestoreError> {
    match kind {
        Kind::List | Kind::Set => Ok(Element::Item(read_value(r, "element")?)),
        Kind::Hash | Kind::Zset => {
            let (a, b): (&[u8], &[u8]) = if kind == Kind::Hash {
                (b"name", b"value")
            } else {
                (b"member", b"score")
            };
            r.begin_object()?;
            let mut first = true;
            let (mut x, mut val, mut score) = (None, None, None);
            while let Some(k) = r.next_key(&mut first)? {
                if k == a {
                    x = Some(read_value(r, "field name or member")?);
                } else if k == b && kind == Kind::Hash {
                    val = Some(read_value(r, "field value")?);
                } else if k == b {
                    score = Some(read_score(r)?);
                } else {
                    r.skip_value()?;
                }
            }
            match (kind, x, val, score) {
                (Kind::Hash, Some(n), Some(v), _) => Ok(Element::Field(n, v)),
                (Kind::Zset, Some(m), _, Some(s)) => Ok(Element::Scored(m, s)),
                _ => Err(r.error(format!(
                    "element without {:?} and {:?}",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                ))),
            }
        }
        Kind::String | Kind::Hll | Kind::Stream => {
            Err(r.error("internal: not a collection file kind"))
        }
    }
}

/// Reads a whole collection file, calling `each` per element in file order; the header
/// comes back at the end. Anything malformed (wrong `format_version`, trailing data, a bad
/// `<value>`, a NaN score) is an error naming the byte offset.
pub fn walk<R: BufRead>(
    r: &mut JsonReader<R>,
    kind: Kind,
    each: &mut dyn FnMut(Element) -> Result<(), RestoreError>,
) -> Result<Header, RestoreError> {
    let want = array_key(kind);
    r.begin_object()?;
    let mut first = true;
    let mut header = Header::default();
    let (mut version, mut seen_array) = (None, false);
    while let Some(k) = r.next_key(&mut first)? {
        if k == b"format_version" {
            version = Some(r.read_scalar()?);
        } else if k == want {
            if seen_array {
                return Err(r.error(format!("{:?} given twice", String::from_utf8_lossy(want))));
            }
            seen_array = true;
            r.begin_array()?;
            let mut f = true;
            while r.next_element(&mut f)? {
                let e = read_element(r, kind)?;
                header.count += 1;
                each(e)?;
            }
        } else if k == b"expire_at_ms" {
            header.expire_at_ms = r.read_u64_or_null("expire_at_ms")?;
        } else {
            r.skip_value()?;
        }
    }
    if version != Some(Scalar::Num("1".into())) {
        return Err(r.error(format!("format_version must be 1, found {version:?}")));
    }
    if !seen_array {
        return Err(r.error(format!("no {:?} array", String::from_utf8_lossy(want))));
    }
    if !r.at_end()? {
        return Err(r.error("data after the JSON object"));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn collect(kind: Kind, text: &str) -> Result<(Header, Vec<Element>), RestoreError> {
        let mut r = JsonReader::new(text.as_bytes(), Path::new("c.json"));
        let mut v = Vec::new();
        let h = walk(&mut r, kind, &mut |e| {
            v.push(e);
            Ok(())
        })?;
        Ok((h, v))
    }

    #[test]
    fn reads_spec_vectors() {
        // Spec 40 V6 (hash with a binary field name and a TTL).
        let v6 = "{\n  \"format_version\": 1,\n  \"fields\": [\n    {\n      \"name\": \"age\",\n      \"value\": \"30\"\n    },\n    {\n      \"name\": {\n        \"base64\": \"_w\"\n      },\n      \"value\": \"\\u0001\\u0002\"\n    }\n  ],\n  \"expire_at_ms\": 1735689600000\n}";
        let (h, v) = collect(Kind::Hash, v6).unwrap();
        assert_eq!(h.expire_at_ms, Some(1735689600000));
        assert_eq!(h.count, 2);
        assert_eq!(
            v,
            vec![
                Element::Field(b"age".to_vec(), b"30".to_vec()),
                Element::Field(vec![0xff], vec![1, 2])
            ]
        );
        // V7: empty hash, null TTL.
        let (h, v) = collect(
            Kind::Hash,
            "{\n  \"format_version\": 1,\n  \"fields\": [],\n  \"expire_at_ms\": null\n}",
        )
        .unwrap();
        assert_eq!((h.count, h.expire_at_ms, v.len()), (0, None, 0));
        // V8: list order is file order.
        let (_, v) = collect(
            Kind::List,
            "{\"format_version\":1,\"items\":[\"c\",\"b\",{\"base64\":\"_g\"}],\"expire_at_ms\":null}",
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                Element::Item(b"c".to_vec()),
                Element::Item(b"b".to_vec()),
                Element::Item(vec![0xfe])
            ]
        );
        // V12: zset scores.
        let (_, v) = collect(
            Kind::Zset,
            "{\"format_version\":1,\"members\":[{\"member\":\"bob\",\"score\":\"-inf\"},{\"score\":1e+21,\"member\":\"erin\"}],\"expire_at_ms\":null}",
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                Element::Scored(b"bob".to_vec(), f64::NEG_INFINITY),
                Element::Scored(b"erin".to_vec(), 1e21)
            ]
        );
    }

    #[test]
    fn refuses_malformed_files() {
        for (kind, text) in [
            (
                Kind::Set,
                "{\"format_version\":2,\"members\":[],\"expire_at_ms\":null}",
            ),
            (Kind::Set, "{\"members\":[],\"expire_at_ms\":null}"),
            (Kind::Set, "{\"format_version\":1,\"expire_at_ms\":null}"),
            (Kind::Set, "{\"format_version\":1,\"members\":[]} {}"),
            (Kind::Set, "{\"format_version\":1,\"members\":[1]}"),
            (
                Kind::Hash,
                "{\"format_version\":1,\"fields\":[{\"name\":\"a\"}]}",
            ),
            (
                Kind::Zset,
                "{\"format_version\":1,\"members\":[{\"member\":\"a\",\"score\":\"nan\"}]}",
            ),
            (
                Kind::List,
                "{\"format_version\":1,\"items\":[],\"expire_at_ms\":-1}",
            ),
        ] {
            assert!(collect(kind, text).is_err(), "{text}");
        }
    }
}

/// Reading speed of this reader against the engine's shared one (see `json.rs`).
#[cfg(test)]
mod measure {
    use super::*;
    use std::path::Path;

    /// Times both readers on a 44.5 MB hash file, three rounds.
    #[test]
    #[ignore = "a measurement: run with --ignored --nocapture"]
    fn measure_readers() {
        let mut text = String::from("{\n  \"format_version\": 1,\n  \"fields\": [\n");
        for i in 0..500_000u32 {
            if i > 0 {
                text.push_str(",\n");
            }
            if i % 8 == 0 {
                text.push_str(&format!("    {{\n      \"name\": {{\n        \"base64\": \"_wABAgME{i:08}\"\n      }},\n      \"value\": \"value-{i}\"\n    }}"));
            } else {
                text.push_str(&format!("    {{\n      \"name\": \"field:{i:08}\",\n      \"value\": \"some value {i} \\u0001\"\n    }}"));
            }
        }
        text.push_str("\n  ],\n  \"expire_at_ms\": null\n}");
        let path = std::env::temp_dir().join("ekvb-measure.json");
        std::fs::write(&path, &text).unwrap();
        eprintln!("file {} bytes", text.len());
        for round in 0..3 {
            let t = std::time::Instant::now();
            let f = std::fs::File::open(&path).unwrap();
            let mut r = JsonReader::new(
                std::io::BufReader::with_capacity(1 << 20, f),
                Path::new("m"),
            );
            let mut n = 0usize;
            walk(&mut r, Kind::Hash, &mut |e| {
                if let Element::Field(a, b) = e {
                    n += a.len() + b.len();
                }
                Ok(())
            })
            .unwrap();
            let old = t.elapsed();
            let t = std::time::Instant::now();
            let f = std::fs::File::open(&path).unwrap();
            let mut m = 0usize;
            use elastickv_backup_dumptree::redis::collection as shared;
            shared::walk(
                std::io::BufReader::with_capacity(1 << 20, f),
                shared::Shape::Hash,
                |_, e| {
                    if let shared::Element::Field(a, b) = e {
                        m += a.len() + b.len();
                    }
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            let new = t.elapsed();
            assert_eq!(n, m);
            eprintln!("round {round}: restore json.rs {old:?}, shared reader {new:?}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
