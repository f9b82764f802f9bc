//! Value envelopes of the Redis keyspace (docs/format/40-redis.md §3): string/HLL headers, the TTL index
//! value and the fixed-width metas. Pure functions over bytes, so every rule (clamping,
//! which lengths are accepted, what owns a TTL) is tested in isolation.

/// Largest expiry the live decoder keeps for strings, HLLs and TTL index rows.
const CLAMP: u64 = i64::MAX as u64;

/// A decoded `!redis|str|` / `!redis|hll|` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simple {
    /// Where the body starts in the value.
    pub body_at: usize,
    /// The value had the `FF <version>` header: its (possibly absent) TTL is authoritative.
    pub new_format: bool,
    /// Inline expiry in Unix ms, clamped to `i64::MAX`; 0 = none.
    pub expire_at_ms: u64,
}

/// Decodes a string (`version` 1) or HLL (`version` 2) envelope. A value not starting
/// with `FF <version>` is legacy: the whole value is the body. The error is upstream's
/// detail text.
pub fn decode_simple(value: &[u8], version: u8) -> Result<Simple, &'static str> {
    if value.len() < 2 || value[0] != 0xff || value[1] != version {
        return Ok(Simple {
            body_at: 0,
            new_format: false,
            expire_at_ms: 0,
        });
    }
    let Some(&flags) = value.get(2) else {
        return Err("header truncated");
    };
    if flags & 0x01 == 0 {
        return Ok(Simple {
            body_at: 3,
            new_format: true,
            expire_at_ms: 0,
        });
    }
    let ttl = be64(value, 3).ok_or("ttl section truncated")?;
    Ok(Simple {
        body_at: 11,
        new_format: true,
        expire_at_ms: ttl.min(CLAMP),
    })
}

/// Decodes a `!redis|ttl|` value: exactly 8 bytes, clamped. The error is the length.
pub fn decode_ttl(value: &[u8]) -> Result<u64, usize> {
    if value.len() != 8 {
        return Err(value.len());
    }
    be64(value, 0).map(|v| v.min(CLAMP)).ok_or(value.len())
}

/// What a collection meta row says. `slot` is the inline TTL slot when the meta has one
/// (`Some(0)` = explicitly no TTL, still owning it); `None` for the short legacy forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Declared length (hash/set/zset Len, list Len, stream Length).
    pub declared: i64,
    /// Stream last ID, milliseconds part (streams only).
    pub last_ms: u64,
    /// Stream last ID, sequence part (streams only).
    pub last_seq: u64,
    /// Inline TTL slot.
    pub slot: Option<u64>,
}

fn declared(raw: u64, what: &str) -> Result<i64, String> {
    i64::try_from(raw).map_err(|_| format!("declared {what} {raw} overflows int64"))
}

/// Hash/set/zset count meta: 8 bytes (`Len`) or 16 (`Len ‖ ExpireAtMs`).
pub fn decode_count_meta(value: &[u8]) -> Result<Meta, String> {
    if value.len() != 8 && value.len() != 16 {
        return Err(format!("length {} not in {{8,16}}", value.len()));
    }
    let len = declared(be64(value, 0).unwrap_or(0), "len")?;
    Ok(Meta {
        declared: len,
        slot: be64(value, 8),
        ..Meta::default()
    })
}

/// List meta: 24 bytes (`Head ‖ Tail ‖ Len`) or 32 (`… ‖ ExpireAtMs`).
pub fn decode_list_meta(value: &[u8]) -> Result<Meta, String> {
    if value.len() != 24 && value.len() != 32 {
        return Err(format!("length {} not in {{24,32}}", value.len()));
    }
    let len = declared(be64(value, 16).unwrap_or(0), "len")?;
    Ok(Meta {
        declared: len,
        slot: be64(value, 24),
        ..Meta::default()
    })
}

/// Whether a value under `!lst|meta|d|` is a list meta (of a list whose key starts with
/// `d|`) rather than a delta. Deltas are always 16 bytes and metas 24 or 32, so the
/// length alone decides.
pub fn is_list_meta_len(len: usize) -> bool {
    len == 24 || len == 32
}

/// Stream meta: 24 bytes (`Length ‖ LastMs ‖ LastSeq`), 32 (`… ‖ ExpireAtMs`) or 48
/// (`… ‖ TrimmedMs ‖ TrimmedSeq`, trim cursor ignored).
pub fn decode_stream_meta(value: &[u8]) -> Result<Meta, String> {
    if value.len() != 24 && value.len() != 32 && value.len() != 48 {
        return Err(format!("length {} not in {{24,32,48}}", value.len()));
    }
    let length = declared(be64(value, 0).unwrap_or(0), "length")?;
    Ok(Meta {
        declared: length,
        last_ms: be64(value, 8).unwrap_or(0),
        last_seq: be64(value, 16).unwrap_or(0),
        slot: be64(value, 24),
    })
}

/// Big-endian u64 at `at`, if 8 bytes are there.
pub fn be64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn strings_v1_to_v4() {
        // V1: new format, no TTL.
        let v = h("ff0100 68656c6c6f");
        let d = decode_simple(&v, 1).unwrap();
        assert_eq!(
            (&v[d.body_at..], d.new_format, d.expire_at_ms),
            (&b"hello"[..], true, 0)
        );
        // V2: inline TTL.
        let v = h("ff0101 000001941f297c00 746f6b");
        let d = decode_simple(&v, 1).unwrap();
        assert_eq!(
            (&v[d.body_at..], d.expire_at_ms),
            (&b"tok"[..], 1735689600000)
        );
        // V3/V4: legacy.
        let d = decode_simple(b"v1", 1).unwrap();
        assert_eq!((d.body_at, d.new_format), (0, false));
        let d = decode_simple(&h("00ff0a"), 1).unwrap();
        assert_eq!((d.body_at, d.new_format), (0, false));
        // Other flag bits are ignored.
        let d = decode_simple(&h("ff01fe 41"), 1).unwrap();
        assert_eq!((d.body_at, d.expire_at_ms), (3, 0));
        // An HLL header is not a string header.
        assert!(!decode_simple(&h("ff0200"), 1).unwrap().new_format);
    }

    #[test]
    fn truncated_headers_and_clamp() {
        assert_eq!(decode_simple(&h("ff01"), 1), Err("header truncated"));
        assert_eq!(
            decode_simple(&h("ff0101 0000"), 1),
            Err("ttl section truncated")
        );
        assert_eq!(decode_simple(&h("ff02"), 2), Err("header truncated"));
        let d = decode_simple(&h("ff0201 ffffffffffffffff 00"), 2).unwrap();
        assert_eq!(d.expire_at_ms, i64::MAX as u64);
        // V5: HLL with TTL.
        let v = h("ff0201 000001941f297c00 005253010a0161");
        let d = decode_simple(&v, 2).unwrap();
        assert_eq!(&v[d.body_at..], &h("005253010a0161")[..]);
        assert_eq!(d.expire_at_ms, 1735689600000);
    }

    #[test]
    fn ttl_index() {
        assert_eq!(decode_ttl(&h("000001941f297c00")), Ok(1735689600000));
        assert_eq!(decode_ttl(&h("8000000000000000")), Ok(i64::MAX as u64));
        assert_eq!(decode_ttl(&h("00")), Err(1));
        assert_eq!(decode_ttl(&[]), Err(0));
    }

    #[test]
    fn metas() {
        let m = decode_count_meta(&h("0000000000000002")).unwrap();
        assert_eq!((m.declared, m.slot), (2, None));
        let m = decode_count_meta(&h("0000000000000000 0000000000000000")).unwrap();
        assert_eq!(m.slot, Some(0));
        assert!(decode_count_meta(&h("00"))
            .unwrap_err()
            .contains("length 1 not in {8,16}"));
        assert!(decode_count_meta(&h("8000000000000000"))
            .unwrap_err()
            .contains("overflows int64"));
        // V8: Head -2, Tail 1, Len 3.
        let m = decode_list_meta(&h("fffffffffffffffe 0000000000000001 0000000000000003")).unwrap();
        assert_eq!((m.declared, m.slot), (3, None));
        let m = decode_list_meta(&h(
            "0000000000000000 0000000000000001 0000000000000001 000001941f297c00",
        ))
        .unwrap();
        assert_eq!(m.slot, Some(1735689600000));
        assert!(decode_list_meta(&[0; 16]).is_err());
        assert!(is_list_meta_len(24) && is_list_meta_len(32) && !is_list_meta_len(16));
        // V14 stream meta, and the 48-byte trim-cursor form.
        let m = decode_stream_meta(&h(
            "0000000000000002 0000018f2a33f801 0000000000000000 000001941f297c00",
        ))
        .unwrap();
        assert_eq!(
            (m.declared, m.last_ms, m.last_seq, m.slot),
            (2, 1714400000001, 0, Some(1735689600000))
        );
        let mut v48 = vec![0u8; 48];
        v48[7] = 1;
        assert_eq!(decode_stream_meta(&v48).unwrap().slot, Some(0));
        assert_eq!(decode_stream_meta(&[0; 24]).unwrap().slot, None);
        assert!(decode_stream_meta(&[0; 40]).is_err());
    }
}
