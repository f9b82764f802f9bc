//! MVCC visibility end to end on snapshots the test builds itself (contract §2): only the
//! newest version at or below the read timestamp counts, tombstones hide keys, expired
//! values are hidden unless `--include-expired`, operational rows are skipped, and none of
//! it depends on how versions are split across shard files.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;

const MS: u64 = 1 << 16;
/// Read timestamp: physical 1_000_000 ms.
const READ_TS: u64 = 1_000_000 * MS;

fn decode(
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    extra: &[&str],
) -> (bool, String, BTreeMap<String, Vec<u8>>) {
    let mut args: Vec<String> = vec!["decode".into()];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
        args.push("--input".into());
        args.push(name.to_string());
    }
    let out = dir.join(format!("out-{}", files.len()));
    let _ = std::fs::remove_dir_all(&out);
    args.push("--output".into());
    args.push(out.to_str().unwrap().into());
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(dir, &a);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    let tree = if r.status.success() {
        read_tree(&out)
    } else {
        BTreeMap::new()
    };
    (r.status.success(), err, tree)
}

fn strings(tree: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    tree.iter()
        .filter_map(|(p, v)| {
            p.strip_prefix("redis/db_0/strings/")
                .map(|k| (k.to_string(), String::from_utf8_lossy(v).into_owned()))
        })
        .collect()
}

fn s(k: &str) -> Vec<u8> {
    format!("!redis|str|{k}").into_bytes()
}

fn scenario() -> SnapshotBuilder {
    let mut b = SnapshotBuilder::new(READ_TS);
    // Encoded-key order: same key newest first; keys in byte order.
    b.put(&s("a"), 900 * MS, 0, b"a-new") // newest visible
        .put(&s("a"), 500 * MS, 0, b"a-old")
        .delete(&s("b"), 800 * MS) // deleted
        .put(&s("b"), 400 * MS, 0, b"b-old")
        .put(&s("c"), 2_000_000 * MS, 0, b"c-future") // after read_ts
        .put(&s("c"), 100 * MS, 0, b"c-current")
        .put(&s("d"), 100 * MS, 999_999, b"d-expired") // expired at read time
        .put(&s("e"), 100 * MS, 1_000_001, b"e-live") // expires after read time
        .put(&s("f"), 2_000_000 * MS, 0, b"f-only-future");
    b
}

#[test]
fn newest_visible_version_tombstones_expiry() {
    let t = tempfile::tempdir().unwrap();
    let (ok, err, tree) = decode(
        t.path(),
        &[("s.fsm", scenario().bytes())],
        &["--adapter", "redis"],
    );
    assert!(ok, "{err}");
    let got = strings(&tree);
    let want: BTreeMap<String, String> = [
        ("a.bin", "a-new"),
        ("c.bin", "c-current"),
        ("e.bin", "e-live"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn include_expired_restores_expired_values_only() {
    let t = tempfile::tempdir().unwrap();
    let (ok, err, tree) = decode(
        t.path(),
        &[("s.fsm", scenario().bytes())],
        &["--adapter", "redis", "--include-expired"],
    );
    assert!(ok, "{err}");
    let got = strings(&tree);
    assert_eq!(got.get("d.bin").map(String::as_str), Some("d-expired"));
    assert!(!got.contains_key("b.bin"), "a deleted key came back");
    assert_eq!(got.len(), 4);
}

#[test]
fn versions_split_across_shards_give_the_same_tree() {
    let payload = scenario().bytes();
    let t = tempfile::tempdir().unwrap();
    let (ok, err, whole) = decode(
        t.path(),
        &[("w.fsm", payload.clone())],
        &["--adapter", "redis"],
    );
    assert!(ok, "{err}");
    let n = entry_count(&payload);
    for cut in 1..n {
        let parts = split_payload(&payload, &[cut]);
        let t = tempfile::tempdir().unwrap();
        // Given in reverse order on purpose.
        let (ok, err, split) = decode(
            t.path(),
            &[("p1.fsm", parts[1].clone()), ("p0.fsm", parts[0].clone())],
            &["--adapter", "redis", "--threads", "1"],
        );
        assert!(ok, "cut {cut}: {err}");
        assert_eq!(strings(&split), strings(&whole), "cut after entry {cut}");
    }
}

#[test]
fn prefix_key_between_versions_keeps_the_shorter_keys_decision() {
    // "k" deleted at t2 (newest), older value at t1; the key "k\xfe…" sorts between the two
    // versions of "k" because its next byte falls inside the inverted timestamps' range.
    let t2 = 0x0100_0000_0000_0200u64;
    let t1 = 0x0100_0000_0000_0100u64;
    let read = 0x0100_0000_0001_0000u64;
    let long = [&s("k")[..], b"\xfe\xff\xff\xff\xff\xff\xfe\x80"].concat();
    let mut b = SnapshotBuilder::new(read);
    b.delete(&s("k"), t2)
        .put(&long, 7, 0, b"long")
        .put(&s("k"), t1, 0, b"k-old");
    let t = tempfile::tempdir().unwrap();
    let (ok, err, tree) = decode(t.path(), &[("p.fsm", b.bytes())], &["--adapter", "redis"]);
    assert!(ok, "{err}");
    let got = strings(&tree);
    assert!(
        !got.contains_key("k.bin"),
        "deleted key resurrected: {got:?}"
    );
    assert_eq!(got.len(), 1, "{got:?}");
}

#[test]
fn operational_rows_are_skipped() {
    let mut b = SnapshotBuilder::new(READ_TS);
    b.put(&s("x"), 10 * MS, 0, b"x")
        .raw(b"_meta_last_commit_ts", &100u64.to_le_bytes())
        .raw(b"_meta_min_retained_ts", &1u64.to_le_bytes());
    let t = tempfile::tempdir().unwrap();
    let (ok, err, tree) = decode(t.path(), &[("m.fsm", b.bytes())], &["--adapter", "redis"]);
    assert!(ok, "{err}");
    assert_eq!(strings(&tree).get("x.bin").map(String::as_str), Some("x"));
}
