//! Peak memory of encoding large S3 and Redis subtrees.
//!
//! Builds a dump holding one S3 object of `EKVB_S3_ENCODE_MIB` MiB (default 256) and a
//! Redis hash, list and stream of `EKVB_REDIS_ENCODE_RECORDS` elements each (default
//! 200,000), encodes it with the built binary under a small sort budget, and checks from
//! the OS (`wait4` → `ru_maxrss`) that the process stayed under 128 MiB — the body is
//! read one 1 MiB chunk at a time and collection files element by element — that the
//! payload holds every record once in ascending key order, and that no scratch file
//! stayed behind in the temp dir.

mod measure;
use measure::{count_sorted_entries, run_measured};

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const RSS_LIMIT_KIB: i64 = 128 * 1024;
const SORT_MEMORY: &str = "8M";
const CHUNK: usize = 1 << 20;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn build_tree(root: &Path, mib: u64, n: u64) -> std::io::Result<()> {
    std::fs::write(
        root.join("MANIFEST.json"),
        r#"{"format_version":1,"last_commit_ts":7}"#,
    )?;
    let b = root.join("s3/big");
    std::fs::create_dir_all(&b)?;
    std::fs::write(
        b.join("_bucket.json"),
        "{\n  \"format_version\": 1,\n  \"name\": \"big\"\n}",
    )?;
    let mut w = BufWriter::with_capacity(CHUNK, File::create(b.join("huge.bin"))?);
    let mut buf = vec![0u8; CHUNK];
    for i in 0..mib {
        for (j, x) in buf.chunks_exact_mut(8).enumerate() {
            x.copy_from_slice(&((i << 32) | j as u64).to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    w.flush()?;
    std::fs::write(
        b.join("huge.bin.elastickv-meta.json"),
        format!(
            "{{\n  \"format_version\": 1,\n  \"size_bytes\": {}\n}}",
            mib << 20
        ),
    )?;

    let db = root.join("redis/db_0");
    for d in ["hashes", "lists", "streams"] {
        std::fs::create_dir_all(db.join(d))?;
    }
    let mut w = BufWriter::new(File::create(db.join("hashes/h.json"))?);
    write!(w, "{{\n  \"format_version\": 1,\n  \"fields\": [")?;
    for i in 0..n {
        let sep = if i == 0 { "" } else { "," };
        write!(
            w,
            "{sep}\n    {{\n      \"name\": \"field-{i:09}\",\n      \"value\": \"a value of some length for field {i}\"\n    }}"
        )?;
    }
    write!(w, "\n  ],\n  \"expire_at_ms\": 1735689600000\n}}")?;
    w.flush()?;
    let mut w = BufWriter::new(File::create(db.join("lists/l.json"))?);
    write!(w, "{{\n  \"format_version\": 1,\n  \"items\": [")?;
    for i in 0..n {
        let sep = if i == 0 { "" } else { "," };
        write!(
            w,
            "{sep}\n    {{\n      \"base64\": \"AAECAwQFBgcICQ{:06}\"\n    }}",
            i % 1_000_000
        )?;
    }
    write!(w, "\n  ],\n  \"expire_at_ms\": null\n}}")?;
    w.flush()?;
    let mut w = BufWriter::new(File::create(db.join("streams/s.jsonl"))?);
    for i in 0..n {
        writeln!(
            w,
            r#"{{"id":"{}-0","fields":[{{"name":"event","value":"entry number {i}"}}]}}"#,
            1_700_000_000_000 + i
        )?;
    }
    writeln!(
        w,
        r#"{{"_meta":true,"length":{n},"last_ms":{},"last_seq":0,"expire_at_ms":null}}"#,
        1_700_000_000_000 + n
    )?;
    w.flush()
}

#[test]
fn encode_large_s3_and_redis_peak_rss_is_bounded() {
    let mib = env_or("EKVB_S3_ENCODE_MIB", 256);
    let n = env_or("EKVB_REDIS_ENCODE_RECORDS", 200_000);
    let work = tempfile::tempdir().expect("temp dir");
    let tree = work.path().join("dump");
    std::fs::create_dir(&tree).unwrap();
    build_tree(&tree, mib, n).expect("writing the dump tree");
    let scratch = work.path().join("tmp");
    std::fs::create_dir(&scratch).unwrap();
    let output = work.path().join("out.fsm");
    let stderr_path = work.path().join("stderr.txt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_elastickv-backup"));
    cmd.arg("encode")
        .arg("--input")
        .arg(&tree)
        .arg("--output")
        .arg(&output)
        .arg("--sort-memory")
        .arg(SORT_MEMORY)
        .env("TMPDIR", &scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap());
    let (code, maxrss_kib) = run_measured(&mut cmd);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert_eq!(code, 0, "encode failed: {stderr}");
    let size = std::fs::metadata(&output).unwrap().len();
    eprintln!(
        "s3_redis_encode_memory: {mib} MiB object, 3 × {n} Redis elements, payload {} MiB, \
         peak RSS {} MiB",
        size >> 20,
        maxrss_kib / 1024
    );
    // S3: K1 + K2 + chunks + manifest; hash: meta + fields + TTL row; list: meta + items;
    // stream: entries + meta.
    assert_eq!(
        count_sorted_entries(&output),
        (3 + mib) + (n + 2) + (n + 1) + (n + 1)
    );
    assert!(
        std::fs::read_dir(&scratch).unwrap().next().is_none(),
        "scratch left behind in TMPDIR"
    );
    assert!(
        maxrss_kib < RSS_LIMIT_KIB,
        "peak RSS {} MiB exceeds 128 MiB",
        maxrss_kib / 1024
    );
}
