//! HLL bodies. elastickv keeps an HLL as the exact set of its members, stored as
//! `\x00RS\x01` ‖ protobuf `RedisSetValue { repeated string members = 1; }`
//! (docs/format/40-redis.md §2); replaying those members with PFADD rebuilds the same
//! value on elastickv and an equivalent sketch on Redis. Any other body (a Redis `HYLL`
//! string, say) is opaque and is restored byte for byte with SET, which is how Redis
//! itself stores an HLL.

use std::io::{BufRead, Read};

/// Prefix of elastickv's member-set HLL payload.
pub const MEMBER_SET_MAGIC: &[u8] = b"\x00RS\x01";

/// Longest member accepted (a guard against a corrupt length, not an elastickv limit).
const MAX_MEMBER: u64 = 512 << 20;

fn read_varint<R: BufRead>(r: &mut R) -> Result<Option<u64>, String> {
    let mut v = 0u64;
    for i in 0..10 {
        let mut b = [0u8; 1];
        match r.read(&mut b) {
            Ok(0) if i == 0 => return Ok(None),
            Ok(0) => return Err("truncated varint".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("read: {e}")),
        }
        v |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(Some(v));
        }
    }
    Err("varint longer than 10 bytes".into())
}

fn skip<R: BufRead>(r: &mut R, n: u64) -> Result<(), String> {
    let copied =
        std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| format!("read: {e}"))?;
    if copied != n {
        return Err("truncated field".into());
    }
    Ok(())
}

/// Reads a `RedisSetValue` (after the magic), calling `each` per member in wire order;
/// returns the member count. Unknown fields are skipped, as protobuf requires.
pub fn walk_members<R: BufRead>(
    r: &mut R,
    each: &mut dyn FnMut(Vec<u8>) -> Result<(), String>,
) -> Result<u64, String> {
    let mut n = 0;
    while let Some(tag) = read_varint(r)? {
        let (field, wire) = (tag >> 3, tag & 7);
        if field == 0 {
            return Err("field number 0".into());
        }
        match wire {
            0 => {
                read_varint(r)?.ok_or("truncated varint")?;
            }
            1 => skip(r, 8)?,
            5 => skip(r, 4)?,
            2 => {
                let len = read_varint(r)?.ok_or("truncated length")?;
                if len > MAX_MEMBER {
                    return Err(format!("field of {len} bytes"));
                }
                if field == 1 {
                    let mut m = Vec::with_capacity(len.min(1 << 20) as usize);
                    let got = r
                        .take(len)
                        .read_to_end(&mut m)
                        .map_err(|e| format!("read: {e}"))?;
                    if got as u64 != len {
                        return Err("truncated member".into());
                    }
                    n += 1;
                    each(m)?;
                } else {
                    skip(r, len)?;
                }
            }
            w => return Err(format!("field {field} has unsupported wire type {w}")),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let mut v = Vec::new();
        let mut r = body;
        let n = walk_members(&mut r, &mut |m| {
            v.push(m);
            Ok(())
        })?;
        assert_eq!(n as usize, v.len());
        Ok(v)
    }

    #[test]
    fn reads_member_sets() {
        // Spec 40 V5's body after the magic: one member "a".
        assert_eq!(members(b"\x0a\x01a").unwrap(), vec![b"a".to_vec()]);
        assert_eq!(members(b"").unwrap(), Vec::<Vec<u8>>::new());
        // Unknown fields of every wire type are skipped.
        let body = b"\x0a\x01x\x10\x96\x01\x19\x00\x00\x00\x00\x00\x00\x00\x00\x22\x02zz\x2d\x00\x00\x00\x00\x0a\x00";
        assert_eq!(members(body).unwrap(), vec![b"x".to_vec(), b"".to_vec()]);
        for bad in [
            &b"\x0a\x05ab"[..],
            b"\x0a",
            b"\x0b",
            b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        ] {
            assert!(members(bad).is_err(), "{bad:?}");
        }
    }
}
