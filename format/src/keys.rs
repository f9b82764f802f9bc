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

/// The partition a high-throughput FIFO queue puts a message group on (`partitionFor`,
/// docs/format/30-sqs.md §9): 0 unless the queue has more than one partition and is limited
/// per message group; else 32-bit FNV-1a of the group id, masked by `partition_count − 1`.
///
/// Why here: `encode` refuses a message whose key's partition disagrees with this, so the
/// generators must put messages where elastickv would, or their data would not round-trip.
pub fn sqs_partition_for(partition_count: u32, per_queue: bool, group: &[u8]) -> u32 {
    if partition_count <= 1 || per_queue || group.is_empty() {
        return 0;
    }
    let mut h: u32 = 2_166_136_261;
    for &b in group {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    h & (partition_count - 1)
}

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

/// Appends `raw` as an escaped, terminated segment: every `00` becomes `00 FF`, then the
/// `00 01` terminator. The encoding keeps byte order, so encoded segments sort like the raw
/// ones (S3 key segments, DynamoDB ordered primary-key segments; docs/format/20-s3.md §2).
pub fn push_seg(out: &mut Vec<u8>, raw: &[u8]) {
    for &b in raw {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 1]);
}

/// [`push_seg`] into a new vector.
pub fn seg(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 2);
    push_seg(&mut out, raw);
    out
}

/// DynamoDB key builders (docs/format/10-dynamodb.md §2). Table and index names are taken
/// already encoded (unpadded base64url), as they appear in the key; this crate does not
/// encode them.
pub mod ddb {
    use crate::Family;

    fn with_table(family: Family, enc_table: &[u8]) -> Vec<u8> {
        [family.prefix(), enc_table].concat()
    }

    /// [`Family::DdbTableMeta`] ‖ b64url(table): the schema row.
    pub fn table_meta(enc_table: &[u8]) -> Vec<u8> {
        with_table(Family::DdbTableMeta, enc_table)
    }

    /// [`Family::DdbTableGen`] ‖ b64url(table): the generation counter row.
    pub fn table_gen(enc_table: &[u8]) -> Vec<u8> {
        with_table(Family::DdbTableGen, enc_table)
    }

    /// The part of an item key before its primary-key segments: [`Family::DdbItem`] ‖
    /// b64url(table) ‖ `|` ‖ decimal generation ‖ `|`.
    pub fn item_prefix(enc_table: &[u8], generation: u64) -> Vec<u8> {
        let mut k = with_table(Family::DdbItem, enc_table);
        k.push(b'|');
        k.extend_from_slice(generation.to_string().as_bytes());
        k.push(b'|');
        k
    }

    /// The part of a GSI row key before its index-key segments: [`Family::DdbGsi`] ‖
    /// b64url(table) ‖ `|` ‖ decimal generation ‖ `|` ‖ b64url(index) ‖ `|`.
    pub fn gsi_prefix(enc_table: &[u8], generation: u64, enc_index: &[u8]) -> Vec<u8> {
        let mut k = with_table(Family::DdbGsi, enc_table);
        k.push(b'|');
        k.extend_from_slice(generation.to_string().as_bytes());
        k.push(b'|');
        k.extend_from_slice(enc_index);
        k.push(b'|');
        k
    }
}

/// S3 key builders (docs/format/20-s3.md §2–§3): after its family prefix every key is a run
/// of escaped segments ([`push_seg`](crate::keys::push_seg())) and big-endian u64s, with no
/// separators.
pub mod s3 {
    use super::push_seg;
    use crate::Family;

    fn with_bucket(family: Family, bucket: &[u8]) -> Vec<u8> {
        let prefix = family.prefix();
        let mut k = Vec::with_capacity(prefix.len() + bucket.len() + 2);
        k.extend_from_slice(prefix);
        push_seg(&mut k, bucket);
        k
    }

    /// K1 [`Family::S3BucketMeta`] ‖ seg(bucket).
    pub fn bucket_meta(bucket: &[u8]) -> Vec<u8> {
        with_bucket(Family::S3BucketMeta, bucket)
    }

    /// K2 [`Family::S3BucketGen`] ‖ seg(bucket).
    pub fn bucket_gen(bucket: &[u8]) -> Vec<u8> {
        with_bucket(Family::S3BucketGen, bucket)
    }

    /// seg(bucket) ‖ BE64(generation) ‖ seg(object): the object head every manifest, blob,
    /// chunk-ref and upload key continues its prefix with.
    pub fn object_scope(bucket: &[u8], generation: u64, object: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(bucket.len() + object.len() + 12);
        push_seg(&mut k, bucket);
        k.extend_from_slice(&generation.to_be_bytes());
        push_seg(&mut k, object);
        k
    }

    fn object_key(family: Family, bucket: &[u8], generation: u64, object: &[u8]) -> Vec<u8> {
        let mut k = family.prefix().to_vec();
        k.extend_from_slice(&object_scope(bucket, generation, object));
        k
    }

    /// K3 [`Family::S3ObjHead`] ‖ seg(bucket) ‖ BE64(generation) ‖ seg(object): the
    /// object's manifest.
    pub fn manifest(bucket: &[u8], generation: u64, object: &[u8]) -> Vec<u8> {
        object_key(Family::S3ObjHead, bucket, generation, object)
    }

    /// A blob chunk (K6/K6v, `family` = [`Family::S3Blob`]) or chunk-reference (K7/K7v,
    /// [`Family::S3ChunkRef`]) key: prefix ‖ object scope ‖ seg(upload) ‖ BE64(part) ‖
    /// BE64(chunk), then BE64(version) unless `version` is 0 (the unversioned form).
    #[allow(clippy::too_many_arguments)]
    pub fn chunk(
        family: Family,
        bucket: &[u8],
        generation: u64,
        object: &[u8],
        upload: &[u8],
        part: u64,
        chunk: u64,
        version: u64,
    ) -> Vec<u8> {
        let mut k = object_key(family, bucket, generation, object);
        push_seg(&mut k, upload);
        k.extend_from_slice(&part.to_be_bytes());
        k.extend_from_slice(&chunk.to_be_bytes());
        if version != 0 {
            k.extend_from_slice(&version.to_be_bytes());
        }
        k
    }

    /// K8 [`Family::S3ChunkBlob`] ‖ 64 lower-case hex digits of the chunk's SHA-256 digest
    /// (given already as hex).
    pub fn chunkblob(hex_digest: &[u8]) -> Vec<u8> {
        [Family::S3ChunkBlob.prefix(), hex_digest].concat()
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
    fn sqs_partition_examples() {
        // docs/format/30-sqs.md §9: partition_count 4.
        assert_eq!(sqs_partition_for(4, false, b"g1"), 1);
        assert_eq!(sqs_partition_for(4, false, b"g2"), 0);
        assert_eq!(sqs_partition_for(4, false, b"order-42"), 0);
        assert_eq!(sqs_partition_for(4, true, b"g1"), 0);
        assert_eq!(sqs_partition_for(1, false, b"g1"), 0);
        assert_eq!(sqs_partition_for(4, false, b""), 0);
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

    #[test]
    fn segments_escape_and_terminate() {
        assert_eq!(seg(b"nul\x00x"), b"nul\x00\xffx\x00\x01");
        assert_eq!(seg(b""), [0, 1]);
    }

    #[test]
    fn ddb_keys() {
        assert_eq!(ddb::table_meta(b"dXNlcnM"), b"!ddb|meta|table|dXNlcnM");
        assert_eq!(ddb::table_gen(b"dXNlcnM"), b"!ddb|meta|gen|dXNlcnM");
        assert_eq!(ddb::item_prefix(b"dXNlcnM", 12), b"!ddb|item|dXNlcnM|12|");
        assert_eq!(
            ddb::gsi_prefix(b"dXNlcnM", 1, b"YnlfZW1haWw"),
            b"!ddb|gsi|dXNlcnM|1|YnlfZW1haWw|"
        );
        for k in [ddb::table_meta(b"t"), ddb::item_prefix(b"t", 1)] {
            assert!(k.starts_with(ns::DDB));
        }
    }

    #[test]
    fn s3_keys_tv15() {
        assert_eq!(
            hex::encode(s3::bucket_meta(b"photos")),
            "2173337c6275636b65747c6d6574617c70686f746f730001"
        );
        assert_eq!(
            hex::encode(s3::bucket_gen(b"photos")),
            "2173337c6275636b65747c67656e7c70686f746f730001"
        );
        assert_eq!(
            hex::encode(s3::manifest(b"photos", 1, b"2026/04/img.jpg")),
            "2173337c6f626a7c686561647c70686f746f7300010000000000000001323032362f30342f696d672e6a70670001"
        );
        assert_eq!(
            hex::encode(s3::chunk(Family::S3Blob, b"photos", 1, b"2026/04/img.jpg", b"elastickv-restore", 1, 0, 0)),
            "2173337c626c6f627c70686f746f7300010000000000000001323032362f30342f696d672e6a70670001656c61737469636b762d726573746f7265000100000000000000010000000000000000"
        );
        let v = s3::chunk(Family::S3ChunkRef, b"b", 2, b"o", b"u", 3, 4, 5);
        assert_eq!(
            v,
            [
                Family::S3ChunkRef.prefix(),
                &s3::object_scope(b"b", 2, b"o"),
                &seg(b"u"),
                &3u64.to_be_bytes(),
                &4u64.to_be_bytes(),
                &5u64.to_be_bytes(),
            ]
            .concat()
        );
        assert_eq!(route(&v).unwrap().family, Family::S3ChunkRef);
        assert_eq!(
            route(&s3::chunkblob(b"00ff")).unwrap().family,
            Family::S3ChunkBlob
        );
    }
}
