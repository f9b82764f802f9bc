//! The keyspace (docs/format/00-container.md §3): the four adapters, the key families, and
//! the prefix route table that says which adapter and handler owns a user key.
//!
//! Upstream tries prefixes longest first; the table below is already in that effective
//! order, so the first match wins.

/// The four adapters, in upstream's fixed order (manifest order and finalize order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdapterKind {
    /// DynamoDB-compatible tables.
    DynamoDb,
    /// S3-compatible buckets.
    S3,
    /// Redis-compatible keys.
    Redis,
    /// SQS-compatible queues.
    Sqs,
}

impl AdapterKind {
    /// All four, in order.
    pub const ALL: [AdapterKind; 4] = [
        AdapterKind::DynamoDb,
        AdapterKind::S3,
        AdapterKind::Redis,
        AdapterKind::Sqs,
    ];

    /// The name used on the command line and in MANIFEST.json.
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::DynamoDb => "dynamodb",
            AdapterKind::S3 => "s3",
            AdapterKind::Redis => "redis",
            AdapterKind::Sqs => "sqs",
        }
    }

    /// Parses a command-line adapter name (case-sensitive, as upstream).
    pub fn from_name(s: &str) -> Option<Self> {
        AdapterKind::ALL.into_iter().find(|a| a.name() == s)
    }

    /// The adapter's slot in per-adapter arrays (counters, adapter tables): its position
    /// in [`AdapterKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Every key family the dispatcher distinguishes.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    SqsQueueTombstone,
    DdbTableMeta,
    S3BucketMeta,
    S3UploadMeta,
    S3UploadPart,
    SqsQueueMeta,
    S3BucketGen,
    SqsQueueGen,
    SqsQueueSeq,
    SqsMsgByAge,
    SqsMsgDedup,
    SqsMsgGroup,
    DdbTableGen,
    S3ChunkBlob,
    S3GcUpload,
    SqsMsgData,
    RedisStreamEntry,
    S3ObjHead,
    S3ChunkRef,
    SqsMsgVis,
    RedisStreamMeta,
    RedisListMetaDelta,
    RedisLegacyZset,
    Encryption,
    RedisHashMetaDelta,
    RedisListClaim,
    RedisSetMetaDelta,
    RedisZsetMetaDelta,
    RedisString,
    RedisHll,
    RedisTtl,
    DdbItem,
    RedisListMeta,
    DdbGsi,
    S3Blob,
    S3Route,
    RedisHashMeta,
    RedisListItem,
    RedisSetMeta,
    RedisZsetMeta,
    RedisHashField,
    RedisSetMember,
    RedisZsetMember,
    RedisZsetScore,
    Dist,
    Txn,
}

/// One row of the route table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The key prefix.
    pub prefix: &'static [u8],
    /// Owning adapter; `None` = always internal (dropped).
    pub adapter: Option<AdapterKind>,
    /// Handler.
    pub family: Family,
}

use AdapterKind::{DynamoDb as D, Redis as R, Sqs as Q, S3};
use Family as F;

const fn r(prefix: &'static [u8], adapter: Option<AdapterKind>, family: Family) -> Route {
    Route {
        prefix,
        adapter,
        family,
    }
}

/// The table, longest prefix first (ties in upstream's declaration order).
pub static ROUTES: [Route; 46] = TABLE;

/// [`ROUTES`] as a constant, so that [`Family::prefix`] can be evaluated at compile time.
const TABLE: [Route; 46] = [
    r(b"!sqs|queue|tombstone|", Some(Q), F::SqsQueueTombstone),
    r(b"!ddb|meta|table|", Some(D), F::DdbTableMeta),
    r(b"!s3|bucket|meta|", Some(S3), F::S3BucketMeta),
    r(b"!s3|upload|meta|", Some(S3), F::S3UploadMeta),
    r(b"!s3|upload|part|", Some(S3), F::S3UploadPart),
    r(b"!sqs|queue|meta|", Some(Q), F::SqsQueueMeta),
    r(b"!s3|bucket|gen|", None, F::S3BucketGen),
    r(b"!sqs|queue|gen|", Some(Q), F::SqsQueueGen),
    r(b"!sqs|queue|seq|", Some(Q), F::SqsQueueSeq),
    r(b"!sqs|msg|byage|", Some(Q), F::SqsMsgByAge),
    r(b"!sqs|msg|dedup|", Some(Q), F::SqsMsgDedup),
    r(b"!sqs|msg|group|", Some(Q), F::SqsMsgGroup),
    r(b"!ddb|meta|gen|", Some(D), F::DdbTableGen),
    r(b"!s3|chunkblob|", Some(S3), F::S3ChunkBlob),
    r(b"!s3|gc|upload|", None, F::S3GcUpload),
    r(b"!sqs|msg|data|", Some(Q), F::SqsMsgData),
    r(b"!stream|entry|", Some(R), F::RedisStreamEntry),
    r(b"!s3|obj|head|", Some(S3), F::S3ObjHead),
    r(b"!s3|chunkref|", Some(S3), F::S3ChunkRef),
    r(b"!sqs|msg|vis|", Some(Q), F::SqsMsgVis),
    r(b"!stream|meta|", Some(R), F::RedisStreamMeta),
    r(b"!lst|meta|d|", Some(R), F::RedisListMetaDelta),
    r(b"!redis|zset|", Some(R), F::RedisLegacyZset),
    r(b"!encryption|", None, F::Encryption),
    r(b"!hs|meta|d|", Some(R), F::RedisHashMetaDelta),
    r(b"!lst|claim|", Some(R), F::RedisListClaim),
    r(b"!st|meta|d|", Some(R), F::RedisSetMetaDelta),
    r(b"!zs|meta|d|", Some(R), F::RedisZsetMetaDelta),
    r(b"!redis|str|", Some(R), F::RedisString),
    r(b"!redis|hll|", Some(R), F::RedisHll),
    r(b"!redis|ttl|", Some(R), F::RedisTtl),
    r(b"!ddb|item|", Some(D), F::DdbItem),
    r(b"!lst|meta|", Some(R), F::RedisListMeta),
    r(b"!ddb|gsi|", Some(D), F::DdbGsi),
    r(b"!s3|blob|", Some(S3), F::S3Blob),
    r(b"!s3route|", None, F::S3Route),
    r(b"!hs|meta|", Some(R), F::RedisHashMeta),
    r(b"!lst|itm|", Some(R), F::RedisListItem),
    r(b"!st|meta|", Some(R), F::RedisSetMeta),
    r(b"!zs|meta|", Some(R), F::RedisZsetMeta),
    r(b"!hs|fld|", Some(R), F::RedisHashField),
    r(b"!st|mem|", Some(R), F::RedisSetMember),
    r(b"!zs|mem|", Some(R), F::RedisZsetMember),
    r(b"!zs|scr|", Some(R), F::RedisZsetScore),
    r(b"!dist|", None, F::Dist),
    r(b"!txn|", None, F::Txn),
];

/// How many leading bytes after the `!` [`route`] looks up in [`CANDIDATES`]: every prefix is
/// at least this long plus the `!` (checked by `every_prefix_is_long_enough_to_index`).
const INDEXED: usize = 4;

/// For byte position `1 + i` and byte value `b`, the set (bit `n` = `ROUTES[n]`) of routes whose
/// prefix has `b` there. [`route`] runs once or more per key of every dump; trying the 46
/// prefixes in turn cost ~20 `memcmp` calls per key (5% of a live dump's client CPU), where
/// the intersection of four sets leaves one or two candidates, still in table order.
static CANDIDATES: [[u64; 256]; INDEXED] = candidates();

const fn candidates() -> [[u64; 256]; INDEXED] {
    let mut sets = [[0u64; 256]; INDEXED];
    let mut n = 0;
    while n < TABLE.len() {
        let mut i = 0;
        while i < INDEXED {
            let b = TABLE[n].prefix[1 + i] as usize;
            sets[i][b] |= 1 << n;
            i += 1;
        }
        n += 1;
    }
    sets
}

/// `key.starts_with(prefix)` for the short prefixes of the key space, compared eight bytes
/// at a time in place. Every stored entry is routed (and, in a filtered scan, matched against
/// prefixes) once or twice, and `starts_with` calls `memcmp` each time: for a 10–20 byte
/// prefix the call costs more than the comparison.
#[inline]
pub fn has_prefix(key: &[u8], prefix: &[u8]) -> bool {
    let n = prefix.len();
    let Some(head) = key.get(..n) else {
        return false;
    };
    if n < 8 {
        return head.iter().zip(prefix).all(|(a, b)| a == b);
    }
    let word = |b: &[u8], at: usize| {
        u64::from_ne_bytes(
            b.get(at..at + 8)
                .and_then(|w| w.try_into().ok())
                .unwrap_or_default(),
        )
    };
    let mut at = 0;
    while at + 8 <= n {
        if word(head, at) != word(prefix, at) {
            return false;
        }
        at += 8;
    }
    // The last bytes, as the word that ends with them (it overlaps the one before).
    at == n || word(head, n - 8) == word(prefix, n - 8)
}

/// The route for a user key, or `None` (counted as Unknown and dropped).
pub fn route(user_key: &[u8]) -> Option<&'static Route> {
    let [b'!', b1, b2, b3, b4, ..] = *user_key else {
        // Shorter than every prefix, or not an adapter/internal key at all.
        return None;
    };
    let mut set = CANDIDATES[0][b1 as usize]
        & CANDIDATES[1][b2 as usize]
        & CANDIDATES[2][b3 as usize]
        & CANDIDATES[3][b4 as usize];
    while set != 0 {
        let r = &ROUTES[set.trailing_zeros() as usize];
        if has_prefix(user_key, r.prefix) {
            return Some(r);
        }
        set &= set - 1;
    }
    None
}

impl Family {
    /// This family's prefix, from the route table: writers (`encode`, the generators, the
    /// loopback server) build keys with it instead of spelling prefixes again. A `const fn`,
    /// so a prefix can name a constant.
    pub const fn prefix(self) -> &'static [u8] {
        let mut i = 0;
        while i < TABLE.len() {
            if TABLE[i].family as u8 == self as u8 {
                return TABLE[i].prefix;
            }
            i += 1;
        }
        b""
    }

    /// [`Family::prefix`] as text, for messages that quote the prefix (upstream's error
    /// texts name the family this way).
    pub const fn prefix_str(self) -> &'static str {
        crate::keys::text(self.prefix())
    }

    /// A key of this family: the prefix ‖ `rest` (whatever the family puts after it, already
    /// encoded). For writers and tests whose key parts are at hand.
    pub fn key(self, rest: &[u8]) -> Vec<u8> {
        [self.prefix(), rest].concat()
    }

    /// [`Family::prefix_str`] without its closing `|` (`"!s3|obj|head"`): how upstream's
    /// messages name a family ("invalid !s3|obj|head value").
    pub fn label(self) -> &'static str {
        let p = self.prefix_str();
        p.strip_suffix('|').unwrap_or(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `has_prefix` against `starts_with`: every prefix length 0..=24 (below, at and past
    /// one and two words), keys shorter and longer than the prefix, and a difference at
    /// every position.
    #[test]
    fn has_prefix_is_starts_with() {
        let base: Vec<u8> = (0u8..40).map(|i| b'a' + i % 26).collect();
        for n in 0..=24 {
            let prefix = &base[..n];
            for len in 0..=30 {
                let key = &base[..len];
                assert_eq!(
                    has_prefix(key, prefix),
                    key.starts_with(prefix),
                    "{n} {len}"
                );
                for at in 0..len {
                    let mut k = key.to_vec();
                    k[at] ^= 0x20;
                    assert_eq!(
                        has_prefix(&k, prefix),
                        k.starts_with(prefix),
                        "{n} {len} {at}"
                    );
                }
            }
        }
        for r in &ROUTES {
            assert!(has_prefix(r.prefix, r.prefix));
        }
    }

    #[test]
    fn every_family_has_its_prefix() {
        for r in &ROUTES {
            assert_eq!(r.family.prefix(), r.prefix, "{:?}", r.family);
            assert_eq!(format!("{}|", r.family.label()).as_bytes(), r.prefix);
        }
    }

    #[test]
    fn every_prefix_is_long_enough_to_index() {
        assert!(ROUTES.len() <= 64, "a candidate set is one u64");
        for r in &ROUTES {
            assert!(r.prefix.len() > INDEXED, "{:?}", r.family);
            assert_eq!(r.prefix[0], b'!');
        }
    }

    /// The indexed lookup agrees with trying every prefix in table order, on each prefix,
    /// each prefix with a tail, each proper prefix of a prefix, and keys that differ from a
    /// prefix in one byte.
    #[test]
    fn indexed_route_is_the_first_matching_prefix() {
        fn linear(k: &[u8]) -> Option<&'static Route> {
            ROUTES.iter().find(|r| k.starts_with(r.prefix))
        }
        let mut keys: Vec<Vec<u8>> = vec![b"".to_vec(), b"!".to_vec(), b"plain".to_vec()];
        for r in &ROUTES {
            for cut in 0..=r.prefix.len() {
                keys.push(r.prefix[..cut].to_vec());
            }
            keys.push([r.prefix, b"tbl|pk|sk"].concat());
            for i in 0..r.prefix.len() {
                let mut k = [r.prefix, b"x"].concat();
                k[i] ^= 0x20;
                keys.push(k);
            }
        }
        let mut hits = 0;
        for k in &keys {
            let want = linear(k).map(|r| r.family);
            assert_eq!(route(k).map(|r| r.family), want, "{k:?}");
            hits += usize::from(want.is_some());
        }
        assert!(
            hits > ROUTES.len() * 2,
            "the keys exercise matches too ({hits})"
        );
    }

    #[test]
    fn table_is_longest_first() {
        for w in ROUTES.windows(2) {
            assert!(w[0].prefix.len() >= w[1].prefix.len());
        }
    }

    #[test]
    fn tv12() {
        assert_eq!(
            route(b"!hs|meta|d|h1").unwrap().family,
            Family::RedisHashMetaDelta
        );
        assert_eq!(route(b"!s3|bucket|gen|b").unwrap().adapter, None);
        assert_eq!(route(b"!txn|lock|x").unwrap().family, Family::Txn);
        assert_eq!(route(b"!dist|route|1").unwrap().family, Family::Dist);
        assert_eq!(
            route(b"!encryption|writers").unwrap().family,
            Family::Encryption
        );
        assert!(route(b"!fs|ino|1").is_none());
        assert!(route(b"!redis|hash|k").is_none());
        assert!(route(b"plain").is_none());
        assert!(route(b"").is_none());
        assert_eq!(
            route(b"!redis|zset|k").unwrap().family,
            Family::RedisLegacyZset
        );
        assert_eq!(route(b"!redis|str|k").unwrap().family, Family::RedisString);
        assert_eq!(Family::RedisString.key(b"k"), b"!redis|str|k");
    }
}
