//! Reader for `streams/<seg>.jsonl` (docs/format/40-redis.md §6): entry lines
//! `{"id":"<ms>-<seq>","fields":[{"name":…,"value":…},…]}` and one
//! `{"_meta":true,"length":…,"last_ms":…,"last_seq":…,"expire_at_ms":…}` line.

use super::json::{JsonReader, Scalar};
use super::value::read_value;
use super::RestoreError;
use std::io::BufRead;

/// A stream ID, `(ms, seq)`, ordered as Redis orders them.
pub type StreamId = (u64, u64);

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its ID.
    pub id: StreamId,
    /// Field names and values in stored (XADD) order; names may repeat.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The meta line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Entries the stream held (as recorded, not recomputed).
    pub length: i64,
    /// The last ID ever generated (may be past the last entry after trims).
    pub last_id: StreamId,
    /// `expire_at_ms`.
    pub expire_at_ms: Option<u64>,
}

/// What a whole file holds besides its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The meta line.
    pub meta: Meta,
    /// Entry lines.
    pub entries: u64,
    /// The greatest entry ID.
    pub max_id: Option<StreamId>,
    /// Whether IDs strictly increase line by line (else XADD would refuse some).
    pub ascending: bool,
}

fn parse_id(s: &[u8]) -> Option<StreamId> {
    let s = std::str::from_utf8(s).ok()?;
    let (ms, seq) = s.split_once('-')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Formats an ID as Redis writes it.
pub fn format_id(id: StreamId) -> String {
    format!("{}-{}", id.0, id.1)
}

enum Line {
    Entry(Entry),
    Meta(Meta),
}

fn read_fields<R: BufRead>(
    r: &mut JsonReader<R>,
    out: &mut Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<(), RestoreError> {
    r.begin_array()?;
    let mut f = true;
    while r.next_element(&mut f)? {
        r.begin_object()?;
        let mut g = true;
        let (mut name, mut value) = (None, None);
        while let Some(k) = r.next_key(&mut g)? {
            match k.as_slice() {
                b"name" => name = Some(read_value(r, "field name")?),
                b"value" => value = Some(read_value(r, "field value")?),
                _ => r.skip_value()?,
            }
        }
        match (name, value) {
            (Some(n), Some(v)) => out.push((n, v)),
            _ => return Err(r.error("stream field without \"name\" and \"value\"")),
        }
    }
    Ok(())
}

fn read_line<R: BufRead>(r: &mut JsonReader<R>) -> Result<Line, RestoreError> {
    r.begin_object()?;
    let mut first = true;
    let mut is_meta = false;
    let (mut id, mut fields) = (None, Vec::new());
    let (mut length, mut last_ms, mut last_seq, mut ttl) = (None, None, None, None);
    while let Some(k) = r.next_key(&mut first)? {
        match k.as_slice() {
            b"_meta" => is_meta = r.read_scalar()? == Scalar::Bool(true),
            b"id" => match r.read_scalar()? {
                Scalar::Str(s) => {
                    id = Some(parse_id(&s).ok_or_else(|| {
                        r.error(format!(
                            "stream ID {:?} is not <ms>-<seq>",
                            String::from_utf8_lossy(&s)
                        ))
                    })?)
                }
                _ => return Err(r.error("stream \"id\" must be a string")),
            },
            b"fields" => read_fields(r, &mut fields)?,
            b"length" => length = Some(r.read_i64("length")?),
            b"last_ms" => last_ms = r.read_u64_or_null("last_ms")?,
            b"last_seq" => last_seq = r.read_u64_or_null("last_seq")?,
            b"expire_at_ms" => ttl = Some(r.read_u64_or_null("expire_at_ms")?),
            _ => r.skip_value()?,
        }
    }
    if is_meta {
        let (Some(length), Some(ms), Some(seq), Some(expire_at_ms)) =
            (length, last_ms, last_seq, ttl)
        else {
            return Err(
                r.error("stream meta line needs length, last_ms, last_seq and expire_at_ms")
            );
        };
        return Ok(Line::Meta(Meta {
            length,
            last_id: (ms, seq),
            expire_at_ms,
        }));
    }
    let id = id.ok_or_else(|| r.error("stream entry without \"id\""))?;
    Ok(Line::Entry(Entry { id, fields }))
}

/// Reads a whole stream file, calling `each` per entry in file order. Exactly one meta
/// line is required (the decoder writes a stream only when it has one).
pub fn walk<R: BufRead>(
    r: &mut JsonReader<R>,
    each: &mut dyn FnMut(Entry) -> Result<(), RestoreError>,
) -> Result<Summary, RestoreError> {
    let mut meta = None;
    let (mut entries, mut max_id, mut ascending) = (0u64, None::<StreamId>, true);
    while !r.at_end()? {
        match read_line(r)? {
            Line::Meta(m) => {
                if meta.replace(m).is_some() {
                    return Err(r.error("a second stream meta line"));
                }
            }
            Line::Entry(e) => {
                entries += 1;
                if max_id.is_some_and(|m| e.id <= m) {
                    ascending = false;
                }
                max_id = max_id.max(Some(e.id));
                each(e)?;
            }
        }
    }
    let meta = meta.ok_or_else(|| r.error("no stream meta line (\"_meta\":true)"))?;
    Ok(Summary {
        meta,
        entries,
        max_id,
        ascending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn collect(text: &str) -> Result<(Summary, Vec<Entry>), RestoreError> {
        let mut r = JsonReader::new(text.as_bytes(), Path::new("s.jsonl"));
        let mut v = Vec::new();
        let s = walk(&mut r, &mut |e| {
            v.push(e);
            Ok(())
        })?;
        Ok((s, v))
    }

    #[test]
    fn reads_spec_vector_v14() {
        let text = "{\"id\":\"1714400000000-0\",\"fields\":[{\"name\":\"event\",\"value\":\"login\"},{\"name\":\"user\",\"value\":\"alice\"}]}\n{\"id\":\"1714400000001-0\",\"fields\":[{\"name\":\"event\",\"value\":\"logout\"}]}\n{\"_meta\":true,\"length\":2,\"last_ms\":1714400000001,\"last_seq\":0,\"expire_at_ms\":1735689600000}\n";
        let (s, v) = collect(text).unwrap();
        assert_eq!(
            s.meta,
            Meta {
                length: 2,
                last_id: (1714400000001, 0),
                expire_at_ms: Some(1735689600000)
            }
        );
        assert_eq!(
            (s.entries, s.max_id, s.ascending),
            (2, Some((1714400000001, 0)), true)
        );
        assert_eq!(v[0].id, (1714400000000, 0));
        assert_eq!(
            v[0].fields,
            vec![
                (b"event".to_vec(), b"login".to_vec()),
                (b"user".to_vec(), b"alice".to_vec())
            ]
        );
        assert_eq!(format_id(v[1].id), "1714400000001-0");
    }

    #[test]
    fn meta_only_and_refusals() {
        let (s, v) = collect(
            "{\"_meta\":true,\"length\":0,\"last_ms\":9,\"last_seq\":3,\"expire_at_ms\":null}\n",
        )
        .unwrap();
        assert_eq!((s.entries, v.len(), s.meta.last_id), (0, 0, (9, 3)));
        let (s, _) = collect("{\"id\":\"2-0\",\"fields\":[]}{\"id\":\"1-0\",\"fields\":[]}{\"_meta\":true,\"length\":2,\"last_ms\":2,\"last_seq\":0,\"expire_at_ms\":null}").unwrap();
        assert!(!s.ascending);
        for bad in [
            "{\"id\":\"1-0\",\"fields\":[]}\n",
            "{\"id\":\"1\",\"fields\":[]}\n{\"_meta\":true,\"length\":1,\"last_ms\":1,\"last_seq\":0,\"expire_at_ms\":null}",
            "{\"id\":\"-1-0\",\"fields\":[]}",
            "{\"_meta\":true,\"length\":0,\"last_ms\":0,\"last_seq\":0,\"expire_at_ms\":null}\n{\"_meta\":true,\"length\":0,\"last_ms\":0,\"last_seq\":0,\"expire_at_ms\":null}",
            "{\"_meta\":true,\"length\":0}",
        ] {
            assert!(collect(bad).is_err(), "{bad}");
        }
    }
}
