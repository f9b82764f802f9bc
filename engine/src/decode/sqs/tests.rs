//! The test vectors of docs/format/30-sqs.md §12, the golden SQS cases, and the upstream
//! differences, driven through the adapter with a real directory sink.

use super::*;
use crate::decode::route;
use crate::encode::emitter::{FailState, WorkerPool};
use crate::sinks::{DirSink, Sink};
use bytes::Bytes;
use elastickv_backup_format::container::PAYLOAD_MAGIC;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// What a run produced: files under the output root (path → bytes), and the adapter.
struct Run {
    files: BTreeMap<String, Vec<u8>>,
    result: Result<(), String>,
    adapter: SqsAdapter,
}

/// A realistic HLC commit timestamp (physical ms << 16): its inverted bytes decide where
/// a key that is a prefix of another lands in encoded-key order.
const TS: u64 = 1_735_689_600_000 << 16;

fn entry(key: &[u8], value: &[u8]) -> Entry {
    Entry {
        user_key: Bytes::copy_from_slice(key),
        commit_ts: TS,
        expire_at_ms: 0,
        tombstone: false,
        value: Bytes::copy_from_slice(value),
    }
}

fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            read_tree(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

/// Feeds `entries` (sorted here by encoded key `key ‖ BE64(!commit_ts)`, as the pipeline
/// delivers them) through an index pass and a main pass, then finishes.
fn run_with(mut entries: Vec<Entry>, opts: DecodeOptions, budget: usize) -> Run {
    entries.sort_by_cached_key(|e| [&e.user_key[..], &(!e.commit_ts).to_be_bytes()].concat());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("out");
    let sink: Arc<dyn Sink> = Arc::new(DirSink::create(&root, false).unwrap());
    let fail = Arc::new(FailState::default());
    let pool = WorkerPool::start(2, sink.clone(), fail.clone());
    let opts = Arc::new(opts);
    let out = Emitter::new(sink, &pool, fail, opts.clone()).unwrap();
    let mut a = SqsAdapter::with_sort_budget(&opts, budget);
    let families = a.index_families();
    let mut result: Result<(), Error> = Ok(());
    for e in &entries {
        let r = route(&e.user_key).unwrap();
        if families.contains(&r.family) {
            a.index(r.family, &e.user_key[r.prefix.len()..], e).unwrap();
        }
    }
    for e in &entries {
        let r = route(&e.user_key).unwrap();
        assert_eq!(r.adapter, Some(AdapterKind::Sqs));
        result = a.handle(r.family, &e.user_key[r.prefix.len()..], e, &out);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = a.finish(&out);
    }
    drop(out);
    let joined = pool.join();
    if result.is_ok() {
        result = joined;
    }
    let mut files = BTreeMap::new();
    read_tree(&root, &root, &mut files);
    Run {
        files,
        result: result.map_err(|e| e.to_string()),
        adapter: a,
    }
}

fn run(entries: Vec<Entry>, opts: DecodeOptions) -> Run {
    run_with(entries, opts, DEFAULT_SORT_BUDGET)
}

fn side_on() -> DecodeOptions {
    DecodeOptions {
        include_sqs_side_records: true,
        ..DecodeOptions::default()
    }
}

fn with_magic(magic: &[u8], json: &str) -> Vec<u8> {
    let mut v = magic.to_vec();
    v.extend_from_slice(json.as_bytes());
    v
}

fn meta_orders() -> Entry {
    entry(
        b"!sqs|queue|meta|b3JkZXJz",
        &with_magic(
            records::META_MAGIC,
            r#"{"name":"orders","generation":1,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":0,"maximum_message_size":262144,"tags":{"a":"b"},"created_at_millis":1700000000000}"#,
        ),
    )
}

fn gen_orders() -> Entry {
    entry(b"!sqs|queue|gen|b3JkZXJz", b"1")
}

fn msg_m1() -> Entry {
    entry(
        b"!sqs|msg|data|b3JkZXJz\0\0\0\0\0\0\0\x01bS0x",
        &with_magic(
            records::MSG_MAGIC,
            r#"{"message_id":"m-1","body":"/w==","md5_of_body":"y","send_timestamp_millis":1700000000500,"available_at_millis":1700000000600,"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":1,"sender_id":"s&1"}"#,
        ),
    )
}

fn msg_m2() -> Entry {
    entry(
        b"!sqs|msg|data|b3JkZXJz\0\0\0\0\0\0\0\x01bS0y",
        &with_magic(
            records::MSG_MAGIC,
            r#"{"message_id":"m-2","body":"aGk8Pg==","md5_of_body":"x","send_timestamp_millis":1700000000500,"available_at_millis":1700000000500,"visible_at_millis":1700000030500,"receive_count":2,"first_receive_millis":1700000001000,"current_receipt_token":"AAEC","queue_generation":1,"message_attributes":{"k":{"DataType": "String", "StringValue":"<v>"}}}"#,
        ),
    )
}

fn meta_jobs() -> Entry {
    entry(
        b"!sqs|queue|meta|am9icy5maWZv",
        &with_magic(
            records::META_MAGIC,
            r#"{"name":"jobs.fifo","generation":2,"is_fifo":true,"content_based_dedup":true,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":20,"maximum_message_size":262144,"partition_count":4,"fifo_throughput_limit":"perMessageGroupId","deduplication_scope":"messageGroup"}"#,
        ),
    )
}

fn vis_m1() -> Entry {
    entry(
        &hex::decode(
            "217371737c6d73677c7669737c62334a6b5a584a7a00000000000000010000018bcfe569f462533078",
        )
        .unwrap(),
        b"m-1",
    )
}

const S1_QUEUE: &str = "{\n  \"format_version\": 1,\n  \"name\": \"orders\",\n  \"visibility_timeout_seconds\": 30,\n  \"message_retention_seconds\": 345600,\n  \"delay_seconds\": 0,\n  \"maximum_message_size\": 262144\n}";
const S2_M1: &str = r#"{"message_id":"m-1","body":{"base64":"_w"},"md5_of_body":"y","sender_id":"s&1","send_timestamp_millis":1700000000500,"available_at_millis":1700000000600,"visible_at_millis":0,"receive_count":0,"queue_generation":1}"#;
const S2_M2: &str = r#"{"message_id":"m-2","body":"hi\u003c\u003e","md5_of_body":"x","message_attributes":{"k":{"DataType":"String","StringValue":"<v>"}},"send_timestamp_millis":1700000000500,"available_at_millis":1700000000500,"visible_at_millis":0,"receive_count":0,"queue_generation":1}"#;
const S4_QUEUE: &str = "{\n  \"format_version\": 1,\n  \"name\": \"jobs.fifo\",\n  \"fifo\": true,\n  \"content_based_deduplication\": true,\n  \"visibility_timeout_seconds\": 30,\n  \"message_retention_seconds\": 345600,\n  \"delay_seconds\": 0,\n  \"receive_message_wait_seconds\": 20,\n  \"maximum_message_size\": 262144,\n  \"partition_count\": 4,\n  \"fifo_throughput_limit\": \"perMessageGroupId\",\n  \"deduplication_scope\": \"messageGroup\"\n}";

fn text(r: &Run, path: &str) -> String {
    String::from_utf8(
        r.files
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing: {:?}", r.files.keys()))
            .clone(),
    )
    .unwrap()
}

fn paths(r: &Run) -> Vec<&str> {
    r.files.keys().map(String::as_str).collect()
}

#[test]
fn s1_metadata_only() {
    let r = run(vec![meta_orders(), gen_orders()], DecodeOptions::default());
    r.result.as_ref().unwrap();
    assert_eq!(paths(&r), ["sqs/orders/_queue.json"]);
    assert_eq!(text(&r, "sqs/orders/_queue.json"), S1_QUEUE);
    assert_eq!(S1_QUEUE.len(), 176);
}

#[test]
fn s2_ordering_binary_body_zeroing_escaping() {
    let r = run(
        vec![msg_m1(), msg_m2(), meta_orders(), gen_orders()],
        DecodeOptions::default(),
    );
    r.result.as_ref().unwrap();
    assert_eq!(
        paths(&r),
        ["sqs/orders/_queue.json", "sqs/orders/messages.jsonl"]
    );
    let want = format!("{S2_M1}\n{S2_M2}\n");
    assert_eq!(want.len(), 482);
    assert_eq!(text(&r, "sqs/orders/messages.jsonl"), want);
}

#[test]
fn s3_preserve_visibility() {
    let opts = DecodeOptions {
        preserve_sqs_visibility: true,
        ..DecodeOptions::default()
    };
    let r = run(vec![msg_m2(), meta_orders()], opts);
    r.result.as_ref().unwrap();
    let want = "{\"message_id\":\"m-2\",\"body\":\"hi\\u003c\\u003e\",\"md5_of_body\":\"x\",\"message_attributes\":{\"k\":{\"DataType\":\"String\",\"StringValue\":\"<v>\"}},\"send_timestamp_millis\":1700000000500,\"available_at_millis\":1700000000500,\"visible_at_millis\":1700000030500,\"receive_count\":2,\"first_receive_millis\":1700000001000,\"current_receipt_token\":\"AAEC\",\"queue_generation\":1}\n";
    assert_eq!(want.len(), 347);
    assert_eq!(text(&r, "sqs/orders/messages.jsonl"), want);
}

fn s4_entries() -> Vec<Entry> {
    vec![
        entry(
            &hex::decode("217371737c6d73677c646174617c707c616d39696379356d61575a767c0000000000000000000000025967").unwrap(),
            &with_magic(records::MSG_MAGIC, r#"{"message_id":"b","body":"eQ==","md5_of_body":"w","send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":2,"message_group_id":"g2","sequence_number":3}"#),
        ),
        entry(
            &hex::decode("217371737c6d73677c646174617c707c616d39696379356d61575a767c0000000100000000000000025951").unwrap(),
            &with_magic(records::MSG_MAGIC, r#"{"message_id":"a","body":"eA==","md5_of_body":"z","send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":2,"message_group_id":"g1","message_deduplication_id":"d1","sequence_number":7}"#),
        ),
        entry(
            &hex::decode("217371737c6d73677c646174617c707c616d39696379356d61575a767c0000000000000000000000016232786b").unwrap(),
            &with_magic(records::MSG_MAGIC, r#"{"message_id":"old","body":"","md5_of_body":"","send_timestamp_millis":1,"available_at_millis":1,"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":1}"#),
        ),
        entry(b"!sqs|queue|gen|am9icy5maWZv", b"2"),
        meta_jobs(),
    ]
}

#[test]
fn s4_partitioned_fifo_stale_generation() {
    let r = run(s4_entries(), DecodeOptions::default());
    r.result.as_ref().unwrap();
    assert_eq!(text(&r, "sqs/jobs.fifo/_queue.json"), S4_QUEUE);
    assert_eq!(S4_QUEUE.len(), 385);
    let want = concat!(
        r#"{"message_id":"b","body":"y","md5_of_body":"w","send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"queue_generation":2,"message_group_id":"g2","sequence_number":3,"partition":0}"#,
        "\n",
        r#"{"message_id":"a","body":"x","md5_of_body":"z","send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"queue_generation":2,"message_group_id":"g1","message_deduplication_id":"d1","sequence_number":7,"partition":1}"#,
        "\n"
    );
    assert_eq!(want.len(), 466);
    assert_eq!(text(&r, "sqs/jobs.fifo/messages.jsonl"), want);
    let q = &r.adapter.queues[r.adapter.by_segment[&b"am9icy5maWZv"[..]] as usize];
    assert_eq!((q.active_gen, q.stale_dropped), (2, 1));
}

#[test]
fn s5_side_records_classic() {
    let tomb = entry(
        &hex::decode("217371737c71756575657c746f6d6273746f6e657c62334a6b5a584a7a0000000000000000")
            .unwrap(),
        b"\x01",
    );
    let input = vec![msg_m1(), vis_m1(), tomb, meta_orders()];
    let r = run(input.clone(), side_on());
    r.result.as_ref().unwrap();
    assert_eq!(text(&r, "sqs/orders/_queue.json"), S1_QUEUE);
    assert_eq!(text(&r, "sqs/orders/messages.jsonl"), format!("{S2_M1}\n"));
    let want = "{\"prefix\":\"!sqs|msg|vis|\",\"key_hex\":\"217371737c6d73677c7669737c62334a6b5a584a7a00000000000000010000018bcfe569f462533078\",\"value_b64\":\"bS0x\"}\n{\"prefix\":\"!sqs|queue|tombstone|\",\"key_hex\":\"217371737c71756575657c746f6d6273746f6e657c62334a6b5a584a7a0000000000000000\",\"value_b64\":\"AQ\"}\n";
    assert_eq!(want.len(), 280);
    assert_eq!(text(&r, "sqs/orders/_internals/side_records.jsonl"), want);
    // Option off: no _internals.
    let r = run(input, DecodeOptions::default());
    r.result.as_ref().unwrap();
    assert_eq!(
        paths(&r),
        ["sqs/orders/_queue.json", "sqs/orders/messages.jsonl"]
    );
}

#[test]
fn s6_partitioned_group_lock() {
    let group = entry(
        &hex::decode("217371737c6d73677c67726f75707c707c616d39696379356d61575a767c0000000100000000000000025a7a45").unwrap(),
        br#"{"message_id":"a","acquired_at_ms":5,"visible_at_ms":35}"#,
    );
    let r = run(vec![group, meta_jobs()], side_on());
    r.result.as_ref().unwrap();
    assert_eq!(text(&r, "sqs/jobs.fifo/_queue.json"), S4_QUEUE);
    let want = "{\"prefix\":\"!sqs|msg|group|\",\"key_hex\":\"217371737c6d73677c67726f75707c707c616d39696379356d61575a767c0000000100000000000000025a7a45\",\"value_b64\":\"eyJtZXNzYWdlX2lkIjoiYSIsImFjcXVpcmVkX2F0X21zIjo1LCJ2aXNpYmxlX2F0X21zIjozNX0\"}\n";
    assert_eq!(want.len(), 222);
    assert_eq!(
        text(&r, "sqs/jobs.fifo/_internals/side_records.jsonl"),
        want
    );
    assert_eq!(paths(&r).len(), 2);
}

#[test]
fn s7_orphan_queue() {
    let r = run(vec![msg_m1(), vis_m1()], side_on());
    r.result.as_ref().unwrap();
    assert_eq!(
        paths(&r),
        ["sqs/b3JkZXJz.orphan/_internals/side_records.jsonl"]
    );
    let want = "{\"prefix\":\"!sqs|msg|vis|\",\"key_hex\":\"217371737c6d73677c7669737c62334a6b5a584a7a00000000000000010000018bcfe569f462533078\",\"value_b64\":\"bS0x\"}\n";
    assert_eq!(want.len(), 141);
    assert_eq!(
        text(&r, "sqs/b3JkZXJz.orphan/_internals/side_records.jsonl"),
        want
    );
    let q = &r.adapter.queues[0];
    assert_eq!((q.orphan_messages, q.side_records), (1, 1));
    let r = run(vec![msg_m1(), vis_m1()], DecodeOptions::default());
    r.result.as_ref().unwrap();
    assert!(r.files.is_empty());
    assert_eq!(r.adapter.queues[0].orphan_messages, 1);
}

#[test]
fn s8_errors() {
    // Adapted: upstream refuses every sequence row with side records on; we decode it
    // (see `fifo_sequence_row_is_decoded`). A sequence key that really has no queue
    // segment is still malformed.
    let r = run(vec![entry(b"!sqs|queue|seq|", b"9")], side_on());
    assert!(r.result.unwrap_err().contains("backup: malformed SQS key"));
    let r = run(vec![entry(b"!sqs|queue|seq|b3Jk\0", b"9")], side_on());
    assert!(r
        .result
        .unwrap_err()
        .contains("queue segment not found after prefix"));

    let r = run(
        vec![
            entry(
                b"!sqs|msg|data|b3JkZXJz\0\0\0\0\0\0\0\x01bQ",
                br#"{"message_id":"m"}"#,
            ),
            meta_orders(),
        ],
        DecodeOptions::default(),
    );
    let e = r.result.unwrap_err();
    assert!(
        e.contains("missing magic prefix: backup: invalid !sqs|msg|data value"),
        "{e}"
    );
    assert!(e.contains("\"orders\""), "{e}");

    let r = run(
        vec![entry(
            b"!sqs|msg|data|p|am9icy5maWZv|\0\0\0\x01\0\0\0\0\0\0\0\x02",
            b"",
        )],
        DecodeOptions::default(),
    );
    let e = r.result.unwrap_err();
    assert!(
        e.contains("partitioned msg-data key missing message-id in key"),
        "{e}"
    );
    assert!(e.ends_with(": backup: malformed SQS key"), "{e}");

    let r = run(
        vec![entry(b"!sqs|queue|gen|b3JkZXJz", b"x1")],
        DecodeOptions::default(),
    );
    assert!(r.result.unwrap_err().contains("backup: malformed SQS key"));

    let r = run(
        vec![entry(b"!sqs|queue|meta|b3JkZXJz", b"{}")],
        DecodeOptions::default(),
    );
    assert!(r
        .result
        .unwrap_err()
        .contains("backup: invalid !sqs|queue|meta value"));
    let r = run(
        vec![entry(b"!sqs|queue|meta|b", b"\0SQ\x01{}")],
        DecodeOptions::default(),
    );
    assert!(r.result.unwrap_err().contains("backup: malformed SQS key"));
}

#[test]
fn side_record_keys_are_not_parsed_when_off() {
    let r = run(
        vec![
            entry(b"!sqs|queue|seq|b3JkZXJz", b"9"),
            entry(b"!sqs|msg|vis|x", b""),
        ],
        DecodeOptions::default(),
    );
    r.result.as_ref().unwrap();
    assert!(r.files.is_empty());
}

#[test]
fn s9_empty_json_name_and_text_body() {
    let meta = entry(
        b"!sqs|queue|meta|cQ",
        &with_magic(
            records::META_MAGIC,
            r#"{"visibility_timeout_seconds":1,"message_retention_seconds":2,"delay_seconds":3}"#,
        ),
    );
    let msg = entry(
        &hex::decode("217371737c6d73677c646174617c635100000000000000006567").unwrap(),
        &with_magic(
            records::MSG_MAGIC,
            r#"{"message_id":"z","body":"PGI+JiDDqSDigKgK","send_timestamp_millis":0,"queue_generation":0}"#,
        ),
    );
    let r = run(vec![meta, msg], DecodeOptions::default());
    r.result.as_ref().unwrap();
    let q = "{\n  \"format_version\": 1,\n  \"name\": \"q\",\n  \"visibility_timeout_seconds\": 1,\n  \"message_retention_seconds\": 2,\n  \"delay_seconds\": 3\n}";
    assert_eq!(q.len(), 131);
    assert_eq!(text(&r, "sqs/q/_queue.json"), q);
    let m = "{\"message_id\":\"z\",\"body\":\"\\u003cb\\u003e\\u0026 é \\u2028\\n\",\"send_timestamp_millis\":0,\"available_at_millis\":0,\"visible_at_millis\":0,\"receive_count\":0,\"queue_generation\":0}\n";
    assert_eq!(m.len(), 171);
    assert_eq!(text(&r, "sqs/q/messages.jsonl"), m);
}

#[test]
fn empty_queue_name_lands_in_sqs_root() {
    let meta = entry(
        b"!sqs|queue|meta|",
        &with_magic(records::META_MAGIC, r#"{"delay_seconds":1}"#),
    );
    let r = run(vec![meta], DecodeOptions::default());
    r.result.as_ref().unwrap();
    assert_eq!(paths(&r), ["sqs/_queue.json"]);
    assert!(text(&r, "sqs/_queue.json").contains("\"name\": \"\""));
}

#[test]
fn html_in_queue_json_and_redrive_policy() {
    let meta = entry(
        b"!sqs|queue|meta|YSBi",
        &with_magic(
            records::META_MAGIC,
            r#"{"name":"a b","visibility_timeout_seconds":1,"message_retention_seconds":2,"delay_seconds":3,"redrive_policy":"{\"x\":\"<&>\"}"}"#,
        ),
    );
    let r = run(vec![meta], DecodeOptions::default());
    r.result.as_ref().unwrap();
    let q = text(&r, "sqs/a%20b/_queue.json");
    assert!(
        q.contains(r#""redrive_policy": "{\"x\":\"\u003c\u0026\u003e\"}""#),
        "{q}"
    );
}

/// Messages of one queue on several "shards": the pipeline merges shards by key, so the
/// adapter sees them in key order (generation, then message id), not send order; the
/// output must follow (send time, sequence, id) across all of them.
#[test]
fn queue_spread_over_shards_is_ordered_by_send_time() {
    let mut entries = vec![meta_orders(), gen_orders()];
    let mut want = Vec::new();
    for i in 0..200u32 {
        // Send times run backwards relative to the message ids (key order).
        let id = format!("m-{i:04}");
        let send = 1_000_000 - i64::from(i / 2);
        let mut key = b"!sqs|msg|data|b3JkZXJz\0\0\0\0\0\0\0\x01".to_vec();
        key.extend_from_slice(URL_SAFE_NO_PAD_ENGINE.encode(id.as_bytes()).as_bytes());
        let json = format!(
            r#"{{"message_id":"{id}","body":"","send_timestamp_millis":{send},"queue_generation":1,"sequence_number":{}}}"#,
            500 - i
        );
        entries.push(entry(&key, &with_magic(records::MSG_MAGIC, &json)));
        want.push((send, 500 - i, id));
    }
    want.sort();
    for budget in [DEFAULT_SORT_BUDGET, 0] {
        let r = run_with(entries.clone(), DecodeOptions::default(), budget);
        r.result.as_ref().unwrap();
        if budget == 0 {
            // A zero budget spills every record as a run of its own (over the merge's
            // fan-in, so the multi-level merge runs too).
            assert!(
                r.adapter.spilled_runs() > 64,
                "{}",
                r.adapter.spilled_runs()
            );
        }
        let got: Vec<String> = text(&r, "sqs/orders/messages.jsonl")
            .lines()
            .map(|l| l.split('"').nth(3).unwrap().to_string())
            .collect();
        let want_ids: Vec<String> = want.iter().map(|w| w.2.clone()).collect();
        assert_eq!(got, want_ids);
    }
}

use base64::engine::general_purpose::URL_SAFE_NO_PAD as URL_SAFE_NO_PAD_ENGINE;
use base64::Engine as _;

/// Message ids that are prefixes of one another at equal send time and sequence: their
/// keys arrive in encoded order (`YQA` for `a\0` before `YQ` for `a`), the file is in
/// bytewise id order (docs/format/30-sqs.md §6), in memory and spilled alike. (An empty message id
/// cannot occur: its key has no id segment and is rejected as malformed, as upstream.)
#[test]
fn equal_send_times_order_empty_and_prefix_ids_bytewise() {
    let ids: [&[u8]; 5] = [b"b", b"ab", b"a\0", b"a", b"\x00"];
    let mut entries = vec![meta_orders(), gen_orders()];
    for id in ids {
        let mut key = b"!sqs|msg|data|b3JkZXJz\0\0\0\0\0\0\0\x01".to_vec();
        key.extend_from_slice(URL_SAFE_NO_PAD_ENGINE.encode(id).as_bytes());
        let json_id: String = id.iter().map(|&c| format!("\\u{c:04x}")).collect();
        let json = format!(
            r#"{{"message_id":"{json_id}","body":"","send_timestamp_millis":5,"queue_generation":1,"sequence_number":0}}"#
        );
        entries.push(entry(&key, &with_magic(records::MSG_MAGIC, &json)));
    }
    let mut want: Vec<Vec<u8>> = ids.iter().map(|i| i.to_vec()).collect();
    want.sort();
    for budget in [DEFAULT_SORT_BUDGET, 0] {
        let r = run_with(entries.clone(), DecodeOptions::default(), budget);
        r.result.as_ref().unwrap();
        let got: Vec<Vec<u8>> = text(&r, "sqs/orders/messages.jsonl")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["message_id"].as_str().unwrap().as_bytes().to_vec()
            })
            .collect();
        assert_eq!(got, want, "budget {budget}");
    }
}

/// The external merge through the adapter: a budget far below the data size spills
/// many runs, and the file is identical to the in-memory result.
#[test]
fn tiny_budget_spills_with_identical_output() {
    let mut entries = vec![meta_orders(), gen_orders(), meta_jobs()];
    for i in 0..3000u32 {
        let id = format!("m-{i:05}");
        let send = i64::from((i * 7919) % 1000);
        let mut key = if i % 3 == 0 {
            b"!sqs|msg|data|b3JkZXJz\0\0\0\0\0\0\0\x01".to_vec()
        } else {
            let mut k = b"!sqs|msg|data|p|am9icy5maWZv|".to_vec();
            k.extend_from_slice(&(i % 4).to_be_bytes());
            k.extend_from_slice(&2u64.to_be_bytes());
            k
        };
        key.extend_from_slice(URL_SAFE_NO_PAD_ENGINE.encode(id.as_bytes()).as_bytes());
        let gen = if i % 3 == 0 { 1 } else { 2 };
        let json = format!(
            r#"{{"message_id":"{id}","body":"{}","send_timestamp_millis":{send},"queue_generation":{gen},"sequence_number":{}}}"#,
            base64::engine::general_purpose::STANDARD.encode([b'x'; 31]),
            i % 5
        );
        entries.push(entry(&key, &with_magic(records::MSG_MAGIC, &json)));
        // A side record per message too, to spill side records alongside.
        let mut vis = b"!sqs|msg|vis|b3JkZXJz\0\0\0\0\0\0\0\x01".to_vec();
        vis.extend_from_slice(&u64::from(i).to_be_bytes());
        vis.extend_from_slice(id.as_bytes());
        entries.push(entry(&vis, id.as_bytes()));
    }
    let big = run_with(entries.clone(), side_on(), DEFAULT_SORT_BUDGET);
    big.result.as_ref().unwrap();
    assert_eq!(big.adapter.spilled_runs(), 0);
    let small = run_with(entries, side_on(), 0);
    small.result.as_ref().unwrap();
    assert!(
        small.adapter.spilled_runs() >= 4,
        "{} runs",
        small.adapter.spilled_runs()
    );
    assert_eq!(big.files, small.files);
    assert_eq!(
        big.files.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "sqs/jobs.fifo/_queue.json",
            "sqs/jobs.fifo/messages.jsonl",
            "sqs/orders/_internals/side_records.jsonl",
            "sqs/orders/_queue.json",
            "sqs/orders/messages.jsonl",
        ]
    );
    let lines = text(&big, "sqs/orders/_internals/side_records.jsonl")
        .lines()
        .count();
    assert_eq!(lines, 3000);
}

/// Difference from upstream: with side records on, a FIFO queue's `!sqs|queue|seq|`
/// row (key = prefix || b64url(name), no trailer) makes upstream abort with "queue
/// segment not found"; we attribute it to its queue and write it.
#[test]
fn fifo_sequence_row_is_decoded() {
    let seq = entry(b"!sqs|queue|seq|am9icy5maWZv", b"7");
    let r = run(vec![seq, meta_jobs()], side_on());
    r.result.as_ref().unwrap();
    assert_eq!(
        text(&r, "sqs/jobs.fifo/_internals/side_records.jsonl"),
        "{\"prefix\":\"!sqs|queue|seq|\",\"key_hex\":\"217371737c71756575657c7365717c616d39696379356d61575a76\",\"value_b64\":\"Nw\"}\n"
    );
}

#[test]
fn scope_limits_queues() {
    let opts = DecodeOptions {
        scopes: vec![Scope {
            adapter: AdapterKind::Sqs,
            name: b"jobs.fifo".to_vec(),
        }],
        ..side_on()
    };
    let mut input = s4_entries();
    input.extend([msg_m1(), vis_m1(), meta_orders(), gen_orders()]);
    let r = run(input, opts);
    r.result.as_ref().unwrap();
    assert_eq!(
        paths(&r),
        ["sqs/jobs.fifo/_queue.json", "sqs/jobs.fifo/messages.jsonl"]
    );
}

#[test]
fn colliding_meta_segments_are_refused() {
    let body = with_magic(records::META_MAGIC, r#"{"delay_seconds":1}"#);
    let r = run(
        vec![
            entry(b"!sqs|queue|meta|cQ", &body),
            entry(b"!sqs|queue|meta|cR", &body),
        ],
        DecodeOptions::default(),
    );
    assert!(r.result.unwrap_err().contains("both decode to queue \"q\""));
}

// ---- golden cases (SQS part of the tree) ----

/// Reads a bare-payload file and applies the contract's visibility rule: per user key, the
/// newest version at or below `last_commit_ts`, dropped if a tombstone or expired.
fn read_fsm(path: &Path) -> Vec<Entry> {
    let data = std::fs::read(path).unwrap();
    assert_eq!(&data[..8], PAYLOAD_MAGIC);
    let read_ts = u64::from_le_bytes(data[8..16].try_into().unwrap());
    let mut pos = 16;
    let le = |pos: &mut usize| {
        let v = u64::from_le_bytes(data[*pos..*pos + 8].try_into().unwrap()) as usize;
        *pos += 8;
        v
    };
    let mut out: Vec<Entry> = Vec::new();
    let mut last_key: Option<Vec<u8>> = None;
    while pos < data.len() {
        let kl = le(&mut pos);
        let key = data[pos..pos + kl].to_vec();
        pos += kl;
        let vl = le(&mut pos);
        let val = data[pos..pos + vl].to_vec();
        pos += vl;
        let (user, ts) = key.split_at(key.len() - 8);
        let commit_ts = !u64::from_be_bytes(ts.try_into().unwrap());
        if commit_ts > read_ts || last_key.as_deref() == Some(user) {
            continue;
        }
        last_key = Some(user.to_vec());
        let tombstone = val[0] & 1 != 0;
        let expire = u64::from_le_bytes(val[1..9].try_into().unwrap());
        if tombstone || (expire != 0 && expire <= read_ts >> 16) {
            continue;
        }
        out.push(Entry {
            user_key: Bytes::copy_from_slice(user),
            commit_ts,
            expire_at_ms: expire,
            tombstone: false,
            value: Bytes::copy_from_slice(&val[9..]),
        });
    }
    out
}

fn golden(case: &str, opts: DecodeOptions) {
    let dir = Path::new("/work/shared/fixtures/golden").join(case);
    if !dir.exists() {
        eprintln!("golden fixtures not present; skipping {case}");
        return;
    }
    let entries: Vec<Entry> = read_fsm(&dir.join("input.fsm"))
        .into_iter()
        .filter(|e| route(&e.user_key).is_some_and(|r| r.adapter == Some(AdapterKind::Sqs)))
        .collect();
    let r = run(entries, opts);
    r.result.as_ref().unwrap();
    let mut want = BTreeMap::new();
    let exp = dir.join("expected");
    read_tree(&exp, &exp.join("sqs"), &mut want);
    assert_eq!(r.files, want, "golden case {case}");
}

#[test]
fn golden_sqs_cases() {
    golden("sqs_standard", DecodeOptions::default());
    golden("sqs_fifo", DecodeOptions::default());
    golden("sqs_message_states", DecodeOptions::default());
    golden(
        "sqs_preserve_visibility",
        DecodeOptions {
            preserve_sqs_visibility: true,
            ..DecodeOptions::default()
        },
    );
    golden("sqs_side_records", side_on());
    golden("mixed_all", DecodeOptions::default());
    golden("adapter_subset", DecodeOptions::default());
}

/// Messages over many segments (more than are kept in flight): lines in send-time order,
/// stale ones counted, and of two bad entries the earlier one is the error reported —
/// an invalid message still in a segment on the pool before a malformed key the
/// decode thread meets itself.
#[test]
fn many_segments_keep_order_counts_and_the_first_error() {
    let n = 3000u32;
    let msg = |i: u32| {
        let id = format!("m-{i:05}");
        let mut key = b"!sqs|msg|data|b3JkZXJz\0\0\0\0\0\0\0\x01".to_vec();
        key.extend_from_slice(URL_SAFE_NO_PAD_ENGINE.encode(id.as_bytes()).as_bytes());
        let generation = if i % 7 == 3 { 2 } else { 1 };
        let json = format!(
            r#"{{"message_id":"{id}","body":"aGk=","send_timestamp_millis":{},"queue_generation":{generation}}}"#,
            2_000_000 - i64::from(i)
        );
        entry(&key, &with_magic(records::MSG_MAGIC, &json))
    };
    let mut entries = vec![meta_orders(), gen_orders()];
    entries.extend((0..n).map(msg));
    let r = run(entries.clone(), DecodeOptions::default());
    r.result.as_ref().unwrap();
    let stale = (0..n).filter(|i| i % 7 == 3).count();
    let got: Vec<String> = text(&r, "sqs/orders/messages.jsonl")
        .lines()
        .map(|l| l.split('"').nth(3).unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..n)
        .rev()
        .filter(|i| i % 7 != 3)
        .map(|i| format!("m-{i:05}"))
        .collect();
    assert_eq!(got, want);
    assert_eq!(r.adapter.queues[0].stale_dropped, stale as u64);

    // A malformed key after every message is an error of its own...
    entries.push(entry(b"!sqs|msg|data|c!!", b""));
    let e = run(entries.clone(), DecodeOptions::default())
        .result
        .unwrap_err();
    assert!(e.contains("malformed SQS key"), "{e}");
    // ...but when message 1500 has lost its magic, that one is reported.
    let bad = 2 + 1500;
    entries[bad].value = bytes::Bytes::from_static(br#"{"message_id":"m-01500"}"#);
    let e = run(entries, DecodeOptions::default()).result.unwrap_err();
    assert!(e.contains("missing magic prefix"), "{e}");
    assert!(e.contains("m-01500") || e.contains("bS0wMTUwMA"), "{e}");
}
