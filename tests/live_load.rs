//! Load: a live dump of a 100-group loopback cluster while four writers keep changing data
//! in every adapter's key families (new records, overwrites, deletes — each record one
//! atomic batch). The dump must equal exactly the cluster's state at its `read_ts`: the
//! reference is the server's own MVCC state at that timestamp, exported as snapshot files
//! and decoded with the same binary. Bounded: the writers stop after the dump (or after a
//! fixed number of batches / 40 s), loopback only.

mod common;
mod live_support;

use clap::Parser;
use elastickv_backup_cli::{dump::run_dump_with, Cli, Command};
use elastickv_backup_gen as gen;
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use live_support::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const GROUPS: u64 = 100;
const SCALE: usize = 10;

#[test]
fn dump_under_writes_equals_the_state_at_read_ts() {
    let started = Instant::now();
    let initial = gen::sample(SCALE);
    let server = LoopbackServer::start(
        ServerConfig {
            groups: GROUPS,
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        load::from_pairs(initial.clone(), gen::EPOCH_MS << 16),
    )
    .unwrap();
    let c = server.cluster().clone();
    assert_eq!(c.routes().groups().len() as u64, GROUPS);
    let busy = c
        .groups()
        .iter()
        .filter(|g| g.read().key_count() > 0)
        .count();
    assert!(busy >= 50, "data spread over only {busy} groups");

    let writers = Writers::start(&c, &initial, SCALE, 5_000, Duration::from_millis(1));
    writers.wait_for(25); // some history before the pin
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    let addr = server.addr().to_string();
    let args = Cli::try_parse_from([
        "elastickv-backup",
        "dump",
        "--address",
        &addr,
        "--output",
        out.to_str().unwrap(),
        "--scan-page-size",
        "8",
        "--threads",
        "2",
    ])
    .unwrap();
    let Command::Dump(a) = args.command else {
        unreachable!()
    };
    run_dump_with(a, false).unwrap();
    let dump_end_ts = c.hlc.current();
    let commits = writers.stop();

    let read_ts = manifest_read_ts(&out);
    let before = commits.iter().filter(|&&ts| ts < read_ts).count();
    let during = commits
        .iter()
        .filter(|&&ts| ts > read_ts && ts <= dump_end_ts)
        .count();
    eprintln!(
        "load: {} batches committed: {before} before read_ts, {during} during the dump; dump took until {:.1?}",
        commits.len(),
        started.elapsed()
    );
    assert!(before >= 100, "only {before} batches before read_ts");
    assert!(during >= 20, "only {during} batches during the dump");
    assert!(
        commits.iter().all(|&ts| ts != read_ts),
        "a write shares read_ts"
    );

    // The reference: what the cluster held at read_ts, decoded with the snapshot path.
    let at_read_ts = decode_state_at(&c, read_ts, t.path(), "at-read-ts");
    assert_same_data(&out, &at_read_ts);
    // Not vacuous: the writes after read_ts changed what a later dump would contain.
    let latest = decode_state_at(&c, c.hlc.current(), t.path(), "latest");
    assert!(
        !data_diffs(&out, &latest).is_empty(),
        "the writes during the dump changed nothing visible"
    );

    assert_eq!(c.active_pins(), 0, "a pin was left on the server");
    assert_eq!(c.stats.end_calls.load(Ordering::Acquire), 1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
