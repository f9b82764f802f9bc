//! `elastickv-backup verify`: passes on a fresh dump (directory, tar, tar.zst, standard
//! input) and catches each kind of tampering — a changed byte, a removed file, an added
//! file, an edited MANIFEST, unsafe archive entries, a truncated archive — with a report
//! that names the file concerned and exit status 1.

mod common;

use common::*;
use elastickv_backup_engine::sinks::archive::header::{append, EntryHeader, EntryKind};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CASE: &str = "mixed_all";

/// A fresh dump of the golden case in `t/<name>` (directory, or archive with `fmt`).
fn dump(t: &Path, name: &str, fmt: Option<&str>) -> PathBuf {
    let extra: Vec<&str> = fmt.map(|f| vec!["--archive", f]).unwrap_or_default();
    decode_golden(CASE, &t.join(name), &extra)
}

/// Runs verify; returns (exit code, report).
fn verify(target: &Path) -> (i32, String) {
    verify_report(target)
}

fn assert_fails_naming(target: &Path, line_start: &str) {
    let (code, report) = verify(target);
    assert_eq!(
        code,
        1,
        "verify {} should fail:\n{report}",
        target.display()
    );
    assert!(
        report.lines().any(|l| l.starts_with(line_start)),
        "no line starting {line_start:?} in:\n{report}"
    );
    assert!(report.contains("FAILED"), "{report}");
}

/// Rewrites the MANIFEST.json line of CHECKSUMS to match the current manifest.
fn refresh_manifest_sum(dir: &Path) {
    let m = std::fs::read(dir.join("MANIFEST.json")).unwrap();
    let sums = std::fs::read_to_string(dir.join("CHECKSUMS")).unwrap();
    let fixed: String = sums
        .lines()
        .map(|l| {
            if l.ends_with("  MANIFEST.json") {
                format!("{}  MANIFEST.json\n", hex::encode(Sha256::digest(&m)))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("CHECKSUMS"), fixed).unwrap();
}

fn edit_manifest(dir: &Path, from: &str, to: &str) {
    let p = dir.join("MANIFEST.json");
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{from} not in MANIFEST.json");
    std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
}

#[test]
fn fresh_dumps_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for (name, fmt) in [
        ("dir", None),
        ("d.tar", Some("tar")),
        ("d.tar.zst", Some("tar.zst")),
    ] {
        let p = dump(t, name, fmt);
        let (code, report) = verify(&p);
        assert_eq!(code, 0, "{name}:\n{report}");
        assert!(
            report.starts_with(&format!("OK {}", p.display())),
            "{report}"
        );
        assert!(!report.contains("ERROR"), "{report}");
    }
    // An archive on standard input.
    let mut child = Command::new(bin())
        .args(["verify", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(t.join("d.tar.zst")).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn changed_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dump(tmp.path(), "dir", None);
    let p = d.join("s3/b1/o.txt");
    let mut b = std::fs::read(&p).unwrap();
    b[0] ^= 0x20;
    std::fs::write(&p, b).unwrap();
    assert_fails_naming(&d, "ERROR s3/b1/o.txt: content differs from CHECKSUMS");
}

#[test]
fn removed_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dump(tmp.path(), "dir", None);
    std::fs::remove_file(d.join("redis/db_0/hashes/h.json")).unwrap();
    assert_fails_naming(
        &d,
        "ERROR redis/db_0/hashes/h.json: listed in CHECKSUMS but missing",
    );
    // Removing a table's schema also breaks the layout.
    std::fs::remove_file(d.join("dynamodb/t1/_schema.json")).unwrap();
    assert_fails_naming(
        &d,
        "ERROR dynamodb/t1: table directory without _schema.json",
    );
    assert_fails_naming(
        &d,
        "ERROR dynamodb/t1/_schema.json: listed in CHECKSUMS but missing",
    );
}

#[test]
fn added_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dump(tmp.path(), "dir", None);
    std::fs::write(d.join("sqs/q1/extra.jsonl"), b"{}\n").unwrap();
    assert_fails_naming(
        &d,
        "ERROR sqs/q1/extra.jsonl: present but not listed in CHECKSUMS",
    );
}

#[test]
fn edited_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dump(tmp.path(), "dir", None);
    edit_manifest(
        &d,
        "\"include_orphans\": false",
        "\"include_orphans\": true",
    );
    assert_fails_naming(&d, "ERROR MANIFEST.json: content differs from CHECKSUMS");
    // Even with CHECKSUMS fixed up, the manifest gate still applies.
    edit_manifest(&d, "\"format_version\": 1", "\"format_version\": 2");
    refresh_manifest_sum(&d);
    assert_fails_naming(&d, "ERROR MANIFEST.json: unsupported format_version 2");
    std::fs::remove_file(d.join("MANIFEST.json")).unwrap();
    assert_fails_naming(&d, "ERROR MANIFEST.json: missing");
}

#[test]
fn every_problem_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dump(tmp.path(), "dir", None);
    std::fs::write(d.join("s3/b1/o.txt"), b"changed").unwrap();
    std::fs::remove_file(d.join("sqs/q1/messages.jsonl")).unwrap();
    std::fs::write(d.join("redis/db_0/new.bin"), b"x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.join("redis/db_0/link")).unwrap();
    let (code, report) = verify(&d);
    assert_eq!(code, 1);
    for want in [
        "ERROR s3/b1/o.txt:",
        "ERROR sqs/q1/messages.jsonl:",
        "ERROR redis/db_0/new.bin:",
        "ERROR redis/db_0/link: is a symlink",
    ] {
        assert!(
            report.lines().any(|l| l.starts_with(want)),
            "{want} not in:\n{report}"
        );
    }
    assert!(
        report.contains("FAILED") && report.contains("4 error(s)"),
        "{report}"
    );
}

#[test]
fn unpinned_live_dump_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dump(tmp.path(), "dir", None);
    let p = d.join("MANIFEST.json");
    let s = std::fs::read_to_string(&p).unwrap();
    // Phase 1 without a pin token: replace `source` by a `live` object.
    let start = s.find("  \"source\": {").unwrap();
    let end = start + s[start..].find("},\n").unwrap() + 3;
    let live = "  \"live\": {\n    \"read_ts\": 5,\n    \"pinned\": false\n  },\n";
    let s = format!("{}{live}{}", &s[..start], &s[end..]).replacen(
        "phase0-snapshot-decode",
        "phase1-live-pinned",
        1,
    );
    std::fs::write(&p, s).unwrap();
    refresh_manifest_sum(&d);
    let (code, report) = verify(&d);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("WARNING MANIFEST.json: unpinned live dump"),
        "{report}"
    );
}

#[test]
fn tampered_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let dir = dump(t, "dir", None);
    let tar = dump(t, "d.tar", Some("tar"));
    let bytes = std::fs::read(&tar).unwrap();

    // A changed byte inside one file's content.
    let content = std::fs::read(dir.join("sqs/q1/messages.jsonl")).unwrap();
    let at = bytes
        .windows(content.len())
        .position(|w| w == content)
        .unwrap();
    let mut changed = bytes.clone();
    changed[at + 5] ^= 1;
    let p = t.join("changed.tar");
    std::fs::write(&p, changed).unwrap();
    assert_fails_naming(
        &p,
        "ERROR sqs/q1/messages.jsonl: content differs from CHECKSUMS",
    );

    // An entry that escapes the root, an added file and a second copy of a file,
    // appended before the end marker.
    // (`../evil` is refused by ustar's name field, so it goes into a PAX `path` record.)
    let mut evil = tar::Builder::new(bytes[..bytes.len() - 1024].to_vec());
    for (path, kind) in [
        ("../evil", EntryKind::File),
        ("redis/db_0/extra.bin", EntryKind::File),
        ("redis/db_0/strings/s.bin", EntryKind::File),
    ] {
        let h = EntryHeader {
            path,
            kind,
            mode: 0o600,
            size: 1,
            mtime: 0,
            uid: 0,
            gid: 0,
        };
        append(&mut evil, &h, &b"x"[..]).unwrap();
    }
    let evil = evil.into_inner().unwrap();
    let p = t.join("evil.tar");
    std::fs::write(&p, &evil).unwrap();
    assert_fails_naming(&p, "ERROR ../evil: unsafe archive entry name");
    assert_fails_naming(
        &p,
        "ERROR redis/db_0/extra.bin: present but not listed in CHECKSUMS",
    );
    assert_fails_naming(
        &p,
        "ERROR redis/db_0/strings/s.bin: appears more than once in the archive",
    );

    // A removed entry and a symlink entry: repack an unpacked copy with the system tar.
    let u = t.join("unpacked");
    std::fs::create_dir(&u).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&u)
        .status()
        .unwrap()
        .success());
    std::fs::remove_file(u.join("dynamodb/t1/items/a.json")).unwrap();
    std::os::unix::fs::symlink("../../CHECKSUMS", u.join("sqs/q1/link")).unwrap();
    let p = t.join("repacked.tar");
    assert!(Command::new("tar")
        .arg("-cf")
        .arg(&p)
        .arg("-C")
        .arg(&u)
        .arg(".")
        .status()
        .unwrap()
        .success());
    assert_fails_naming(
        &p,
        "ERROR dynamodb/t1/items/a.json: listed in CHECKSUMS but missing",
    );
    assert_fails_naming(&p, "ERROR sqs/q1/link: is a symlink entry");

    // A truncated archive (an interrupted copy).
    let p = t.join("cut.tar");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails_naming(&p, "ERROR (archive): archive is truncated");
    let zst = dump(t, "d.tar.zst", Some("tar.zst"));
    let z = std::fs::read(&zst).unwrap();
    let p = t.join("cut.tar.zst");
    std::fs::write(&p, &z[..z.len() - 8]).unwrap();
    assert_fails_naming(&p, "ERROR (archive):");
    assert_fails_naming(&p, "ERROR CHECKSUMS: missing");

    // Not a dump at all.
    let p = t.join("junk.bin");
    std::fs::write(&p, b"hello").unwrap();
    assert_fails_naming(&p, "ERROR (archive): not a dump");
}
