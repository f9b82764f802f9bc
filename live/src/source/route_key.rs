//! Route-key normalisation (docs/format/50-live-cluster.md §3.3): the key a storage key is *routed by*.
//!
//! A group owns the storage keys whose route key falls in one of its route ranges, not the
//! keys whose raw bytes do. The producer needs this to drop stale copies a group still holds
//! (migration leftovers), and the loopback server uses the same function to place keys, so
//! the two sides can never disagree.

use elastickv_backup_engine::decode::Family;
use elastickv_backup_format::keys::SQS_ROUTE_GLOBAL;
use elastickv_backup_format::keys::{ns, DDB_ROUTE_TABLE as DDB_ROUTE, SQS_PARTITION_MARKER};
use std::borrow::Cow;

const S3_ROUTE: &[u8] = Family::S3Route.prefix();

/// The families whose keys are owned through a `|p|` partition map outside the route table
/// (SQS high-throughput FIFO partitions). The producer keeps them from whichever group
/// returns them.
pub fn is_explicit_group_key(key: &[u8]) -> bool {
    // Every family below starts with this: one comparison settles nearly every key (this
    // runs once per key of every ownership check).
    const MSG: &[u8] = b"!sqs|msg|";
    if !key.starts_with(MSG) {
        return false;
    }
    const FAMILIES: [Family; 5] = [
        Family::SqsMsgData,
        Family::SqsMsgVis,
        Family::SqsMsgByAge,
        Family::SqsMsgDedup,
        Family::SqsMsgGroup,
    ];
    FAMILIES.iter().any(|f| {
        key.strip_prefix(f.prefix())
            .is_some_and(|rest| rest.starts_with(SQS_PARTITION_MARKER))
    })
}

/// The route key of storage key `key`; the key itself when no rule applies.
pub fn route_key(key: &[u8]) -> Cow<'_, [u8]> {
    match route_key_parts(key) {
        (b"", tail) => Cow::Borrowed(tail),
        (head, tail) => Cow::Owned([head, tail].concat()),
    }
}

/// The route key of `key` as a constant head and a slice of `key` (the route key is the
/// two joined): what [`route_key`] builds, without building it, so an owner lookup that
/// hits its hint allocates nothing (see [`OwnerHint`](super::routes::OwnerHint)).
///
/// Every rule is for keys of one namespace, `!<name>|`, so the byte after the `!` picks the
/// rules worth trying (each still checks its whole prefix): a key is checked against one
/// or two namespaces' prefixes rather than all sixteen in turn (this runs for every key of
/// every scan, count and ownership filter).
pub fn route_key_parts(key: &[u8]) -> (&'static [u8], &[u8]) {
    match key {
        [b'!', b'l', ..] => {
            if let Some(k) = list_route_key(key) {
                return (b"", k);
            }
        }
        [b'!', b'r', ..] => {
            if let Some(rest) = key.strip_prefix(ns::REDIS) {
                // `!redis|<family>|<rest>` routes by `<rest>`; a missing or empty family
                // keeps `key`.
                if let Some(sep) = rest.iter().position(|&b| b == b'|') {
                    if sep > 0 {
                        return (b"", &rest[sep + 1..]);
                    }
                }
            }
        }
        [b'!', b'd', ..] => {
            if let Some(table) = ddb_table_segment(key) {
                return (DDB_ROUTE, table);
            }
        }
        [b'!', b's', ..] => {
            if key.starts_with(ns::SQS) {
                return (b"", SQS_ROUTE_GLOBAL);
            }
            if let Some(object) = s3_route_tail(key) {
                return (S3_ROUTE, object);
            }
        }
        _ => {}
    }
    (b"", key)
}

/// Lists: meta `!lst|meta|<k>`, item `!lst|itm|<k><8-byte seq>`, delta
/// `!lst|meta|d|<BE32 len><k><ts 8><seq 4>`, claim `!lst|claim|<BE32 len><k><seq 8>`.
fn list_route_key(key: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = key.strip_prefix(Family::RedisListMetaDelta.prefix()) {
        return len_prefixed(rest).or(Some(key));
    }
    if let Some(rest) = key.strip_prefix(Family::RedisListClaim.prefix()) {
        return len_prefixed(rest).or(Some(key));
    }
    if let Some(rest) = key.strip_prefix(Family::RedisListMeta.prefix()) {
        return Some(rest);
    }
    if let Some(rest) = key.strip_prefix(Family::RedisListItem.prefix()) {
        return rest.len().checked_sub(8).map(|n| &rest[..n]);
    }
    None
}

fn len_prefixed(rest: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    rest.get(4..4usize.checked_add(len)?)
}

/// DynamoDB: the encoded table segment of a meta/gen/item/GSI key.
fn ddb_table_segment(key: &[u8]) -> Option<&[u8]> {
    let whole = |p: &[u8]| key.strip_prefix(p).filter(|t| !t.is_empty());
    let up_to_bar = |p: &[u8]| {
        let rest = key.strip_prefix(p)?;
        let sep = rest.iter().position(|&b| b == b'|')?;
        (sep > 0).then(|| &rest[..sep])
    };
    whole(Family::DdbTableMeta.prefix())
        .or_else(|| whole(Family::DdbTableGen.prefix()))
        .or_else(|| up_to_bar(Family::DdbItem.prefix()))
        .or_else(|| up_to_bar(Family::DdbGsi.prefix()))
}

/// S3 object-scoped families: `!s3route|` ‖ seg(bucket) ‖ u64(gen) ‖ seg(object).
/// The bucket, generation and object segments of an S3 key of a scoped family: what
/// follows [`S3_ROUTE`] in its route key.
fn s3_route_tail(key: &[u8]) -> Option<&[u8]> {
    const SCOPED: [&[u8]; 6] = [
        Family::S3ObjHead.prefix(),
        Family::S3UploadMeta.prefix(),
        Family::S3UploadPart.prefix(),
        Family::S3Blob.prefix(),
        Family::S3ChunkRef.prefix(),
        Family::S3GcUpload.prefix(),
    ];
    let prefix = SCOPED.iter().find(|p| key.starts_with(p))?;
    let start = prefix.len();
    let bucket_end = s3_segment_end(key, start)?;
    let gen_end = bucket_end.checked_add(8).filter(|&e| e <= key.len())?;
    let object_end = s3_segment_end(key, gen_end)?;
    Some(&key[start..object_end])
}

pub(crate) fn s3_segment_end(key: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < key.len() {
        if key[i] == 0 {
            match key.get(i + 1)? {
                0xFF => i += 2,
                0x01 => return Some(i + 2),
                _ => return None,
            }
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use Family as F;

    fn rk(k: &[u8]) -> Vec<u8> {
        route_key(k).into_owned()
    }

    /// Every rule tried in turn, with no dispatch on the namespace: the oracle of
    /// `route_key_parts`.
    fn every_rule(key: &[u8]) -> (&'static [u8], &[u8]) {
        if let Some(k) = list_route_key(key) {
            return (b"", k);
        }
        if let Some(rest) = key.strip_prefix(ns::REDIS) {
            return match rest.iter().position(|&b| b == b'|') {
                Some(sep) if sep > 0 => (b"", &rest[sep + 1..]),
                _ => (b"", key),
            };
        }
        if let Some(table) = ddb_table_segment(key) {
            return (DDB_ROUTE, table);
        }
        if key.starts_with(ns::SQS) {
            return (b"", SQS_ROUTE_GLOBAL);
        }
        if let Some(object) = s3_route_tail(key) {
            return (S3_ROUTE, object);
        }
        (b"", key)
    }

    #[test]
    fn the_namespace_dispatch_tries_every_rule_that_can_match() {
        let s3_tail = [
            &b"bkt\x00\x01"[..],
            &7u64.to_be_bytes(),
            b"o/k\x00\x01",
            b"x",
        ]
        .concat();
        let tails: [&[u8]; 8] = [
            b"",
            b"t",
            b"dXNlcnM|1|k",
            b"|x",
            b"str|user:1",
            b"\x00\x00\x00\x02ab0123456789ab",
            b"p|grp|x",
            &s3_tail,
        ];
        let mut prefixes: Vec<&[u8]> = elastickv_backup_engine::decode::routes::ROUTES
            .iter()
            .map(|r| r.prefix)
            .collect();
        prefixes.extend([
            ns::REDIS,
            ns::SQS,
            ns::S3,
            ns::DDB,
            ns::LIST,
            b"!",
            b"",
            b"plain",
        ]);
        for p in prefixes {
            for t in tails {
                let key = [p, t].concat();
                for k in [&key[..], &key[..key.len().saturating_sub(1)]] {
                    assert_eq!(route_key_parts(k), every_rule(k), "{k:?}");
                }
            }
        }
    }

    #[test]
    fn ddb_families_share_the_table_route() {
        let want = [DDB_ROUTE, b"dXNlcnM"].concat();
        assert_eq!(rk(&F::DdbTableMeta.key(b"dXNlcnM")), want);
        assert_eq!(rk(&F::DdbTableGen.key(b"dXNlcnM")), want);
        assert_eq!(rk(&F::DdbItem.key(b"dXNlcnM|1|u0\x00\x01")), want);
        assert_eq!(rk(&F::DdbGsi.key(b"dXNlcnM|1|YnlfZW1haWw|x\x00\x01")), want);
        // Malformed: no table segment → the key itself.
        assert_eq!(rk(&F::DdbItem.key(b"|1|x")), F::DdbItem.key(b"|1|x"));
    }

    #[test]
    fn explicit_group_families_share_the_message_prefix() {
        for f in [
            F::SqsMsgData,
            F::SqsMsgVis,
            F::SqsMsgByAge,
            F::SqsMsgDedup,
            F::SqsMsgGroup,
        ] {
            assert!(f.prefix().starts_with(b"!sqs|msg|"), "{f:?}");
            assert!(is_explicit_group_key(&f.key(b"p|cQ|x")), "{f:?}");
            assert!(!is_explicit_group_key(&f.key(b"cQ|x")), "{f:?}");
        }
    }

    #[test]
    fn sqs_is_one_route() {
        assert_eq!(rk(&F::SqsQueueMeta.key(b"cTE")), SQS_ROUTE_GLOBAL.to_vec());
        assert_eq!(
            rk(&F::SqsMsgData.key(b"p|cQ|\0\0\0\x01")),
            SQS_ROUTE_GLOBAL.to_vec()
        );
        assert!(is_explicit_group_key(
            &F::SqsMsgData.key(b"p|cQ|\0\0\0\x01")
        ));
        assert!(!is_explicit_group_key(&F::SqsMsgData.key(b"cQ")));
    }

    #[test]
    fn redis_and_lists() {
        assert_eq!(rk(&F::RedisString.key(b"s")), b"s".to_vec());
        assert_eq!(rk(&F::RedisTtl.key(b"queue:ttl")), b"queue:ttl".to_vec());
        let empty_family = [ns::REDIS, b"|x"].concat();
        assert_eq!(rk(&empty_family), empty_family);
        assert_eq!(rk(&F::RedisListMeta.key(b"queue")), b"queue".to_vec());
        assert_eq!(
            rk(&F::RedisListItem.key(b"queue\x80\0\0\0\0\0\0\x01")),
            b"queue".to_vec()
        );
        assert_eq!(
            rk(&F::RedisListMetaDelta.key(b"\0\0\0\x05queue\0\0\0\0\0\0\0\x09\0\0\0\0")),
            b"queue".to_vec()
        );
        assert_eq!(
            rk(&F::RedisListClaim.key(b"\0\0\0\x01q\x80\0\0\0\0\0\0\0")),
            b"q".to_vec()
        );
        // Wide-column hashes are routed by their raw key.
        assert_eq!(
            rk(&F::RedisHashField.key(b"\0\0\0\x01hf")),
            F::RedisHashField.key(b"\0\0\0\x01hf")
        );
    }

    #[test]
    fn s3_object_scoped() {
        let head = &F::S3ObjHead.key(b"b1\x00\x01\0\0\0\0\0\0\0\x01o.txt\x00\x01");
        let want = F::S3Route.key(b"b1\x00\x01\0\0\0\0\0\0\0\x01o.txt\x00\x01");
        assert_eq!(rk(head), want);
        let blob = &F::S3Blob.key(b"b1\x00\x01\0\0\0\0\0\0\0\x01o.txt\x00\x01up\x00\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0");
        assert_eq!(rk(blob), want);
        // Bucket metadata routes by its raw key.
        assert_eq!(
            rk(&F::S3BucketMeta.key(b"b1\x00\x01")),
            F::S3BucketMeta.key(b"b1\x00\x01")
        );
        assert_eq!(s3_segment_end(b"a\x00\xffb\x00\x01z", 0), Some(6));
        assert_eq!(s3_segment_end(b"a\x00\x02", 0), None);
    }
}
