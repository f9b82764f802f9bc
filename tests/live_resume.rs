//! Resume: a `--resumable` live dump interrupted mid-way — a group killed until the retry
//! budget runs out, or SIGINT — keeps its pin and journal; `dump --resume DIR` finishes it
//! under the same pin without reading the finished adapters again, and the tree is the one
//! an uninterrupted dump at the same pin writes (MANIFEST included, wall time aside), even
//! though the data changed in between. Failures a resume cannot repair release the pin and
//! drop the journal; a resume with other options or after the pin expired is refused.

mod common;
mod live_support;

use clap::Parser;
use common::*;
use elastickv_backup_cli::dump::{live_manifest, run_dump_with};
use elastickv_backup_cli::{Cli, Command};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::{DirSink, Sink};
use elastickv_backup_format::keys::ns;
use elastickv_backup_gen as gen;
use elastickv_backup_live::dump::resume::journal::{journal_dir, Journal, UnitState};
use elastickv_backup_live::source::{LiveConfig, LiveSession};
use elastickv_backup_loopback::{load, Cluster, LoopbackServer, ServerConfig};
use live_support::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCALE: usize = 3;

fn server(groups: u64) -> (LoopbackServer, Vec<Pair>) {
    let pairs = gen::sample(SCALE);
    let s = LoopbackServer::start(
        ServerConfig {
            groups,
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        load::from_pairs(pairs.clone(), gen::EPOCH_MS << 16),
    )
    .unwrap();
    (s, pairs)
}

/// `dump` as the CLI runs it, in process.
fn dump(args: &[&str]) -> Result<(), Error> {
    let mut v = vec!["elastickv-backup", "dump"];
    v.extend_from_slice(args);
    match Cli::try_parse_from(v)
        .map_err(|e| Error::Usage(e.to_string()))?
        .command
    {
        Command::Dump(a) => run_dump_with(a, false),
        _ => unreachable!(),
    }
}

fn done_units(out: &Path) -> usize {
    Journal::load(out).map_or(0, |j| {
        j.units
            .iter()
            .filter(|u| u.state == UnitState::Done)
            .count()
    })
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// inode and mtime of every file under `dir` (to prove a resume did not rewrite them).
fn identities(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), (m.ino(), m.mtime(), m.mtime_nsec()));
            }
        }
    }
    out
}

/// An uninterrupted single-pass dump of the same pin (attached through the journal's
/// token), into `out`; the pin stays held.
fn reference_dump(addr: &str, dump_dir: &Path, out: &Path) {
    let j = Journal::load(dump_dir).unwrap();
    let session = LiveSession::attach(
        LiveConfig {
            address: addr.to_string(),
            page_size: 2,
            ..LiveConfig::default()
        },
        j.held_pin().unwrap(),
    )
    .unwrap();
    let opts = DecodeOptions::default();
    let sink = Arc::new(DirSink::create(out, false).unwrap());
    elastickv_backup_live::dump::write(&session, sink.clone(), &opts, 2).unwrap();
    pipeline::finalize(sink.as_ref() as &dyn Sink, &live_manifest(&session, &opts)).unwrap();
    drop(session); // keeps the pin: the resume still needs it
}

/// Every file equal, MANIFEST.json included (wall time aside), CHECKSUMS consistent.
fn assert_identical(ours: &Path, reference: &Path) {
    let d = compare_trees(&read_tree(ours), &read_tree(reference), true);
    assert!(d.is_empty(), "{} difference(s):\n{}", d.len(), d.join("\n"));
}

/// The key family of a single-family adapter (the first ones to finish).
fn prefix_of(adapter: &str) -> &'static [u8] {
    match adapter {
        "dynamodb" => ns::DDB,
        "s3" => ns::S3,
        "sqs" => ns::SQS,
        other => panic!("{other}: not a single-family adapter"),
    }
}

fn change_data(c: &Arc<Cluster>, initial: &[Pair]) {
    let w = Writers::start(c, initial, SCALE, 30, Duration::from_micros(100));
    w.wait_for(30);
    assert!(w.stop().len() >= 120);
}

#[test]
fn killed_group_then_resume_equals_an_uninterrupted_dump() {
    let (s, initial) = server(6);
    let c = s.cluster().clone();
    let addr = s.addr().to_string();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    c.faults.scan_delay_ms.store(3, Ordering::Release);

    // Kill a group as soon as the first adapter is committed.
    let killer = {
        let (c, out) = (c.clone(), out.clone());
        std::thread::spawn(move || {
            wait_until("the first finished adapter", || done_units(&out) >= 1);
            c.group(2).unwrap().killed.store(true, Ordering::Release);
        })
    };
    let e = dump(&[
        "--address",
        &addr,
        "--output",
        out.to_str().unwrap(),
        "--resumable",
        "--scan-page-size",
        "2",
        "--group-retry-budget",
        "500ms",
    ])
    .unwrap_err();
    killer.join().unwrap();
    assert!(e.to_string().contains("group 2: still failing"), "{e}");
    let j = Journal::load(&out).unwrap();
    let finished: Vec<String> = j
        .units
        .iter()
        .filter(|u| u.state == UnitState::Done)
        .map(|u| u.adapter.clone())
        .collect();
    assert!(
        !finished.is_empty() && finished.len() < 4,
        "finished: {finished:?}"
    );
    assert!(!out.join("MANIFEST.json").exists());
    assert!(!out.join("CHECKSUMS").exists());
    assert_eq!(c.active_pins(), 1, "the pin must stay held for the resume");
    assert_eq!(c.stats.end_calls.load(Ordering::Acquire), 0);
    let kept: BTreeMap<PathBuf, _> = finished
        .iter()
        .flat_map(|a| identities(&out.join(a)))
        .collect();
    assert!(!kept.is_empty());

    // The data moves on; the group comes back.
    change_data(&c, &initial);
    c.faults.scan_delay_ms.store(0, Ordering::Release);
    let g = c.group(2).unwrap();
    g.kill_after_pages.store(-1, Ordering::Release);
    g.killed.store(false, Ordering::Release);

    let reference = t.path().join("reference");
    let pages = || c.stats.pages.load(Ordering::Acquire);
    let p0 = pages();
    reference_dump(&addr, &out, &reference);
    let full_pages = pages() - p0;

    // From here on, reading any key of a finished adapter fails: the resume must not.
    *c.faults.refuse_prefix.lock().unwrap() = Some(prefix_of(&finished[0]).to_vec());
    let p0 = pages();
    dump(&["--resume", out.to_str().unwrap(), "--scan-page-size", "2"]).unwrap();
    let resume_pages = pages() - p0;
    eprintln!("pages: uninterrupted {full_pages}, resume {resume_pages}");
    *c.faults.refuse_prefix.lock().unwrap() = None;

    assert_identical(&out, &reference);
    assert_same_data(
        &out,
        &decode_state_at(&c, j.read_ts, t.path(), "at-read-ts"),
    );
    assert!(!journal_dir(&out).exists(), "the journal must be removed");
    let v = run(t.path(), &["verify", out.to_str().unwrap()]);
    assert!(
        v.status.success(),
        "verify of the resumed dump: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let after: BTreeMap<PathBuf, _> = finished
        .iter()
        .flat_map(|a| identities(&out.join(a)))
        .collect();
    assert_eq!(kept, after, "finished adapters were rewritten");
    assert_eq!(c.active_pins(), 0);
    assert_eq!(c.stats.end_calls.load(Ordering::Acquire), 1);
    assert_eq!(c.stats.begin_calls.load(Ordering::Acquire), 1);
}

#[test]
fn sigint_then_resume() {
    let (s, initial) = server(4);
    let c = s.cluster().clone();
    let addr = s.addr().to_string();
    c.faults.scan_delay_ms.store(5, Ordering::Release);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    let child = std::process::Command::new(bin())
        .current_dir(t.path())
        .args([
            "dump",
            "--address",
            &addr,
            "--output",
            out.to_str().unwrap(),
            "--resumable",
            "--scan-page-size",
            "1",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the first finished adapter", || done_units(&out) >= 1);
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let res = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success(), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert_eq!(c.active_pins(), 1, "{stderr}");
    assert_eq!(c.stats.end_calls.load(Ordering::Acquire), 0);
    let read_ts = Journal::load(&out).unwrap().read_ts;

    change_data(&c, &initial);
    c.faults.scan_delay_ms.store(0, Ordering::Release);
    let res = run(t.path(), &["dump", "--resume", out.to_str().unwrap()]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_eq!(manifest_read_ts(&out), read_ts);
    assert_same_data(&out, &decode_state_at(&c, read_ts, t.path(), "at-read-ts"));
    assert!(!journal_dir(&out).exists());
    assert_eq!(c.active_pins(), 0);
}

#[test]
fn resume_refuses_other_options_and_an_expired_pin() {
    let (s, _) = server(3);
    let c = s.cluster().clone();
    let addr = s.addr().to_string();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    c.group(1)
        .unwrap()
        .kill_after_pages
        .store(6, Ordering::Release);
    let out_s = out.to_str().unwrap();
    let e = dump(&[
        "--address",
        &addr,
        "--output",
        out_s,
        "--resumable",
        "--scan-page-size",
        "1",
        "--group-retry-budget",
        "300ms",
    ])
    .unwrap_err();
    assert!(e.to_string().contains("group 1: still failing"), "{e}");
    assert_eq!(c.active_pins(), 1);

    // Other output options than the interrupted dump's: refused, nothing lost.
    let e = dump(&["--resume", out_s, "--adapter", "redis"]).unwrap_err();
    assert!(
        e.to_string().contains("differ from the interrupted dump"),
        "{e}"
    );
    assert!(journal_dir(&out).exists());
    // Neither --force nor --output go with --resume.
    assert!(dump(&["--resume", out_s, "--force"]).is_err());
    assert!(dump(&["--resume", out_s, "--output", out_s]).is_err());

    // The pin is gone (expired by its TTL on every replica): the resume cannot be
    // consistent, says so, and drops the journal.
    for g in 1..=3 {
        c.drop_pins(g);
    }
    let e = dump(&["--resume", out_s]).unwrap_err();
    assert!(
        e.to_string().contains("backup pin lost") && e.to_string().contains("expired"),
        "{e}"
    );
    assert!(!journal_dir(&out).exists());
    let e = dump(&["--resume", out_s]).unwrap_err();
    assert!(e.to_string().contains("no resume journal"), "{e}");
    assert!(!out.join("MANIFEST.json").exists());
}

#[test]
fn unrepairable_failure_releases_the_pin_and_the_journal() {
    let (s, _) = server(3);
    let c = s.cluster().clone();
    let addr = s.addr().to_string();
    c.faults.scan_delay_ms.store(3, Ordering::Release);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    let bumper = {
        let (c, out) = (c.clone(), out.clone());
        std::thread::spawn(move || {
            wait_until("the first finished adapter", || done_units(&out) >= 1);
            c.bump_catalog_version();
        })
    };
    let e = dump(&[
        "--address",
        &addr,
        "--output",
        out.to_str().unwrap(),
        "--resumable",
        "--scan-page-size",
        "2",
    ])
    .unwrap_err();
    bumper.join().unwrap();
    assert!(e.to_string().contains("route catalog changed"), "{e}");
    assert!(!journal_dir(&out).exists());
    assert!(!out.join("MANIFEST.json").exists());
    assert_eq!(c.active_pins(), 0);
    assert_eq!(c.stats.end_calls.load(Ordering::Acquire), 1);
    // A resumable dump needs an empty directory and a pinning cluster.
    let e = dump(&[
        "--address",
        &addr,
        "--output",
        out.to_str().unwrap(),
        "--resumable",
    ])
    .unwrap_err();
    assert!(matches!(e, Error::OutputNotEmpty { .. }), "{e}");
    c.set_phase1(false);
    let fresh = t.path().join("fresh");
    let e = dump(&[
        "--address",
        &addr,
        "--output",
        fresh.to_str().unwrap(),
        "--resumable",
        "--allow-unpinned",
    ])
    .unwrap_err();
    assert!(
        e.to_string().contains("needs a pinned read timestamp"),
        "{e}"
    );
    assert!(!fresh.exists());
}
