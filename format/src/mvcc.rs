//! MVCC rows (docs/format/00-container.md §2): a stored key/value → user key, commit ts,
//! expiry, tombstone. Every source (snapshot scanner, live pages) yields [`RawEntry`]s and
//! every adapter consumes them, so the type lives with the layout, below both.

use crate::container::{ContainerError, Framed};
use bytes::Bytes;

/// One MVCC version of one user key, as read from a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The user key (the internal key, e.g. `!redis|str|k`) without the timestamp suffix.
    pub user_key: Bytes,
    /// Commit timestamp (HLC: physical ms << 16 | logical).
    pub commit_ts: u64,
    /// MVCC expiry, Unix ms; 0 = none.
    pub expire_at_ms: u64,
    /// Delete marker.
    pub tombstone: bool,
    /// The value body (after the 9-byte value header).
    pub value: Bytes,
}

/// A visible entry: what adapters receive (the same shape, after the visibility filter).
pub type Entry = RawEntry;

/// What one stored row is.
#[derive(Debug)]
pub enum Row {
    /// An MVCC version.
    Version(RawEntry),
    /// An operational row the store keeps beside the data (`_meta_*`, encryption writer
    /// registry): recognised and skipped.
    Operational,
}

/// Raw (non-MVCC) rows a live store's snapshot contains.
fn is_operational(key: &[u8]) -> bool {
    key.starts_with(b"_meta_") || key.starts_with(b"!encryption|writers|")
}

/// Decodes one framed entry in upstream's check order (§2.3).
pub fn decode_row(f: Framed) -> Result<Row, ContainerError> {
    if is_operational(&f.key) {
        return Ok(Row::Operational);
    }
    let klen = f.key.len();
    if klen < 8 {
        return Err(ContainerError::ShortKey {
            offset: f.offset,
            len: klen as u64,
        });
    }
    if f.value.len() < 9 {
        return Err(ContainerError::ShortValue {
            offset: f.offset,
            len: f.value.len() as u64,
        });
    }
    let flags = f.value[0];
    if flags & 0xf8 != 0 {
        return Err(ContainerError::EncryptedReserved {
            offset: f.offset,
            detail: format!("value header byte {flags:#010b}"),
        });
    }
    match (flags & 0x06) >> 1 {
        0 => {}
        1 => return Err(ContainerError::EncryptedEntry { offset: f.offset }),
        s => {
            return Err(ContainerError::EncryptedReserved {
                offset: f.offset,
                detail: format!("encryption_state={s:#x} is reserved"),
            })
        }
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&f.key[klen - 8..]);
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&f.value[1..9]);
    Ok(Row::Version(RawEntry {
        user_key: f.key.slice(..klen - 8),
        commit_ts: !u64::from_be_bytes(ts),
        expire_at_ms: u64::from_le_bytes(exp),
        tombstone: flags & 1 == 1,
        value: f.value.slice(9..),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{locate, FrameReader};

    fn rows(s: &str) -> Vec<Result<Row, ContainerError>> {
        let p = locate(Bytes::from(hex::decode(s.replace(' ', "")).unwrap())).unwrap();
        FrameReader::new(&p)
            .map(|f| f.and_then(decode_row))
            .collect()
    }

    fn version(r: &Result<Row, ContainerError>) -> &RawEntry {
        match r {
            Ok(Row::Version(e)) => e,
            other => panic!("not a version: {other:?}"),
        }
    }

    #[test]
    fn tv2_tv3_tv4() {
        let r = rows("454b565042424c31 6400000000000000 1400000000000000 2172656469737c7374727c6bfffffffffffffffa 0a00000000000000 000000000000000000 76");
        let e = version(&r[0]);
        assert_eq!(&e.user_key[..], b"!redis|str|k");
        assert_eq!((e.commit_ts, e.expire_at_ms, e.tombstone), (5, 0, false));
        assert_eq!(&e.value[..], b"v");
        let r = rows("454b565042424c3107000000000000001400000000000000 2172656469737c7374727c6bfffffffffffffff9 0900000000000000 010000000000000000");
        assert!(version(&r[0]).tombstone);
        let r = rows("454b565042424c3107000000000000001400000000000000 2172656469737c7374727c74fefdfcfbfaf9f8f7 0a00000000000000 00007c291f94010000 78");
        let e = version(&r[0]);
        assert_eq!(e.commit_ts, 72623859790382856);
        assert_eq!(e.expire_at_ms, 1735689600000);
    }

    #[test]
    fn tv7_to_tv10_errors() {
        let mut s = "454b565042424c31 0100000000000000 1400000000000000 2172656469737c7374727c6bfffffffffffffffe 2b00000000000000 020000000000000000".to_string();
        s.push_str(&"aa".repeat(34));
        assert!(matches!(
            rows(&s)[0],
            Err(ContainerError::EncryptedEntry { offset: 16 })
        ));
        let s = "454b565042424c31 0100000000000000 1400000000000000 2172656469737c7374727c6bfffffffffffffffe 0900000000000000 030000000000000000";
        assert!(matches!(
            rows(s)[0],
            Err(ContainerError::EncryptedEntry { .. })
        ));
        for (flag, text) in [
            ("08", "value header byte 0b00001000"),
            ("04", "encryption_state=0x2 is reserved"),
            ("06", "encryption_state=0x3 is reserved"),
        ] {
            let s = format!("454b565042424c31 0100000000000000 1400000000000000 2172656469737c7374727c6bfffffffffffffffe 0900000000000000 {flag}0000000000000000");
            let e = rows(&s).remove(0).unwrap_err();
            assert!(e.to_string().starts_with(text), "{e}");
        }
        let e = rows("454b565042424c31 0100000000000000 0400000000000000 61626364 0900000000000000 000000000000000000").remove(0).unwrap_err();
        assert!(
            e.to_string().starts_with("encoded key length 4 < 8: "),
            "{e}"
        );
    }

    #[test]
    fn operational_rows_are_skipped_not_fatal() {
        // TV-10: a raw `_meta_last_commit_ts` row, fatal upstream, skipped here.
        let r = rows("454b565042424c31 0100000000000000 1400000000000000 5f6d6574615f6c6173745f636f6d6d69745f7473 0800000000000000 6400000000000000");
        assert!(matches!(r[0], Ok(Row::Operational)));
    }
}
