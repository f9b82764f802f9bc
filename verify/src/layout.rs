//! The shape of a dump tree (docs/format/00-container.md §8 and the adapter documents): at the root only
//! `MANIFEST.json`, `CHECKSUMS` and one directory per adapter the manifest enables; under
//! `dynamodb/` table directories each with `_schema.json`; under `s3/` bucket directories
//! (each normally with `_bucket.json`); under `sqs/` queue directories each with
//! `_queue.json` (or `<segment>.orphan/` side-record directories); under `redis/` only
//! `db_<n>` directories.
//!
//! Two upstream quirks are warnings, not errors, so an upstream-written dump verifies:
//! an S3 bucket directory without `_bucket.json` (upstream writes one for a bucket whose
//! metadata record is missing) and an empty `.scratch/` directory (left by upstream's S3
//! assembly area).

use super::manifest::{ManifestInfo, ADAPTERS};
use super::report::Report;
use super::tree::{Tree, MANIFEST};
use std::collections::BTreeMap;

/// Names at one level of the tree: name → is a directory.
type Level = BTreeMap<Vec<u8>, bool>;

fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = a.to_vec();
    v.push(b'/');
    v.extend_from_slice(b);
    v
}

/// `db_<n>`: decimal, no sign, no leading zero (upstream formats `db_%d`).
fn is_redis_db(name: &[u8]) -> bool {
    match name.strip_prefix(b"db_") {
        Some(n) => {
            !n.is_empty()
                && n.iter().all(u8::is_ascii_digit)
                && (n == b"0" || n[0] != b'0')
                && std::str::from_utf8(n).is_ok_and(|s| s.parse::<u32>().is_ok())
        }
        None => false,
    }
}

/// Records `path` (a directory or not) in the first two levels.
fn note<'a>(path: &'a [u8], is_dir: bool, top: &mut Level, below: &mut BTreeMap<&'a [u8], Level>) {
    let mut segs = path.splitn(3, |&b| b == b'/');
    let Some(first) = segs.next() else { return };
    let second = segs.next();
    let deeper = segs.next().is_some();
    *top.entry(first.to_vec()).or_default() |= is_dir || second.is_some();
    if let Some(s) = second {
        *below
            .entry(first)
            .or_default()
            .entry(s.to_vec())
            .or_default() |= is_dir || deeper;
    }
}

/// Checks the tree's shape; `manifest` (when readable) says which adapters are enabled.
pub fn check(tree: &Tree, manifest: Option<&ManifestInfo>, r: &mut Report) {
    let dirs = tree.all_dirs();
    let mut top = Level::new();
    let mut below: BTreeMap<&[u8], Level> = BTreeMap::new();
    for p in tree.files.keys().chain(tree.unreadable.iter()) {
        note(p, false, &mut top, &mut below);
    }
    for d in &dirs {
        note(d, true, &mut top, &mut below);
    }
    let has_file = |p: &[u8]| tree.files.contains_key(p) || tree.unreadable.contains(p);
    let empty = Level::new();

    for (name, &is_dir) in &top {
        let n = name.as_slice();
        if !is_dir {
            if n != MANIFEST && n != tree.algo.file_name() {
                r.error(
                    n,
                    format!(
                        "unexpected file at the dump root (only MANIFEST.json and {} belong there)",
                        String::from_utf8_lossy(tree.algo.file_name())
                    ),
                );
            }
            continue;
        }
        if n == b".scratch" {
            if below.get(n).is_none_or(BTreeMap::is_empty) {
                r.warn(
                    n,
                    "empty scratch directory (left by the upstream decoder; not part of the dump)",
                );
            } else {
                r.error(n, "scratch directory with content inside the dump");
            }
            continue;
        }
        let Some(adapter) = ADAPTERS.iter().find(|a| a.as_bytes() == n) else {
            r.error(n, "unexpected directory at the dump root (not an adapter)");
            continue;
        };
        if let Some(m) = manifest {
            if !m.adapters.iter().any(|a| a == adapter) {
                r.error(n, format!("the {adapter} adapter is not enabled in MANIFEST.json, yet its directory exists"));
            }
        }
        let children = below.get(n).unwrap_or(&empty);
        match *adapter {
            "dynamodb" => dynamodb(children, &has_file, r),
            "s3" => s3(children, &has_file, r),
            "sqs" => sqs(children, &has_file, r),
            _ => redis(children, r),
        }
    }
}

fn dynamodb(children: &Level, has_file: &dyn Fn(&[u8]) -> bool, r: &mut Report) {
    for (name, &is_dir) in children {
        let p = join(b"dynamodb", name);
        if !is_dir {
            r.error(
                &p,
                "unexpected file in dynamodb/ (only table directories belong there)",
            );
        } else if !has_file(&join(&p, b"_schema.json")) {
            r.error(&p, "table directory without _schema.json");
        }
    }
}

fn s3(children: &Level, has_file: &dyn Fn(&[u8]) -> bool, r: &mut Report) {
    for (name, &is_dir) in children {
        let p = join(b"s3", name);
        if !is_dir {
            r.error(
                &p,
                "unexpected file in s3/ (only bucket directories belong there)",
            );
        } else if !has_file(&join(&p, b"_bucket.json")) {
            r.warn(&p, "bucket directory without _bucket.json (the snapshot had no metadata record for it)");
        }
    }
}

fn sqs(children: &Level, has_file: &dyn Fn(&[u8]) -> bool, r: &mut Report) {
    // A queue whose name encodes to "" has its files directly in sqs/ (docs/format/30-sqs.md §4).
    let root_queue = has_file(b"sqs/_queue.json");
    for (name, &is_dir) in children {
        let p = join(b"sqs", name);
        let n = name.as_slice();
        if !is_dir {
            let ok = n == b"_queue.json" || (root_queue && n == b"messages.jsonl");
            if !ok {
                r.error(
                    &p,
                    "unexpected file in sqs/ (only queue directories belong there)",
                );
            }
        } else if n.ends_with(b".orphan") || (root_queue && n == b"_internals") {
            // Side records of a queue without metadata, or of the empty-named queue.
        } else if !has_file(&join(&p, b"_queue.json")) {
            r.error(&p, "queue directory without _queue.json");
        }
    }
}

fn redis(children: &Level, r: &mut Report) {
    for (name, &is_dir) in children {
        let p = join(b"redis", name);
        if !is_dir || !is_redis_db(name) {
            r.error(
                &p,
                "unexpected entry in redis/ (only db_<n> directories belong there)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str], dirs: &[&str]) -> Tree {
        let mut t = Tree::default();
        for f in files {
            t.files.insert(f.as_bytes().to_vec(), [0; 32]);
        }
        for d in dirs {
            t.dirs.insert(d.as_bytes().to_vec());
        }
        t
    }

    fn run(t: &Tree, adapters: &[&str]) -> Report {
        let m = ManifestInfo {
            adapters: adapters.iter().map(|s| s.to_string()).collect(),
            dynamodb_layout: Some("per-item".into()),
            checksums: None,
        };
        let mut r = Report::default();
        check(t, Some(&m), &mut r);
        r
    }

    #[test]
    fn golden_shaped_trees_pass() {
        let t = tree(
            &[
                "MANIFEST.json",
                "CHECKSUMS",
                "dynamodb/t1/_schema.json",
                "dynamodb/t1/items/a.json",
                "s3/b1/_bucket.json",
                "s3/b1/o.txt",
                "redis/db_0/strings/s.bin",
                "sqs/q1/_queue.json",
                "sqs/q1/messages.jsonl",
                "sqs/abc.orphan/_internals/side_records.jsonl",
            ],
            &["dynamodb/t2", "dynamodb/t2/items"],
        );
        let mut t = t;
        t.files
            .insert(b"dynamodb/t2/_schema.json".to_vec(), [0; 32]);
        let r = run(&t, &["dynamodb", "s3", "redis", "sqs"]);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn names_each_structural_problem() {
        let t = tree(
            &[
                "MANIFEST.json",
                "CHECKSUMS",
                "stray.txt",
                "dynamodb/t1/items/a.json",
                "dynamodb/file",
                "s3/b1/o.txt",
                "redis/db_01/strings/s.bin",
                "redis/x",
                "sqs/q1/messages.jsonl",
                "other/thing",
            ],
            &[".scratch"],
        );
        let r = run(&t, &["dynamodb", "s3", "redis"]);
        let got: Vec<String> = r
            .problems
            .iter()
            .map(|p| format!("{:?} {}", p.severity, p.path))
            .collect();
        for want in [
            "Error stray.txt",
            "Error dynamodb/t1",
            "Error dynamodb/file",
            "Warning s3/b1",
            "Error redis/db_01",
            "Error redis/x",
            "Error sqs",
            "Error sqs/q1",
            "Error other",
            "Warning .scratch",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
        }
        assert_eq!(r.problems.len(), 10, "{got:?}");
    }

    #[test]
    fn empty_named_sqs_queue_and_db_names() {
        let t = tree(
            &[
                "sqs/_queue.json",
                "sqs/messages.jsonl",
                "sqs/_internals/side_records.jsonl",
            ],
            &[],
        );
        assert!(run(&t, &["sqs"]).problems.is_empty());
        assert!(is_redis_db(b"db_0") && is_redis_db(b"db_15"));
        assert!(!is_redis_db(b"db_") && !is_redis_db(b"db_-1") && !is_redis_db(b"db_00"));
    }
}
