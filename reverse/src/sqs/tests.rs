//! Tree-level tests: docs/format/30-sqs.md S10 and the rules of the walk (partitions, dedup winners,
//! refusals).

use super::queue::tests::S4_QUEUE;
use super::*;
use crate::Entries;

fn tree(queue_json: &str, lines: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let q = d.path().join("sqs/q");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(q.join("_queue.json"), queue_json).unwrap();
    if !lines.is_empty() {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(q.join("messages.jsonl"), text).unwrap();
    }
    d
}

fn staged(d: &tempfile::TempDir, opts: &Options) -> Result<Entries, ReverseError> {
    let mut out = Entries::new();
    encode_into(d.path(), opts, &mut out)?;
    out.sort();
    Ok(out)
}

fn value_of<'a>(entries: &'a [(Vec<u8>, Vec<u8>)], key_hex: &str) -> &'a [u8] {
    &entries
        .iter()
        .find(|(k, _)| hex::encode(k) == key_hex)
        .unwrap_or_else(|| panic!("no key {key_hex}"))
        .1
}

const S10_LINE: &str = r#"{"message_id":"a","body":"x","md5_of_body":"z","message_attributes":{"k":{"DataType":"String","StringValue":"<v>"}},"send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"queue_generation":2,"message_group_id":"g1","message_deduplication_id":"d1","sequence_number":7,"partition":1}"#;

#[test]
fn s10_reverse_encoder() {
    let d = tree(S4_QUEUE, &[S10_LINE]);
    let got = staged(&d, &Options::default()).unwrap();
    let mut want: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (
            b"!sqs|queue|meta|am9icy5maWZv".to_vec(),
            [&b"\x00SQ\x01"[..], br#"{"name":"jobs.fifo","generation":1,"is_fifo":true,"content_based_dedup":true,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":20,"maximum_message_size":262144,"partition_count":4,"fifo_throughput_limit":"perMessageGroupId","deduplication_scope":"messageGroup"}"#].concat(),
        ),
        (b"!sqs|queue|gen|am9icy5maWZv".to_vec(), b"1".to_vec()),
        (
            hex::decode("217371737c6d73677c646174617c707c616d39696379356d61575a767c0000000100000000000000015951").unwrap(),
            [&b"\x00SM\x01"[..], br#"{"message_id":"a","body":"eA==","md5_of_body":"z","message_attributes":{"k":{"DataType":"String","StringValue":"\u003cv\u003e"}},"send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":1,"message_group_id":"g1","message_deduplication_id":"d1","sequence_number":7}"#].concat(),
        ),
        (
            hex::decode("217371737c6d73677c7669737c707c616d39696379356d61575a767c00000001000000000000000100000000000000055951").unwrap(),
            b"a".to_vec(),
        ),
        (
            hex::decode("217371737c6d73677c62796167657c707c616d39696379356d61575a767c00000001000000000000000100000000000000055951").unwrap(),
            b"a".to_vec(),
        ),
        (
            hex::decode("217371737c6d73677c64656475707c707c616d39696379356d61575a767c0000000100000000000000015a7a457c5a4445").unwrap(),
            br#"{"message_id":"a","send_timestamp_ms":5,"expires_at_millis":300005,"original_sequence":7}"#.to_vec(),
        ),
        (b"!sqs|queue|seq|am9icy5maWZv".to_vec(), b"7".to_vec()),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn s10_content_based_dedup_id() {
    // Without a dedup id, a content-based queue dedups on SHA-256 of the body.
    let line = S10_LINE.replace(r#","message_deduplication_id":"d1""#, "");
    let d = tree(S4_QUEUE, &[&line]);
    let got = staged(&d, &Options::default()).unwrap();
    let id = b"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    let mut key = hex::decode("217371737c6d73677c64656475707c707c616d39696379356d61575a767c0000000100000000000000015a7a457c").unwrap();
    key.extend_from_slice(crate::b64url(id).as_bytes());
    assert!(got.iter().any(|(k, _)| *k == key));
}

const STANDARD: &str = r#"{"format_version":1,"name":"orders","visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"maximum_message_size":262144}"#;

#[test]
fn standard_queue_classic_keys_no_dedup_no_seq() {
    let d = tree(
        STANDARD,
        &[
            r#"{"message_id":"m-1","body":{"base64":"_w"},"md5_of_body":"y","send_timestamp_millis":1700000000500,"available_at_millis":1700000000600,"visible_at_millis":0,"receive_count":0,"queue_generation":1,"message_deduplication_id":"ignored"}"#,
        ],
    );
    let got = staged(&d, &Options::default()).unwrap();
    assert_eq!(got.len(), 5, "meta, gen, data, vis, byage");
    let data = value_of(
        &got,
        "217371737c6d73677c646174617c62334a6b5a584a7a000000000000000162533078",
    );
    assert!(data.starts_with(b"\x00SM\x01{\"message_id\":\"m-1\",\"body\":\"/w==\""));
    // vis at available_at; byage at send time.
    value_of(
        &got,
        "217371737c6d73677c7669737c62334a6b5a584a7a00000000000000010000018bcfe56a5862533078",
    );
    value_of(
        &got,
        "217371737c6d73677c62796167657c62334a6b5a584a7a00000000000000010000018bcfe569f462533078",
    );
}

#[test]
fn preserved_visibility_is_restored() {
    let line = r#"{"message_id":"m","body":"b","send_timestamp_millis":1,"available_at_millis":2,"visible_at_millis":3,"receive_count":4,"current_receipt_token":"AAEC","queue_generation":1}"#;
    let d = tree(STANDARD, &[line]);
    let plain = staged(&d, &Options::default()).unwrap();
    let kept = staged(
        &d,
        &Options {
            preserve_visibility: true,
            ..Options::default()
        },
    )
    .unwrap();
    let has_vis_at = |v: &[(Vec<u8>, Vec<u8>)], t: u64| {
        v.iter().any(|(k, _)| {
            k.starts_with(b"!sqs|msg|vis|") && k.ends_with(&[&t.to_be_bytes()[..], b"bQ"].concat())
        })
    };
    assert!(has_vis_at(&plain, 2) && !has_vis_at(&plain, 3));
    assert!(has_vis_at(&kept, 3));
    let data = |v: &[(Vec<u8>, Vec<u8>)]| {
        String::from_utf8(
            v.iter()
                .find(|(k, _)| k.starts_with(b"!sqs|msg|data|"))
                .unwrap()
                .1
                .clone(),
        )
        .unwrap()
    };
    assert!(data(&plain)
        .contains(r#""visible_at_millis":0,"receive_count":0,"current_receipt_token":null"#));
    assert!(data(&kept)
        .contains(r#""visible_at_millis":3,"receive_count":4,"current_receipt_token":"AAEC""#));
}

const CLASSIC_FIFO: &str = r#"{"format_version":1,"name":"f.fifo","fifo":true,"visibility_timeout_seconds":30,"message_retention_seconds":60,"delay_seconds":0}"#;

fn dedup_rows(v: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    v.iter()
        .filter(|(k, _)| k.starts_with(b"!sqs|msg|dedup|"))
        .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
        .collect()
}

#[test]
fn dedup_latest_send_wins_ties_to_the_first() {
    let d = tree(
        CLASSIC_FIFO,
        &[
            r#"{"message_id":"b","send_timestamp_millis":5,"message_group_id":"g","message_deduplication_id":"d","sequence_number":2}"#,
            r#"{"message_id":"a","send_timestamp_millis":5,"message_group_id":"g","message_deduplication_id":"d","sequence_number":1}"#,
            r#"{"message_id":"c","send_timestamp_millis":4,"message_group_id":"g","message_deduplication_id":"d","sequence_number":9}"#,
        ],
    );
    let got = staged(&d, &Options::default()).unwrap();
    // Classic: file order breaks the tie between b and a.
    assert_eq!(
        dedup_rows(&got),
        [
            r#"{"message_id":"b","send_timestamp_ms":5,"expires_at_millis":300005,"original_sequence":2}"#
        ]
    );
    assert_eq!(
        value_of(&got, &hex::encode("!sqs|queue|seq|Zi5maWZv")),
        b"9"
    );

    // Partitioned: the tie goes to the lower sequence number.
    let q = S4_QUEUE.replace("jobs.fifo", "q");
    let d = tree(
        &q,
        &[
            r#"{"message_id":"b","send_timestamp_millis":5,"message_group_id":"g1","message_deduplication_id":"d","sequence_number":2,"partition":1}"#,
            r#"{"message_id":"a","send_timestamp_millis":5,"message_group_id":"g1","message_deduplication_id":"d","sequence_number":1,"partition":1}"#,
        ],
    );
    let got = staged(&d, &Options::default()).unwrap();
    assert_eq!(
        dedup_rows(&got),
        [
            r#"{"message_id":"a","send_timestamp_ms":5,"expires_at_millis":300005,"original_sequence":1}"#
        ]
    );
}

#[test]
fn partition_checks() {
    let q = S4_QUEUE.replace("jobs.fifo", "q");
    for (line, why) in [
        (
            r#"{"message_id":"a","message_group_id":"g1"}"#,
            "missing partition",
        ),
        (
            r#"{"message_id":"a","message_group_id":"g1","partition":4}"#,
            "out of range",
        ),
        (
            r#"{"message_id":"a","message_group_id":"g1","partition":0}"#,
            "hash mismatch",
        ),
    ] {
        let e = staged(&tree(&q, &[line]), &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("sqs/q/messages.jsonl: message 1: "), "{e}");
        assert!(e.contains(why), "{e}");
    }
    let per_queue = q.replace("perMessageGroupId", "perQueue");
    let e = staged(
        &tree(
            &per_queue,
            &[r#"{"message_id":"a","message_group_id":"g1","partition":1}"#],
        ),
        &Options::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("routing mismatch"), "{e}");
    let e = staged(
        &tree(STANDARD, &[r#"{"message_id":"a","partition":2}"#]),
        &Options::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("without partitions"), "{e}");
    assert!(staged(
        &tree(STANDARD, &[r#"{"message_id":"a","partition":0}"#]),
        &Options::default()
    )
    .is_ok());
}

#[test]
fn internals_ignored_orphans_and_bad_files_refused() {
    let d = tree(STANDARD, &[]);
    let internals = d.path().join("sqs/q/_internals");
    std::fs::create_dir_all(&internals).unwrap();
    std::fs::write(internals.join("side_records.jsonl"), "not even json").unwrap();
    assert_eq!(staged(&d, &Options::default()).unwrap().len(), 2);

    let orphan = d.path().join("sqs/cQ.orphan/_internals");
    std::fs::create_dir_all(&orphan).unwrap();
    let e = staged(&d, &Options::default()).unwrap_err().to_string();
    assert!(
        e.starts_with("sqs/cQ.orphan/_queue.json: is missing"),
        "{e}"
    );

    let d = tree(STANDARD, &[r#"{"message_id":"a"}"#, "{"]);
    let e = staged(&d, &Options::default()).unwrap_err().to_string();
    assert!(e.starts_with("sqs/q/messages.jsonl: message 2: "), "{e}");

    let d = tree(r#"{"format_version":1,"name":""}"#, &[]);
    let e = staged(&d, &Options::default()).unwrap_err().to_string();
    assert!(e.contains("invalid _queue.json: name is empty"), "{e}");
}

#[test]
fn duplicate_message_ids_are_refused_by_the_writer() {
    let d = tree(
        STANDARD,
        &[r#"{"message_id":"a"}"#, r#"{"message_id":"a","body":"2"}"#],
    );
    let mut w = crate::writer::FsmWriter::new(1, 1 << 20);
    encode_into(d.path(), &Options::default(), &mut w).unwrap();
    assert!(matches!(
        w.finish(Vec::new(), "o"),
        Err(ReverseError::DuplicateKey { .. })
    ));
}
