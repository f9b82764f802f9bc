//! The output side of a live dump: pre-flight checks before anything is pinned (missing,
//! occupied, read-only, full), `--force` over an earlier dump's tree (stale files dropped, a
//! foreign tree refused), `dump` without `--address` refusing in favour of an explicit
//! `--embedded` that MANIFEST.json records, and the flush to stable storage before
//! MANIFEST.json (`--no-sync` skips it).

mod common;
mod live_support;

use common::*;
use elastickv_backup_gen as gen;
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use live_support::*;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

fn sample_server() -> LoopbackServer {
    LoopbackServer::start(
        ServerConfig::default(),
        "127.0.0.1:0",
        load::from_pairs(gen::sample(1), gen::EPOCH_MS << 16),
    )
    .unwrap()
}

fn begin_calls(s: &LoopbackServer) -> u64 {
    s.cluster().stats.begin_calls.load(Ordering::Acquire)
}

fn dump_to(s: &LoopbackServer, out: &Path, extra: &[&str]) -> Result<(), String> {
    let addr = s.addr().to_string();
    let mut args = vec!["--address", &addr, "--output", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    dump_cli(&args).map_err(|e| e.to_string())
}

/// Mounts a tmpfs with `opts` at `dir` (root only); `false` when that is not possible.
fn mount_tmpfs(dir: &Path, opts: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn umount(dir: &Path) {
    let _ = Command::new("umount").arg(dir).status();
}

#[test]
fn bad_outputs_are_refused_before_the_pin() {
    let s = sample_server();
    let t = tempfile::tempdir().unwrap();

    let file = t.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let e = dump_to(&s, &file, &[]).unwrap_err();
    assert!(e.contains("not a directory"), "{e}");

    let occupied = t.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), "x").unwrap();
    let e = dump_to(&s, &occupied, &[]).unwrap_err();
    assert!(e.contains("not empty") && e.contains("--force"), "{e}");

    let e = dump_to(&s, &occupied, &["--force"]).unwrap_err();
    assert!(e.contains("notes.txt") && e.contains("not part of"), "{e}");
    assert!(
        occupied.join("notes.txt").exists(),
        "a foreign file was deleted"
    );
    assert_eq!(
        begin_calls(&s),
        0,
        "BeginBackup was called for a bad output"
    );

    let ro = t.path().join("ro");
    let small = t.path().join("small");
    if mount_tmpfs(&ro, "ro,size=64m") {
        let e = dump_to(&s, &ro, &[]);
        umount(&ro);
        let e = e.unwrap_err();
        assert!(e.contains("not writable"), "{e}");
        assert!(mount_tmpfs(&small, "size=1m"));
        let e = dump_to(&s, &small, &[]);
        umount(&small);
        let e = e.unwrap_err();
        assert!(e.contains("bytes free"), "{e}");
        assert_eq!(
            begin_calls(&s),
            0,
            "BeginBackup was called for a bad output"
        );
    } else {
        eprintln!(
            "cannot mount a tmpfs here (not root?): read-only and full filesystems not checked"
        );
    }
    // The same server then takes a dump into a missing directory (created).
    let fresh = t.path().join("new/dump");
    dump_to(&s, &fresh, &[]).unwrap();
    assert!(fresh.join("MANIFEST.json").is_file());
    assert_eq!(s.cluster().active_pins(), 0);
}

#[test]
fn force_over_a_partial_dump_drops_what_the_dump_did_not_write() {
    let s = sample_server();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    // A failed earlier run's leftovers: a data file for a key that is not in the cluster,
    // no MANIFEST.json.
    std::fs::create_dir_all(out.join("redis/db_0/strings")).unwrap();
    std::fs::write(out.join("redis/db_0/strings/stale-key.bin"), "stale").unwrap();
    std::fs::create_dir_all(out.join("s3/ghost-bucket")).unwrap();
    std::fs::write(out.join("s3/ghost-bucket/old.txt"), "gone").unwrap();
    dump_to(&s, &out, &["--force"]).unwrap();
    assert!(!out.join("redis/db_0/strings/stale-key.bin").exists());
    assert!(!out.join("s3/ghost-bucket").exists());
    let sums = std::fs::read_to_string(out.join("CHECKSUMS")).unwrap();
    assert!(!sums.contains("stale-key") && !sums.contains("ghost-bucket"));
    let v = run(t.path(), &["verify", out.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // The forced dump holds exactly the cluster's data at its read_ts.
    let ts = manifest_read_ts(&out);
    assert_same_data(
        &out,
        &decode_state_at(s.cluster(), ts, t.path(), "reference"),
    );
    assert_eq!(s.cluster().active_pins(), 0);
}

#[test]
fn dump_without_address_names_embedded() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    let e = dump_cli(&["--output", out.to_str().unwrap()]).unwrap_err();
    assert!(e.to_string().contains("--embedded"), "{e}");
    assert!(!out.exists(), "a refused dump created its output");
    let r = run(t.path(), &["dump", "--output", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2));

    dump_cli(&["--embedded", "--output", out.to_str().unwrap()]).unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("MANIFEST.json")).unwrap()).unwrap();
    assert_eq!(m["cluster_id"], "embedded-sample-cluster", "{m}");
    let text = m.to_string();
    assert!(text.contains("embedded sample cluster: group 1"), "{text}");
    let e = dump_cli(&["--embedded", "--address", "127.0.0.1:1", "--output", "x"]).unwrap_err();
    assert!(e.to_string().contains("--embedded"), "{e}");
}

/// The syscalls of one `dump --embedded` run, traced with strace (`None` without strace).
fn traced_dump(dir: &Path, extra: &[&str]) -> Option<String> {
    let log = dir.join(format!("trace{}.log", extra.len()));
    let out = dir.join(format!("dump{}", extra.len()));
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-e", "trace=syncfs,openat", "-o"])
        .arg(&log)
        .arg(bin())
        .args(["dump", "--embedded", "--output"])
        .arg(&out)
        .args(extra);
    let status = match cmd.status() {
        Ok(s) => s,
        Err(_) => return None,
    };
    assert!(status.success());
    assert!(out.join("MANIFEST.json").is_file());
    Some(std::fs::read_to_string(&log).unwrap())
}

#[test]
fn data_is_flushed_before_the_manifest() {
    let t = tempfile::tempdir().unwrap();
    let Some(trace) = traced_dump(t.path(), &[]) else {
        panic!("strace is needed for this test (apt-get install strace)");
    };
    let lines: Vec<&str> = trace.lines().collect();
    let sync = lines.iter().position(|l| l.contains("syncfs("));
    let manifest = lines
        .iter()
        .position(|l| l.contains("openat(") && l.contains("MANIFEST.json"));
    let (Some(sync), Some(manifest)) = (sync, manifest) else {
        panic!("no syncfs before MANIFEST.json in the trace:\n{trace}");
    };
    assert!(sync < manifest, "syncfs after MANIFEST.json was opened");
    let trace = traced_dump(t.path(), &["--no-sync"]).unwrap();
    assert!(!trace.contains("syncfs("), "--no-sync still called syncfs");
}

#[test]
fn https_is_refused_rather_than_spoken_as_plaintext() {
    let s = sample_server();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("dump");
    let e = dump_cli(&[
        "--address",
        &format!("https://{}", s.addr()),
        "--output",
        out.to_str().unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("TLS") && e.contains("https://"), "{e}");
    assert_eq!(begin_calls(&s), 0);
    assert_no_dump(&out);
}

#[test]
fn admin_token_from_the_environment() {
    let s = LoopbackServer::start(
        ServerConfig {
            admin_token: Some("env-s3cret".into()),
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        load::from_pairs(gen::sample(1), gen::EPOCH_MS << 16),
    )
    .unwrap();
    let t = tempfile::tempdir().unwrap();
    let dump = |out: &str, token: Option<&str>| {
        let mut cmd = Command::new(bin());
        cmd.args(["dump", "--address", &s.addr().to_string(), "--output", out]);
        cmd.env_remove("ELASTICKV_ADMIN_TOKEN");
        if let Some(tok) = token {
            cmd.env("ELASTICKV_ADMIN_TOKEN", tok);
        }
        cmd.output().unwrap()
    };
    let out = t.path().join("no-token");
    let r = dump(out.to_str().unwrap(), None);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("missing authorization header"));
    let out = t.path().join("env-token");
    let r = dump(out.to_str().unwrap(), Some("env-s3cret"));
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("MANIFEST.json").is_file());
    assert_eq!(s.cluster().active_pins(), 0);
}
