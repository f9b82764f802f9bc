//! Key layouts of the wide-column families (docs/format/40-redis.md §2): the `BE32(len) ‖ UK` prefix
//! shared by hashes, sets, zsets, streams and deltas, and the unprefixed list item key.
//! Every function takes the key with its family prefix already removed.

use super::envelope::be64;

/// Splits `BE32(len) ‖ UK ‖ tail` into `(UK, tail)`; `None` when the length prefix is
/// short or claims more bytes than there are.
pub fn split_len_prefixed(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let len_bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    let n = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
    let body = rest.get(4..)?;
    if body.len() < n {
        return None;
    }
    Some(body.split_at(n))
}

/// A list item key `UK ‖ sortable(seq)`: the user key is everything but the last 8
/// bytes. `None` with fewer than 8 bytes.
pub fn list_item_user_key(rest: &[u8]) -> Option<&[u8]> {
    let n = rest.len().checked_sub(8)?;
    rest.get(..n)
}

/// A stream entry key `BE32(len) ‖ UK ‖ BE64(ms) ‖ BE64(seq)`: exactly 16 bytes must
/// follow the user key.
pub fn stream_entry(rest: &[u8]) -> Option<(&[u8], u64, u64)> {
    let (uk, tail) = split_len_prefixed(rest)?;
    if tail.len() != 16 {
        return None;
    }
    Some((uk, be64(tail, 0)?, be64(tail, 8)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_prefixed() {
        assert_eq!(
            split_len_prefixed(b"\x00\x00\x00\x06user:1age"),
            Some((&b"user:1"[..], &b"age"[..]))
        );
        assert_eq!(
            split_len_prefixed(b"\x00\x00\x00\x00"),
            Some((&b""[..], &b""[..]))
        );
        assert_eq!(split_len_prefixed(b"\x00\x00\x00"), None);
        assert_eq!(split_len_prefixed(b"\x00\x00\x00\x07user:1"), None);
        assert_eq!(split_len_prefixed(b"\xff\xff\xff\xffx"), None);
    }

    #[test]
    fn list_items() {
        assert_eq!(
            list_item_user_key(b"jobs\x7f\xff\xff\xff\xff\xff\xff\xfe"),
            Some(&b"jobs"[..])
        );
        assert_eq!(
            list_item_user_key(&[0x80, 0, 0, 0, 0, 0, 0, 0]),
            Some(&b""[..])
        );
        assert_eq!(list_item_user_key(b"short"), None);
    }

    #[test]
    fn stream_keys() {
        let mut k = b"\x00\x00\x00\x06events".to_vec();
        k.extend_from_slice(&hex::decode("0000018f2a33f8000000000000000007").unwrap());
        assert_eq!(stream_entry(&k), Some((&b"events"[..], 1714400000000, 7)));
        k.push(0);
        assert_eq!(stream_entry(&k), None);
        assert_eq!(stream_entry(b"\x00\x00\x00\x01e"), None);
    }
}
