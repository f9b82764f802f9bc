//! Storage keys and key parts that are not one routed [`Family`](crate::Family): the
//! top-level namespaces the families live under, the route-catalog keys the live source
//! routes by, and the internal rows a store keeps beside the data.
//!
//! Why here: these bytes are elastickv's as much as the family prefixes are, and the
//! engine's readers and writers (live routing, the loopback server, the generators) must
//! agree on them; spelling them once keeps them from drifting apart.

/// Top-level key namespaces: a family prefix up to its first `|` after the `!`. Used where
/// a whole adapter's (or a Redis type's) keys are meant, e.g. to pick the adapter of a
/// generated key, or as the family name upstream's Redis error messages quote.
pub mod ns {
    /// Every DynamoDB family (`!ddb|item|`, `!ddb|meta|…`, `!ddb|gsi|`) and the route
    /// catalog's [`DDB_ROUTE_TABLE`](super::DDB_ROUTE_TABLE).
    pub const DDB: &[u8] = b"!ddb|";
    /// Every S3 family; `!s3route|` is not under it.
    pub const S3: &[u8] = b"!s3|";
    /// Every SQS family and [`SQS_ROUTE_GLOBAL`](super::SQS_ROUTE_GLOBAL).
    pub const SQS: &[u8] = b"!sqs|";
    /// Redis strings, HLLs, TTL index and the legacy zset blob: `!redis|<family>|<key>`.
    pub const REDIS: &[u8] = b"!redis|";
    /// Redis hashes (meta, delta, fields).
    pub const HASH: &[u8] = b"!hs|";
    /// Redis lists (meta, delta, items, claims).
    pub const LIST: &[u8] = b"!lst|";
    /// Redis sets (meta, delta, members).
    pub const SET: &[u8] = b"!st|";
    /// Redis sorted sets (meta, delta, members, scores).
    pub const ZSET: &[u8] = b"!zs|";
    /// Redis streams (meta, entries).
    pub const STREAM: &[u8] = b"!stream|";
}

/// The route-catalog key a DynamoDB table's keys are routed by: this ‖ b64url(table)
/// (docs/format/50-live-cluster.md §3.3). Not a stored family, so not in the route table.
pub const DDB_ROUTE_TABLE: &[u8] = b"!ddb|route|table|";

/// The single route key every SQS key outside a partition map is routed by.
pub const SQS_ROUTE_GLOBAL: &[u8] = b"!sqs|route|global";

/// The marker after an SQS message-family prefix that says the key carries an explicit
/// partition (`!sqs|msg|data|p|<queue>|<partition>…`, high-throughput FIFO).
pub const SQS_PARTITION_MARKER: &[u8] = b"p|";

/// The encryption writer registry: raw (non-MVCC) rows a live store's snapshot holds
/// beside the data, recognised and skipped.
pub const ENCRYPTION_WRITERS: &[u8] = b"!encryption|writers|";

/// Transaction-internal families under `!txn|`, which a store never returns to readers.
pub const TXN_INTERNAL: [&[u8]; 5] = [
    b"!txn|lock|",
    b"!txn|int|",
    b"!txn|cmt|",
    b"!txn|rb|",
    b"!txn|meta|",
];

/// A key prefix as text, for messages that quote it (upstream's error texts name families
/// by prefix). Every prefix is ASCII; a non-UTF-8 one is a bug caught at compile time when
/// this is used in a constant.
pub const fn text(prefix: &'static [u8]) -> &'static str {
    match std::str::from_utf8(prefix) {
        Ok(s) => s,
        Err(_) => panic!("key prefixes are ASCII"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{route, ROUTES};
    use crate::Family;

    #[test]
    fn namespaces_cover_their_families() {
        for r in &ROUTES {
            let in_ns = [
                ns::DDB,
                ns::S3,
                ns::SQS,
                ns::REDIS,
                ns::HASH,
                ns::LIST,
                ns::SET,
                ns::ZSET,
                ns::STREAM,
            ]
            .iter()
            .filter(|n| r.prefix.starts_with(n))
            .count();
            let want = usize::from(
                r.adapter.is_some()
                    || r.family == Family::S3BucketGen
                    || r.family == Family::S3GcUpload,
            );
            assert_eq!(in_ns, want, "{:?}", r.family);
        }
    }

    #[test]
    fn non_family_keys_are_not_routed_families() {
        assert!(route(DDB_ROUTE_TABLE).is_none());
        assert!(route(SQS_ROUTE_GLOBAL).is_none());
        assert_eq!(
            route(ENCRYPTION_WRITERS).unwrap().family,
            Family::Encryption
        );
        for t in TXN_INTERNAL {
            assert_eq!(route(t).unwrap().family, Family::Txn);
        }
        assert_eq!(text(Family::RedisTtl.prefix()), "!redis|ttl|");
    }
}
