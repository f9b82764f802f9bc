//! The `gen` driver: splits a byte budget over the adapters, merges their families into
//! one key-ordered stream and writes it as N shard files.

use super::synth::SNAP_TS;
use super::version::{Family, Merge};
use super::writer::{ShardInfo, ShardWriter};
use super::{dynamodb, redis, s3, sqs};
use elastickv_backup_engine::decode::{AdapterKind, Family as KeyFamily};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::progress::human_bytes;
use elastickv_backup_format::keys::ns;
use std::path::Path;
use std::time::{Duration, Instant};

/// How the budget is shared between the adapters (weights, normally percent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// DynamoDB weight.
    pub dynamodb: u64,
    /// S3 weight.
    pub s3: u64,
    /// Redis weight.
    pub redis: u64,
    /// SQS weight.
    pub sqs: u64,
}

impl Default for Mix {
    /// A cluster where object bytes dominate but item counts are large too.
    fn default() -> Self {
        Mix {
            dynamodb: 30,
            s3: 40,
            redis: 20,
            sqs: 10,
        }
    }
}

impl Mix {
    /// Parses `dynamodb=30,s3=40,redis=20,sqs=10` (adapters not named get 0; at least one
    /// must be non-zero).
    pub fn parse(s: &str) -> Result<Mix, Error> {
        let mut m = Mix {
            dynamodb: 0,
            s3: 0,
            redis: 0,
            sqs: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || {
                Error::Usage(format!(
                    "--mix {s}: expected ADAPTER=WEIGHT[,...] with adapters dynamodb, s3, redis, sqs (got {part:?})"
                ))
            };
            let (name, w) = part.split_once('=').ok_or_else(bad)?;
            let w: u64 = w.trim().parse().map_err(|_| bad())?;
            match AdapterKind::from_name(name.trim()).ok_or_else(bad)? {
                AdapterKind::DynamoDb => m.dynamodb = w,
                AdapterKind::S3 => m.s3 = w,
                AdapterKind::Redis => m.redis = w,
                AdapterKind::Sqs => m.sqs = w,
            }
        }
        if m.total() == 0 {
            return Err(Error::Usage(format!(
                "--mix {s}: every weight is 0; give at least one adapter a weight"
            )));
        }
        Ok(m)
    }

    fn total(&self) -> u64 {
        self.dynamodb + self.s3 + self.redis + self.sqs
    }

    /// The byte budget of each adapter for `size` bytes.
    pub fn budgets(&self, size: u64) -> [(AdapterKind, u64); 4] {
        let t = self.total().max(1) as u128;
        let part = |w: u64| (size as u128 * w as u128 / t) as u64;
        [
            (AdapterKind::DynamoDb, part(self.dynamodb)),
            (AdapterKind::S3, part(self.s3)),
            (AdapterKind::Redis, part(self.redis)),
            (AdapterKind::Sqs, part(self.sqs)),
        ]
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Approximate total size of the shard files, bytes.
    pub size: u64,
    /// Number of shard files.
    pub shards: usize,
    /// Seed: the same seed, size and mix give the same bytes.
    pub seed: u64,
    /// Share of each adapter.
    pub mix: Mix,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct GenReport {
    /// The shard files, in key order.
    pub shards: Vec<ShardInfo>,
    /// Versions and stored bytes per adapter.
    pub per_adapter: [(AdapterKind, u64, u64); 4],
    /// Wall time.
    pub elapsed: Duration,
}

impl GenReport {
    /// One line per adapter and a total, for the operator.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (kind, versions, bytes) in self.per_adapter {
            s.push_str(&format!(
                "  {:<9} {:>12} versions {:>12}\n",
                kind.name(),
                versions,
                human_bytes(bytes)
            ));
        }
        let sizes: Vec<u64> = self.shards.iter().map(|s| s.bytes).collect();
        let (min, max) = (
            sizes.iter().min().copied().unwrap_or(0),
            sizes.iter().max().copied().unwrap_or(0),
        );
        s.push_str(&format!(
            "  total     {:>12} versions {:>12} in {} shard(s) ({} to {} each), {:.1?}",
            self.entries(),
            human_bytes(self.bytes()),
            self.shards.len(),
            human_bytes(min),
            human_bytes(max),
            self.elapsed
        ));
        s
    }

    /// Total bytes of the shard files.
    pub fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.bytes).sum()
    }

    /// Total versions.
    pub fn entries(&self) -> u64 {
        self.shards.iter().map(|s| s.entries).sum()
    }
}

/// Every family of the dataset, unmerged.
pub fn families(cfg: &GenConfig) -> Vec<Family> {
    let mut out = Vec::new();
    for (kind, budget) in cfg.mix.budgets(cfg.size) {
        if budget == 0 {
            continue;
        }
        out.extend(match kind {
            AdapterKind::DynamoDb => dynamodb::synth::families(cfg.seed, budget),
            AdapterKind::S3 => s3::synth::families(cfg.seed, budget),
            AdapterKind::Redis => redis::synth::families(cfg.seed, budget),
            AdapterKind::Sqs => sqs::synth::families(cfg.seed, budget),
        });
    }
    out
}

/// The whole dataset as one stream in global key order.
pub fn stream(cfg: &GenConfig) -> Merge {
    Merge::new(families(cfg))
}

/// The adapter a user key belongs to (by prefix), for the report.
fn adapter_of(user_key: &[u8]) -> usize {
    let kind = if user_key.starts_with(ns::DDB) {
        AdapterKind::DynamoDb
    } else if user_key.starts_with(ns::S3) || user_key.starts_with(KeyFamily::S3Route.prefix()) {
        AdapterKind::S3
    } else if user_key.starts_with(ns::SQS) {
        AdapterKind::Sqs
    } else {
        AdapterKind::Redis
    };
    kind.index()
}

/// Generates the dataset into `dir` (created if missing; must hold no `.fsm` file).
pub fn generate(cfg: &GenConfig, dir: &Path) -> Result<GenReport, Error> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    let existing = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir.display(), e))?
        .filter_map(|e| e.ok())
        .find(|e| e.path().extension().is_some_and(|x| x == "fsm"));
    if let Some(e) = existing {
        return Err(Error::OutputNotEmpty {
            path: dir.display().to_string(),
            example: e.file_name().to_string_lossy().into_owned(),
        });
    }
    let mut w = ShardWriter::new(dir, cfg.shards, cfg.size, SNAP_TS)?;
    let mut per = [(0u64, 0u64); 4];
    for v in stream(cfg) {
        let a = adapter_of(v.user_key());
        per[a].0 += 1;
        per[a].1 += v.stored_len();
        w.push(&v)?;
    }
    let shards = w.finish()?;
    let kinds = AdapterKind::ALL;
    Ok(GenReport {
        shards,
        per_adapter: [0, 1, 2, 3].map(|i| (kinds[i], per[i].0, per[i].1)),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::options::DecodeOptions;
    use elastickv_backup_engine::sinks::DirSink;
    use elastickv_backup_engine::sources::snapshot::SnapshotShard;
    use elastickv_backup_engine::sources::Shard;
    use std::sync::Arc;

    fn cfg(shards: usize) -> GenConfig {
        GenConfig {
            size: 600 << 10,
            shards,
            seed: 3,
            mix: Mix::default(),
        }
    }

    fn all_bytes(r: &GenReport) -> Vec<Vec<u8>> {
        r.shards
            .iter()
            .map(|s| std::fs::read(&s.path).unwrap())
            .collect()
    }

    fn entries(r: &GenReport) -> Vec<(bytes::Bytes, u64)> {
        let mut v = Vec::new();
        for s in &r.shards {
            let shard = SnapshotShard::open(&s.path.display().to_string()).unwrap();
            v.extend(shard.scan(&[]).unwrap().map(|e| {
                let e = e.unwrap();
                (e.user_key, e.commit_ts)
            }));
        }
        v
    }

    #[test]
    fn deterministic_and_split_independent() {
        let t = tempfile::tempdir().unwrap();
        let a = generate(&cfg(3), &t.path().join("a")).unwrap();
        let b = generate(&cfg(3), &t.path().join("b")).unwrap();
        assert_eq!(all_bytes(&a), all_bytes(&b));
        let c = generate(&cfg(7), &t.path().join("c")).unwrap();
        assert_eq!(c.shards.len(), 7);
        assert_eq!(entries(&a), entries(&c));
        // Every adapter is there, and the size is near the request.
        assert!(a.per_adapter.iter().all(|(_, n, _)| *n > 0));
        let total = a.bytes();
        assert!(total > 400 << 10 && total < 900 << 10, "{total}");
        // Generating into a directory that already holds shards is refused.
        assert!(generate(&cfg(3), &t.path().join("a")).is_err());
    }

    #[test]
    fn output_decodes() {
        let t = tempfile::tempdir().unwrap();
        let big = GenConfig {
            size: 3 << 20,
            ..cfg(2)
        };
        let r = generate(&big, &t.path().join("in")).unwrap();
        let shards: Vec<Arc<dyn Shard>> = r
            .shards
            .iter()
            .map(|s| {
                Arc::new(SnapshotShard::open(&s.path.display().to_string()).unwrap())
                    as Arc<dyn Shard>
            })
            .collect();
        let sink = Arc::new(DirSink::create(&t.path().join("out"), false).unwrap());
        let opts = DecodeOptions::default();
        let sum = elastickv_backup_engine::pipeline::write_data(shards, sink, &opts, 2).unwrap();
        assert!(sum.visible > 1000);
        assert!(sum.hidden.deleted > 0 && sum.hidden.shadowed > 0 && sum.hidden.expired > 0);
        assert!(sum.counters.adapter.iter().all(|n| *n > 0));
    }

    #[test]
    fn mix_parsing() {
        let m = Mix::parse("s3=1, redis=3").unwrap();
        assert_eq!((m.dynamodb, m.s3, m.redis, m.sqs), (0, 1, 3, 0));
        assert_eq!(m.budgets(400)[2], (AdapterKind::Redis, 300));
        assert!(Mix::parse("dynamodb=0").is_err());
        assert!(Mix::parse("mysql=3").is_err());
        assert!(Mix::parse("s3").is_err());
    }
}
