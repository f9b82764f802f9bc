//! Partitioned live dumps across processes: `dump begin`, three `dump --join` processes of
//! the real binary run in parallel with a Kubernetes Indexed Job's environment
//! (JOB_COMPLETION_INDEX / JOB_COMPLETIONS), `dump finish` — and the tree equals, byte for
//! byte, a single-process dump at the same pin (MANIFEST's wall time aside); `verify`
//! passes. Failure paths: `finish` with a partition missing refuses and names it, writing
//! no MANIFEST.json; a partition index outside the plan is a usage error; a partition whose
//! pin was ended fails and says so; archives are refused.

mod common;

use common::*;
use elastickv_backup_cli::dump::live_manifest;
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::{DirSink, Sink};
use elastickv_backup_gen as gen;
use elastickv_backup_live::dump::partition::token::Token;
use elastickv_backup_live::source::{LiveConfig, LiveSession};
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const JOB: &str = ".elastickv-backup-job";

fn server(groups: u64) -> LoopbackServer {
    LoopbackServer::start(
        ServerConfig {
            groups,
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        load::from_pairs(gen::sample(3), gen::EPOCH_MS << 16),
    )
    .unwrap()
}

/// The binary with `args`, the Indexed Job variables set as given (and only those).
fn cmd(cwd: &Path, args: &[&str], job: Option<(&str, Option<&str>)>) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(cwd)
        .args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("JOB_COMPLETIONS")
        .env_remove("ELASTICKV_ADMIN_TOKEN");
    if let Some((index, count)) = job {
        c.env("JOB_COMPLETION_INDEX", index);
        if let Some(n) = count {
            c.env("JOB_COMPLETIONS", n);
        }
    }
    c
}

fn out(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", out(&o));
    o
}

/// `dump begin`; returns the token path it printed.
fn begin(cwd: &Path, addr: &str, dir: &Path, n: u32) -> PathBuf {
    begin_with(cwd, addr, dir, n, &[])
}

fn begin_with(cwd: &Path, addr: &str, dir: &Path, n: u32, extra: &[&str]) -> PathBuf {
    let n = n.to_string();
    let mut args = vec![
        "dump",
        "begin",
        "--address",
        addr,
        "--output",
        dir.to_str().unwrap(),
        "--partitions",
        &n,
    ];
    args.extend_from_slice(extra);
    let o = ok(cmd(cwd, &args, None).output().unwrap());
    let printed = String::from_utf8(o.stdout).unwrap();
    let token = PathBuf::from(printed.trim());
    assert_eq!(token, dir.join(JOB).join("token.json"));
    assert!(token.is_file());
    token
}

fn join(cwd: &Path, token: &Path, job: Option<(&str, Option<&str>)>, extra: &[&str]) -> Output {
    join_cmd(cwd, token, job, extra).output().unwrap()
}

fn join_cmd(
    cwd: &Path,
    token: &Path,
    job: Option<(&str, Option<&str>)>,
    extra: &[&str],
) -> Command {
    let mut args = vec![
        "dump",
        "--join",
        token.to_str().unwrap(),
        "--scan-page-size",
        "7",
    ];
    args.extend_from_slice(extra);
    cmd(cwd, &args, job)
}

/// A single-process dump at the job's pin (attached through the token), into `dest`.
fn reference_dump(addr: &str, token: &Path, dest: &Path, opts: &DecodeOptions) {
    let t = Token::load(token).unwrap();
    let session = LiveSession::attach(
        LiveConfig {
            address: addr.to_string(),
            ..LiveConfig::default()
        },
        t.held_pin().unwrap(),
    )
    .unwrap();
    let sink = Arc::new(DirSink::create(dest, false).unwrap());
    elastickv_backup_live::dump::write(&session, sink.clone(), opts, 2).unwrap();
    pipeline::finalize(sink.as_ref() as &dyn Sink, &live_manifest(&session, opts)).unwrap();
    drop(session); // keeps the pin: `dump finish` ends it
}

#[test]
fn three_processes_equal_a_single_process_dump() {
    let s = server(3);
    let c = s.cluster().clone();
    let addr = s.addr().to_string();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("dump");
    let token = begin(t.path(), &addr, &dir, 3);
    assert_eq!(c.active_pins(), 1, "begin must leave the pin held");
    let plan: serde_json::Value = serde_json::from_slice(&std::fs::read(&token).unwrap()).unwrap();
    let shares = plan["plan"]["shares"].as_array().unwrap().clone();
    assert_eq!(shares.len(), 3);
    // A crashed earlier attempt of partition 0: a stale staging area and a stale adapter
    // directory in the root; the rerun must clear both.
    let first = shares[0]["adapters"][0].as_str().unwrap().to_string();
    std::fs::create_dir_all(dir.join(JOB).join("staging-0/junk")).unwrap();
    std::fs::create_dir_all(dir.join(&first)).unwrap();
    std::fs::write(dir.join(&first).join("stale.bin"), b"old").unwrap();

    // All three at once, as an Indexed Job with parallelism 3 runs them.
    let children: Vec<_> = (0..3)
        .map(|i| {
            let i = i.to_string();
            join_cmd(t.path(), &token, Some((&i, Some("3"))), &[])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        ok(c.wait_with_output().unwrap());
    }
    assert!(!dir.join("MANIFEST.json").exists());
    assert!(!dir.join("CHECKSUMS").exists());
    assert_eq!(c.active_pins(), 1, "partitions must leave the pin held");
    let renewals = c.stats.renew_calls.load(Ordering::Acquire);
    assert!(
        renewals >= 3,
        "each partition renews on attach ({renewals})"
    );

    let reference = t.path().join("reference");
    reference_dump(&addr, &token, &reference, &DecodeOptions::default());

    ok(cmd(
        t.path(),
        &["dump", "finish", "--output", dir.to_str().unwrap()],
        None,
    )
    .output()
    .unwrap());
    assert!(!dir.join(JOB).exists(), "finish removes the job directory");
    assert_eq!(c.active_pins(), 0, "finish ends the pin");
    assert_eq!(c.stats.begin_calls.load(Ordering::Acquire), 1);

    let d = compare_trees(&read_tree(&dir), &read_tree(&reference), true);
    assert!(d.is_empty(), "{} difference(s):\n{}", d.len(), d.join("\n"));
    // CHECKSUMS in the single-process order, line for line (MANIFEST's line aside).
    assert_eq!(
        checksum_lines_without_manifest(&dir),
        checksum_lines_without_manifest(&reference)
    );
    // MANIFEST.json whole, producer.inputs included: only the wall time may differ.
    let manifest = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("MANIFEST.json"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("\"wall_time_iso\""))
            .map(String::from)
            .collect()
    };
    assert_eq!(manifest(&dir), manifest(&reference));
    ok(run(t.path(), &["verify", dir.to_str().unwrap()]));
}

/// More partitions than enabled adapters: the idle ones finish at once, and the options
/// recorded by `begin` (here `--adapter`) are what every partition writes with.
#[test]
fn idle_partitions_and_recorded_options() {
    let s = server(2);
    let addr = s.addr().to_string();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("dump");
    let token = begin_with(t.path(), &addr, &dir, 4, &["--adapter", "redis,sqs"]);
    let children: Vec<_> = (0..4)
        .map(|i| {
            cmd(
                t.path(),
                &[
                    "dump",
                    "--join",
                    token.to_str().unwrap(),
                    "--partition",
                    &format!("{i}/4"),
                ],
                None,
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        ok(c.wait_with_output().unwrap());
    }
    let reference = t.path().join("reference");
    let opts = DecodeOptions {
        adapters: vec![AdapterKind::Redis, AdapterKind::Sqs],
        ..DecodeOptions::default()
    };
    reference_dump(&addr, &token, &reference, &opts);
    ok(cmd(
        t.path(),
        &["dump", "finish", "--output", dir.to_str().unwrap()],
        None,
    )
    .output()
    .unwrap());
    let tree = read_tree(&dir);
    assert!(tree.keys().any(|p| p.starts_with("redis/")));
    assert!(!tree.keys().any(|p| p.starts_with("s3/")));
    let d = compare_trees(&tree, &read_tree(&reference), true);
    assert!(d.is_empty(), "{} difference(s):\n{}", d.len(), d.join("\n"));
    assert_eq!(s.cluster().active_pins(), 0);
}

#[test]
fn failure_paths() {
    let s = server(2);
    let c = s.cluster().clone();
    let addr = s.addr().to_string();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("dump");
    let token = begin(t.path(), &addr, &dir, 2);

    // A second job into the same directory is refused before anything is pinned.
    let o = cmd(
        t.path(),
        &[
            "dump",
            "begin",
            "--address",
            &addr,
            "--output",
            dir.to_str().unwrap(),
            "--partitions",
            "2",
        ],
        None,
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert_eq!(c.stats.begin_calls.load(Ordering::Acquire), 1);

    // Out-of-range indexes and a count other than the plan's are usage errors (status 2).
    for (job, flag, want) in [
        (None, Some("2/2"), "out of range"),
        (Some(("5", Some("2"))), None, "out of range"),
        (Some(("0", Some("3"))), None, "--partitions 2"),
        (None, None, "--partition I/N"),
    ] {
        let extra: Vec<&str> = flag.map(|f| vec!["--partition", f]).unwrap_or_default();
        let o = join(t.path(), &token, job, &extra);
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{}",
            out(&o)
        );
    }
    let o = join(t.path(), &token, Some(("0", None)), &["--archive", "tar"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--archive"),
        "{}",
        out(&o)
    );

    // Partition 0 only (N taken from the token's plan), twice: the rerun does nothing.
    ok(join(t.path(), &token, Some(("0", None)), &[]));
    let again = ok(join(t.path(), &token, None, &["--partition", "0/2"]));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already finished"));

    // finish refuses, names partition 1, writes nothing and keeps the pin.
    let o = cmd(
        t.path(),
        &["dump", "finish", "--output", dir.to_str().unwrap()],
        None,
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("partition(s) 1 of 2 have not finished"),
        "{}",
        out(&o)
    );
    assert!(!dir.join("MANIFEST.json").exists());
    assert!(!dir.join("CHECKSUMS").exists());
    assert!(token.is_file());
    assert_eq!(c.active_pins(), 1);

    // The pin is ended under the job: the missing partition fails, saying so.
    let pin = Token::load(&token).unwrap().pin_token_bytes().unwrap();
    c.end_backup(&pin).unwrap();
    let o = join(t.path(), &token, Some(("1", Some("2"))), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("partition 1: the pin of this job") && e.contains("is gone"),
        "{}",
        out(&o)
    );
    assert!(!dir.join(JOB).join("part-1.done.json").exists());
    assert!(!dir.join("MANIFEST.json").exists());
}

/// A partition failure no rerun can repair (the read timestamp compacted away) ends the
/// job's pin, so the other partitions stop at once instead of dumping in vain.
#[test]
fn an_unrepairable_partition_failure_ends_the_pin() {
    let s = server(2);
    let c = s.cluster().clone();
    let addr = s.addr().to_string();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("dump");
    let token = begin(t.path(), &addr, &dir, 2);
    let read_ts = Token::load(&token).unwrap().read_ts;
    // Compact under partition 0 once it has attached (renewed the pin) and is scanning.
    c.faults.scan_delay_ms.store(20, Ordering::Release);
    let renewed = c.stats.renew_calls.load(Ordering::Acquire);
    let child = join_cmd(t.path(), &token, None, &["--partition", "0/2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while c.stats.renew_calls.load(Ordering::Acquire) == renewed {
        assert!(
            started.elapsed().as_secs() < 30,
            "partition 0 never attached"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    for g in 1..=2 {
        c.force_compact_group(g, read_ts + 1);
    }
    c.faults.scan_delay_ms.store(0, Ordering::Release);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("compacted") && e.contains("ending the job's pin"),
        "{}",
        out(&o)
    );
    assert_eq!(c.active_pins(), 0);
    let o = join(t.path(), &token, None, &["--partition", "1/2"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is gone"),
        "{}",
        out(&o)
    );
    assert!(!dir.join(JOB).join("part-0.done.json").exists());
    assert!(!dir.join("MANIFEST.json").exists());
}
