//! Criterion benches of the adapters end to end, minus the disk: generated entries of one
//! adapter through merge, visibility, the adapter and one render worker into a sink that
//! hashes nothing and stores nothing. "DynamoDB JSON" is the per-item item rendering path;
//! "Redis collections" is mostly hashes, lists, sets, sorted sets and streams (small ones
//! and one huge one of each type); "SQS messages" is queues of JSON message lines.
//!
//! `cargo bench --bench adapters` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline::write_data;
use elastickv_backup_engine::sinks::{DigestLog, FileDigest, RelPath, Sink, StreamFile};
use elastickv_backup_engine::sources::snapshot::SnapshotShard;
use elastickv_backup_engine::sources::Shard;
use elastickv_backup_gen::plan::{generate, GenConfig, Mix};
use std::path::PathBuf;
use std::sync::Arc;

/// Stores nothing, hashes nothing: the adapters' own cost.
#[derive(Default)]
struct Discard {
    log: DigestLog,
}

impl Sink for Discard {
    fn write_file(&self, _: &RelPath, data: &[u8]) -> Result<(), Error> {
        criterion::black_box(data);
        Ok(())
    }
    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
        Ok(StreamFile::new(
            path.clone(),
            Box::new(std::io::sink()),
            self.log.clone(),
        ))
    }
    fn write_control(&self, _: &str, _: &[u8]) -> Result<(), Error> {
        Ok(())
    }
    fn digests(&self) -> Result<Vec<FileDigest>, Error> {
        Ok(Vec::new())
    }
}

/// Generates one adapter's data once (kept in a temp dir for the whole bench).
fn dataset(dir: &tempfile::TempDir, name: &str, mix: &str, size: u64) -> (Vec<PathBuf>, u64) {
    let cfg = GenConfig {
        size,
        shards: 2,
        seed: 21,
        mix: Mix::parse(mix).expect("mix"),
    };
    let r = generate(&cfg, &dir.path().join(name)).expect("generate");
    let bytes = r.bytes();
    (r.shards.into_iter().map(|s| s.path).collect(), bytes)
}

fn run(files: &[PathBuf], adapter: AdapterKind) {
    let shards: Vec<Arc<dyn Shard>> = files
        .iter()
        .map(|p| Arc::new(SnapshotShard::open(&p.display().to_string()).expect("open")) as _)
        .collect();
    let opts = DecodeOptions {
        adapters: vec![adapter],
        ..DecodeOptions::default()
    };
    write_data(shards, Arc::new(Discard::default()), &opts, 1).expect("decode");
}

fn adapters(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("adapter");
    g.sample_size(10);
    for (name, mix, kind) in [
        ("dynamodb-json", "dynamodb=1", AdapterKind::DynamoDb),
        ("redis-collections", "redis=1", AdapterKind::Redis),
        ("sqs-messages", "sqs=1", AdapterKind::Sqs),
    ] {
        let (files, bytes) = dataset(&dir, name, mix, 16 << 20);
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(name, |b| b.iter(|| run(&files, kind)));
    }
    g.finish();
}

criterion_group!(benches, adapters);
criterion_main!(benches);
