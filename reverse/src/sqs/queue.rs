//! `_queue.json` → the queue configuration, validated as upstream's encoder does, and the
//! stored `!sqs|queue|meta|` value a fresh queue is restored with (docs/format/30-sqs.md §10 steps 1–2).

use elastickv_backup_dumptree::json::{one_value, Record};
use elastickv_backup_engine::decode::sqs::records::QueueMeta;
use elastickv_backup_engine::encode::json::write_i64;
use elastickv_backup_engine::encode::json::write_str_html;

/// Magic that starts a stored queue-meta value (`\x00SQ\x01`).
const META_MAGIC: &[u8] = b"\x00SQ\x01";
/// Largest partition count (HT-FIFO).
const MAX_PARTITIONS: u32 = 32;
/// `fifo_throughput_limit` that puts every message group on partition 0.
pub const PER_QUEUE: &[u8] = b"perQueue";

/// Parses and validates `_queue.json`.
pub fn parse(bytes: &[u8]) -> Result<QueueMeta, String> {
    let r = Record::new(one_value(bytes)?)?;
    let version: i64 = r.int("format_version", "int")?;
    if version != 1 {
        return Err(format!(
            "format_version {version} is not supported (expected 1)"
        ));
    }
    let m = QueueMeta {
        name: r.str("name")?,
        is_fifo: r.bool("fifo")?,
        content_based_dedup: r.bool("content_based_deduplication")?,
        visibility_timeout_seconds: r.int("visibility_timeout_seconds", "int64")?,
        message_retention_seconds: r.int("message_retention_seconds", "int64")?,
        delay_seconds: r.int("delay_seconds", "int64")?,
        receive_message_wait_seconds: r.int("receive_message_wait_seconds", "int64")?,
        maximum_message_size: r.int("maximum_message_size", "int64")?,
        redrive_policy: r.str("redrive_policy")?,
        redrive_allow_policy: r.str("redrive_allow_policy")?,
        partition_count: r.int("partition_count", "uint32")?,
        fifo_throughput_limit: r.str("fifo_throughput_limit")?,
        deduplication_scope: r.str("deduplication_scope")?,
    };
    validate(&m)?;
    Ok(m)
}

fn validate(m: &QueueMeta) -> Result<(), String> {
    let limit = m.fifo_throughput_limit.as_slice();
    let scope = m.deduplication_scope.as_slice();
    if !matches!(limit, b"" | b"perMessageGroupId" | b"perQueue") {
        return Err(format!(
            "fifo_throughput_limit {:?} is not perMessageGroupId or perQueue",
            String::from_utf8_lossy(limit)
        ));
    }
    if !matches!(scope, b"" | b"messageGroup" | b"queue") {
        return Err(format!(
            "deduplication_scope {:?} is not messageGroup or queue",
            String::from_utf8_lossy(scope)
        ));
    }
    let n = m.partition_count;
    if n > MAX_PARTITIONS || (n != 0 && !n.is_power_of_two()) {
        return Err(format!(
            "partition_count {n} is not 0 or a power of two up to {MAX_PARTITIONS}"
        ));
    }
    if !m.is_fifo && (n > 1 || !limit.is_empty() || !scope.is_empty()) {
        return Err(
            "partition_count, fifo_throughput_limit and deduplication_scope apply to FIFO queues only"
                .into(),
        );
    }
    if m.is_fifo && n > 1 && scope == b"queue" {
        return Err("a partitioned FIFO queue cannot use deduplication_scope \"queue\"".into());
    }
    if m.is_fifo && n <= 1 && limit == b"perMessageGroupId" {
        return Err("fifo_throughput_limit perMessageGroupId needs partition_count > 1".into());
    }
    if m.name.is_empty() {
        return Err("name is empty".into());
    }
    Ok(())
}

/// The stored meta value: `\x00SQ\x01` + Go `json.Marshal` of the live record with
/// generation 1 (HTML escaping on; optional fields omitted when zero).
pub fn meta_value(m: &QueueMeta) -> Vec<u8> {
    let mut out = META_MAGIC.to_vec();
    out.extend_from_slice(b"{\"name\":");
    write_str_html(&mut out, &m.name);
    out.extend_from_slice(b",\"generation\":1");
    if m.is_fifo {
        out.extend_from_slice(b",\"is_fifo\":true");
    }
    if m.content_based_dedup {
        out.extend_from_slice(b",\"content_based_dedup\":true");
    }
    for (k, v) in [
        ("visibility_timeout_seconds", m.visibility_timeout_seconds),
        ("message_retention_seconds", m.message_retention_seconds),
        ("delay_seconds", m.delay_seconds),
        (
            "receive_message_wait_seconds",
            m.receive_message_wait_seconds,
        ),
        ("maximum_message_size", m.maximum_message_size),
    ] {
        out.extend_from_slice(format!(",\"{k}\":").as_bytes());
        write_i64(&mut out, v);
    }
    let strings: [(&str, &[u8]); 2] = [
        ("redrive_policy", &m.redrive_policy),
        ("redrive_allow_policy", &m.redrive_allow_policy),
    ];
    for (k, v) in strings {
        if !v.is_empty() {
            out.extend_from_slice(format!(",\"{k}\":").as_bytes());
            write_str_html(&mut out, v);
        }
    }
    if m.partition_count != 0 {
        out.extend_from_slice(format!(",\"partition_count\":{}", m.partition_count).as_bytes());
    }
    let strings: [(&str, &[u8]); 2] = [
        ("fifo_throughput_limit", &m.fifo_throughput_limit),
        ("deduplication_scope", &m.deduplication_scope),
    ];
    for (k, v) in strings {
        if !v.is_empty() {
            out.extend_from_slice(format!(",\"{k}\":").as_bytes());
            write_str_html(&mut out, v);
        }
    }
    out.push(b'}');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Spec 30 S4's `_queue.json` (the input of S10).
    pub(crate) const S4_QUEUE: &str = r#"{
  "format_version": 1,
  "name": "jobs.fifo",
  "fifo": true,
  "content_based_deduplication": true,
  "visibility_timeout_seconds": 30,
  "message_retention_seconds": 345600,
  "delay_seconds": 0,
  "receive_message_wait_seconds": 20,
  "maximum_message_size": 262144,
  "partition_count": 4,
  "fifo_throughput_limit": "perMessageGroupId",
  "deduplication_scope": "messageGroup"
}"#;

    #[test]
    fn s10_meta_value() {
        let m = parse(S4_QUEUE.as_bytes()).unwrap();
        let v = meta_value(&m);
        assert_eq!(&v[..4], b"\x00SQ\x01");
        assert_eq!(
            std::str::from_utf8(&v[4..]).unwrap(),
            r#"{"name":"jobs.fifo","generation":1,"is_fifo":true,"content_based_dedup":true,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":20,"maximum_message_size":262144,"partition_count":4,"fifo_throughput_limit":"perMessageGroupId","deduplication_scope":"messageGroup"}"#
        );
    }

    #[test]
    fn standard_queue_and_escaping() {
        let m = parse(br#"{"format_version":1,"name":"a<b>","visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"redrive_policy":"{\"x\":\"&\"}"}"#).unwrap();
        assert_eq!(
            std::str::from_utf8(&meta_value(&m)[4..]).unwrap(),
            r#"{"name":"a\u003cb\u003e","generation":1,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":0,"maximum_message_size":0,"redrive_policy":"{\"x\":\"\u0026\"}"}"#
        );
    }

    #[test]
    fn invalid_configurations() {
        for (json, why) in [
            (r#"{"format_version":2,"name":"q"}"#, "format_version"),
            (r#"{"format_version":1,"name":""}"#, "name is empty"),
            (
                r#"{"format_version":1,"name":"q","fifo":true,"partition_count":3,"fifo_throughput_limit":"perMessageGroupId"}"#,
                "power of two",
            ),
            (
                r#"{"format_version":1,"name":"q","fifo":true,"partition_count":64}"#,
                "power of two",
            ),
            (
                r#"{"format_version":1,"name":"q","partition_count":2}"#,
                "FIFO queues only",
            ),
            (
                r#"{"format_version":1,"name":"q","fifo_throughput_limit":"perQueue"}"#,
                "FIFO queues only",
            ),
            (
                r#"{"format_version":1,"name":"q","fifo":true,"fifo_throughput_limit":"fast"}"#,
                "fifo_throughput_limit",
            ),
            (
                r#"{"format_version":1,"name":"q","fifo":true,"deduplication_scope":"x"}"#,
                "deduplication_scope",
            ),
            (
                r#"{"format_version":1,"name":"q","fifo":true,"partition_count":2,"deduplication_scope":"queue"}"#,
                "cannot use",
            ),
            (
                r#"{"format_version":1,"name":"q","fifo":true,"fifo_throughput_limit":"perMessageGroupId"}"#,
                "needs partition_count",
            ),
            (
                r#"{"format_version":1,"name":"q","partition_count":-1}"#,
                "uint32",
            ),
        ] {
            let e = parse(json.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }
}
