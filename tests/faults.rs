//! Faults on the output side: a full disk, a per-file size limit, and hostile things
//! planted in the output directory. After each: a clear error naming the path, no
//! MANIFEST.json, no CHECKSUMS, and nothing written outside the output root.

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

fn case(name: &str) -> std::path::PathBuf {
    golden_dir().join(name)
}

fn assert_no_dump(out: &Path) {
    assert!(
        !out.join("MANIFEST.json").exists(),
        "MANIFEST.json written after a failure"
    );
    assert!(
        !out.join("CHECKSUMS").exists(),
        "CHECKSUMS written after a failure"
    );
}

/// A real full filesystem: a 512 KiB tmpfs (needs root, which CI has). The 2 MiB object of
/// `s3_multichunk` cannot fit.
#[test]
fn disk_full_fails_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        // Without root there is no small filesystem to fill; the RLIMIT_FSIZE test below
        // covers the same error path with an injected write failure.
        eprintln!("disk_full_fails_cleanly: cannot mount a tmpfs here (not root?); covered by file_size_limit_fails_cleanly");
        return;
    }
    let out = mnt.join("out");
    let r = run(
        &case("s3_multichunk"),
        &[
            "decode",
            "--input",
            "input.fsm",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let _ = Command::new("umount").arg(&mnt).status();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("s3/"), "error does not name the file: {err}");
}

/// An injected write failure: RLIMIT_FSIZE makes every write past 64 KiB fail with EFBIG.
#[test]
fn file_size_limit_fails_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let err = decode_with_file_size_limit(&case("s3_multichunk"), &out, 64 * 1024);
    assert!(
        err.contains("File too large") && err.contains("s3/"),
        "{err}"
    );
    assert_no_dump(&out);
}

/// Decodes `dir`'s `input.fsm` into `out` with writes past `bytes` of a file failing;
/// asserts the run failed (exit 1) and returns its standard error.
fn decode_with_file_size_limit(dir: &Path, out: &Path, bytes: u64) -> String {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir).args([
        "decode",
        "--input",
        "input.fsm",
        "--output",
        out.to_str().unwrap(),
    ]);
    limit_file_size(&mut cmd, bytes);
    let r = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(1), "{err}");
    err
}

/// Makes every write past `bytes` of a file fail with EFBIG in the child (RLIMIT_FSIZE,
/// SIGXFSZ ignored).
fn limit_file_size(cmd: &mut Command, bytes: u64) {
    // SAFETY: only async-signal-safe calls between fork and exec (signal(2) and
    // setrlimit(2)). libc for signal(2): rustix offers no safe way to set a disposition.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = rustix::process::Rlimit {
                current: Some(bytes),
                maximum: Some(bytes),
            };
            rustix::process::setrlimit(rustix::process::Resource::Fsize, lim)?;
            Ok(())
        });
    }
}

/// The checksum list itself cannot be written (a size limit above every data file and the
/// manifest, below the list): the run fails naming CHECKSUMS, and the MANIFEST.json written
/// just before it is taken back, so the directory does not pass for a dump.
#[test]
fn checksums_failure_takes_the_manifest_back() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let dir = case("ddb_hash_range");
    let limit = 1200;
    // The case's shape is what makes the limit fall between the manifest and the list.
    let sizes = |name: &str| {
        std::fs::metadata(dir.join("expected").join(name))
            .unwrap()
            .len()
    };
    assert!(sizes("MANIFEST.json") + 200 < limit && sizes("CHECKSUMS") > limit);
    let err = decode_with_file_size_limit(&dir, &out, limit);
    assert!(
        err.contains("File too large") && err.contains("CHECKSUMS"),
        "{err}"
    );
    assert!(out.join("dynamodb").exists(), "the data was written: {err}");
    assert_no_dump(&out);
}

/// A symlink planted where an adapter directory goes is never followed.
#[test]
fn planted_symlink_directory_is_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("redis")).unwrap();
    let r = run(
        &case("redis_strings"),
        &[
            "decode",
            "--input",
            "input.fsm",
            "--output",
            out.to_str().unwrap(),
            "--force",
        ],
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("symlink") && err.contains("redis"), "{err}");
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "wrote through the symlink"
    );
    assert_no_dump(&out);
}

/// A symlink planted at a file's own path is not followed either, and a hard link to an
/// outside file is not overwritten.
#[test]
fn planted_file_links_are_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    for kind in ["symlink", "hardlink"] {
        let out = t.path().join(format!("out-{kind}"));
        std::fs::create_dir_all(out.join("redis/db_0/strings")).unwrap();
        let target = out.join("redis/db_0/strings/s.bin");
        if kind == "symlink" {
            std::os::unix::fs::symlink(&victim, &target).unwrap();
        } else {
            std::fs::hard_link(&victim, &target).unwrap();
        }
        let r = run(
            &case("mixed_all"),
            &[
                "decode",
                "--input",
                "input.fsm",
                "--output",
                out.to_str().unwrap(),
                "--force",
            ],
        );
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{kind}: {err}");
        assert!(err.contains("s.bin"), "{kind}: {err}");
        assert_eq!(
            std::fs::read(&victim).unwrap(),
            b"precious",
            "{kind}: victim overwritten"
        );
        assert_no_dump(&out);
    }
}

/// Without --force a non-empty output directory is refused before anything is written.
#[test]
fn non_empty_output_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old-file"), b"x").unwrap();
    let r = run(
        &case("mixed_all"),
        &[
            "decode",
            "--input",
            "input.fsm",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(read_tree(&out).len(), 1);
}
