//! Peak memory of decoding one very large SQS queue.
//!
//! Builds a bare snapshot holding one standard queue with many messages whose key
//! order (message-id segment) is unrelated to their send order, decodes it with the
//! built binary under a small SQS sort budget (so the external merge spills many runs),
//! and checks from the OS (`wait4` → `ru_maxrss`) that the process stayed under
//! 256 MiB, that `messages.jsonl` holds every message in send order, and that no
//! scratch file stayed behind in the temp dir.
//!
//! Size: `EKVB_SQS_MEMORY_MESSAGES` messages (default 1,000,000, about 300 MB of
//! snapshot; 10,000,000 is the full-size run, too slow for the dev-profile CI budget).

mod measure;
use measure::run_measured;

use elastickv_backup_format::container::payload_header;
use elastickv_backup_format::Family;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const RSS_LIMIT_KIB: i64 = 256 * 1024;
/// In-memory sort budget given to the binary: far below the data size, so it spills.
const SORT_BUDGET: usize = 16 << 20;
/// Send times are a permutation of `0..n` (multiplication by a prime coprime with n).
const PERM_PRIME: u64 = 1_000_003;
const SEND_BASE: u64 = 1_700_000_000_000;

/// The queue's key segment: b64url("big-queue").
const QUEUE: &[u8] = b"YmlnLXF1ZXVl";

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

/// A 12-character base64url message-id segment that sorts like `i` (letters A–P are
/// ascending in ASCII, 4 bits each).
fn id_segment(i: u64) -> [u8; 12] {
    let mut s = [b'A'; 12];
    for (k, c) in s.iter_mut().enumerate() {
        *c = b'A' + ((i >> (4 * (11 - k))) & 0xf) as u8;
    }
    s
}

fn send_offset(i: u64, n: u64) -> u64 {
    (i * PERM_PRIME) % n
}

fn build_snapshot(path: &Path, n: u64) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    w.write_all(&payload_header(2))?; // last_commit_ts ≥ every commit_ts
    let mut key = Vec::with_capacity(64);
    let mut val = Vec::with_capacity(512);
    // Message data < queue generation < queue meta (the families' prefixes sort so):
    // messages come first.
    for i in 0..n {
        key.clear();
        key.extend_from_slice(&Family::SqsMsgData.key(QUEUE));
        key.extend_from_slice(&1u64.to_be_bytes());
        key.extend_from_slice(&id_segment(i));
        let send = SEND_BASE + send_offset(i, n);
        val.clear();
        val.extend_from_slice(b"\x00SM\x01");
        write!(
            val,
            r#"{{"message_id":"m-{i:010}","body":"b3JkZXIgcGF5bG9hZCBmb3IgYSBsYXJnZSBxdWV1ZSB0aGF0IGRvZXMgbm90IGZpdCBpbiBtZW1vcnk=","md5_of_body":"0123456789abcdef0123456789abcdef","sender_id":"AIDAEXAMPLE","send_timestamp_millis":{send},"available_at_millis":{send},"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":1}}"#
        )?;
        put_entry(&mut w, &key, &val)?;
    }
    put_entry(&mut w, &Family::SqsQueueGen.key(QUEUE), b"1")?;
    let meta = br#"{"name":"big-queue","generation":1,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":0,"maximum_message_size":262144}"#;
    let mut v = b"\x00SQ\x01".to_vec();
    v.extend_from_slice(meta);
    put_entry(&mut w, &Family::SqsQueueMeta.key(QUEUE), &v)?;
    w.flush()
}

#[test]
fn sqs_large_queue_peak_rss_is_bounded() {
    let n: u64 = std::env::var("EKVB_SQS_MEMORY_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    assert!(n > 0 && !n.is_multiple_of(PERM_PRIME));
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
        .env("ELASTICKV_BACKUP_SQS_SORT_BUDGET", SORT_BUDGET.to_string())
        .env("TMPDIR", &scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap());
    let (code, maxrss_kib) = run_measured(&mut cmd);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert_eq!(code, 0, "decode failed: {stderr}");
    eprintln!(
        "sqs_memory: {n} messages, peak RSS {} MiB",
        maxrss_kib / 1024
    );

    // Every message, once, in send order.
    let jsonl = output.join("sqs/big-queue/messages.jsonl");
    let size = std::fs::metadata(&jsonl).unwrap().len();
    assert!(
        size > 4 * SORT_BUDGET as u64,
        "the data must exceed the sort budget"
    );
    let mut count = 0u64;
    let lines = BufReader::new(File::open(&jsonl).unwrap()).lines();
    for (expect, line) in (SEND_BASE..).zip(lines) {
        let line = line.unwrap();
        let at = line.find("\"send_timestamp_millis\":").expect("send field") + 24;
        let digits: String = line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(
            digits.parse::<u64>().unwrap(),
            expect,
            "line {count} out of order"
        );
        count += 1;
    }
    assert_eq!(count, n);
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
