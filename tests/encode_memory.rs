//! Peak memory of encoding a large dump tree.
//!
//! Builds a dump holding one DynamoDB table in the JSONL bundle layout and one FIFO SQS
//! queue with content-based deduplication (one dedup row per message), each with many
//! records, encodes it with the built binary under a small sort
//! budget (so sorted runs spill to disk and are merged), and checks from the OS (`wait4`
//! → `ru_maxrss`) that the process stayed under 128 MiB while the payload is several
//! times larger, that the payload holds every record once in ascending key order, and
//! that no scratch file stayed behind in the temp dir.
//!
//! Size: `EKVB_ENCODE_MEMORY_RECORDS` items and messages each (default 200,000, about
//! 170 MB of payload).

mod measure;
use measure::{count_sorted_entries, run_measured};

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const RSS_LIMIT_KIB: i64 = 128 * 1024;
const SORT_MEMORY: &str = "8M";

fn build_tree(root: &Path, n: u64) -> std::io::Result<()> {
    std::fs::write(
        root.join("MANIFEST.json"),
        r#"{"format_version":1,"last_commit_ts":7,"dynamodb_layout":"jsonl"}"#,
    )?;
    let t = root.join("dynamodb/events");
    std::fs::create_dir_all(t.join("items"))?;
    std::fs::write(
        t.join("_schema.json"),
        r#"{"format_version":1,"table_name":"events","primary_key":{"hash_key":{"name":"id","type":"S"},"range_key":{"name":"n","type":"N"}},"attribute_definitions":[{"name":"id","type":"S"},{"name":"n","type":"N"}]}"#,
    )?;
    let mut w = BufWriter::new(File::create(t.join("items/data-00000.jsonl"))?);
    for i in 0..n {
        // Hash keys in an order unrelated to key order.
        let id = (i * 1_000_003) % n;
        writeln!(
            w,
            r#"{{"id":{{"S":"user-{id:09}"}},"n":{{"N":"{i}.5"}},"payload":{{"S":"some text to make the item a few hundred bytes long, repeated: abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz"}},"tags":{{"SS":["a","b","c"]}}}}"#
        )?;
    }
    w.flush()?;
    let q = root.join("sqs/big.fifo");
    std::fs::create_dir_all(&q)?;
    std::fs::write(
        q.join("_queue.json"),
        r#"{"format_version":1,"name":"big.fifo","fifo":true,"content_based_deduplication":true,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0}"#,
    )?;
    let mut w = BufWriter::new(File::create(q.join("messages.jsonl"))?);
    for i in 0..n {
        let send = 1_700_000_000_000 + (i * 7_919) % n;
        writeln!(
            w,
            r#"{{"message_id":"m-{i:010}","body":"order {i} of a large queue that does not fit in memory","md5_of_body":"0123456789abcdef0123456789abcdef","send_timestamp_millis":{send},"available_at_millis":{send},"visible_at_millis":0,"receive_count":0,"queue_generation":1,"message_group_id":"g{}","sequence_number":{}}}"#,
            i % 16,
            i + 1
        )?;
    }
    w.flush()
}

#[test]
fn encode_large_tree_peak_rss_is_bounded() {
    let n: u64 = std::env::var("EKVB_ENCODE_MEMORY_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let work = tempfile::tempdir().expect("temp dir");
    let tree = work.path().join("dump");
    std::fs::create_dir(&tree).unwrap();
    build_tree(&tree, n).expect("writing the dump tree");
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
        "encode_memory: {n} items + {n} messages, payload {} MiB, peak RSS {} MiB",
        size >> 20,
        maxrss_kib / 1024
    );
    assert!(size > 8 * (8 << 20), "the data must exceed the sort budget");
    // Table: schema + gen + items; queue: meta + gen + seq + (data, vis, byage, dedup)
    // per message.
    assert_eq!(count_sorted_entries(&output), 2 + n + 3 + 4 * n);
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
