//! The scope → key-family mapping of the expected-keys baseline (docs/format/50-live-cluster.md §5.7).
//!
//! The design leaves the unit of counting open; this project fixes it here, once, and both the
//! loopback server (which counts inside `BeginBackup`) and the producer (which counts what it
//! read) call these functions, so the two counts are comparable by construction:
//!
//! | scope | counted keys |
//! |---|---|
//! | `dynamodb/<table>` | item keys `!ddb\|item\|<b64url(table)>\|…` |
//! | `s3/<bucket>` | object manifests `!s3\|obj\|head\|<seg(bucket)>…` |
//! | `redis/db_0` | every key of a Redis family (route table) |
//! | `sqs/<queue>` | message records `!sqs\|msg\|data\|[p\|]<b64url(queue)>…` |

use super::route_key::s3_segment_end;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use elastickv_backup_engine::decode::routes::{route, Route, ROUTES};
use elastickv_backup_engine::decode::{AdapterKind, Family};
use elastickv_backup_format::keys::SQS_PARTITION_MARKER;

/// Go's non-strict unpadded base64url decoder: trailing bits tolerated.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One adapter scope: the adapter and its table/bucket/queue name (Redis: the db number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId {
    /// Owning adapter.
    pub adapter: AdapterKind,
    /// Decoded name bytes (`b"0"` for Redis db 0).
    pub name: Vec<u8>,
}

impl ScopeId {
    /// The wire form used in `ScopeKeyCount.scope_id`: `dynamodb/<table>` etc.
    pub fn wire(&self) -> String {
        let name = String::from_utf8_lossy(&self.name);
        match self.adapter {
            AdapterKind::DynamoDb => format!("dynamodb/{name}"),
            AdapterKind::S3 => format!("s3/{name}"),
            AdapterKind::Redis => format!("redis/db_{name}"),
            AdapterKind::Sqs => format!("sqs/{name}"),
        }
    }
}

fn b64_name(seg: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = seg
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    B64URL.decode(clean).ok()
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Decodes an S3 segment (`00 FF` → `00`, ends at `00 01`) starting at `from`.
fn s3_segment(key: &[u8], from: usize) -> Option<Vec<u8>> {
    Some(s3_unescape(s3_segment_raw(key, from)?))
}

/// The escaped bytes of the S3 segment starting at `from` (terminator excluded).
fn s3_segment_raw(key: &[u8], from: usize) -> Option<&[u8]> {
    let end = s3_segment_end(key, from)?;
    key.get(from..end - 2)
}

/// An S3 segment's name: each escaped byte (`0x00` followed by its escape) kept once.
fn s3_unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        out.push(raw[i]);
        i += if raw[i] == 0 { 2 } else { 1 };
    }
    out
}

/// The scope whose baseline counts `key`, if it is a counted key.
pub fn counted_scope(key: &[u8]) -> Option<ScopeId> {
    let (adapter, raw) = scope_source(key)?;
    scope_of(adapter, raw)
}

/// Whether keys of `family` (owned by `adapter` in the route table) can count toward a
/// scope's baseline: what [`counted_scope`] looks at, by family. A live scan may leave a
/// family out only when this is false, or its counts would fall short of the server's.
pub fn is_counted_family(family: Family, adapter: Option<AdapterKind>) -> bool {
    adapter == Some(AdapterKind::Redis)
        || matches!(
            family,
            Family::DdbItem | Family::S3ObjHead | Family::SqsMsgData
        )
}

/// Where a counted key names its scope, before any decoding: the adapter and the raw
/// segment (empty for Redis). `None` for a key no scope counts.
fn scope_source(key: &[u8]) -> Option<(AdapterKind, &[u8])> {
    if let Some(rest) = key.strip_prefix(Family::DdbItem.prefix()) {
        let sep = rest.iter().position(|&b| b == b'|')?;
        return Some((AdapterKind::DynamoDb, rest.get(..sep)?));
    }
    if let Some(rest) = key.strip_prefix(Family::S3ObjHead.prefix()) {
        return Some((AdapterKind::S3, s3_segment_raw(rest, 0)?));
    }
    if let Some(rest) = key.strip_prefix(Family::SqsMsgData.prefix()) {
        let seg = match rest.strip_prefix(SQS_PARTITION_MARKER) {
            Some(p) => &p[..p.iter().position(|&b| b == b'|')?],
            None => &rest[..rest.iter().position(|&b| !is_b64url(b))?],
        };
        return Some((AdapterKind::Sqs, seg));
    }
    match route(key) {
        Some(r) if r.adapter == Some(AdapterKind::Redis) => Some((AdapterKind::Redis, &[])),
        _ => None,
    }
}

/// The scope a raw segment from [`scope_source`] names (`None`: it does not decode).
fn scope_of(adapter: AdapterKind, raw: &[u8]) -> Option<ScopeId> {
    let name = match adapter {
        AdapterKind::S3 => s3_unescape(raw),
        AdapterKind::Redis => return Some(redis_db0()),
        _ => b64_name(raw)?,
    };
    Some(ScopeId { adapter, name })
}

/// Per-scope counts of keys seen in key order, as [`counted_scope`] would give them key by
/// key, without decoding (and allocating) a scope name per key: keys of one scope come in
/// runs, and a run is counted against its raw segment and decoded once. Both the scanner
/// (every page) and the loopback server (`BeginBackup`) count every key of a dump.
///
/// Within a run, a key is counted with one prefix comparison: a run remembers the key bytes
/// that fix its scope (see `pinned_len`), and any key that starts with them belongs to the
/// same run, so it is neither routed nor split again.
#[derive(Debug, Default)]
pub struct ScopeTally {
    counts: std::collections::BTreeMap<ScopeId, u64>,
    /// The current run: its adapter, raw segment, scope (if it decodes) and length.
    adapter: Option<AdapterKind>,
    raw: Vec<u8>,
    scope: Option<ScopeId>,
    run: u64,
    /// The leading bytes of the run's first key that fix its scope; empty when the run has
    /// none that can be trusted (every key is then classified in full).
    pinned: Vec<u8>,
}

impl ScopeTally {
    /// Counts `key` if a scope counts it.
    pub fn add(&mut self, key: &[u8]) {
        if !self.pinned.is_empty() && key.starts_with(&self.pinned) {
            self.run += 1;
            return;
        }
        let Some((adapter, raw)) = scope_source(key) else {
            return;
        };
        let pinned = pinned_len(key, adapter, raw).and_then(|n| key.get(..n));
        if self.adapter == Some(adapter) && self.raw == raw {
            self.run += 1;
        } else {
            self.end_run();
            self.adapter = Some(adapter);
            self.raw.clear();
            self.raw.extend_from_slice(raw);
            self.scope = scope_of(adapter, raw);
            self.run = 1;
        }
        self.pinned.clear();
        self.pinned.extend_from_slice(pinned.unwrap_or_default());
    }

    fn end_run(&mut self) {
        if let Some(s) = self.scope.take() {
            *self.counts.entry(s).or_default() += self.run;
        }
        self.adapter = None;
        self.run = 0;
        self.pinned.clear();
    }

    /// The counts.
    pub fn finish(mut self) -> std::collections::BTreeMap<ScopeId, u64> {
        self.end_run();
        self.counts
    }
}

/// How many leading bytes of `key` (whose [`scope_source`] is `adapter`, `raw`) fix that
/// source: every key that starts with them has the same one. `None` when no such prefix is
/// known to be safe.
///
/// - DynamoDB: the family prefix, the table segment and the `|` that ends it (the segment is
///   everything up to the first `|`).
/// - SQS: the family prefix, the queue segment and the byte that ended it (the first byte
///   outside base64url, or the `|` after a partition); refused when that prefix could also
///   begin a partitioned key.
/// - S3: through the `00 01` that ends the bucket segment.
/// - Redis: the matched route's prefix, when no longer prefix of another adapter (or of a
///   counted family of another adapter) extends it.
fn pinned_len(key: &[u8], adapter: AdapterKind, raw: &[u8]) -> Option<usize> {
    // `raw` is a sub-slice of `key` (for every adapter but Redis): where it ends.
    let raw_end = || {
        (raw.as_ptr() as usize)
            .checked_sub(key.as_ptr() as usize)
            .map(|at| at + raw.len())
    };
    match adapter {
        AdapterKind::DynamoDb => raw_end()
            .map(|end| end + 1)
            .filter(|&n| key.get(n - 1) == Some(&b'|')),
        AdapterKind::S3 => {
            let end = raw_end()?;
            (key.get(end..end + 2) == Some(b"\x00\x01")).then_some(end + 2)
        }
        AdapterKind::Sqs => {
            let n = raw_end()? + 1;
            let rest = key.get(..n)?.strip_prefix(Family::SqsMsgData.prefix())?;
            // A queue's prefix that could also begin a partitioned key is not trusted.
            let ambiguous =
                !rest.starts_with(SQS_PARTITION_MARKER) && SQS_PARTITION_MARKER.starts_with(rest);
            (!ambiguous).then_some(n)
        }
        AdapterKind::Redis => {
            let r = route(key)?;
            // `route` answers with an element of `ROUTES`: its index, without a search.
            let i = (r as *const Route as usize).wrapping_sub(ROUTES.as_ptr() as usize)
                / std::mem::size_of::<Route>();
            static FINAL: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
            let fin = FINAL.get_or_init(|| {
                ROUTES
                    .iter()
                    .map(|q| redis_prefix_is_final(q.prefix))
                    .collect()
            });
            fin.get(i)
                .copied()
                .unwrap_or(false)
                .then_some(r.prefix.len())
        }
    }
}

/// Whether every key that starts with the Redis route prefix `prefix` routes to Redis and is
/// not taken by a counted family of another adapter first (see [`scope_source`]).
fn redis_prefix_is_final(prefix: &[u8]) -> bool {
    let others = [
        Family::DdbItem.prefix(),
        Family::S3ObjHead.prefix(),
        Family::SqsMsgData.prefix(),
    ];
    ROUTES
        .iter()
        .filter(|q| q.prefix.starts_with(prefix))
        .all(|q| q.adapter == Some(AdapterKind::Redis))
        && others
            .iter()
            .all(|o| !o.starts_with(prefix) && !prefix.starts_with(o))
}

/// The only Redis database until multi-db exists.
pub fn redis_db0() -> ScopeId {
    ScopeId {
        adapter: AdapterKind::Redis,
        name: b"0".to_vec(),
    }
}

/// Metadata prefixes listed by `ListAdaptersAndScopes`, in wire-field order.
pub const SCOPE_META_PREFIXES: [&[u8]; 3] = [
    Family::DdbTableMeta.prefix(),
    Family::S3BucketMeta.prefix(),
    Family::SqsQueueMeta.prefix(),
];

/// The scope a metadata key (one of [`SCOPE_META_PREFIXES`]) declares.
pub fn declared_scope(key: &[u8]) -> Option<ScopeId> {
    if let Some(seg) = key.strip_prefix(SCOPE_META_PREFIXES[0]) {
        return Some(ScopeId {
            adapter: AdapterKind::DynamoDb,
            name: b64_name(seg)?,
        });
    }
    if let Some(rest) = key.strip_prefix(SCOPE_META_PREFIXES[1]) {
        return Some(ScopeId {
            adapter: AdapterKind::S3,
            name: s3_segment(rest, 0)?,
        });
    }
    if let Some(seg) = key.strip_prefix(SCOPE_META_PREFIXES[2]) {
        return Some(ScopeId {
            adapter: AdapterKind::Sqs,
            name: b64_name(seg)?,
        });
    }
    None
}

/// The scope a wire `scope_id` names, or `None` when it is not one of the four forms.
pub fn parse_wire(scope_id: &str) -> Option<ScopeId> {
    let (adapter, name) = scope_id.split_once('/')?;
    let (adapter, name) = match adapter {
        "dynamodb" => (AdapterKind::DynamoDb, name),
        "s3" => (AdapterKind::S3, name),
        "sqs" => (AdapterKind::Sqs, name),
        "redis" => (AdapterKind::Redis, name.strip_prefix("db_")?),
        _ => return None,
    };
    Some(ScopeId {
        adapter,
        name: name.as_bytes().to_vec(),
    })
}

/// §5.7: the smallest actual count that passes for baseline `b` (`A < 0.99·B − √B` fails).
pub fn baseline_threshold(b: u64) -> f64 {
    let b = b as f64;
    0.99 * b - b.sqrt()
}

/// Whether an actual count `a` falls short of baseline `b`.
pub fn is_shortfall(a: u64, b: u64) -> bool {
    b != 0 && (a as f64) < baseline_threshold(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Family as F;

    #[test]
    fn tally_counts_as_counted_scope_does_key_by_key() {
        let keys: Vec<Vec<u8>> = vec![
            F::DdbItem.key(b"dXNlcnM|1|a"),
            F::DdbItem.key(b"dXNlcnM|1|b"),
            F::DdbItem.key(b"!!!|1|c"), // does not decode: not counted
            F::DdbItem.key(b"!!!|1|d"),
            F::DdbItem.key(b"dXNlcnM|2|e"), // the first scope again, after another
            F::DdbItem.key(b"b3JkZXJz|1|a"),
            F::DdbItem.key(b"no-separator"),
            F::S3ObjHead.key(b"ph\x00\xffx\x00\x01\0\0\0\0\0\0\0\x01o\x00\x01"),
            F::S3ObjHead.key(b"ph\x00\xffx\x00\x01\0\0\0\0\0\0\0\x01p\x00\x01"),
            F::S3ObjHead.key(b"ph\x00\x01\0\0\0\0\0\0\0\x01o\x00\x01"),
            F::SqsMsgData.key(b"cTE\0\0\0\0\0\0\0\x01bS0"),
            F::SqsMsgData.key(b"cTE\0\0\0\0\0\0\0\x01bS1"),
            F::SqsMsgData.key(b"cTI\0\0\0\0\0\0\0\x01bS0"),
            b"!redis|str|k1".to_vec(),
            b"!redis|hash|k2".to_vec(),
            b"!unknown|x".to_vec(),
        ];
        // Every order of a few rotations and a reversal: runs split differently.
        for shift in 0..keys.len() {
            for rev in [false, true] {
                let mut ks = keys.clone();
                ks.rotate_left(shift);
                if rev {
                    ks.reverse();
                }
                let mut want: std::collections::BTreeMap<ScopeId, u64> = Default::default();
                let mut tally = ScopeTally::default();
                for k in &ks {
                    if let Some(s) = counted_scope(k) {
                        *want.entry(s).or_default() += 1;
                    }
                    tally.add(k);
                }
                // users, orders, two buckets, two queues, Redis db 0.
                assert_eq!(want.len(), 7, "{want:?}");
                assert_eq!(tally.finish(), want, "shift {shift}, reversed {rev}");
            }
        }
    }

    /// Counts `keys` in order with a tally and key by key with `counted_scope`.
    fn both_ways(keys: &[Vec<u8>]) -> [std::collections::BTreeMap<ScopeId, u64>; 2] {
        let mut want: std::collections::BTreeMap<ScopeId, u64> = Default::default();
        let mut tally = ScopeTally::default();
        for k in keys {
            if let Some(s) = counted_scope(k) {
                *want.entry(s).or_default() += 1;
            }
            tally.add(k);
        }
        [tally.finish(), want]
    }

    /// Keys built to share leading bytes across scopes — a table whose name extends
    /// another's, a bucket segment with an escaped zero, a queue named like the partition
    /// marker — counted in every ordered pair (so each follows each), then with every key
    /// of the generated sample (all four adapters) sorted as a scan delivers them and
    /// shuffled. A run prefix must never carry a key into the wrong scope.
    #[test]
    fn run_prefixes_never_count_a_key_into_the_wrong_scope() {
        let tricky: Vec<Vec<u8>> = vec![
            F::DdbItem.key(b"dXNlcnM|1|a"),
            F::DdbItem.key(b"dXNlcnMx|1|a"),
            F::DdbItem.key(b"dXNlcnM"),
            F::DdbItem.key(b"dXNlcg|1|a"),
            F::S3ObjHead.key(b"ph\x00\x01\0\0\0\0\0\0\0\x01o\x00\x01"),
            F::S3ObjHead.key(b"ph\x00\xff\x00\x01\0\0\0\0\0\0\0\x01o\x00\x01"),
            F::S3ObjHead.key(b"ph\x00\xff"),
            F::S3ObjHead.key(b"p\x00\x01\0\0\0\0\0\0\0\x01o\x00\x01"),
            F::SqsMsgData.key(b"cA\0\0\0\0\0\0\0\x01m"),
            F::SqsMsgData.key(b"cAB\0\0\0\0\0\0\0\x01m"),
            F::SqsMsgData.key(b"p|cA|\0\0\0\0\0\0\0\x01m"),
            F::SqsMsgData.key(b"p\0\0\0\0\0\0\0\x01m"),
            F::SqsMsgData.key(b"p|cB|\0\0\0\0\0\0\0\x01m"),
            b"!redis|str|k".to_vec(),
            b"!redis|hash|k".to_vec(),
            b"!unknown|x".to_vec(),
        ];
        for a in &tricky {
            for b in &tricky {
                let [got, want] = both_ways(&[a.clone(), b.clone(), a.clone()]);
                assert_eq!(got, want, "{a:?} then {b:?}");
            }
        }
        let mut keys: Vec<Vec<u8>> = elastickv_backup_gen::sample(1)
            .into_iter()
            .map(|(k, _)| k)
            .chain(tricky)
            .collect();
        keys.sort();
        let mut seed = 0x853c_49e6_748f_ea9bu64;
        for round in 0..4 {
            if round > 0 {
                for i in (1..keys.len()).rev() {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    keys.swap(i, (seed % (i as u64 + 1)) as usize);
                }
            }
            let [got, want] = both_ways(&keys);
            assert!(want.len() > 8, "{want:?}");
            assert_eq!(got, want, "round {round}");
        }
    }

    /// Each adapter's keys get a run prefix (else the fast path above would never run), and
    /// it is exactly the bytes that fix the scope.
    #[test]
    fn run_prefixes_are_the_bytes_that_fix_the_scope() {
        let cases: [(Vec<u8>, &[u8]); 5] = [
            (F::DdbItem.key(b"dXNlcnM|1|a"), b"!ddb|item|dXNlcnM|"),
            (
                F::S3ObjHead.key(b"ph\x00\x01\0o"),
                b"!s3|obj|head|ph\x00\x01",
            ),
            (F::SqsMsgData.key(b"cTE\0\x01m"), b"!sqs|msg|data|cTE\0"),
            (F::SqsMsgData.key(b"p|cTE|\0\x01m"), b"!sqs|msg|data|p|cTE|"),
            (b"!redis|str|k1".to_vec(), b"!redis|str|"),
        ];
        for (key, want) in cases {
            let (adapter, raw) = scope_source(&key).expect("a counted key");
            let n = pinned_len(&key, adapter, raw).expect("a run prefix");
            assert_eq!(&key[..n], want, "{}", String::from_utf8_lossy(&key));
        }
        // Every Redis family has one: no route of another adapter extends a Redis prefix.
        for r in ROUTES
            .iter()
            .filter(|r| r.adapter == Some(AdapterKind::Redis))
        {
            assert!(
                redis_prefix_is_final(r.prefix),
                "{}",
                String::from_utf8_lossy(r.prefix)
            );
        }
    }

    /// The family-level view agrees with the key-level one: every key a scope counts is of
    /// a counted family.
    #[test]
    fn counted_keys_are_of_counted_families() {
        for (k, _) in elastickv_backup_gen::sample(1) {
            if counted_scope(&k).is_some() {
                let r = route(&k).expect("routed");
                assert!(is_counted_family(r.family, r.adapter), "{k:?}");
            }
        }
    }

    #[test]
    fn counted_keys() {
        let s = counted_scope(&F::DdbItem.key(b"dXNlcnM|1|u0\x00\x01")).unwrap();
        assert_eq!(s.wire(), "dynamodb/users");
        let s = counted_scope(&F::S3ObjHead.key(b"ph\x00\xffx\x00\x01\0\0\0\0\0\0\0\x01o\x00\x01"))
            .unwrap();
        assert_eq!(s.name, b"ph\x00x".to_vec());
        let s = counted_scope(&F::SqsMsgData.key(b"cTE\0\0\0\0\0\0\0\x01bS0")).unwrap();
        assert_eq!(s.wire(), "sqs/q1");
        let s =
            counted_scope(&F::SqsMsgData.key(b"p|cGFydC5maWZv|\0\0\0\x01\0\0\0\0\0\0\0\x01bS0"))
                .unwrap();
        assert_eq!(s.wire(), "sqs/part.fifo");
        assert_eq!(
            counted_scope(&F::RedisHashField.key(b"\0\0\0\x01hf"))
                .unwrap()
                .wire(),
            "redis/db_0"
        );
        assert_eq!(counted_scope(&F::DdbTableMeta.key(b"dXNlcnM")), None);
        assert_eq!(counted_scope(&F::SqsMsgVis.key(b"cTE\0")), None);
    }

    #[test]
    fn declared_scopes_and_wire_round_trip() {
        let s = declared_scope(&F::S3BucketMeta.key(b"photos\x00\x01")).unwrap();
        assert_eq!(s.wire(), "s3/photos");
        assert_eq!(parse_wire(&s.wire()), Some(s));
        assert_eq!(parse_wire("redis/db_0"), Some(redis_db0()));
        assert_eq!(
            declared_scope(&F::SqsQueueMeta.key(b"cTE")).unwrap().wire(),
            "sqs/q1"
        );
        assert_eq!(parse_wire("nope"), None);
    }

    #[test]
    fn tolerance_matches_the_spec_tests() {
        // 10 000 keys: threshold 9 800; 1 % missing passes, 5 % fails; B = 0 never fails.
        assert_eq!(baseline_threshold(10_000), 9_800.0);
        assert!(!is_shortfall(9_900, 10_000));
        assert!(!is_shortfall(9_800, 10_000));
        assert!(is_shortfall(9_799, 10_000));
        assert!(is_shortfall(9_500, 10_000));
        assert!(!is_shortfall(0, 0));
    }
}
