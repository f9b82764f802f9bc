//! The output does not depend on how the keyspace is split into shard files, on the order
//! the shards are given in, on the thread count, or on the container shape (bare payload vs.
//! the runtime's HLC header + CRC32C footer), nor on whether the CHECKSUMS digests were
//! spilled to disk. Checked on every golden case with a tree.

mod common;

use common::*;
use std::path::Path;

fn decode(
    cwd: &Path,
    inputs: &[String],
    out: &Path,
    threads: &str,
    extra: &[String],
    digest_budget: Option<&str>,
) -> std::process::Output {
    let out_s = out.to_str().unwrap().to_string();
    let mut args: Vec<String> = vec!["decode".into()];
    for i in inputs {
        args.push("--input".into());
        args.push(i.clone());
    }
    args.extend(["--output".into(), out_s, "--threads".into(), threads.into()]);
    args.extend(extra.iter().cloned());
    let mut cmd = std::process::Command::new(bin());
    cmd.current_dir(cwd).args(&args);
    if let Some(b) = digest_budget {
        cmd.env("ELASTICKV_BACKUP_DIGEST_BUDGET", b);
    }
    cmd.output().expect("running elastickv-backup")
}

fn check(name: &str) {
    let case = golden_dir().join(name);
    let expected = read_tree(&case.join("expected"));
    let extra = case_args(&case);
    let payload = std::fs::read(case.join("input.fsm")).unwrap();
    let n = entry_count(&payload);
    let tmp = tempfile::tempdir().unwrap();

    // 1. Split into three shards at uneven points, given in reverse order, one thread,
    //    every file's digest spilled to disk as a run of its own.
    let parts = split_payload(&payload, &[n / 3, (2 * n) / 3 + 1]);
    let mut names = Vec::new();
    for (i, p) in parts.iter().enumerate().rev() {
        let f = tmp.path().join(format!("shard-{i}.fsm"));
        std::fs::write(&f, p).unwrap();
        names.push(f.to_str().unwrap().to_string());
    }
    let out = tmp.path().join("split");
    let r = decode(tmp.path(), &names, &out, "1", &extra, Some("1"));
    assert!(
        r.status.success(),
        "{name}: split decode failed: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let diffs = compare_trees(&read_tree(&out), &expected, true);
    assert!(diffs.is_empty(), "{name} split in 3: {}", diffs.join("\n"));

    // 2. One shard per entry (every boundary is a shard boundary), two threads.
    if n <= 200 {
        let cuts: Vec<usize> = (1..n).collect();
        let mut names = Vec::new();
        for (i, p) in split_payload(&payload, &cuts).iter().enumerate() {
            let f = tmp.path().join(format!("e-{i:05}.fsm"));
            std::fs::write(&f, p).unwrap();
            names.push(f.to_str().unwrap().to_string());
        }
        let out = tmp.path().join("per-entry");
        let r = decode(tmp.path(), &names, &out, "2", &extra, None);
        assert!(
            r.status.success(),
            "{name}: per-entry decode failed: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let diffs = compare_trees(&read_tree(&out), &expected, true);
        assert!(
            diffs.is_empty(),
            "{name} one shard per entry: {}",
            diffs.join("\n")
        );
    }

    // 3. The runtime container (EKVTHLC1 header + payload + CRC32C footer).
    let mut rt = b"EKVTHLC1".to_vec();
    rt.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    rt.extend_from_slice(&payload);
    let crc = crc32c::crc32c(&rt);
    rt.extend_from_slice(&crc.to_be_bytes());
    let f = tmp.path().join("runtime.fsm");
    std::fs::write(&f, &rt).unwrap();
    let out = tmp.path().join("runtime");
    let r = decode(
        tmp.path(),
        &[f.to_str().unwrap().to_string()],
        &out,
        "2",
        &extra,
        None,
    );
    assert!(
        r.status.success(),
        "{name}: runtime decode failed: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let diffs = compare_trees(&read_tree(&out), &expected, true);
    assert!(
        diffs.is_empty(),
        "{name} runtime container: {}",
        diffs.join("\n")
    );
}

macro_rules! cases {
    ($($name:ident $(: $pending:literal)?),* $(,)?) => {
        $(
            #[test]
            $(#[ignore = $pending])?
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

cases! {
    empty_snapshot,
    ddb_hash_only,
    ddb_hash_range,
    ddb_binary_keys,
    ddb_gsi,
    s3_basic,
    s3_multichunk,
    s3_user_meta_suffix_key,
    redis_strings,
    redis_collections,
    redis_zsets,
    redis_streams_hll,
    sqs_standard,
    sqs_fifo,
    sqs_message_states,
    sqs_preserve_visibility,
    sqs_side_records,
    mixed_all,
    adapter_subset,
}

/// A corrupt runtime file (one flipped bit) is refused before anything is written.
#[test]
fn crc_mismatch_writes_nothing() {
    let mut b = SnapshotBuilder::new(5 << 16);
    b.put(b"!redis|str|k", 1, 0, b"v");
    let mut rt = b.runtime_v1(1);
    let mid = rt.len() / 2;
    rt[mid] ^= 0x10;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("0000000000000010.fsm");
    std::fs::write(&f, &rt).unwrap();
    let out = tmp.path().join("out");
    let r = decode(
        tmp.path(),
        &[f.to_str().unwrap().to_string()],
        &out,
        "1",
        &[],
        None,
    );
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("CRC32C mismatch") && err.contains("0000000000000010.fsm"),
        "{err}"
    );
    assert!(
        !out.exists() || read_tree(&out).is_empty(),
        "files written despite CRC mismatch"
    );
}

/// Truncation anywhere inside the entry stream fails with the file and offset named and
/// never produces MANIFEST.json or CHECKSUMS.
#[test]
fn truncation_at_every_position_fails_cleanly() {
    let mut b = SnapshotBuilder::new(5 << 16);
    b.put(b"!zz|unrouted|a", 1, 0, b"value-a")
        .put(b"!zz|unrouted|b", 1, 0, b"value-b");
    let full = b.bytes();
    let tmp = tempfile::tempdir().unwrap();
    for cut in 1..full.len() {
        let f = tmp.path().join("t.fsm");
        std::fs::write(&f, &full[..cut]).unwrap();
        let out = tmp.path().join(format!("out-{cut}"));
        let r = decode(
            tmp.path(),
            &[f.to_str().unwrap().to_string()],
            &out,
            "1",
            &[],
            None,
        );
        let boundary = cut == 16 || cut == 16 + 8 + 22 + 8 + 16;
        if boundary {
            assert!(
                r.status.success(),
                "cut at entry boundary {cut} should decode"
            );
            continue;
        }
        assert_eq!(r.status.code(), Some(1), "cut {cut}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("t.fsm"), "cut {cut}: {err}");
        assert!(
            !out.join("MANIFEST.json").exists(),
            "cut {cut}: MANIFEST written"
        );
        assert!(
            !out.join("CHECKSUMS").exists(),
            "cut {cut}: CHECKSUMS written"
        );
    }
}
