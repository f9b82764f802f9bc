//! The key ranges a live dump actually requests, from `--adapter` and `--scope`: only the
//! key families of the selected adapters, and within a scoped adapter only the keys that
//! start with the scope's name segment, so unselected data is never read from the cluster.
//!
//! The ranges are a *superset* of what the adapters keep (they still filter by scope), so
//! the output is the one a full read would give: a name segment is matched by a prefix
//! that holds no byte the key writer could encode differently (base64url: every character
//! but a last partial one; S3: the bucket name up to its first NUL, which the key escapes),
//! and families that are not keyed by a scope (S3's content-addressed chunk payloads) are
//! read whole. Key layouts: docs/format/10-dynamodb.md, 20-s3.md, 30-sqs.md, 40-redis.md.
//! A full scan also leaves out the families no enabled adapter reads ([`unskipped_ranges`]).
//!
//! Why storage-key prefixes and not the route catalog: routes are ranges over *route keys*
//! (`route_key.rs`), which for most families are not the storage keys a scan is over, so a
//! group's storage range cannot be derived from its routes; every group is scanned over the
//! narrowed ranges and keeps the keys it owns.

use super::scan::{prefix_end, prefix_ranges};
use super::scopes::is_counted_family;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use elastickv_backup_engine::decode::routes::{Family, ROUTES};
use elastickv_backup_engine::decode::sqs::keys::PARTITIONED;
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::sources::SkipFamilies;
use elastickv_backup_format::adapter_prefixes;

/// A `[start, end)` storage-key range (empty `end` = unbounded).
pub type KeyRange = (Vec<u8>, Vec<u8>);

/// The ranges a dump with `opts` reads; `None` = the whole key space (every adapter, no
/// scope: internal and unknown keys are read too, to be counted).
pub fn scan_ranges(opts: &DecodeOptions) -> Option<Vec<KeyRange>> {
    let all = AdapterKind::ALL.iter().all(|k| opts.enabled(*k));
    if all && opts.scopes.is_empty() {
        return None;
    }
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    for kind in AdapterKind::ALL.into_iter().filter(|k| opts.enabled(*k)) {
        let names: Vec<&[u8]> = opts
            .scopes
            .iter()
            .filter(|s| s.adapter == kind)
            .map(|s| s.name.as_slice())
            .collect();
        if names.is_empty() {
            prefixes.extend(adapter_prefixes(kind).into_iter().map(<[u8]>::to_vec));
        } else {
            for name in names {
                prefixes.extend(scope_prefixes(kind, name));
            }
        }
    }
    if prefixes.is_empty() {
        // Only scopes that name nothing (e.g. a Redis database other than 0): read nothing.
        return Some(Vec::new());
    }
    let refs: Vec<&[u8]> = prefixes.iter().map(Vec::as_slice).collect();
    Some(prefix_ranges(&refs))
}

/// The longest base64url (unpadded) prefix every encoding of `name` starts with: a last
/// character that carries only part of a byte may differ (trailing bits) and is left out.
fn b64_stem(name: &[u8]) -> Vec<u8> {
    let mut s = URL_SAFE_NO_PAD.encode(name).into_bytes();
    if !name.len().is_multiple_of(3) {
        s.pop();
    }
    s
}

/// Key prefixes covering every key of scope `name` of adapter `kind`.
pub fn scope_prefixes(kind: AdapterKind, name: &[u8]) -> Vec<Vec<u8>> {
    let families = ROUTES.iter().filter(|r| r.adapter == Some(kind));
    let join = |a: &[u8], b: &[u8]| [a, b].concat();
    match kind {
        AdapterKind::Redis => {
            // Only database 0 exists (docs/format/40-redis.md): it is all of Redis.
            if name
                == elastickv_backup_engine::decode::redis::DB_INDEX
                    .to_string()
                    .as_bytes()
            {
                adapter_prefixes(kind)
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect()
            } else {
                Vec::new()
            }
        }
        AdapterKind::DynamoDb => {
            let stem = b64_stem(name);
            families.map(|r| join(r.prefix, &stem)).collect()
        }
        AdapterKind::Sqs => {
            // Classic keys put the queue segment right after the family prefix,
            // partitioned ones after `p|` (docs/format/30-sqs.md §2).
            let stem = b64_stem(name);
            families
                .flat_map(|r| {
                    [
                        join(r.prefix, &stem),
                        join(&join(r.prefix, PARTITIONED), &stem),
                    ]
                })
                .collect()
        }
        AdapterKind::S3 => {
            // seg(bucket) escapes NUL; the bytes before the first NUL are the same in
            // every reading (docs/format/20-s3.md §2.1, §3.1).
            let stem = name.split(|&b| b == 0).next().unwrap_or_default();
            families
                .map(|r| {
                    if r.family == Family::S3ChunkBlob {
                        // Content-addressed payloads shared by every bucket.
                        r.prefix.to_vec()
                    } else {
                        join(r.prefix, stem)
                    }
                })
                .collect()
        }
    }
}

/// The whole key space less the families in `skip` that a full scan can leave out: the
/// dispatcher would drop their versions unread (internal families, GSI rows, SQS side
/// records, disabled adapters), so asking the cluster for them only costs the server a
/// scan and the merge a wait (a group's run of GSI rows came before every item). A family
/// is left out only when its prefix neither begins nor extends another family's (so no
/// other family's key lies in its range) and no scope's baseline counts its keys (so the
/// full scan's counts stay those of every key).
pub fn unskipped_ranges(skip: SkipFamilies) -> Vec<KeyRange> {
    let mut left_out: Vec<KeyRange> = ROUTES
        .iter()
        .filter(|r| {
            skip.contains(r.family)
                && !is_counted_family(r.family, r.adapter)
                && ROUTES.iter().all(|o| {
                    o.family == r.family
                        || !(o.prefix.starts_with(r.prefix) || r.prefix.starts_with(o.prefix))
                })
        })
        .map(|r| (r.prefix.to_vec(), prefix_end(r.prefix)))
        .collect();
    left_out.sort();
    let mut out = Vec::with_capacity(left_out.len() + 1);
    let mut start: Vec<u8> = Vec::new();
    for (s, e) in left_out {
        if s > start {
            out.push((start, s));
        }
        start = e;
    }
    out.push((start, Vec::new()));
    out
}

/// Whether `key` falls in one of `ranges`.
#[cfg(test)]
pub fn contains(ranges: &[KeyRange], key: &[u8]) -> bool {
    ranges
        .iter()
        .any(|(s, e)| key >= s.as_slice() && (e.is_empty() || key < e.as_slice()))
}

/// The intersection of two ascending lists of disjoint ranges.
pub fn intersect(a: &[KeyRange], b: &[KeyRange]) -> Vec<KeyRange> {
    let mut out = Vec::new();
    for (s1, e1) in a {
        for (s2, e2) in b {
            let start = s1.max(s2).clone();
            let end = match (e1.is_empty(), e2.is_empty()) {
                (true, true) => Vec::new(),
                (true, false) => e2.clone(),
                (false, true) => e1.clone(),
                (false, false) => e1.min(e2).clone(),
            };
            if end.is_empty() || start < end {
                out.push((start, end));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::scopes::counted_scope;
    use elastickv_backup_engine::options::Scope;
    use Family as F;

    fn opts(adapters: &[AdapterKind], scopes: &[(AdapterKind, &str)]) -> DecodeOptions {
        DecodeOptions {
            adapters: adapters.to_vec(),
            scopes: scopes
                .iter()
                .map(|(a, n)| Scope {
                    adapter: *a,
                    name: n.as_bytes().to_vec(),
                })
                .collect(),
            ..DecodeOptions::default()
        }
    }

    #[test]
    fn everything_selected_reads_everything() {
        assert_eq!(scan_ranges(&DecodeOptions::default()), None);
    }

    #[test]
    fn stems_leave_out_partial_characters() {
        assert_eq!(b64_stem(b"orders"), b"b3JkZXJz".to_vec());
        assert_eq!(b64_stem(b"q"), b"c".to_vec()); // "cQ" / "cR" both decode to "q"
        assert_eq!(b64_stem(b""), Vec::<u8>::new());
    }

    #[test]
    fn adapter_selection_reads_only_its_families() {
        let r = scan_ranges(&opts(&[AdapterKind::Redis], &[])).unwrap();
        assert!(contains(&r, &F::RedisString.key(b"k")));
        assert!(contains(&r, &F::RedisHashMeta.key(b"k")));
        assert!(!contains(&r, &F::DdbItem.key(b"x")));
        assert!(!contains(&r, &F::S3ObjHead.key(b"b")));
        assert!(!contains(&r, &F::Txn.key(b"x")));
        let none = scan_ranges(&opts(&[AdapterKind::Redis], &[(AdapterKind::Redis, "1")]));
        assert_eq!(none, Some(Vec::new()));
    }

    #[test]
    fn scopes_narrow_within_the_adapter() {
        let r = scan_ranges(&opts(
            &[AdapterKind::DynamoDb, AdapterKind::S3, AdapterKind::Sqs],
            &[
                (AdapterKind::DynamoDb, "orders"),
                (AdapterKind::S3, "photos"),
                (AdapterKind::Sqs, "jobs.fifo"),
            ],
        ))
        .unwrap();
        assert!(contains(&r, &F::DdbItem.key(b"b3JkZXJz|1|x")));
        assert!(contains(&r, &F::DdbTableMeta.key(b"b3JkZXJz")));
        assert!(!contains(&r, &F::DdbItem.key(b"dXNlcnM|1|x")));
        assert!(contains(&r, &F::S3ObjHead.key(b"photos\x00\x01rest")));
        assert!(contains(&r, &F::S3ChunkBlob.key(b"00ff")));
        assert!(!contains(&r, &F::S3ObjHead.key(b"media\x00\x01rest")));
        assert!(contains(&r, &F::SqsMsgData.key(b"p|am9icy5maWZv|rest")));
        assert!(contains(&r, &F::SqsQueueMeta.key(b"am9icy5maWZv")));
        assert!(!contains(&r, &F::SqsQueueMeta.key(b"b3JkZXJz")));
        assert!(!contains(&r, &F::RedisString.key(b"k")));
    }

    /// Every counted key of the sample data lies in the ranges of its own scope: the
    /// baseline check compares counts over the same keys the narrowed scan reads.
    #[test]
    fn every_sample_key_is_in_its_scope_ranges() {
        let mut n = 0;
        for (k, _) in elastickv_backup_gen::sample(1) {
            let Some(s) = counted_scope(&k) else { continue };
            let name = String::from_utf8_lossy(&s.name).into_owned();
            let r = scan_ranges(&opts(&[s.adapter], &[(s.adapter, &name)])).unwrap();
            assert!(
                contains(&r, &k),
                "{:?} not in the ranges of {}",
                k,
                s.wire()
            );
            n += 1;
        }
        assert!(n > 50, "only {n} counted keys in the sample");
    }

    /// A full scan leaves out only families the dispatcher drops unread, never one whose
    /// keys a baseline counts, never one whose prefix begins or extends another's.
    #[test]
    fn a_full_scan_leaves_out_only_unread_uncounted_families() {
        assert_eq!(
            unskipped_ranges(SkipFamilies::default()),
            vec![(Vec::new(), Vec::new())]
        );
        let skip = [
            F::DdbGsi,
            F::SqsMsgVis,
            F::Txn,
            F::S3BucketGen,
            F::RedisZsetScore,
            F::RedisListMeta,
        ]
        .into_iter()
        .fold(SkipFamilies::default(), |s, f| s.with(f));
        let r = unskipped_ranges(skip);
        assert!(!contains(&r, &F::DdbGsi.key(b"b3JkZXJz|x")));
        assert!(!contains(&r, &F::SqsMsgVis.key(b"cQ|x")));
        assert!(!contains(&r, &F::Txn.key(b"lock|x")));
        assert!(!contains(&r, &F::S3BucketGen.key(b"photos")));
        // The Redis baseline counts every Redis key: read, and dropped by the dispatcher.
        assert!(contains(&r, &F::RedisZsetScore.key(b"\0\0\0\x01k")));
        // `!lst|meta|` begins `!lst|meta|d|`: read.
        assert!(contains(&r, &F::RedisListMeta.key(b"k")));
        assert!(contains(&r, &F::RedisListMetaDelta.key(b"\0\0\0\x01k")));
        for route in ROUTES.iter().filter(|x| !skip.contains(x.family)) {
            assert!(contains(&r, &route.family.key(b"x")), "{:?}", route.family);
        }
        let mut counted = 0;
        for (k, _) in elastickv_backup_gen::sample(1) {
            if counted_scope(&k).is_some() {
                assert!(contains(&r, &k), "counted key {k:?} left out");
                counted += 1;
            }
        }
        assert!(counted > 50, "only {counted} counted keys in the sample");
    }

    #[test]
    fn intersections() {
        let r = |s: &str, e: &str| (s.as_bytes().to_vec(), e.as_bytes().to_vec());
        assert_eq!(
            intersect(&[r("a", "m")], &[r("c", "d"), r("k", "")]),
            vec![r("c", "d"), r("k", "m")]
        );
        assert_eq!(intersect(&[r("", "")], &[r("b", "c")]), vec![r("b", "c")]);
        assert!(intersect(&[r("a", "b")], &[r("b", "c")]).is_empty());
    }
}
