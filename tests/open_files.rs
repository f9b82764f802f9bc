//! A per-item dump has more output directories than a low open-file limit allows
//! descriptors: the common soft limit is 1024 (most distributions, systemd services), and
//! a dump of a table with a thousand partition keys failed with "Too many open files".
//! The directory sink raises the soft limit to the hard one and sizes its cache of
//! directory descriptors to what is left, so these dumps come out whole and identical to
//! one made without a limit.

mod common;

use common::checksum_lines_without_manifest;
use std::path::Path;
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_elastickv-backup")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?} failed:\n{stderr}");
    stderr
}

/// `decode` under `ulimit <limit>` (a shell sets it, then execs the binary).
fn decode_limited(limit: &str, data: &Path, out: &Path) -> String {
    run(Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
        .arg(bin())
        .args(["decode", "--threads", "2", "--input-snap-dir"])
        .arg(data)
        .arg("--output")
        .arg(out))
}

fn directories(root: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(root).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += 1 + directories(&e.path());
        }
    }
    n
}

#[test]
fn a_dump_with_more_directories_than_the_open_file_limit_completes() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    run(Command::new(bin())
        .args(["dev", "gen", "--size", "2M", "--shards", "2", "--output"])
        .arg(&data));
    let free = t.path().join("free");
    run(Command::new(bin())
        .args(["decode", "--threads", "2", "--input-snap-dir"])
        .arg(&data)
        .arg("--output")
        .arg(&free));
    let dirs = directories(&free);
    assert!(
        dirs > 100,
        "only {dirs} directories: the test needs more than the limit"
    );
    let want = checksum_lines_without_manifest(&free);
    assert!(want.len() > 1000, "{} files", want.len());

    // Soft limit only (the hard one stays): raised at start. Both: the cache fits under it.
    for (i, limit) in ["-Sn 64", "-n 64"].into_iter().enumerate() {
        let out = t.path().join(format!("limited-{i}"));
        decode_limited(limit, &data, &out);
        assert_eq!(
            checksum_lines_without_manifest(&out),
            want,
            "ulimit {limit}"
        );
        run(Command::new(bin()).arg("verify").arg(&out));
    }
}
