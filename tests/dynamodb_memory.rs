//! Peak memory of decoding one large DynamoDB table caught mid-migration, in bundle mode.
//!
//! A migrating table is the one DynamoDB case that needs an order other than key order:
//! the items of the migration-source and active generations are matched by output path
//! (the active copy wins) and the survivors then go out in key order. This builds an
//! bare snapshot with such a table — the active generation `10` sorts *before* the
//! source generation `9` in key order — decodes it with `--dynamodb-bundle-mode jsonl`
//! under a small sort budget (so the sorter spills many runs), and checks from the OS
//! (`wait4` → `ru_maxrss`) that the process stayed under 256 MiB, that the parts hold
//! every surviving item once in key order, and that no scratch stayed in the temp dir.
//!
//! Size: `EKVB_DDB_MEMORY_ITEMS` partition keys (default 400,000: 600,000 item versions,
//! about 125 MB of snapshot). Note that `ru_maxrss` includes the pages of the memory-mapped
//! snapshot the reader has touched (`RssFile`): at this size the decoder's own (anonymous)
//! memory is about 20 MiB and the rest of the peak is the mapped input.

mod measure;
use measure::run_measured;

use elastickv_backup_format::container::payload_header;
use elastickv_backup_format::keys::ddb;
use elastickv_backup_format::Family;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const RSS_LIMIT_KIB: i64 = 256 * 1024;
/// In-memory sort budget given to the binary: far below the data size, so it spills.
const SORT_BUDGET: usize = 8 << 20;
/// Bundle part size: small enough for several parts.
const PART_BYTES: u64 = 4 << 20;

fn put_entry(w: &mut impl Write, user_key: &[u8], body: &[u8]) -> std::io::Result<()> {
    let commit_ts: u64 = 1;
    w.write_all(&((user_key.len() + 8) as u64).to_le_bytes())?;
    w.write_all(user_key)?;
    w.write_all(&(!commit_ts).to_be_bytes())?;
    w.write_all(&((body.len() + 9) as u64).to_le_bytes())?;
    w.write_all(&[0u8])?; // flags: not a tombstone
    w.write_all(&0u64.to_le_bytes())?; // no expiry
    w.write_all(body)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited protobuf field.
fn ld(out: &mut Vec<u8>, tag: u64, body: &[u8]) {
    varint(out, tag << 3 | 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A `DynamoItem` map entry `name → {S: value}`.
fn s_attr(out: &mut Vec<u8>, name: &str, value: &str) {
    let mut av = Vec::new();
    ld(&mut av, 1, value.as_bytes());
    let mut entry = Vec::new();
    ld(&mut entry, 1, name.as_bytes());
    ld(&mut entry, 2, &av);
    ld(out, 1, &entry);
}

fn schema_value() -> Vec<u8> {
    let mut s = b"\x00DS\x01".to_vec();
    ld(&mut s, 1, b"mig");
    let mut def = Vec::new();
    ld(&mut def, 1, b"pk");
    ld(&mut def, 2, b"S");
    ld(&mut s, 2, &def);
    let mut pk = Vec::new();
    ld(&mut pk, 1, b"pk");
    ld(&mut s, 3, &pk);
    for (tag, v) in [(5u64, 2u64), (6, 9), (7, 10)] {
        varint(&mut s, tag << 3);
        varint(&mut s, v);
    }
    s
}

const PAD: &str = "an attribute that makes each item about two hundred bytes long, like a small real row of data ....";

fn build_snapshot(path: &Path, n: u64) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    w.write_all(&payload_header(2))?; // last_commit_ts ≥ every commit_ts
    let mut key = Vec::with_capacity(64);
    let mut val = Vec::with_capacity(256);
    // Key order: generation "10" < "9", then the primary-key payload.
    for (generation, step) in [("10", 2), ("9", 1)] {
        for i in (0..n).step_by(step) {
            let pk = format!("p{i:09}");
            key.clear();
            key.extend_from_slice(Family::DdbItem.prefix());
            key.extend_from_slice(format!("bWln|{generation}|{pk}").as_bytes());
            key.extend_from_slice(b"\x00\x01");
            val.clear();
            val.extend_from_slice(b"\x00DI\x01");
            s_attr(&mut val, "gen", generation);
            s_attr(&mut val, "pad", PAD);
            s_attr(&mut val, "pk", &pk);
            put_entry(&mut w, &key, &val)?;
        }
    }
    put_entry(&mut w, &ddb::table_gen(b"bWln"), b"10")?;
    put_entry(&mut w, &ddb::table_meta(b"bWln"), &schema_value())?;
    w.flush()
}

#[test]
fn dynamodb_migrating_table_bundle_peak_rss_is_bounded() {
    let n: u64 = std::env::var("EKVB_DDB_MEMORY_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400_000);
    assert!(n >= 2);
    let work = tempfile::tempdir().expect("temp dir");
    let input = work.path().join("input.fsm");
    let output = work.path().join("out");
    let scratch = work.path().join("tmp");
    std::fs::create_dir(&scratch).unwrap();
    build_snapshot(&input, n).expect("writing the snapshot");

    let stderr_path = work.path().join("stderr.txt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_elastickv-backup"));
    cmd.arg("decode")
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .arg("--adapter")
        .arg("dynamodb")
        .arg("--dynamodb-bundle-mode")
        .arg("jsonl")
        .arg("--dynamodb-bundle-size")
        .arg(PART_BYTES.to_string())
        .env("ELASTICKV_BACKUP_DDB_SORT_BUDGET", SORT_BUDGET.to_string())
        .env("TMPDIR", &scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap());
    let (code, maxrss_kib) = run_measured(&mut cmd);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert_eq!(code, 0, "decode failed: {stderr}");
    eprintln!(
        "dynamodb_memory: {n} keys, peak RSS {} MiB",
        maxrss_kib / 1024
    );

    // Survivors in key order: the active copies (even keys, generation "10") first, then
    // the source-only items (odd keys, generation "9").
    let expected = (0..n)
        .step_by(2)
        .map(|i| (i, "10"))
        .chain((1..n).step_by(2).map(|i| (i, "9")));
    let items = output.join("dynamodb/mig/items");
    let mut parts: Vec<_> = std::fs::read_dir(&items)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    parts.sort();
    assert!(
        parts.len() > 2 || n < 200_000,
        "expected several parts, got {parts:?}"
    );
    let mut total = 0u64;
    let mut lines = parts.iter().flat_map(|p| {
        let f = File::open(items.join(p)).unwrap();
        assert!(
            f.metadata().unwrap().len() <= PART_BYTES,
            "{p} exceeds the part size"
        );
        BufReader::new(f).lines()
    });
    for (i, generation) in expected {
        let line = lines.next().expect("an item is missing").unwrap();
        let want = format!(
            r#"{{"gen":{{"S":"{generation}"}},"pad":{{"S":"{PAD}"}},"pk":{{"S":"p{i:09}"}}}}"#
        );
        assert_eq!(line, want, "item {total}");
        total += 1;
    }
    assert_eq!(total, n, "every key once");
    assert!(lines.next().is_none(), "more lines than items");
    assert!(
        std::fs::read_dir(&scratch).unwrap().next().is_none(),
        "scratch left behind in TMPDIR"
    );
    assert!(
        maxrss_kib < RSS_LIMIT_KIB,
        "peak RSS {} MiB exceeds 256 MiB",
        maxrss_kib / 1024
    );
}
