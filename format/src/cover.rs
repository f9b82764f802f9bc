//! Which key prefixes cover one adapter's keys: what a scan narrowed to an adapter reads,
//! and what a resumable or partitioned dump reads for the adapter it redoes or owns.
//!
//! Why here: the answer is a property of the route table alone, and the live source's
//! narrowing and the dump jobs above it must agree on it exactly (a prefix too narrow
//! loses keys, one too wide reads another adapter's).

use crate::keyspace::{AdapterKind, ROUTES};

/// The top-level family of a route prefix: `!ddb|item|` → `!ddb|`.
fn top_family(prefix: &'static [u8]) -> &'static [u8] {
    match prefix.iter().skip(1).position(|&b| b == b'|') {
        Some(i) => prefix.get(..i + 2).unwrap_or(prefix),
        None => prefix,
    }
}

/// Key prefixes covering every family of `kind`, as few and as wide as possible: a
/// top-level family (`!redis|`) is used when no other adapter's family lives under it, so
/// keys the dispatcher drops anyway (internal or unknown families under it) may be read,
/// but never another adapter's. Sorted, none nested in another.
pub fn adapter_prefixes(kind: AdapterKind) -> Vec<&'static [u8]> {
    let mut out: Vec<&'static [u8]> = Vec::new();
    for r in ROUTES.iter().filter(|r| r.adapter == Some(kind)) {
        let top = top_family(r.prefix);
        let shared = ROUTES
            .iter()
            .any(|o| o.adapter.is_some() && o.adapter != Some(kind) && o.prefix.starts_with(top));
        out.push(if shared { r.prefix } else { top });
    }
    out.sort_unstable();
    out.dedup();
    let mut kept: Vec<&'static [u8]> = Vec::new();
    for p in out {
        if !kept.last().is_some_and(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ns, text};
    use crate::keyspace::route;

    #[test]
    fn one_prefix_per_top_family() {
        let s = |k| {
            adapter_prefixes(k)
                .into_iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect::<Vec<_>>()
        };
        let t = |ps: &[&'static [u8]]| ps.iter().map(|p| text(p)).collect::<Vec<_>>();
        assert_eq!(s(AdapterKind::DynamoDb), t(&[ns::DDB]));
        assert_eq!(s(AdapterKind::S3), t(&[ns::S3]));
        assert_eq!(s(AdapterKind::Sqs), t(&[ns::SQS]));
        assert_eq!(
            s(AdapterKind::Redis),
            t(&[ns::HASH, ns::LIST, ns::REDIS, ns::STREAM, ns::SET, ns::ZSET])
        );
    }

    #[test]
    fn every_routed_key_is_covered_by_exactly_its_adapter() {
        for r in ROUTES.iter() {
            let mut key = r.prefix.to_vec();
            key.extend_from_slice(b"x");
            let owners: Vec<AdapterKind> = AdapterKind::ALL
                .into_iter()
                .filter(|k| adapter_prefixes(*k).iter().any(|p| key.starts_with(p)))
                .collect();
            match route(&key).and_then(|r| r.adapter) {
                Some(a) => assert_eq!(owners, vec![a], "{:?}", r.prefix),
                None => assert!(owners.len() <= 1, "{:?}", r.prefix),
            }
        }
    }
}
