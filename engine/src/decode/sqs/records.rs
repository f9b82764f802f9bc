//! The stored SQS values (docs/format/30-sqs.md §3): queue metadata and message records, decoded
//! with Go `Unmarshal` semantics into the fields the dump uses.

use elastickv_backup_gocompat::json::{Doc, JsonError};

/// Magic that starts a stored queue-meta value (`\x00SQ\x01`).
pub(crate) const META_MAGIC: &[u8] = b"\x00SQ\x01";
/// Magic that starts a stored message value (`\x00SM\x01`).
pub(crate) const MSG_MAGIC: &[u8] = b"\x00SM\x01";

/// Why a stored value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueProblem {
    /// The magic prefix is missing.
    MissingMagic,
    /// The JSON after the magic does not decode.
    Json(JsonError),
}

impl std::fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueProblem::MissingMagic => f.write_str("missing magic prefix"),
            ValueProblem::Json(e) => e.fmt(f),
        }
    }
}

/// The queue configuration fields the dump keeps (everything else is dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueMeta {
    /// Queue name (the directory name under `sqs/`).
    pub name: Vec<u8>,
    /// A FIFO queue (`.fifo` name, group ordering, dedup ids).
    pub is_fifo: bool,
    /// FIFO: deduplication by body hash when no id is sent.
    pub content_based_dedup: bool,
    /// `VisibilityTimeout` attribute.
    pub visibility_timeout_seconds: i64,
    /// `MessageRetentionPeriod` attribute.
    pub message_retention_seconds: i64,
    /// `DelaySeconds` attribute.
    pub delay_seconds: i64,
    /// `ReceiveMessageWaitTimeSeconds` attribute.
    pub receive_message_wait_seconds: i64,
    /// `MaximumMessageSize` attribute.
    pub maximum_message_size: i64,
    /// `RedrivePolicy` as stored (JSON text, empty when unset).
    pub redrive_policy: Vec<u8>,
    /// `RedriveAllowPolicy` as stored (JSON text, empty when unset).
    pub redrive_allow_policy: Vec<u8>,
    /// Partition count of the queue, as stored.
    pub partition_count: u32,
    /// `FifoThroughputLimit` attribute (empty when unset).
    pub fifo_throughput_limit: Vec<u8>,
    /// `DeduplicationScope` attribute (empty when unset).
    pub deduplication_scope: Vec<u8>,
}

/// Decodes a `!sqs|queue|meta|` value.
pub(crate) fn decode_meta(value: &[u8]) -> Result<QueueMeta, ValueProblem> {
    let body = value
        .strip_prefix(META_MAGIC)
        .ok_or(ValueProblem::MissingMagic)?;
    let mut m = QueueMeta::default();
    Doc::new(body)
        .members(|d, k| {
            macro_rules! set {
                ($field:ident, $read:expr) => {{
                    if let Some(v) = $read {
                        m.$field = v;
                    }
                }};
            }
            match k {
                b"name" => set!(name, d.str_field("name")?),
                b"is_fifo" => set!(is_fifo, d.bool_field("is_fifo")?),
                b"content_based_dedup" => {
                    set!(content_based_dedup, d.bool_field("content_based_dedup")?)
                }
                b"visibility_timeout_seconds" => set!(
                    visibility_timeout_seconds,
                    d.int_field("visibility_timeout_seconds", "int64")?
                ),
                b"message_retention_seconds" => set!(
                    message_retention_seconds,
                    d.int_field("message_retention_seconds", "int64")?
                ),
                b"delay_seconds" => set!(delay_seconds, d.int_field("delay_seconds", "int64")?),
                b"receive_message_wait_seconds" => set!(
                    receive_message_wait_seconds,
                    d.int_field("receive_message_wait_seconds", "int64")?
                ),
                b"maximum_message_size" => set!(
                    maximum_message_size,
                    d.int_field("maximum_message_size", "int64")?
                ),
                b"redrive_policy" => set!(redrive_policy, d.str_field("redrive_policy")?),
                b"redrive_allow_policy" => {
                    set!(redrive_allow_policy, d.str_field("redrive_allow_policy")?)
                }
                b"partition_count" => {
                    set!(partition_count, d.int_field("partition_count", "uint32")?)
                }
                b"fifo_throughput_limit" => {
                    set!(fifo_throughput_limit, d.str_field("fifo_throughput_limit")?)
                }
                b"deduplication_scope" => {
                    set!(deduplication_scope, d.str_field("deduplication_scope")?)
                }
                _ => d.ignore()?,
            }
            Ok(())
        })
        .map_err(ValueProblem::Json)?;
    Ok(m)
}

/// One stored message, with every field the dump writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// `MessageId`.
    pub message_id: Vec<u8>,
    /// Message body bytes.
    pub body: Vec<u8>,
    /// `MD5OfMessageBody` as stored (hex).
    pub md5_of_body: Vec<u8>,
    /// `MD5OfMessageAttributes` as stored (hex; empty without attributes).
    pub md5_of_message_attributes: Vec<u8>,
    /// Name → raw JSON value, sorted by name, one entry per name (the last wins).
    pub message_attributes: Vec<(Vec<u8>, Vec<u8>)>,
    /// `SenderId` attribute.
    pub sender_id: Vec<u8>,
    /// `SentTimestamp`, ms since the epoch (the dump orders messages by it).
    pub send_timestamp_millis: i64,
    /// When a delayed message becomes receivable, ms since the epoch.
    pub available_at_millis: i64,
    /// When an in-flight message becomes visible again, ms since the epoch.
    pub visible_at_millis: i64,
    /// `ApproximateReceiveCount`.
    pub receive_count: i64,
    /// `ApproximateFirstReceiveTimestamp`, ms (0: never received).
    pub first_receive_millis: i64,
    /// Receipt token of the current receive (empty when not in flight).
    pub current_receipt_token: Vec<u8>,
    /// Generation of the queue incarnation the message was stored under, as stored.
    pub queue_generation: u64,
    /// FIFO `MessageGroupId`.
    pub message_group_id: Vec<u8>,
    /// FIFO `MessageDeduplicationId`.
    pub message_deduplication_id: Vec<u8>,
    /// FIFO `SequenceNumber`.
    pub sequence_number: u64,
    /// ARN of the queue a dead-lettered message was moved from (empty otherwise).
    pub dead_letter_source_arn: Vec<u8>,
    /// From a partitioned key; written as `partition` when present.
    pub partition: Option<u32>,
}

impl Message {
    /// Zeroes the live visibility state (the default: a restored queue starts with every
    /// message visible and unreceived).
    pub(crate) fn reset_visibility(&mut self) {
        self.visible_at_millis = 0;
        self.current_receipt_token.clear();
        self.receive_count = 0;
        self.first_receive_millis = 0;
    }
}

/// Merges attribute members into the map the way Go fills an existing map: a name seen
/// again overwrites its value.
fn merge_attributes(map: &mut Vec<(Vec<u8>, Vec<u8>)>, members: Vec<(Vec<u8>, Vec<u8>)>) {
    for (k, v) in members {
        match map.binary_search_by(|(name, _)| name.as_slice().cmp(&k)) {
            Ok(i) => {
                if let Some(slot) = map.get_mut(i) {
                    slot.1 = v;
                }
            }
            Err(i) => map.insert(i, (k, v)),
        }
    }
}

/// Decodes a `!sqs|msg|data|` value.
pub(crate) fn decode_message(value: &[u8]) -> Result<Message, ValueProblem> {
    let body = value
        .strip_prefix(MSG_MAGIC)
        .ok_or(ValueProblem::MissingMagic)?;
    let mut m = Message::default();
    Doc::new(body)
        .members(|d, k| {
            macro_rules! set {
                ($field:ident, $read:expr) => {{
                    if let Some(v) = $read {
                        m.$field = v;
                    }
                }};
            }
            match k {
                b"message_id" => set!(message_id, d.str_field("message_id")?),
                b"body" => {
                    if let Some(v) = d.bytes_field("body")? {
                        m.body = v.unwrap_or_default();
                    }
                }
                b"md5_of_body" => set!(md5_of_body, d.str_field("md5_of_body")?),
                b"md5_of_message_attributes" => set!(
                    md5_of_message_attributes,
                    d.str_field("md5_of_message_attributes")?
                ),
                b"message_attributes" => match d.raw_map_field("message_attributes")? {
                    Some(Some(members)) => merge_attributes(&mut m.message_attributes, members),
                    Some(None) => m.message_attributes.clear(),
                    None => {}
                },
                b"sender_id" => set!(sender_id, d.str_field("sender_id")?),
                b"send_timestamp_millis" => set!(
                    send_timestamp_millis,
                    d.int_field("send_timestamp_millis", "int64")?
                ),
                b"available_at_millis" => set!(
                    available_at_millis,
                    d.int_field("available_at_millis", "int64")?
                ),
                b"visible_at_millis" => set!(
                    visible_at_millis,
                    d.int_field("visible_at_millis", "int64")?
                ),
                b"receive_count" => set!(receive_count, d.int_field("receive_count", "int64")?),
                b"first_receive_millis" => set!(
                    first_receive_millis,
                    d.int_field("first_receive_millis", "int64")?
                ),
                b"current_receipt_token" => {
                    if let Some(v) = d.bytes_field("current_receipt_token")? {
                        m.current_receipt_token = v.unwrap_or_default();
                    }
                }
                b"queue_generation" => {
                    set!(queue_generation, d.int_field("queue_generation", "uint64")?)
                }
                b"message_group_id" => set!(message_group_id, d.str_field("message_group_id")?),
                b"message_deduplication_id" => set!(
                    message_deduplication_id,
                    d.str_field("message_deduplication_id")?
                ),
                b"sequence_number" => {
                    set!(sequence_number, d.int_field("sequence_number", "uint64")?)
                }
                b"dead_letter_source_arn" => {
                    set!(
                        dead_letter_source_arn,
                        d.str_field("dead_letter_source_arn")?
                    )
                }
                _ => d.ignore()?,
            }
            Ok(())
        })
        .map_err(ValueProblem::Json)?;
    Ok(m)
}

/// Parses a `!sqs|queue|gen|` value: base-10 `u64` after trimming white space.
pub(crate) fn parse_generation(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?;
    let t = s.trim();
    // Rust's parser takes a leading '+', Go's ParseUint does not.
    if t.starts_with('+') {
        return None;
    }
    t.parse::<u64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(magic: &[u8], json: &str) -> Vec<u8> {
        let mut v = magic.to_vec();
        v.extend_from_slice(json.as_bytes());
        v
    }

    #[test]
    fn meta_projection() {
        let m = decode_meta(&val(META_MAGIC, r#"{"name":"jobs.fifo","generation":2,"is_fifo":true,"content_based_dedup":true,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":20,"maximum_message_size":262144,"partition_count":4,"fifo_throughput_limit":"perMessageGroupId","deduplication_scope":"messageGroup","tags":{"a":"b"},"throttle":{"x":[1]}}"#)).unwrap();
        assert_eq!(m.name, b"jobs.fifo");
        assert!(m.is_fifo && m.content_based_dedup);
        assert_eq!(m.partition_count, 4);
        assert_eq!(m.receive_message_wait_seconds, 20);
        assert_eq!(decode_meta(b"{}"), Err(ValueProblem::MissingMagic));
        assert!(decode_meta(&val(META_MAGIC, r#"{"partition_count":4294967296}"#)).is_err());
        assert!(decode_meta(&val(META_MAGIC, r#"{"name":"x"}x"#)).is_err());
    }

    #[test]
    fn message_fields() {
        let m = decode_message(&val(MSG_MAGIC, r#"{"message_id":"m-2","body":"aGk8Pg==","md5_of_body":"x","send_timestamp_millis":1700000000500,"available_at_millis":1700000000500,"visible_at_millis":1700000030500,"receive_count":2,"first_receive_millis":1700000001000,"current_receipt_token":"AAEC","queue_generation":1,"message_attributes":{"k":{"DataType": "String", "StringValue":"<v>"}}}"#)).unwrap();
        assert_eq!(m.body, b"hi<>");
        assert_eq!(m.current_receipt_token, [0, 1, 2]);
        assert_eq!(
            m.message_attributes,
            vec![(
                b"k".to_vec(),
                br#"{"DataType": "String", "StringValue":"<v>"}"#.to_vec()
            )]
        );
        // S8: no magic.
        assert_eq!(
            decode_message(br#"{"message_id":"m"}"#),
            Err(ValueProblem::MissingMagic)
        );
        // Bad base64 in body or token.
        assert!(decode_message(&val(MSG_MAGIC, r#"{"body":"/w"}"#)).is_err());
        assert!(decode_message(&val(MSG_MAGIC, r#"{"current_receipt_token":"!!"}"#)).is_err());
        // null clears, later member merges into the existing map.
        let m = decode_message(&val(
            MSG_MAGIC,
            r#"{"message_attributes":{"b":1,"a":2},"Message_Attributes":{"a":3}}"#,
        ))
        .unwrap();
        assert_eq!(
            m.message_attributes,
            vec![
                (b"a".to_vec(), b"3".to_vec()),
                (b"b".to_vec(), b"1".to_vec())
            ]
        );
        let m = decode_message(&val(
            MSG_MAGIC,
            r#"{"message_attributes":{"b":1},"message_attributes":null,"body":[104,105]}"#,
        ))
        .unwrap();
        assert!(m.message_attributes.is_empty());
        assert_eq!(m.body, b"hi");
        assert_eq!(
            decode_message(&val(MSG_MAGIC, "null")).unwrap(),
            Message::default()
        );
    }

    #[test]
    fn generation_values() {
        assert_eq!(parse_generation(b"1"), Some(1));
        assert_eq!(parse_generation(b" 2\n"), Some(2));
        assert_eq!(parse_generation(b"x1"), None); // S8
        assert_eq!(parse_generation(b"+1"), None);
        assert_eq!(parse_generation(b"-1"), None);
    }
}
