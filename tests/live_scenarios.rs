//! Live-dump scenarios end to end over loopback gRPC (docs/format/50-live-cluster.md §10): the happy path against a
//! snapshot decode of the same data, point-in-time isolation under concurrent writes, pin
//! renewal failure and loss, a lagging group, the baseline check, the pin cap, the admin
//! token, a group failing mid-scan, cancellation (in process and by SIGINT), the unpinned
//! fallback, paging edges, compaction and catalog changes, large values, scopes created after
//! the pin and stale copies. Every test also checks that no pin is left on the server.

mod common;

use clap::Parser;
use common::*;
use elastickv_backup_cli::{dump::run_dump_with, Cli, Command};
use elastickv_backup_engine::encode::manifest::{Manifest, PHASE_LIVE};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::{DirSink, Sink};
use elastickv_backup_gen as gen;
use elastickv_backup_live::source::abort::AbortReason;
use elastickv_backup_live::source::{LiveConfig, LiveSession};
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn server(cfg: ServerConfig, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> LoopbackServer {
    LoopbackServer::start(
        cfg,
        "127.0.0.1:0",
        load::from_pairs(pairs, gen::EPOCH_MS << 16),
    )
    .unwrap()
}

fn sample_server(cfg: ServerConfig) -> LoopbackServer {
    server(cfg, gen::sample(1))
}

/// `dump` as the CLI runs it, in process (no signal handlers).
fn dump(addr: &str, out: &Path, extra: &[&str]) -> Result<(), Error> {
    let out_s = out.to_str().unwrap();
    let mut args = vec![
        "elastickv-backup",
        "dump",
        "--address",
        addr,
        "--output",
        out_s,
    ];
    args.extend_from_slice(extra);
    match Cli::try_parse_from(args)
        .map_err(|e| Error::Usage(e.to_string()))?
        .command
    {
        Command::Dump(a) => run_dump_with(a, false),
        _ => unreachable!(),
    }
}

fn live_cfg(addr: &str) -> LiveConfig {
    LiveConfig {
        address: addr.to_string(),
        ..LiveConfig::default()
    }
}

/// The library path: write everything and finalize (the CLI minus flags).
fn write_all(session: &LiveSession, out: &Path) -> Result<(), Error> {
    let opts = DecodeOptions::default();
    let sink = Arc::new(DirSink::create(out, false)?);
    elastickv_backup_live::dump::write(session, sink.clone(), &opts, 2)?;
    let m = Manifest {
        phase: PHASE_LIVE,
        elastickv_version: "dev".into(),
        cluster_id: String::new(),
        snapshot_index: 0,
        last_commit_ts: session.read_ts,
        wall_time: time::OffsetDateTime::now_utc(),
        fsm_path: None,
        live: Some(session.live_info()),
        adapters: opts.adapters.clone(),
        opts: opts.clone(),
        consistency: session.consistency(),
        inputs: vec![],
    };
    pipeline::finalize(sink.as_ref() as &dyn Sink, &m)
}

fn no_pins_left(s: &LoopbackServer) {
    assert_eq!(s.cluster().active_pins(), 0, "a pin was left on the server");
}

fn end_calls(s: &LoopbackServer) -> u64 {
    s.cluster().stats.end_calls.load(Ordering::Acquire)
}

/// Live tree ≡ reference tree except MANIFEST.json (and its CHECKSUMS line).
fn same_data(ours: &Path, reference: &Path) {
    let diffs: Vec<String> = compare_trees(&read_tree(ours), &read_tree(reference), true)
        .into_iter()
        .filter(|d| !d.starts_with("content differs: MANIFEST.json"))
        .collect();
    assert!(
        diffs.is_empty(),
        "{} difference(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    (t, out)
}

/// The sample data as a snapshot file, decoded with the binary: the reference tree.
fn decoded_sample(dir: &Path, pairs: &[(Vec<u8>, Vec<u8>)]) -> PathBuf {
    let ts = gen::EPOCH_MS << 16;
    let mut sorted: Vec<&(Vec<u8>, Vec<u8>)> = pairs.iter().collect();
    let enc = |k: &[u8]| [k, &(!ts).to_be_bytes()[..]].concat();
    sorted.sort_by_key(|(k, _)| enc(k));
    let mut b = SnapshotBuilder::new(ts);
    for (k, v) in sorted {
        b.put(k, ts, 0, v);
    }
    std::fs::write(dir.join("sample.fsm"), b.bytes()).unwrap();
    let out = dir.join("decoded");
    let res = run(
        dir,
        &[
            "decode",
            "--input",
            "sample.fsm",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

#[test]
fn happy_path_matches_snapshot_decode() {
    let pairs = gen::sample(2);
    let s = server(ServerConfig::default(), pairs.clone());
    let (t, out) = tmp();
    dump(&s.addr().to_string(), &out, &["--scan-page-size", "7"]).unwrap();
    same_data(&out, &decoded_sample(t.path(), &pairs));
    let m = String::from_utf8(std::fs::read(out.join("MANIFEST.json")).unwrap()).unwrap();
    assert!(m.contains("\"phase\": \"phase1-live-pinned\""));
    assert!(m.contains("\"pin_token_sha256\": \""));
    let st = &s.cluster().stats;
    assert_eq!(st.begin_calls.load(Ordering::Acquire), 1);
    assert_eq!(st.renew_calls.load(Ordering::Acquire), 0);
    assert_eq!(end_calls(&s), 1);
    no_pins_left(&s);
}

#[test]
fn embedded_dumps_every_adapter() {
    let (_t, out) = tmp();
    let args = Cli::try_parse_from([
        "elastickv-backup",
        "dump",
        "--embedded",
        "--output",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let Command::Dump(a) = args.command else {
        unreachable!()
    };
    run_dump_with(a, false).unwrap();
    for d in [
        "dynamodb/orders/_schema.json",
        "s3/photos/_bucket.json",
        "redis/db_0/hashes/profile.json",
        "sqs/jobs/messages.jsonl",
        "MANIFEST.json",
        "CHECKSUMS",
    ] {
        assert!(out.join(d).is_file(), "{d} missing");
    }
}

#[test]
fn concurrent_writes_are_not_seen() {
    let s = sample_server(ServerConfig::default());
    s.cluster().faults.scan_delay_ms.store(3, Ordering::Release);
    let c = s.cluster().clone();
    let writer = std::thread::spawn(move || {
        wait_until("the pin", || c.active_pins() == 1);
        let mut n = 0;
        while c.active_pins() == 1 && n < 2000 {
            c.put(b"!redis|str|str:000", b"\xff\x01\x00CHANGED");
            c.delete(b"!redis|str|str:001");
            c.put(format!("!redis|str|new-{n}").as_bytes(), b"\xff\x01\x00new");
            c.delete(b"!hs|fld|\x00\x00\x00\x07profilefield000");
            n += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        n
    });
    let (t, out) = tmp();
    dump(&s.addr().to_string(), &out, &["--scan-page-size", "5"]).unwrap();
    assert!(
        writer.join().unwrap() > 0,
        "no write happened during the dump"
    );
    same_data(&out, &decoded_sample(t.path(), &gen::sample(1)));
    no_pins_left(&s);
}

fn slow_server(cfg: ServerConfig) -> LoopbackServer {
    let s = sample_server(cfg);
    s.cluster()
        .faults
        .scan_delay_ms
        .store(20, Ordering::Release);
    s
}

#[test]
fn renewal_failure_aborts_cleanly() {
    let s = slow_server(ServerConfig {
        backup_max_ttl_ms: 900,
        renew_backoff: Duration::from_millis(5),
        ..ServerConfig::default()
    });
    s.cluster()
        .faults
        .renew_unavailable
        .store(true, Ordering::Release);
    let (_t, out) = tmp();
    let e = dump(
        &s.addr().to_string(),
        &out,
        &["--scan-page-size", "1", "--ttl-ms", "900"],
    )
    .unwrap_err();
    assert!(e.to_string().contains("backup pin lost"), "{e}");
    assert!(!out.join("MANIFEST.json").exists());
    assert!(!out.join("CHECKSUMS").exists());
    assert_eq!(end_calls(&s), 1);
    no_pins_left(&s);
}

#[test]
fn lost_pin_aborts_cleanly() {
    let s = slow_server(ServerConfig {
        backup_max_ttl_ms: 900,
        ..ServerConfig::default()
    });
    let c = s.cluster().clone();
    let dropper = std::thread::spawn(move || {
        wait_until("the pin", || c.active_pins() == 1);
        for g in 1..=3 {
            c.drop_pins(g);
        }
    });
    let (_t, out) = tmp();
    let e = dump(
        &s.addr().to_string(),
        &out,
        &["--scan-page-size", "1", "--ttl-ms", "900"],
    )
    .unwrap_err();
    dropper.join().unwrap();
    assert!(
        e.to_string().contains("backup pin lost") && e.to_string().contains("NotFound"),
        "{e}"
    );
    assert!(!out.join("MANIFEST.json").exists());
    assert_eq!(end_calls(&s), 1);
    no_pins_left(&s);
}

#[test]
fn lagging_group_refuses_to_pin() {
    let s = sample_server(ServerConfig {
        begin_backup_deadline: Duration::from_millis(300),
        catch_up_tick: Duration::from_millis(50),
        ..ServerConfig::default()
    });
    s.cluster().group(3).unwrap().set_lagging(true);
    let (_t, out) = tmp();
    let started = Instant::now();
    let e = dump(&s.addr().to_string(), &out, &[]).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        e.to_string().contains("FailedPrecondition") && e.to_string().contains("catch-up"),
        "{e}"
    );
    assert!(!out.exists(), "nothing may be written");
    no_pins_left(&s);
}

fn big_redis(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("!redis|str|k{i:05}").into_bytes(),
                format!("\u{ff}v{i}").into_bytes(),
            )
        })
        .collect()
}

fn shortfall_run(every_nth: usize) -> Result<(), Error> {
    let s = server(ServerConfig::default(), big_redis(10_000));
    let (_t, out) = tmp();
    let session = LiveSession::begin(live_cfg(&s.addr().to_string())).unwrap();
    // After the pin: one replica loses keys (e.g. installed a snapshot without the pin).
    let g = s
        .cluster()
        .groups()
        .iter()
        .max_by_key(|g| g.read().key_count())
        .unwrap()
        .clone();
    g.write().drop_keys(b"!redis|str|", every_nth);
    let r = write_all(&session, &out);
    drop(session);
    assert_eq!(end_calls(&s), 1);
    no_pins_left(&s);
    if r.is_err() {
        assert!(!out.join("MANIFEST.json").exists());
    }
    r
}

#[test]
fn baseline_shortfall_fails_and_tolerance_passes() {
    // ~1/3 of 10 000 keys live on the largest group; every 6th of them is > 5 % of the scope.
    let e = shortfall_run(6).unwrap_err();
    assert!(
        e.to_string().contains("ErrCompactionDuringDump") && e.to_string().contains("redis/db_0"),
        "{e}"
    );
    // Every 40th: under 1 % of the scope — within the tolerance (threshold 9 800).
    shortfall_run(40).unwrap();
}

#[test]
fn too_many_pins() {
    let s = sample_server(ServerConfig::default());
    let addr = s.addr().to_string();
    let mut held: Vec<LiveSession> = (0..4)
        .map(|_| LiveSession::begin(live_cfg(&addr)).unwrap())
        .collect();
    let e = LiveSession::begin(live_cfg(&addr)).err().unwrap();
    assert!(e.to_string().contains("ResourceExhausted"), "{e}");
    held.pop().unwrap().end();
    held.push(LiveSession::begin(live_cfg(&addr)).unwrap());
    drop(held);
    assert_eq!(end_calls(&s), 5);
    no_pins_left(&s);
}

#[test]
fn admin_token_is_required_before_any_side_effect() {
    let s = sample_server(ServerConfig {
        admin_token: Some("s3cret".into()),
        ..ServerConfig::default()
    });
    let addr = s.addr().to_string();
    let (t, out) = tmp();
    let e = dump(&addr, &out, &[]).unwrap_err();
    assert!(
        e.to_string().contains("Unauthenticated")
            && e.to_string().contains("missing authorization header"),
        "{e}"
    );
    let e = dump(&addr, &out, &["--admin-token", "nope"]).unwrap_err();
    assert!(e.to_string().contains("invalid admin token"), "{e}");
    assert!(!out.exists());
    assert_eq!(s.cluster().stats.begin_calls.load(Ordering::Acquire), 0);
    let file = t.path().join("token");
    std::fs::write(&file, "s3cret\n").unwrap();
    dump(&addr, &out, &["--admin-token-file", file.to_str().unwrap()]).unwrap();
    no_pins_left(&s);
}

#[test]
fn group_killed_mid_scan_gives_up_after_the_retry_budget() {
    let s = sample_server(ServerConfig::default());
    s.cluster()
        .group(2)
        .unwrap()
        .kill_after_pages
        .store(3, Ordering::Release);
    let (_t, out) = tmp();
    let started = Instant::now();
    let e = dump(
        &s.addr().to_string(),
        &out,
        &["--scan-page-size", "2", "--group-retry-budget", "1s"],
    )
    .unwrap_err();
    assert!(e.to_string().contains("group 2: still failing"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!out.join("MANIFEST.json").exists());
    assert_eq!(end_calls(&s), 1);
    no_pins_left(&s);
}

#[test]
fn group_killed_mid_scan_recovers_with_backoff() {
    let pairs = gen::sample(1);
    let s = server(ServerConfig::default(), pairs.clone());
    let g = s.cluster().group(2).unwrap().clone();
    g.kill_after_pages.store(3, Ordering::Release);
    let reviver = std::thread::spawn(move || {
        wait_until("the kill", || g.killed.load(Ordering::Acquire));
        std::thread::sleep(Duration::from_millis(400));
        g.kill_after_pages.store(-1, Ordering::Release);
        g.killed.store(false, Ordering::Release);
    });
    let (t, out) = tmp();
    dump(&s.addr().to_string(), &out, &["--scan-page-size", "2"]).unwrap();
    reviver.join().unwrap();
    same_data(&out, &decoded_sample(t.path(), &pairs));
    no_pins_left(&s);
}

#[test]
fn cancellation_ends_the_backup() {
    let s = slow_server(ServerConfig::default());
    let (_t, out) = tmp();
    let session = LiveSession::begin(live_cfg(&s.addr().to_string())).unwrap();
    let abort = session.abort_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        abort.trigger(AbortReason::Cancelled("test cancel".into()));
    });
    // 200 ms per page: the dump is still running when the cancel arrives.
    s.cluster()
        .faults
        .scan_delay_ms
        .store(200, Ordering::Release);
    let sink = Arc::new(DirSink::create(&out, false).unwrap());
    let e = elastickv_backup_live::dump::write(&session, sink, &DecodeOptions::default(), 2)
        .unwrap_err();
    canceller.join().unwrap();
    assert!(matches!(e, Error::Cancelled(_)), "{e}");
    drop(session);
    assert_eq!(end_calls(&s), 1);
    assert!(!out.join("MANIFEST.json").exists());
    no_pins_left(&s);
}

#[test]
fn sigint_ends_the_backup_and_exits_non_zero() {
    let s = slow_server(ServerConfig::default());
    s.cluster()
        .faults
        .scan_delay_ms
        .store(100, Ordering::Release);
    let (t, out) = tmp();
    let mut child = std::process::Command::new(bin())
        .current_dir(t.path())
        .args([
            "dump",
            "--address",
            &s.addr().to_string(),
            "--output",
            out.to_str().unwrap(),
            "--scan-page-size",
            "1",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let c = s.cluster().clone();
    wait_until("the pin", || c.active_pins() == 1);
    std::thread::sleep(Duration::from_millis(300));
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(!out.join("MANIFEST.json").exists());
    assert_eq!(end_calls(&s), 1);
    no_pins_left(&s);
}

#[test]
fn cluster_without_backup_rpcs_refuses_or_falls_back() {
    let s = sample_server(ServerConfig::default());
    s.cluster().set_phase1(false);
    let addr = s.addr().to_string();
    let (t, out) = tmp();
    let e = dump(&addr, &out, &[]).unwrap_err();
    assert!(e.to_string().contains("--allow-unpinned"), "{e}");
    assert!(!out.exists());
    dump(&addr, &out, &["--allow-unpinned"]).unwrap();
    let m = String::from_utf8(std::fs::read(out.join("MANIFEST.json")).unwrap()).unwrap();
    assert!(m.contains("\"pinned\": false"), "{m}");
    assert!(
        m.contains("\"consistency\": \"unpinned-best-effort\""),
        "{m}"
    );
    assert!(!m.contains("pin_token_sha256"), "{m}");
    assert!(
        m.contains(&format!("\"read_ts\": {}", s.cluster().latest_commit_ts())),
        "{m}"
    );
    assert_eq!(s.cluster().stats.end_calls.load(Ordering::Acquire), 0);
    same_data(&out, &decoded_sample(t.path(), &gen::sample(1)));
}

#[test]
fn paging_edges_with_prefix_keys() {
    let keys: [&[u8]; 4] = [b"a", b"a\x00", b"a\x00\x00", b"ab"];
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = keys
        .iter()
        .map(|k| {
            (
                [b"!redis|str|".as_slice(), k].concat(),
                b"\xff\x01\x00x".to_vec(),
            )
        })
        .collect();
    let s = server(
        ServerConfig {
            groups: 1,
            ..ServerConfig::default()
        },
        pairs.clone(),
    );
    s.cluster()
        .faults
        .prefix_hazard
        .store(true, Ordering::Release);
    let t = tempfile::tempdir().unwrap();
    let reference = decoded_sample(t.path(), &pairs);
    for page in ["1", "2", "1025"] {
        let out = t.path().join(format!("p{page}"));
        dump(&s.addr().to_string(), &out, &["--scan-page-size", page]).unwrap();
        same_data(&out, &reference);
        assert_eq!(
            std::fs::read_dir(out.join("redis/db_0/strings"))
                .unwrap()
                .count(),
            4
        );
    }
    let e = dump(
        &s.addr().to_string(),
        &t.path().join("x"),
        &["--scan-page-size", "1026"],
    )
    .unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e}");
    no_pins_left(&s);
}

#[test]
fn compacted_read_ts_aborts() {
    let s = sample_server(ServerConfig::default());
    let (_t, out) = tmp();
    let session = LiveSession::begin(live_cfg(&s.addr().to_string())).unwrap();
    s.cluster().force_compact_group(1, session.read_ts + 1);
    let e = write_all(&session, &out).unwrap_err();
    assert!(
        e.to_string().contains("read timestamp has been compacted"),
        "{e}"
    );
    drop(session);
    assert!(!out.join("MANIFEST.json").exists());
    no_pins_left(&s);
}

#[test]
fn catalog_change_aborts() {
    let s = sample_server(ServerConfig::default());
    let (_t, out) = tmp();
    let session = LiveSession::begin(live_cfg(&s.addr().to_string())).unwrap();
    s.cluster().bump_catalog_version();
    let e = write_all(&session, &out).unwrap_err();
    assert!(e.to_string().contains("route catalog changed"), "{e}");
    drop(session);
    assert!(!out.join("MANIFEST.json").exists());
    no_pins_left(&s);
}

#[test]
fn large_values_are_fetched_by_halving() {
    let mut pairs = Vec::new();
    gen::s3::bucket(&mut pairs, "big");
    for i in 0..12 {
        let body = vec![b'a' + i as u8; 40 * 1024];
        gen::s3::object(
            &mut pairs,
            "big",
            &format!("o{i:02}"),
            &body,
            "application/octet-stream",
        );
    }
    let s = server(
        ServerConfig {
            max_message_bytes: 100 * 1024,
            ..ServerConfig::default()
        },
        pairs.clone(),
    );
    let (t, out) = tmp();
    dump(&s.addr().to_string(), &out, &[]).unwrap();
    same_data(&out, &decoded_sample(t.path(), &pairs));
    no_pins_left(&s);
}

/// A run of S3 chunk blobs is fetched 4 values at a time however long it is, so a
/// group never holds more than a few batches of large values (a keys page of 1,024 blobs
/// of 1 MiB each, fetched whole, would be 1 GiB).
#[test]
fn blob_values_are_fetched_in_small_batches() {
    const BODY: usize = 200 * 1024;
    let mut pairs = Vec::new();
    gen::s3::bucket(&mut pairs, "many");
    for i in 0..300 {
        let body = vec![b'a' + (i % 26) as u8; BODY];
        gen::s3::object(
            &mut pairs,
            "many",
            &format!("o{i:03}"),
            &body,
            "application/octet-stream",
        );
    }
    let s = server(ServerConfig::default(), pairs.clone());
    let (t, out) = tmp();
    dump(&s.addr().to_string(), &out, &[]).unwrap();
    same_data(&out, &decoded_sample(t.path(), &pairs));
    let biggest = s.cluster().stats.max_page_bytes.load(Ordering::Acquire);
    assert!(
        biggest >= BODY as u64 && biggest <= 5 * BODY as u64,
        "largest page {biggest} bytes: expected about 4 blobs of {BODY}"
    );
    no_pins_left(&s);
}

#[test]
fn scope_created_after_the_pin_is_not_dumped() {
    let s = sample_server(ServerConfig::default());
    let (t, out) = tmp();
    let session = LiveSession::begin(live_cfg(&s.addr().to_string())).unwrap();
    let mut late = Vec::new();
    gen::s3::bucket(&mut late, "late");
    gen::s3::object(&mut late, "late", "x", b"x", "text/plain");
    for (k, v) in &late {
        s.cluster().put(k, v);
    }
    write_all(&session, &out).unwrap();
    session.end();
    assert!(!out.join("s3/late").exists());
    same_data(&out, &decoded_sample(t.path(), &gen::sample(1)));
    no_pins_left(&s);
}

#[test]
fn stale_copies_on_a_non_owner_group_are_dropped() {
    let pairs = gen::sample(1);
    let s = server(ServerConfig::default(), pairs.clone());
    let key = b"!redis|str|str:002";
    let owner = s.cluster().routes().owner(key).unwrap();
    let other = (owner % 3) + 1;
    s.cluster().group(other).unwrap().write().apply(
        bytes::Bytes::from_static(key),
        elastickv_backup_loopback::store::Version {
            ts: 1,
            tombstone: false,
            expire_at_ms: 0,
            value: bytes::Bytes::from_static(b"\xff\x01\x00STALE"),
        },
    );
    let (t, out) = tmp();
    dump(&s.addr().to_string(), &out, &[]).unwrap();
    same_data(&out, &decoded_sample(t.path(), &pairs));
    no_pins_left(&s);
}
