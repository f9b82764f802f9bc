//! The partition plan: which adapters each of N partitions dumps, balanced by the keys the
//! `BeginBackup` baseline counted per adapter (largest first onto the least-loaded
//! partition), so the slowest partition — which decides the job's wall time — is as light
//! as the adapter grain allows. Computed once by `dump begin` and recorded in the token, so
//! every partition and `dump finish` agree on it.

use super::error::PartitionError;
use crate::source::scopes::parse_wire;
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_proto::wire::ScopeKeyCount;
use serde::{Deserialize, Serialize};

/// Most partitions a plan accepts (far more than the adapter grain can use; a bound on the
/// token's size and on typos).
pub const MAX_PARTITIONS: u32 = 64;

/// One partition's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// Adapter names, in output order.
    pub adapters: Vec<String>,
    /// Baseline keys of those adapters (the balancing weight).
    pub keys: u64,
}

/// Every partition's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Partitions (`N` of `--partition I/N`).
    pub partitions: u32,
    /// Share of partition `i` at index `i`.
    pub shares: Vec<Share>,
}

/// One partition of a plan (`--partition I/N`, or a Kubernetes Indexed Job's index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionIndex {
    /// `I`, from 0.
    pub index: u32,
    /// `N`.
    pub count: u32,
}

impl PartitionIndex {
    /// Parses `I/N` (0 ≤ I < N ≤ [`MAX_PARTITIONS`]).
    pub fn parse(s: &str) -> Result<Self, PartitionError> {
        let bad = |why: &str| PartitionError::BadPartition {
            given: s.to_string(),
            why: why.to_string(),
        };
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected I/N, e.g. 0/3 (I counts from 0)"))?;
        let index: u32 = i.trim().parse().map_err(|_| bad("I is not a number"))?;
        let count: u32 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        Self::new(index, count).map_err(|why| bad(&why))
    }

    /// Checks `index < count ≤ MAX_PARTITIONS`.
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 || count > MAX_PARTITIONS {
            return Err(format!("N must be within 1..={MAX_PARTITIONS}"));
        }
        if index >= count {
            return Err(format!(
                "index {index} is out of range: partitions of {count} are numbered 0..={}",
                count - 1
            ));
        }
        Ok(PartitionIndex { index, count })
    }
}

impl std::fmt::Display for PartitionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Baseline keys per adapter (in [`AdapterKind::ALL`] order) over the scopes `opts` selects.
pub fn adapter_weights(expected: &[ScopeKeyCount], opts: &DecodeOptions) -> [u64; 4] {
    let mut w = [0u64; 4];
    for e in expected {
        let Some(scope) = parse_wire(&e.scope_id) else {
            continue;
        };
        if !opts.enabled(scope.adapter) || !opts.scope_allows(scope.adapter, &scope.name) {
            continue;
        }
        if let Some(i) = AdapterKind::ALL.iter().position(|a| *a == scope.adapter) {
            w[i] = w[i].saturating_add(e.key_count);
        }
    }
    w
}

impl Plan {
    /// Spreads the adapters `opts` enables over `partitions` partitions: heaviest adapter
    /// first, each onto the partition with the fewest keys so far (the lowest index on a
    /// tie), so equal inputs always give the same plan.
    pub fn balance(
        expected: &[ScopeKeyCount],
        opts: &DecodeOptions,
        partitions: u32,
    ) -> Result<Plan, PartitionError> {
        PartitionIndex::new(0, partitions).map_err(|why| PartitionError::BadPartition {
            given: format!("--partitions {partitions}"),
            why,
        })?;
        let weights = adapter_weights(expected, opts);
        let mut order: Vec<(usize, AdapterKind)> = AdapterKind::ALL
            .into_iter()
            .enumerate()
            .filter(|(_, a)| opts.enabled(*a))
            .collect();
        order.sort_by_key(|(i, _)| (std::cmp::Reverse(weights[*i]), *i));
        let mut picked: Vec<Vec<usize>> = vec![Vec::new(); partitions as usize];
        let mut load = vec![0u64; partitions as usize];
        for (i, _) in order {
            let Some(target) = (0..load.len()).min_by_key(|p| (load[*p], *p)) else {
                break;
            };
            picked[target].push(i);
            load[target] = load[target].saturating_add(weights[i]);
        }
        let shares = picked
            .into_iter()
            .zip(load)
            .map(|(mut idx, keys)| {
                idx.sort_unstable();
                Share {
                    adapters: idx
                        .into_iter()
                        .map(|i| AdapterKind::ALL[i].name().to_string())
                        .collect(),
                    keys,
                }
            })
            .collect();
        Ok(Plan { partitions, shares })
    }

    /// The adapters of partition `p`, checking that `p` belongs to this plan.
    pub fn share(&self, p: PartitionIndex) -> Result<Vec<AdapterKind>, PartitionError> {
        if p.count != self.partitions {
            return Err(PartitionError::BadPartition {
                given: p.to_string(),
                why: format!(
                    "this job was planned by `dump begin --partitions {}`; use I/{} (or JOB_COMPLETIONS={})",
                    self.partitions, self.partitions, self.partitions
                ),
            });
        }
        let share =
            self.shares
                .get(p.index as usize)
                .ok_or_else(|| PartitionError::BadPartition {
                    given: p.to_string(),
                    why: "not in the token's plan".into(),
                })?;
        share
            .adapters
            .iter()
            .map(|n| {
                AdapterKind::from_name(n).ok_or_else(|| PartitionError::BadPartition {
                    given: p.to_string(),
                    why: format!("the token's plan names an unknown adapter {n:?}"),
                })
            })
            .collect()
    }

    /// Partitions with nothing to dump (more partitions than enabled adapters).
    pub fn idle(&self) -> Vec<u32> {
        (0..self.partitions)
            .filter(|i| {
                self.shares
                    .get(*i as usize)
                    .is_none_or(|s| s.adapters.is_empty())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(scope: &str, n: u64) -> ScopeKeyCount {
        ScopeKeyCount {
            scope_id: scope.into(),
            key_count: n,
            applied_index_at_count: 1,
        }
    }

    fn names(p: &Plan) -> Vec<Vec<&str>> {
        p.shares
            .iter()
            .map(|s| s.adapters.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn balances_by_baseline_keys_not_by_order() {
        let expected = [
            count("dynamodb/orders", 10),
            count("s3/b", 500),
            count("s3/c", 400),
            count("redis/db_0", 300),
            count("sqs/q", 200),
        ];
        let o = DecodeOptions::default();
        let p = Plan::balance(&expected, &o, 2).unwrap();
        // s3 (900) alone; redis 300 + sqs 200 + dynamodb 10 on the other.
        assert_eq!(names(&p), [vec!["s3"], vec!["dynamodb", "redis", "sqs"]]);
        assert_eq!(p.shares[0].keys, 900);
        assert_eq!(p.shares[1].keys, 510);
        let p = Plan::balance(&expected, &o, 3).unwrap();
        assert_eq!(
            names(&p),
            [vec!["s3"], vec!["redis"], vec!["dynamodb", "sqs"]]
        );
        assert!(p.idle().is_empty());
    }

    #[test]
    fn more_partitions_than_adapters_leaves_some_idle() {
        let o = DecodeOptions {
            adapters: vec![AdapterKind::Redis, AdapterKind::Sqs],
            ..DecodeOptions::default()
        };
        let p = Plan::balance(&[count("redis/db_0", 5)], &o, 4).unwrap();
        assert_eq!(names(&p), [vec!["redis"], vec!["sqs"], vec![], vec![]]);
        assert_eq!(p.idle(), [2, 3]);
        let all: Vec<AdapterKind> = (0..4)
            .flat_map(|i| p.share(PartitionIndex { index: i, count: 4 }).unwrap())
            .collect();
        assert_eq!(all, [AdapterKind::Redis, AdapterKind::Sqs]);
    }

    #[test]
    fn partition_indexes_are_checked() {
        assert_eq!(
            PartitionIndex::parse("2/3").unwrap(),
            PartitionIndex { index: 2, count: 3 }
        );
        for bad in ["3/3", "0/0", "x/2", "1", "1/65", "-1/2"] {
            assert!(PartitionIndex::parse(bad).is_err(), "{bad}");
        }
        let p = Plan::balance(&[], &DecodeOptions::default(), 2).unwrap();
        let e = p.share(PartitionIndex { index: 0, count: 3 }).unwrap_err();
        assert!(e.to_string().contains("--partitions 2"), "{e}");
        assert!(Plan::balance(&[], &DecodeOptions::default(), 0).is_err());
    }
}
