//! `streams/<seg>.jsonl` back to records (docs/format/40-redis.md §9): every entry line → one
//! `!stream|entry|` row (protobuf value, ID from the line), the one `_meta` line → the
//! stream meta (TTL inline) and, when it expires, a `!redis|ttl|` row. The file is read
//! one JSON value at a time, and entries are staged as they are read.
//!
//! Refused as upstream refuses them: a missing or repeated `_meta` line, a negative or
//! wrong `length`, a meta last ID below the largest entry ID, an ID that is not
//! `<u64>-<u64>`, and fields that are not UTF-8 (a protobuf `string` cannot hold them).

use elastickv_backup_engine::decode::Family;

use super::names::{each_file, Db};
use super::records::{live_ttl, plain_key, stream_entry, stream_meta, wide_key, TTL_PREFIX};
use crate::{ReverseError, Stage};
use elastickv_backup_dumptree::fsutil::open_regular;
use elastickv_backup_dumptree::json::{Record, ValueStream};
use elastickv_backup_dumptree::redis::values::binary_value as binary;
use elastickv_backup_dumptree::redis::STREAMS;
use std::io::BufReader;

/// Parses a stream ID `ms-seq` (decimal, no sign).
fn parse_id(id: &str) -> Result<(u64, u64), String> {
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (ms, seq) = id
        .split_once('-')
        .ok_or_else(|| format!("stream id {id:?} missing '-'"))?;
    match (num(ms), num(seq)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("stream id {id:?} is not <ms>-<seq> in decimal")),
    }
}

/// The `_meta` line.
struct Meta {
    length: i64,
    last_ms: u64,
    last_seq: u64,
    ttl: Option<u64>,
}

/// Stages every stream file.
pub(crate) fn encode<S: Stage + ?Sized>(db: Db<'_>, out: &mut S) -> Result<(), ReverseError> {
    each_file(db, STREAMS, |f, uk| {
        let file = open_regular(&f.path, &f.shown)?
            .ok_or_else(|| ReverseError::invalid(&f.shown, "vanished while being read"))?;
        let mut s = ValueStream::new(BufReader::new(file));
        let mut line = 0usize;
        let bad = |line: usize, why: String| {
            ReverseError::invalid(
                &f.shown,
                format!("backup: redis encode invalid collection JSON: value {line}: {why}"),
            )
        };
        let mut meta: Option<Meta> = None;
        let (mut count, mut max): (i64, Option<(u64, u64)>) = (0, None);
        loop {
            let v = match s.next_value() {
                Ok(Some(v)) => v,
                Ok(None) => break,
                Err(Ok(e)) => return Err(ReverseError::io(&f.shown, e)),
                Err(Err(why)) => return Err(bad(line + 1, why)),
            };
            line += 1;
            let r = Record::new(&v).map_err(|e| bad(line, e))?;
            if r.bool("_meta").map_err(|e| bad(line, e))? {
                if meta.is_some() {
                    return Err(bad(line, "multiple _meta lines".into()));
                }
                meta = Some(Meta {
                    length: r.int("length", "int64").map_err(|e| bad(line, e))?,
                    last_ms: r.int("last_ms", "uint64").map_err(|e| bad(line, e))?,
                    last_seq: r.int("last_seq", "uint64").map_err(|e| bad(line, e))?,
                    ttl: r
                        .opt_int("expire_at_ms", "uint64")
                        .map_err(|e| bad(line, e))?,
                });
                continue;
            }
            let id = r.text("id").map_err(|e| bad(line, e))?;
            let (ms, seq) = parse_id(&id).map_err(|e| bad(line, e))?;
            let mut fields = Vec::new();
            for (i, fr) in r
                .array("fields")
                .map_err(|e| bad(line, e))?
                .iter()
                .enumerate()
            {
                let fr = Record::new(fr).map_err(|e| bad(line, e))?;
                for (part, what) in [("name", "name"), ("value", "value")] {
                    let b = binary(fr.get(part), &format!("fields[{i}].{what}"))
                        .map_err(|e| bad(line, e))?;
                    if std::str::from_utf8(&b).is_err() {
                        return Err(bad(
                            line,
                            format!(
                                "fields[{i}].{what} is not UTF-8: stream fields are protobuf \
                                 strings and cannot hold binary data"
                            ),
                        ));
                    }
                    fields.push(b);
                }
            }
            let mut id_bytes = [0u8; 16];
            id_bytes[..8].copy_from_slice(&ms.to_be_bytes());
            id_bytes[8..].copy_from_slice(&seq.to_be_bytes());
            out.add(
                wide_key(Family::RedisStreamEntry.prefix(), &uk, &id_bytes)?,
                stream_entry(&id, &fields),
            )?;
            count += 1;
            max = max.max(Some((ms, seq)));
        }
        let m = meta.ok_or_else(|| bad(line, "missing _meta line".into()))?;
        if m.length < 0 {
            return Err(bad(line, format!("negative _meta length {}", m.length)));
        }
        if m.length != count {
            return Err(bad(
                line,
                format!("_meta length {} disagrees with {count} entries", m.length),
            ));
        }
        if let Some((ms, seq)) = max.filter(|&top| top > (m.last_ms, m.last_seq)) {
            return Err(bad(
                line,
                format!(
                    "_meta last id {}-{} is behind the largest entry id {ms}-{seq}",
                    m.last_ms, m.last_seq
                ),
            ));
        }
        out.add(
            wide_key(Family::RedisStreamMeta.prefix(), &uk, b"")?,
            stream_meta(m.length, m.last_ms, m.last_seq, m.ttl),
        )?;
        if let Some(t) = live_ttl(m.ttl) {
            out.add(plain_key(TTL_PREFIX, &uk), t.to_be_bytes().to_vec())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("1714400000000-0").unwrap(), (1_714_400_000_000, 0));
        assert_eq!(parse_id("007-1").unwrap(), (7, 1));
        for bad in [
            "",
            "1",
            "-1",
            "1-",
            "+1-0",
            "1-+0",
            "1-2-3",
            "18446744073709551616-0",
            "a-b",
        ] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }
}
