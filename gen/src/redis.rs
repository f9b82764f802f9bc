//! Redis sample keys in database 0 (docs/format/40-redis.md §2): strings (with and without inline TTL, plus
//! the TTL index row), an HLL, and one hash, list, set, sorted set and stream.

use super::enc::{cat, len_prefixed};
use super::{Pair, EPOCH_MS};
use elastickv_backup_engine::decode::Family as KeyFamily;
use elastickv_backup_format::values::Pb;

pub(crate) mod synth;

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// `FF <ver> <flags> [BE64 expiry] body` (string: ver 1, HLL: ver 2).
fn envelope(version: u8, expire_at_ms: u64, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xFF, version];
    if expire_at_ms == 0 {
        v.push(0);
    } else {
        v.push(1);
        v.extend_from_slice(&be(expire_at_ms));
    }
    v.extend_from_slice(body);
    v
}

fn sortable_i64(seq: i64) -> [u8; 8] {
    ((seq as u64) ^ 0x8000_0000_0000_0000).to_be_bytes()
}

fn sortable_f64(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let b = score.to_bits();
    let b = if b >> 63 == 0 {
        b ^ 0x8000_0000_0000_0000
    } else {
        !b
    };
    b.to_be_bytes()
}

fn wide(family: KeyFamily, uk: &[u8], rest: &[u8]) -> Vec<u8> {
    cat(&[family.prefix(), &len_prefixed(uk), rest])
}

/// Appends the sample keys; collections hold `count` members.
pub fn generate(count: usize, out: &mut Vec<Pair>) {
    let ttl = EPOCH_MS + 86_400_000;
    for i in 0..count {
        let uk = format!("str:{i:03}");
        let expire = if i % 4 == 0 { ttl } else { 0 };
        out.push((
            KeyFamily::RedisString.key(uk.as_bytes()),
            envelope(1, expire, format!("value {i}").as_bytes()),
        ));
        if expire != 0 {
            out.push((KeyFamily::RedisTtl.key(uk.as_bytes()), be(expire).to_vec()));
        }
    }
    out.push((
        KeyFamily::RedisHll.key(b"visitors"),
        envelope(2, 0, b"HYLL\x01\x00\x00\x00sample"),
    ));

    let n = count as u64;
    out.push((
        wide(KeyFamily::RedisHashMeta, b"profile", b""),
        be(n).to_vec(),
    ));
    for i in 0..count {
        out.push((
            wide(
                KeyFamily::RedisHashField,
                b"profile",
                format!("field{i:03}").as_bytes(),
            ),
            format!("v{i}").into_bytes(),
        ));
    }

    out.push((
        KeyFamily::RedisListMeta.key(b"jobs"),
        cat(&[&be(0), &be(n), &be(n)]),
    ));
    for i in 0..count {
        out.push((
            cat(&[
                &KeyFamily::RedisListItem.key(b"jobs"),
                &sortable_i64(i as i64),
            ]),
            format!("job-{i}").into_bytes(),
        ));
    }

    out.push((
        wide(KeyFamily::RedisSetMeta, b"tags", b""),
        cat(&[&be(n), &be(ttl)]),
    ));
    for i in 0..count {
        out.push((
            wide(
                KeyFamily::RedisSetMember,
                b"tags",
                format!("tag{i:03}").as_bytes(),
            ),
            Vec::new(),
        ));
    }

    out.push((
        wide(KeyFamily::RedisZsetMeta, b"scores", b""),
        be(n).to_vec(),
    ));
    for i in 0..count {
        let member = format!("player{i:03}");
        let score = i as f64 * 1.5 - 3.0;
        out.push((
            wide(KeyFamily::RedisZsetMember, b"scores", member.as_bytes()),
            score.to_bits().to_be_bytes().to_vec(),
        ));
        out.push((
            wide(
                KeyFamily::RedisZsetScore,
                b"scores",
                &cat(&[&sortable_f64(score), member.as_bytes()]),
            ),
            Vec::new(),
        ));
    }

    let last_ms = EPOCH_MS + n;
    out.push((
        wide(KeyFamily::RedisStreamMeta, b"events", b""),
        cat(&[&be(n), &be(last_ms), &be(0)]),
    ));
    for i in 0..count {
        let ms = EPOCH_MS + 1 + i as u64;
        let id = format!("{ms}-0");
        let mut pb = Pb::default().bytes(1, id.as_bytes());
        for f in ["kind", "click", "seq", &i.to_string()] {
            pb = pb.bytes(2, f.as_bytes());
        }
        out.push((
            wide(
                KeyFamily::RedisStreamEntry,
                b"events",
                &cat(&[&be(ms), &be(0)]),
            ),
            cat(&[b"\x00RXE\x01", &pb.0]),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_encodings() {
        assert_eq!(hex::encode(sortable_i64(-1)), "7fffffffffffffff");
        assert_eq!(hex::encode(sortable_i64(0)), "8000000000000000");
        assert_eq!(hex::encode(sortable_f64(1.0)), "bff0000000000000");
        assert_eq!(hex::encode(sortable_f64(-0.0)), "8000000000000000");
        assert_eq!(envelope(1, 0, b"v"), b"\xff\x01\x00v".to_vec());
    }
}
