//! `--archive tar|tar.zst`: for golden cases, the archive unpacked with the system `tar`
//! (and `zstd -d`, or our own reader where zstd is not installed) is the directory output
//! exactly — same files, same bytes, same empty directories — `sha256sum -c CHECKSUMS`
//! passes in it, and MANIFEST.json then CHECKSUMS are its last two entries. A failed run
//! leaves no archive behind.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Every directory under `root` (relative), so empty directories are compared too.
fn dirs(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                let r = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                out.insert(r.clone());
                stack.push((e.path(), r));
            }
        }
    }
    out
}

/// Decodes golden case `name` into `out` with extra `flags`; returns stdout.
fn decode(name: &str, out: &str, flags: &[&str]) -> Vec<u8> {
    let case = golden_dir().join(name);
    let extra = case_args(&case);
    let mut args: Vec<&str> = vec!["decode", "--input", "input.fsm", "--output", out];
    args.extend(extra.iter().map(String::as_str));
    args.extend_from_slice(flags);
    let res = run(&case, &args);
    assert!(
        res.status.success(),
        "{name} {flags:?}: decode failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    res.stdout
}

/// Unpacks `archive` into a new directory `into` with the system tools.
fn unpack(archive: &Path, zst: bool, into: &Path) {
    std::fs::create_dir(into).unwrap();
    let tar_bytes = if zst {
        if have("zstd") {
            let o = Command::new("zstd")
                .arg("-dc")
                .arg(archive)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "zstd -d: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            o.stdout
        } else {
            let mut v = Vec::new();
            zstd::stream::read::Decoder::new(std::fs::File::open(archive).unwrap())
                .unwrap()
                .read_to_end(&mut v)
                .unwrap();
            v
        }
    } else {
        std::fs::read(archive).unwrap()
    };
    let tar_file = into.with_extension("plain.tar");
    std::fs::write(&tar_file, &tar_bytes).unwrap();
    let o = Command::new("tar")
        .arg("-xf")
        .arg(&tar_file)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tar -x: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The entry order, as tar lists it.
    let o = Command::new("tar")
        .arg("-tf")
        .arg(&tar_file)
        .output()
        .unwrap();
    let names: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    let n = names.len();
    assert!(n >= 2, "{names:?}");
    assert_eq!(
        &names[n - 2..],
        ["MANIFEST.json", "CHECKSUMS"],
        "last two entries"
    );
}

fn sha256sum_check(dir: &Path) {
    if !have("sha256sum") {
        return;
    }
    let o = Command::new("sha256sum")
        .args(["-c", "--strict", "--quiet", "CHECKSUMS"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sha256sum -c in {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn same_as_directory(unpacked: &Path, dir: &Path, what: &str) {
    let diffs = compare_trees(&read_tree(unpacked), &read_tree(dir), false);
    assert!(
        diffs.is_empty(),
        "{what}: {} difference(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    assert_eq!(dirs(unpacked), dirs(dir), "{what}: directories differ");
    sha256sum_check(unpacked);
}

fn check_case(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let dir: PathBuf = t.join("dir");
    decode(name, dir.to_str().unwrap(), &[]);
    for (fmt, file) in [("tar", "d.tar"), ("tar.zst", "d.tar.zst")] {
        let archive = t.join(file);
        decode(name, archive.to_str().unwrap(), &["--archive", fmt]);
        // Nothing but the archive appeared (no spill or partial files beside it).
        let unpacked = t.join(format!("u-{fmt}"));
        unpack(&archive, fmt == "tar.zst", &unpacked);
        same_as_directory(&unpacked, &dir, &format!("{name} --archive {fmt}"));
    }
    let left: BTreeSet<String> = std::fs::read_dir(t)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("u-"))
        .collect();
    assert_eq!(
        left,
        ["d.tar", "d.tar.zst", "dir"].map(String::from).into(),
        "{name}: stray files"
    );
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_case(stringify!($name));
            }
        )*
    };
}

// Every golden case whose decode succeeds (the cases that expect an error have no tree).
cases! {
    empty_snapshot,
    adapter_subset,
    mixed_all,
    ddb_hash_only,
    ddb_hash_range,
    ddb_binary_keys,
    ddb_gsi,
    s3_basic,
    s3_multichunk,
    s3_user_meta_suffix_key,
    redis_strings,
    redis_collections,
    redis_streams_hll,
    redis_zsets,
    sqs_standard,
    sqs_fifo,
    sqs_message_states,
    sqs_preserve_visibility,
    sqs_side_records,
}

#[test]
fn stdout_archive_is_the_same_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let dir = t.join("dir");
    decode("mixed_all", dir.to_str().unwrap(), &[]);
    for fmt in ["tar", "tar.zst"] {
        let mut flags = vec!["--archive", fmt];
        if fmt == "tar.zst" {
            flags.extend(["--zstd-level", "1"]);
        }
        let bytes = decode("mixed_all", "-", &flags);
        let file = t.join(format!("stdout.{fmt}"));
        std::fs::write(&file, bytes).unwrap();
        let unpacked = t.join(format!("u-{fmt}"));
        unpack(&file, fmt == "tar.zst", &unpacked);
        same_as_directory(&unpacked, &dir, &format!("stdout {fmt}"));
    }
}

#[test]
fn failed_run_leaves_no_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // One good Redis string, then 4 stray bytes: the snapshot is truncated mid-entry.
    let mut b = SnapshotBuilder::new(100);
    b.put(b"!redis|str|k", 5, 0, b"v");
    let mut bytes = b.bytes();
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    std::fs::write(t.join("bad.fsm"), &bytes).unwrap();
    for fmt in ["tar", "tar.zst"] {
        let out = t.join(format!("out.{fmt}"));
        let res = run(
            t,
            &[
                "decode",
                "--input",
                "bad.fsm",
                "--output",
                out.to_str().unwrap(),
                "--archive",
                fmt,
            ],
        );
        assert_eq!(
            res.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        assert!(!out.exists(), "a failed run left {}", out.display());
    }
    let left: Vec<String> = std::fs::read_dir(t)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["bad.fsm"], "leftovers: {left:?}");
    // Adapter errors after files were already written into the archive.
    for name in ["ddb_dot_range_key", "s3_meta_suffix_no_rename"] {
        let case = golden_dir().join(name);
        for fmt in ["tar", "tar.zst"] {
            let out = t.join(format!("{name}.{fmt}"));
            let mut args = vec![
                "decode",
                "--input",
                "input.fsm",
                "--output",
                out.to_str().unwrap(),
                "--archive",
                fmt,
            ];
            let extra = case_args(&case);
            args.extend(extra.iter().map(String::as_str));
            let res = run(&case, &args);
            assert_eq!(
                res.status.code(),
                Some(1),
                "{name}: {}",
                String::from_utf8_lossy(&res.stderr)
            );
            assert!(!out.exists(), "{name}: a failed run left {}", out.display());
        }
    }
    let left: Vec<String> = std::fs::read_dir(t)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["bad.fsm"], "leftovers: {left:?}");
}

#[test]
fn flag_errors_and_existing_output() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(t.join("in.fsm"), SnapshotBuilder::new(1).bytes()).unwrap();
    for (flags, want) in [
        (
            &["--archive", "zip"][..],
            "invalid value 'zip' for '--archive <FORMAT>'",
        ),
        (
            &["--zstd-level", "3"][..],
            "the following required arguments were not provided:\n  --archive <FORMAT>",
        ),
        (&["--archive", "tar", "--zstd-level", "3"][..], "not tar"),
        (
            &["--archive", "tar.zst", "--zstd-level", "23"][..],
            "23 is not in 1..=22",
        ),
    ] {
        let mut args = vec!["decode", "--input", "in.fsm", "--output", "o.tar"];
        args.extend_from_slice(flags);
        let res = run(t, &args);
        assert_eq!(res.status.code(), Some(2), "{flags:?}");
        assert!(
            String::from_utf8_lossy(&res.stderr).contains(want),
            "{flags:?}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
    }
    std::fs::write(t.join("o.tar"), b"keep me").unwrap();
    let res = run(
        t,
        &[
            "decode",
            "--input",
            "in.fsm",
            "--output",
            "o.tar",
            "--archive",
            "tar",
        ],
    );
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stderr).contains("--force"));
    assert_eq!(std::fs::read(t.join("o.tar")).unwrap(), b"keep me");
    let res = run(
        t,
        &[
            "decode",
            "--input",
            "in.fsm",
            "--output",
            "o.tar",
            "--archive",
            "tar",
            "--force",
        ],
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_ne!(std::fs::read(t.join("o.tar")).unwrap(), b"keep me");
}
