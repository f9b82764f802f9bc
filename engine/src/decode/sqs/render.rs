//! The bytes of the SQS output files (docs/format/30-sqs.md §5, §6, §6.5), exactly as upstream's Go
//! encoders produce them.
//!
//! Two escaping dialects meet here: `_queue.json` and a text message body come from
//! `json.Marshal` (HTML escaping on: `<`, `>`, `&` → `\u003c`, `\u003e`, `\u0026`), the
//! rest of a JSONL line from a `json.Encoder` with HTML escaping off.

use super::records::{Message, QueueMeta};
use crate::encode::json::{
    write_i64, write_str, write_str_html, write_u64, write_utf8_str_html, JsonWriter,
};
use elastickv_backup_gocompat::base64::{append_std, append_url_raw};
use elastickv_backup_gocompat::json::compact_into;

fn html_str(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 2);
    write_str_html(&mut v, s);
    v
}

/// `_queue.json`: `MarshalIndent(v, "", "  ")` of the public queue projection, no
/// trailing newline. `key_name` is the name decoded from the meta key, used when the
/// stored JSON has no name.
pub(crate) fn queue_json(meta: &QueueMeta, key_name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut w = JsonWriter::pretty(&mut out);
    w.begin_object();
    w.key("format_version").u64(1);
    let name = if meta.name.is_empty() {
        key_name
    } else {
        &meta.name
    };
    w.key("name").raw(&html_str(name));
    if meta.is_fifo {
        w.key("fifo").bool(true);
    }
    if meta.content_based_dedup {
        w.key("content_based_deduplication").bool(true);
    }
    w.key("visibility_timeout_seconds")
        .i64(meta.visibility_timeout_seconds);
    w.key("message_retention_seconds")
        .i64(meta.message_retention_seconds);
    w.key("delay_seconds").i64(meta.delay_seconds);
    if meta.receive_message_wait_seconds != 0 {
        w.key("receive_message_wait_seconds")
            .i64(meta.receive_message_wait_seconds);
    }
    if meta.maximum_message_size != 0 {
        w.key("maximum_message_size").i64(meta.maximum_message_size);
    }
    let strings: [(&str, &[u8]); 2] = [
        ("redrive_policy", &meta.redrive_policy),
        ("redrive_allow_policy", &meta.redrive_allow_policy),
    ];
    for (k, v) in strings {
        if !v.is_empty() {
            w.key(k).raw(&html_str(v));
        }
    }
    if meta.partition_count != 0 {
        w.key("partition_count")
            .u64(u64::from(meta.partition_count));
    }
    let strings: [(&str, &[u8]); 2] = [
        ("fifo_throughput_limit", &meta.fifo_throughput_limit),
        ("deduplication_scope", &meta.deduplication_scope),
    ];
    for (k, v) in strings {
        if !v.is_empty() {
            w.key(k).raw(&html_str(v));
        }
    }
    w.end_object();
    out
}

/// The `body` value: a JSON string (HTML-escaped, from a nested `json.Marshal`) when the
/// bytes are UTF-8, else `{"base64":"<b64url, no padding>"}`.
fn write_body(out: &mut Vec<u8>, body: &[u8]) {
    if !write_utf8_str_html(out, body) {
        out.extend_from_slice(b"{\"base64\":\"");
        append_url_raw(out, body);
        out.extend_from_slice(b"\"}");
    }
}

/// `,"<name>":` for a member name known at compile time (none needs escaping).
macro_rules! field {
    ($out:expr, $name:literal) => {
        $out.extend_from_slice(concat!(",\"", $name, "\":").as_bytes())
    };
}

/// One `messages.jsonl` line, newline included, appended to `out`. Public so the
/// renderer benches (`benches/renderers.rs`) can time it alone.
pub fn message_line(out: &mut Vec<u8>, m: &Message) {
    macro_rules! opt_str {
        ($name:literal, $v:expr) => {
            if !$v.is_empty() {
                field!(out, $name);
                write_str(out, &$v);
            }
        };
    }
    macro_rules! int {
        ($name:literal, $v:expr) => {
            field!(out, $name);
            write_i64(out, $v);
        };
    }
    out.extend_from_slice(b"{\"message_id\":");
    write_str(out, &m.message_id);
    field!(out, "body");
    write_body(out, &m.body);
    opt_str!("md5_of_body", m.md5_of_body);
    opt_str!("md5_of_message_attributes", m.md5_of_message_attributes);
    if !m.message_attributes.is_empty() {
        field!(out, "message_attributes");
        out.push(b'{');
        for (i, (k, v)) in m.message_attributes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            compact_into(out, v);
        }
        out.push(b'}');
    }
    opt_str!("sender_id", m.sender_id);
    int!("send_timestamp_millis", m.send_timestamp_millis);
    int!("available_at_millis", m.available_at_millis);
    int!("visible_at_millis", m.visible_at_millis);
    int!("receive_count", m.receive_count);
    if m.first_receive_millis != 0 {
        int!("first_receive_millis", m.first_receive_millis);
    }
    if !m.current_receipt_token.is_empty() {
        field!(out, "current_receipt_token");
        out.push(b'"');
        append_std(out, &m.current_receipt_token);
        out.push(b'"');
    }
    field!(out, "queue_generation");
    write_u64(out, m.queue_generation);
    opt_str!("message_group_id", m.message_group_id);
    opt_str!("message_deduplication_id", m.message_deduplication_id);
    if m.sequence_number != 0 {
        field!(out, "sequence_number");
        write_u64(out, m.sequence_number);
    }
    opt_str!("dead_letter_source_arn", m.dead_letter_source_arn);
    if let Some(p) = m.partition {
        field!(out, "partition");
        write_u64(out, u64::from(p));
    }
    out.extend_from_slice(b"}\n");
}

/// One `_internals/side_records.jsonl` line, newline included.
pub(crate) fn side_record_line(out: &mut Vec<u8>, prefix: &[u8], key: &[u8], value: &[u8]) {
    out.extend_from_slice(b"{\"prefix\":");
    write_str(out, prefix);
    out.extend_from_slice(b",\"key_hex\":\"");
    out.extend_from_slice(hex::encode(key).as_bytes());
    out.extend_from_slice(b"\",\"value_b64\":\"");
    append_url_raw(out, value);
    out.extend_from_slice(b"\"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping() {
        let mut o = Vec::new();
        write_str_html(&mut o, "<b>& é \u{2028}\n\x01".as_bytes());
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "\"\\u003cb\\u003e\\u0026 é \\u2028\\n\\u0001\""
        );
    }

    #[test]
    fn binary_body_envelope() {
        let mut o = Vec::new();
        write_body(&mut o, b"\xff");
        assert_eq!(o, br#"{"base64":"_w"}"#);
        o.clear();
        write_body(&mut o, b"");
        assert_eq!(o, b"\"\"");
    }
}
