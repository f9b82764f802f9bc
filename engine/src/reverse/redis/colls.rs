//! `hashes/`, `sets/`, `lists/`, `zsets/` back to records (docs/format/40-redis.md §9): one JSON file per
//! key (`format_version` 1) → the consolidated count meta (TTL inline), one row per
//! element, and a `!redis|ttl|` row when the collection expires.

use crate::decode::Family;

use super::incr::{read_collection, IncrError};
use super::names::{each_file, Db};
use super::records::{
    count_meta, list_item_key, list_meta, live_ttl, plain_key, sortable_f64, wide_key, TTL_PREFIX,
};
use crate::dumptree::fsutil::open_regular;
use crate::dumptree::json::{string, Kind, Record};
use crate::dumptree::keymap::RAW_URL;
use crate::dumptree::redis::{TypeDir, HASHES, LISTS, SETS, ZSETS};
use crate::reverse::{ReverseError, Stage};
use base64::Engine as _;

/// A collection type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coll {
    /// `hashes/`.
    Hash,
    /// `sets/`.
    Set,
    /// `lists/`.
    List,
    /// `zsets/`.
    ZSet,
}

impl Coll {
    fn dir(self) -> TypeDir {
        match self {
            Coll::Hash => HASHES,
            Coll::Set => SETS,
            Coll::List => LISTS,
            Coll::ZSet => ZSETS,
        }
    }
}

/// A binary-safe value (docs/format/40-redis.md §6) back to bytes: a JSON string is its UTF-8 bytes,
/// `{"base64": "<unpadded base64url>"}` the decoded bytes; anything else is refused.
pub(crate) fn binary(raw: Option<&[u8]>, what: &str) -> Result<Vec<u8>, String> {
    let Some(raw) = raw else {
        return Err(format!("{what}: missing"));
    };
    match Kind::of(raw) {
        Kind::Str => string(raw).ok_or_else(|| format!("{what}: unreadable string")),
        Kind::Obj => {
            let r = Record::new(raw).map_err(|e| format!("{what}: {e}"))?;
            let Some(b) = r.get("base64") else {
                return Err(format!(
                    "{what}: binary value is neither a string nor a base64 envelope"
                ));
            };
            let text = string(b).ok_or_else(|| format!("{what}: base64 must be a string"))?;
            RAW_URL
                .decode(&text)
                .map_err(|e| format!("{what}: base64: {e}"))
        }
        k => Err(format!(
            "{what}: binary value is neither a string nor a base64 envelope (found {})",
            k.name()
        )),
    }
}

/// A zset score: `"+inf"`, `"-inf"` or a JSON number in `f64` range.
pub(crate) fn score(raw: Option<&[u8]>) -> Result<f64, String> {
    let raw = raw.ok_or("score: missing")?;
    match raw {
        b"\"+inf\"" => return Ok(f64::INFINITY),
        b"\"-inf\"" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    if Kind::of(raw) != Kind::Num {
        return Err(format!(
            "score: expected a number, \"+inf\" or \"-inf\", found {}",
            crate::dumptree::json::describe(raw)
        ));
    }
    let text = std::str::from_utf8(raw).map_err(|_| "score: not a number".to_string())?;
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err(format!("score: {text} is out of range for a float64")),
    }
}

/// Stages every collection file of one type. Each file is read incrementally: element
/// rows are staged as the array streams past, then the meta (whose count and TTL are
/// known only at the end) and the TTL row.
pub(crate) fn encode<S: Stage + ?Sized>(
    coll: Coll,
    db: Db<'_>,
    out: &mut S,
) -> Result<(), ReverseError> {
    each_file(db, coll.dir(), |f, uk| {
        let file = open_regular(&f.path, &f.shown)?
            .ok_or_else(|| ReverseError::invalid(&f.shown, "vanished while being read"))?;
        let bad = |why: String| {
            ReverseError::invalid(
                &f.shown,
                format!("backup: redis encode invalid collection JSON: {why}"),
            )
        };
        let array = match coll {
            Coll::Hash => "fields",
            Coll::Set | Coll::ZSet => "members",
            Coll::List => "items",
        };
        let read = read_collection(file, array, &["format_version", "expire_at_ms"], |i, v| {
            element(coll, &uk, i, v, out)
        });
        let (scalars, n) = read.map_err(|e| match e {
            Ok(Ok(stage_err)) => stage_err,
            Ok(Err(why)) => bad(why),
            Err(IncrError::Io(e)) => ReverseError::io(&f.shown, e),
            Err(IncrError::Bad(why)) => bad(why),
        })?;
        let r = scalars.record().map_err(&bad)?;
        let version: u32 = r.int("format_version", "uint32").map_err(&bad)?;
        if version != 1 {
            return Err(bad(format!("unsupported format_version {version}")));
        }
        let ttl: Option<u64> = r.opt_int("expire_at_ms", "uint64").map_err(&bad)?;
        let n = n as u64;
        let (key, meta) = match coll {
            Coll::Hash => (
                wide_key(Family::RedisHashMeta.prefix(), &uk, b"")?,
                count_meta(n, ttl),
            ),
            Coll::Set => (
                wide_key(Family::RedisSetMeta.prefix(), &uk, b"")?,
                count_meta(n, ttl),
            ),
            Coll::ZSet => (
                wide_key(Family::RedisZsetMeta.prefix(), &uk, b"")?,
                count_meta(n, ttl),
            ),
            Coll::List => (
                plain_key(Family::RedisListMeta.prefix(), &uk),
                list_meta(n, ttl),
            ),
        };
        out.add(key, meta)?;
        if let Some(t) = live_ttl(ttl) {
            out.add(plain_key(TTL_PREFIX, &uk), t.to_be_bytes().to_vec())?;
        }
        Ok(())
    })
}

/// An element's failure: a stage error as is, or a content error for the file.
type ElemResult = Result<(), Result<ReverseError, String>>;

/// Stages the row(s) of element `i` of a collection.
fn element<S: Stage + ?Sized>(
    coll: Coll,
    uk: &[u8],
    i: usize,
    raw: &[u8],
    out: &mut S,
) -> ElemResult {
    let mut add =
        |k: Result<Vec<u8>, ReverseError>, v: Vec<u8>| out.add(k.map_err(Ok)?, v).map_err(Ok);
    match coll {
        Coll::Hash => {
            let e = Record::new(raw).map_err(|e| Err(format!("fields[{i}]: {e}")))?;
            let name = binary(e.get("name"), &format!("fields[{i}].name")).map_err(Err)?;
            let value = binary(e.get("value"), &format!("fields[{i}].value")).map_err(Err)?;
            add(wide_key(Family::RedisHashField.prefix(), uk, &name), value)
        }
        Coll::Set => {
            let m = binary(Some(raw), &format!("members[{i}]")).map_err(Err)?;
            add(
                wide_key(Family::RedisSetMember.prefix(), uk, &m),
                Vec::new(),
            )
        }
        Coll::List => {
            let v = binary(Some(raw), &format!("items[{i}]")).map_err(Err)?;
            add(Ok(list_item_key(uk, i as u64)), v)
        }
        Coll::ZSet => {
            let e = Record::new(raw).map_err(|e| Err(format!("members[{i}]: {e}")))?;
            let member = binary(e.get("member"), &format!("members[{i}].member")).map_err(Err)?;
            let s = score(e.get("score")).map_err(|e| Err(format!("members[{i}].{e}")))?;
            add(
                wide_key(Family::RedisZsetMember.prefix(), uk, &member),
                s.to_bits().to_be_bytes().to_vec(),
            )?;
            let mut suffix = sortable_f64(s).to_vec();
            suffix.extend_from_slice(&member);
            add(
                wide_key(Family::RedisZsetScore.prefix(), uk, &suffix),
                Vec::new(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_values() {
        assert_eq!(binary(Some(br#""a\u00e9""#), "x").unwrap(), "aé".as_bytes());
        assert_eq!(binary(Some(br#"{"base64":"_w"}"#), "x").unwrap(), [0xff]);
        assert_eq!(binary(Some(br#"{"BASE64":"AAE"}"#), "x").unwrap(), [0, 1]);
        assert_eq!(binary(Some(br#""""#), "x").unwrap(), b"");
        for bad in [
            &br#"{"wrong":"x"}"#[..],
            br#"{"base64":null}"#,
            br#"{"base64":"AA=="}"#,
            br#"{"base64":"+/"}"#,
            br#"{"base64":1}"#,
            b"1",
            b"null",
            b"[]",
        ] {
            assert!(
                binary(Some(bad), "x").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(binary(None, "x").is_err());
    }

    #[test]
    fn scores() {
        assert_eq!(score(Some(br#""+inf""#)).unwrap(), f64::INFINITY);
        assert_eq!(score(Some(br#""-inf""#)).unwrap(), f64::NEG_INFINITY);
        assert_eq!(
            score(Some(b"-1e300")).unwrap().to_bits(),
            0xfe37e43c8800759c
        );
        assert_eq!(score(Some(b"1e+21")).unwrap(), 1e21);
        assert_eq!(score(Some(b"0.1")).unwrap().to_bits(), 0x3fb999999999999a);
        assert_eq!(score(Some(b"-0")).unwrap().to_bits(), 0x8000000000000000);
        assert_eq!(
            score(Some(b"123456789012345680000")).unwrap(),
            123456789012345680000.0
        );
        for bad in [&b"1e400"[..], br#""inf""#, br#""1""#, b"true"] {
            assert!(
                score(Some(bad)).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
