//! Shared helpers for the end-to-end tests: locating the golden fixtures, running the
//! binary, reading and comparing dump trees, and building snapshot files by hand.
#![allow(dead_code)]

use elastickv_backup_format::container;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `elastickv-backup` binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_elastickv-backup"))
}

/// the repository's `fixtures/golden` (or `$EKVB_GOLDEN_DIR`).
pub fn golden_dir() -> PathBuf {
    if let Ok(d) = std::env::var("EKVB_GOLDEN_DIR") {
        return PathBuf::from(d);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let d = here.join("fixtures/golden");
    assert!(
        d.is_dir(),
        "golden fixtures not found at {} (set EKVB_GOLDEN_DIR)",
        d.display()
    );
    d
}

/// Extra decode flags of a golden case (`decode_args.txt`).
pub fn case_args(case: &Path) -> Vec<String> {
    std::fs::read_to_string(case.join("decode_args.txt"))
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// Runs the binary with `args` in `cwd`.
pub fn run(cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("running elastickv-backup")
}

/// Decodes golden case `case` into `out` with `extra` flags; panics with decode's stderr
/// if it fails.
pub fn decode_golden(case: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        "decode",
        "--input",
        "input.fsm",
        "--output",
        out.to_str().expect("UTF-8 temp path"),
    ];
    args.extend_from_slice(extra);
    let res = run(&golden_dir().join(case), &args);
    assert!(
        res.status.success(),
        "decode {case} {extra:?}: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    out.to_path_buf()
}

/// Runs `verify target`; returns (exit code, report on stdout).
pub fn verify_report(target: &Path) -> (i32, String) {
    let res = run(
        target.parent().expect("a target inside a directory"),
        &["verify", target.to_str().expect("UTF-8 temp path")],
    );
    (
        res.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&res.stdout).into_owned(),
    )
}

/// Every regular file under `root`, by `/`-joined relative path.
pub fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push((e.path(), r));
            } else if ft.is_file() {
                out.insert(r, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// MANIFEST.json with the fields that may differ (wall time, our extensions) removed.
pub fn normalize_manifest(bytes: &[u8], drop_fsm_path: bool) -> String {
    let s = String::from_utf8_lossy(bytes).into_owned();
    let s = match s.find(",\n  \"producer\"") {
        Some(cut) => format!("{}\n}}\n", &s[..cut]),
        None => s,
    };
    s.lines()
        .filter(|l| !l.trim_start().starts_with("\"wall_time_iso\""))
        .filter(|l| !(drop_fsm_path && l.trim_start().starts_with("\"fsm_path\"")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_set_compared(path: &str) -> bool {
    path.starts_with("s3/") && path.ends_with("/KEYMAP.jsonl")
}

fn sorted_lines(b: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = b.split(|c| *c == b'\n').collect();
    v.sort();
    v
}

/// Differences between a produced tree and an expected one, byte for byte, except the
/// MANIFEST fields that may differ and the CHECKSUMS lines that follow from them.
pub fn compare_trees(
    ours: &BTreeMap<String, Vec<u8>>,
    want: &BTreeMap<String, Vec<u8>>,
    drop_fsm_path: bool,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for p in want.keys().filter(|p| !ours.contains_key(*p)) {
        diffs.push(format!("missing: {p}"));
    }
    for p in ours.keys().filter(|p| !want.contains_key(*p)) {
        diffs.push(format!("unexpected: {p}"));
    }
    for (p, w) in want {
        let Some(o) = ours.get(p) else { continue };
        let same = match p.as_str() {
            "MANIFEST.json" => {
                normalize_manifest(o, drop_fsm_path) == normalize_manifest(w, drop_fsm_path)
            }
            "CHECKSUMS" => {
                let keep = |b: &[u8]| -> Vec<String> {
                    String::from_utf8_lossy(b)
                        .lines()
                        .filter(|l| !l.ends_with("  MANIFEST.json"))
                        .filter(|l| !is_set_compared(l.split_once("  ").map_or("", |x| x.1)))
                        .map(String::from)
                        .collect()
                };
                keep(o) == keep(w) && checksums_match_files(o, ours)
            }
            p if is_set_compared(p) => sorted_lines(o) == sorted_lines(w),
            _ => o == w,
        };
        if !same {
            diffs.push(format!(
                "content differs: {p}\n--- ours ---\n{}\n--- expected ---\n{}",
                String::from_utf8_lossy(&o[..o.len().min(2000)]),
                String::from_utf8_lossy(&w[..w.len().min(2000)])
            ));
        }
    }
    diffs
}

/// A dump's CHECKSUMS lines without MANIFEST.json's (its clock fields differ between runs):
/// two dumps of the same data list the same lines.
pub fn checksum_lines_without_manifest(dump: &Path) -> Vec<String> {
    std::fs::read_to_string(dump.join("CHECKSUMS"))
        .unwrap()
        .lines()
        .filter(|l| !l.ends_with("  MANIFEST.json"))
        .map(String::from)
        .collect()
}

/// Every CHECKSUMS line matches the file it names (plain paths only).
pub fn checksums_match_files(checksums: &[u8], tree: &BTreeMap<String, Vec<u8>>) -> bool {
    use sha2::{Digest, Sha256};
    let text = String::from_utf8_lossy(checksums);
    let mut listed = 0;
    for l in text.lines() {
        if l.starts_with('\\') {
            listed += 1;
            continue;
        }
        let Some((h, p)) = l.split_once("  ") else {
            return false;
        };
        let Some(content) = tree.get(p) else {
            return false;
        };
        if hex::encode(Sha256::digest(content)) != h {
            return false;
        }
        listed += 1;
    }
    listed == tree.len() - usize::from(tree.contains_key("CHECKSUMS"))
}

/// The adapters a golden case needs, by its name.
pub fn case_adapters(name: &str) -> &'static [&'static str] {
    match name {
        n if n.starts_with("ddb_") => &["dynamodb"],
        n if n.starts_with("s3_") => &["s3"],
        n if n.starts_with("redis_") => &["redis"],
        n if n.starts_with("sqs_") => &["sqs"],
        "mixed_all" => &["dynamodb", "s3", "redis", "sqs"],
        "adapter_subset" => &["redis", "sqs"],
        _ => &[],
    }
}

/// Builds a bare snapshot payload by hand.
pub struct SnapshotBuilder {
    buf: Vec<u8>,
}

impl SnapshotBuilder {
    /// A payload with this `last_commit_ts`.
    pub fn new(last_commit_ts: u64) -> Self {
        SnapshotBuilder {
            buf: container::payload_header(last_commit_ts).to_vec(),
        }
    }

    /// Appends a raw framed entry.
    pub fn raw(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        container::push_frame(&mut self.buf, key, value);
        self
    }

    /// Appends one MVCC version (caller keeps encoded-key order).
    pub fn put(&mut self, user_key: &[u8], ts: u64, expire_at_ms: u64, body: &[u8]) -> &mut Self {
        self.version(user_key, ts, 0, expire_at_ms, body)
    }

    /// Appends a tombstone.
    pub fn delete(&mut self, user_key: &[u8], ts: u64) -> &mut Self {
        self.version(user_key, ts, 1, 0, b"")
    }

    fn version(&mut self, user_key: &[u8], ts: u64, flags: u8, exp: u64, body: &[u8]) -> &mut Self {
        let mut k = user_key.to_vec();
        k.extend_from_slice(&(!ts).to_be_bytes());
        let mut v = vec![flags];
        v.extend_from_slice(&exp.to_le_bytes());
        v.extend_from_slice(body);
        self.raw(&k, &v)
    }

    /// The payload bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.buf.clone()
    }

    /// Wrapped as the runtime writes it: `EKVTHLC1` header + payload + CRC32C footer.
    pub fn runtime_v1(&self, ceiling_ms: u64) -> Vec<u8> {
        let mut v = b"EKVTHLC1".to_vec();
        v.extend_from_slice(&ceiling_ms.to_be_bytes());
        v.extend_from_slice(&self.buf);
        let crc = crc32c::crc32c(&v);
        v.extend_from_slice(&crc.to_be_bytes());
        v
    }
}

/// Splits a bare payload into `parts` payloads (same header) at the given entry indexes.
pub fn split_payload(payload: &[u8], cut_at: &[usize]) -> Vec<Vec<u8>> {
    let header = &payload[..16];
    let mut entries: Vec<&[u8]> = Vec::new();
    let mut pos = 16;
    while pos < payload.len() {
        let kl = u64::from_le_bytes(payload[pos..pos + 8].try_into().unwrap()) as usize;
        let vpos = pos + 8 + kl;
        let vl = u64::from_le_bytes(payload[vpos..vpos + 8].try_into().unwrap()) as usize;
        let end = vpos + 8 + vl;
        entries.push(&payload[pos..end]);
        pos = end;
    }
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cut_at.iter().chain(std::iter::once(&entries.len())) {
        let c = c.min(entries.len()).max(start);
        let mut p = header.to_vec();
        for e in &entries[start..c] {
            p.extend_from_slice(e);
        }
        out.push(p);
        start = c;
    }
    out
}

/// Number of framed entries in a bare payload.
pub fn entry_count(payload: &[u8]) -> usize {
    split_payload(payload, &[]).len();
    let mut n = 0;
    let mut pos = 16;
    while pos < payload.len() {
        let kl = u64::from_le_bytes(payload[pos..pos + 8].try_into().unwrap()) as usize;
        let vpos = pos + 8 + kl;
        let vl = u64::from_le_bytes(payload[vpos..vpos + 8].try_into().unwrap()) as usize;
        pos = vpos + 8 + vl;
        n += 1;
    }
    n
}

/// A loopback cluster of three groups on 127.0.0.1 holding what the golden case `name`'s
/// `input.fsm` holds: the live counterpart of decoding that file, split over groups so
/// that every case crosses group boundaries.
pub fn golden_cluster(name: &str) -> elastickv_backup_loopback::LoopbackServer {
    use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
    let input = golden_dir().join(name).join("input.fsm");
    let entries = load::from_snapshots(&[input.display().to_string()]).unwrap();
    LoopbackServer::start(
        ServerConfig {
            groups: 3,
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        entries,
    )
    .unwrap()
}
