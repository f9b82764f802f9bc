//! The dump's queue and message fields → SQS request attributes: the `CreateQueue`
//! attributes of a `_queue.json` (standard and FIFO, high-throughput FIFO included;
//! `partition_count` has no SQS equivalent), each message's user attributes, and the
//! redrive policy with its dead-letter ARN pointed at the restored queue.

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use elastickv_backup_dumptree::json::Record;
use elastickv_backup_engine::decode::sqs::records::QueueMeta;
use elastickv_backup_gocompat::base64::std_decode;
use std::collections::HashMap;

/// The `CreateQueue` attributes of a queue. Zero numbers are left out (the dump writes 0
/// for "not set"; the server's default applies); the redrive policies are set after
/// every queue exists ([`redrive_policy`]).
pub(crate) fn queue_attributes(m: &QueueMeta) -> HashMap<QueueAttributeName, String> {
    let mut a = HashMap::new();
    let mut num = |name: QueueAttributeName, v: i64| {
        if v != 0 {
            a.insert(name, v.to_string());
        }
    };
    num(
        QueueAttributeName::VisibilityTimeout,
        m.visibility_timeout_seconds,
    );
    num(
        QueueAttributeName::MessageRetentionPeriod,
        m.message_retention_seconds,
    );
    num(QueueAttributeName::DelaySeconds, m.delay_seconds);
    num(
        QueueAttributeName::ReceiveMessageWaitTimeSeconds,
        m.receive_message_wait_seconds,
    );
    num(
        QueueAttributeName::MaximumMessageSize,
        m.maximum_message_size,
    );
    if m.is_fifo {
        a.insert(QueueAttributeName::FifoQueue, "true".into());
        a.insert(
            QueueAttributeName::ContentBasedDeduplication,
            m.content_based_dedup.to_string(),
        );
        if !m.fifo_throughput_limit.is_empty() {
            a.insert(
                QueueAttributeName::FifoThroughputLimit,
                String::from_utf8_lossy(&m.fifo_throughput_limit).into_owned(),
            );
        }
        if !m.deduplication_scope.is_empty() {
            a.insert(
                QueueAttributeName::DeduplicationScope,
                String::from_utf8_lossy(&m.deduplication_scope).into_owned(),
            );
        }
    }
    a
}

/// One message attribute (`{"DataType": …, "StringValue": …}` or `"BinaryValue"` in
/// standard base64, as the dump writes them).
pub(crate) fn message_attribute(raw: &[u8]) -> Result<MessageAttributeValue, String> {
    // Record matches field names as Go does, case-insensitively: names are lower case.
    let r = Record::new(raw)?;
    let data_type = r.text("datatype")?;
    let mut b = MessageAttributeValue::builder().data_type(&data_type);
    let s = r.text("stringvalue")?;
    if !s.is_empty() {
        b = b.string_value(s);
    }
    let bin = r.text("binaryvalue")?;
    if !bin.is_empty() {
        let bytes = std_decode(bin.as_bytes()).ok_or("BinaryValue is not standard base64")?;
        b = b.binary_value(Blob::new(bytes));
    }
    b.build().map_err(|e| e.to_string())
}

/// The dead-letter queue's name in a redrive policy (the last field of its ARN).
pub(crate) fn dead_letter_queue(policy: &str) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(policy).map_err(|e| format!("redrive_policy: {e}"))?;
    let arn = v
        .get("deadLetterTargetArn")
        .and_then(|a| a.as_str())
        .ok_or("redrive_policy: no deadLetterTargetArn")?;
    match arn.rsplit(':').next() {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err(format!("redrive_policy: {arn:?} is not a queue ARN")),
    }
}

/// The redrive policy with `deadLetterTargetArn` replaced by `arn` (the restored
/// dead-letter queue's).
pub(crate) fn redrive_policy(policy: &str, arn: &str) -> Result<String, String> {
    let mut v: serde_json::Value =
        serde_json::from_str(policy).map_err(|e| format!("redrive_policy: {e}"))?;
    let o = v.as_object_mut().ok_or("redrive_policy: not an object")?;
    o.insert(
        "deadLetterTargetArn".into(),
        serde_json::Value::String(arn.into()),
    );
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_attributes_and_zero_left_out() {
        let m = QueueMeta {
            name: b"q.fifo".to_vec(),
            is_fifo: true,
            content_based_dedup: true,
            visibility_timeout_seconds: 30,
            fifo_throughput_limit: b"perMessageGroupId".to_vec(),
            ..Default::default()
        };
        let a = queue_attributes(&m);
        assert_eq!(a[&QueueAttributeName::FifoQueue], "true");
        assert_eq!(a[&QueueAttributeName::ContentBasedDeduplication], "true");
        assert_eq!(a[&QueueAttributeName::VisibilityTimeout], "30");
        assert_eq!(
            a[&QueueAttributeName::FifoThroughputLimit],
            "perMessageGroupId"
        );
        assert!(!a.contains_key(&QueueAttributeName::DelaySeconds));
        assert!(!a.contains_key(&QueueAttributeName::DeduplicationScope));
        let std = queue_attributes(&QueueMeta::default());
        assert!(std.is_empty(), "{std:?}");
    }

    #[test]
    fn message_attributes_string_and_binary() {
        let a = message_attribute(br#"{"DataType":"Number","StringValue":"2"}"#).unwrap();
        assert_eq!((a.data_type(), a.string_value()), ("Number", Some("2")));
        let b = message_attribute(br#"{"DataType":"Binary","BinaryValue":"AAE="}"#).unwrap();
        assert_eq!(b.binary_value().map(|b| b.as_ref()), Some(&[0u8, 1][..]));
        assert!(message_attribute(br#"{"DataType":"Binary","BinaryValue":"%%"}"#).is_err());
    }

    #[test]
    fn redrive_points_at_the_restored_queue() {
        let p = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq","maxReceiveCount":"5"}"#;
        assert_eq!(dead_letter_queue(p).unwrap(), "dlq");
        let r = redrive_policy(p, "arn:aws:sqs:eu-west-1:123456789012:dlq").unwrap();
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(
            v["deadLetterTargetArn"],
            "arn:aws:sqs:eu-west-1:123456789012:dlq"
        );
        assert_eq!(v["maxReceiveCount"], "5");
        assert!(dead_letter_queue("{}").is_err());
    }
}
