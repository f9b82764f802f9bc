//! Structured snapshots whose keys start with real route prefixes: every adapter's key and
//! value parsers, visibility and the dispatcher see hostile input through the whole
//! pipeline (into a NullSink). Errors are fine; panics, hangs and escapes are findings.
#![no_main]

use arbitrary::Arbitrary;
use elastickv_backup_engine::decode::routes::ROUTES;
use elastickv_backup_engine::options::{DdbLayout, DecodeOptions};
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::{NullSink, Sink};
use elastickv_backup_engine::sources::snapshot::container::{payload_header, push_frame};
use elastickv_backup_engine::sources::snapshot::SnapshotShard;
use elastickv_backup_engine::sources::Shard;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

#[derive(Arbitrary, Debug)]
struct Entry {
    route: u8,
    rest: Vec<u8>,
    ts: u16,
    flags: u8,
    expire: u8,
    value: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    read_ts: u16,
    opts: u8,
    entries: Vec<Entry>,
}

fuzz_target!(|input: Input| {
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = input
        .entries
        .iter()
        .take(64)
        .map(|e| {
            let mut key = ROUTES[e.route as usize % ROUTES.len()].prefix.to_vec();
            key.extend_from_slice(&e.rest);
            key.extend_from_slice(&(!(e.ts as u64)).to_be_bytes());
            let mut v = vec![e.flags & 0x01];
            v.extend_from_slice(&(e.expire as u64).to_le_bytes());
            v.extend_from_slice(&e.value);
            (key, v)
        })
        .collect();
    rows.sort();
    rows.dedup_by(|a, b| a.0 == b.0);
    let mut buf = payload_header(input.read_ts as u64).to_vec();
    for (k, v) in &rows {
        push_frame(&mut buf, k, v);
    }
    let Ok(shard) = SnapshotShard::from_bytes("fuzz.fsm", bytes::Bytes::from(buf)) else {
        return;
    };
    let o = input.opts;
    let opts = DecodeOptions {
        include_incomplete_uploads: o & 1 != 0,
        include_orphans: o & 2 != 0,
        preserve_sqs_visibility: o & 4 != 0,
        include_sqs_side_records: o & 8 != 0,
        rename_collisions: o & 16 != 0,
        include_expired: o & 32 != 0,
        dynamodb_layout: if o & 64 != 0 {
            DdbLayout::Jsonl { part_bytes: 256 }
        } else {
            DdbLayout::PerItem
        },
        ..DecodeOptions::default()
    };
    let sink: Arc<dyn Sink> = Arc::new(NullSink::new());
    let shards: Vec<Arc<dyn Shard>> = vec![Arc::new(shard)];
    let _ = pipeline::write_data(shards, sink, &opts, 1);
});
