//! The internal Redis keys and values the encoder writes (docs/format/40-redis.md §2–§3, §9), in the
//! live store's layout so a restored cluster serves them: strings always in the `FF 01`
//! envelope, TTLs inline in the value or meta plus the `!redis|ttl|` scan-index row for
//! non-string types, consolidated count metas (no deltas), lists renumbered from 0, zsets
//! with both the member and the score index.

use elastickv_backup_engine::decode::Family;

use crate::ReverseError;

/// `!redis|ttl|` scan-index prefix.
pub(crate) const TTL_PREFIX: &[u8] = Family::RedisTtl.prefix();
/// Magic of a stream entry value.
const STREAM_MAGIC: &[u8] = b"\x00RXE\x01";
/// XOR mask of the sortable int64 / float64 encodings.
const SIGN: u64 = 0x8000_0000_0000_0000;

/// `prefix ‖ UK` (strings, HLLs, TTL rows, list metas).
pub(crate) fn plain_key(prefix: &[u8], uk: &[u8]) -> Vec<u8> {
    [prefix, uk].concat()
}

/// `prefix ‖ BE32(len UK) ‖ UK ‖ suffix` (hash/set/zset/stream keys).
pub(crate) fn wide_key(prefix: &[u8], uk: &[u8], suffix: &[u8]) -> Result<Vec<u8>, ReverseError> {
    let len = u32::try_from(uk.len()).map_err(|_| ReverseError::TooLarge {
        what: "key",
        key: String::from_utf8_lossy(uk.get(..64).unwrap_or(uk)).into_owned(),
        len: uk.len(),
        limit: u32::MAX as usize,
    })?;
    let mut k = Vec::with_capacity(prefix.len() + 4 + uk.len() + suffix.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(uk);
    k.extend_from_slice(suffix);
    Ok(k)
}

/// A string (`version` 1) or HLL (`version` 2) envelope: `FF ver 00 ‖ body`, or
/// `FF ver 01 ‖ BE64(ttl) ‖ body` when `ttl` ≠ 0.
pub(crate) fn envelope(version: u8, ttl: u64, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(11 + body.len());
    v.extend_from_slice(&[0xFF, version]);
    if ttl == 0 {
        v.push(0);
    } else {
        v.push(1);
        v.extend_from_slice(&ttl.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// The TTL that counts: present and non-zero.
pub(crate) fn live_ttl(ttl: Option<u64>) -> Option<u64> {
    ttl.filter(|&t| t != 0)
}

/// Hash/set/zset meta: `BE64(n)` or `BE64(n) ‖ BE64(ttl)`.
pub(crate) fn count_meta(n: u64, ttl: Option<u64>) -> Vec<u8> {
    let mut v = n.to_be_bytes().to_vec();
    if let Some(t) = live_ttl(ttl) {
        v.extend_from_slice(&t.to_be_bytes());
    }
    v
}

/// List meta in the canonical restored form: Head 0, Tail n, Len n [, TTL].
pub(crate) fn list_meta(n: u64, ttl: Option<u64>) -> Vec<u8> {
    let mut v = Vec::with_capacity(32);
    v.extend_from_slice(&0u64.to_be_bytes());
    v.extend_from_slice(&n.to_be_bytes());
    v.extend_from_slice(&n.to_be_bytes());
    if let Some(t) = live_ttl(ttl) {
        v.extend_from_slice(&t.to_be_bytes());
    }
    v
}

/// `!lst|itm|UK ‖ sortable(seq)`.
pub(crate) fn list_item_key(uk: &[u8], seq: u64) -> Vec<u8> {
    let mut k = plain_key(Family::RedisListItem.prefix(), uk);
    k.extend_from_slice(&(seq ^ SIGN).to_be_bytes());
    k
}

/// The score index's order-preserving encoding (−0 is stored as +0).
pub(crate) fn sortable_f64(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let b = score.to_bits();
    let b = if b & SIGN == 0 { b ^ SIGN } else { !b };
    b.to_be_bytes()
}

/// Stream meta: `BE64(length) ‖ BE64(last_ms) ‖ BE64(last_seq)` [‖ `BE64(ttl)`].
pub(crate) fn stream_meta(length: i64, last_ms: u64, last_seq: u64, ttl: Option<u64>) -> Vec<u8> {
    let mut v = Vec::with_capacity(32);
    v.extend_from_slice(&length.to_be_bytes());
    v.extend_from_slice(&last_ms.to_be_bytes());
    v.extend_from_slice(&last_seq.to_be_bytes());
    if let Some(t) = live_ttl(ttl) {
        v.extend_from_slice(&t.to_be_bytes());
    }
    v
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A stream entry value: the magic and a `RedisStreamEntry` protobuf (field 1 `id`,
/// omitted when empty; field 2 `fields`, every one written), as Go marshals it.
pub(crate) fn stream_entry(id: &str, fields: &[Vec<u8>]) -> Vec<u8> {
    let mut v = STREAM_MAGIC.to_vec();
    if !id.is_empty() {
        v.push(0x0A);
        put_varint(&mut v, id.len() as u64);
        v.extend_from_slice(id.as_bytes());
    }
    for f in fields {
        v.push(0x12);
        put_varint(&mut v, f.len() as u64);
        v.extend_from_slice(f);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn spec_40_encodings() {
        assert_eq!(envelope(1, 0, b"hello"), h("ff0100 68656c6c6f"));
        assert_eq!(
            envelope(1, 1_735_689_600_000, b"tok"),
            h("ff0101 000001941f297c00 746f6b")
        );
        assert_eq!(
            envelope(2, 1_735_689_600_000, &h("005253010a0161")),
            h("ff0201 000001941f297c00 005253010a0161")
        );
        assert_eq!(count_meta(2, None), h("0000000000000002"));
        assert_eq!(count_meta(2, Some(0)), h("0000000000000002"));
        assert_eq!(
            count_meta(4, Some(1_735_689_600_000)),
            h("0000000000000004 000001941f297c00")
        );
        assert_eq!(
            list_meta(3, None),
            h("0000000000000000 0000000000000003 0000000000000003")
        );
        assert_eq!(
            list_item_key(b"q", 0),
            [&b"!lst|itm|q"[..], &h("8000000000000000")].concat()
        );
        assert_eq!(list_item_key(b"q", 2)[10..], h("8000000000000002"));
        assert_eq!(hex::encode(sortable_f64(1.0)), "bff0000000000000");
        assert_eq!(hex::encode(sortable_f64(-0.0)), "8000000000000000");
        assert_eq!(hex::encode(sortable_f64(-1.0)), "400fffffffffffff");
        assert_eq!(
            hex::encode(sortable_f64(f64::NEG_INFINITY)),
            "000fffffffffffff"
        );
        assert_eq!(hex::encode(sortable_f64(-1e300)), "01c81bc377ff8a63");
        assert_eq!(
            wide_key(b"!hs|fld|", b"user:1", b"age").unwrap(),
            b"!hs|fld|\x00\x00\x00\x06user:1age".to_vec()
        );
    }

    #[test]
    fn v14_stream_values() {
        let e = stream_entry(
            "1714400000000-0",
            &[
                b"event".to_vec(),
                b"login".to_vec(),
                b"user".to_vec(),
                b"alice".to_vec(),
            ],
        );
        assert_eq!(
            e,
            h("0052584501 0a0f313731343430303030303030302d30 12056576656e74 12056c6f67696e 120475736572 1205616c696365")
        );
        assert_eq!(stream_entry("", &[Vec::new()]), h("0052584501 1200"));
        assert_eq!(
            stream_meta(2, 1_714_400_000_001, 0, Some(1_735_689_600_000)),
            h("0000000000000002 0000018f2a33f801 0000000000000000 000001941f297c00")
        );
        assert_eq!(stream_meta(1, 9, 3, None).len(), 24);
        let long = vec![b'x'; 300];
        assert_eq!(&stream_entry("", &[long])[5..8], &h("12ac02")[..]);
    }
}
