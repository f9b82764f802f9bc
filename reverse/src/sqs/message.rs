//! One `messages.jsonl` value → the message, and its stored `!sqs|msg|data|` value
//! (docs/format/30-sqs.md §10 steps 3 and 6).
//!
//! The line is the decoder's public form: `body` is a JSON string (the body's UTF-8
//! bytes) or `{"base64": "<base64url>"}` for a binary body; `partition` says where a
//! partitioned queue kept the message. The stored form is the live adapter's record:
//! `body` standard base64, `md5_of_body` always present, attributes as compacted raw
//! JSON, generation 1, and the receive state of a never-received message unless the dump
//! preserved it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use elastickv_backup_dumptree::json::{members, string, Kind, Record};
use elastickv_backup_engine::decode::sqs::records::Message;
use elastickv_backup_engine::encode::json::write_str_html;
use elastickv_backup_engine::encode::json::{write_i64, write_u64};
use elastickv_backup_gocompat::base64::{std_decode, url_raw_decode};
use elastickv_backup_gocompat::json::compact_into;
use std::collections::BTreeMap;

/// Magic that starts a stored message value (`\x00SM\x01`).
const MSG_MAGIC: &[u8] = b"\x00SM\x01";

/// `body`: a string, or `{"base64": …}` with nothing else.
fn body(raw: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    match Kind::of(raw) {
        Kind::Str => string(raw).ok_or_else(|| "body: bad string".to_string()),
        Kind::Obj => {
            let mut by_name: BTreeMap<Vec<u8>, &[u8]> = BTreeMap::new();
            for (k, v) in members(raw)? {
                by_name.insert(k, v);
            }
            let (Some(v), 1) = (by_name.get(&b"base64"[..]), by_name.len()) else {
                return Err("body: an object body must be exactly {\"base64\": \"…\"}".into());
            };
            let text = string(v).ok_or("body: base64 must be a string")?;
            url_raw_decode(&text).ok_or_else(|| "body: base64 is not unpadded base64url".into())
        }
        k => Err(format!(
            "body: expected a string or object, found {}",
            k.name()
        )),
    }
}

/// Parses one validated message value; the second field is `partition` when present.
pub fn parse(raw: &[u8]) -> Result<(Message, Option<u32>), String> {
    let r = Record::new(raw)?;
    let mut attrs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if let Some(a) = r.get("message_attributes") {
        if Kind::of(a) != Kind::Obj {
            return Err("message_attributes: expected an object".into());
        }
        let mut sorted: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for (k, v) in members(a)? {
            sorted.insert(k, v.to_vec());
        }
        attrs = sorted.into_iter().collect();
    }
    let token = match r.get("current_receipt_token") {
        None => Vec::new(),
        Some(t) => string(t)
            .and_then(|s| std_decode(&s))
            .ok_or("current_receipt_token: expected standard base64")?,
    };
    let m = Message {
        message_id: r.str("message_id")?,
        body: body(r.get("body"))?,
        md5_of_body: r.str("md5_of_body")?,
        md5_of_message_attributes: r.str("md5_of_message_attributes")?,
        message_attributes: attrs,
        sender_id: r.str("sender_id")?,
        send_timestamp_millis: r.int("send_timestamp_millis", "int64")?,
        available_at_millis: r.int("available_at_millis", "int64")?,
        visible_at_millis: r.int("visible_at_millis", "int64")?,
        receive_count: r.int("receive_count", "int64")?,
        first_receive_millis: r.int("first_receive_millis", "int64")?,
        current_receipt_token: token,
        queue_generation: r.int("queue_generation", "uint64")?,
        message_group_id: r.str("message_group_id")?,
        message_deduplication_id: r.str("message_deduplication_id")?,
        sequence_number: r.int("sequence_number", "uint64")?,
        dead_letter_source_arn: r.str("dead_letter_source_arn")?,
        partition: None,
    };
    if m.message_id.is_empty() {
        return Err("message_id is empty".into());
    }
    Ok((m, r.opt_int("partition", "uint32")?))
}

/// Go's `json.Compact` with HTML escaping, as `json.Marshal` applies it to a
/// `json.RawMessage`: white space removed, `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn compact_html(out: &mut Vec<u8>, raw: &[u8]) {
    let mut c = Vec::with_capacity(raw.len());
    compact_into(&mut c, raw);
    let mut i = 0;
    while let Some(&b) = c.get(i) {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if c.get(i + 1) == Some(&0x80) && matches!(c.get(i + 2), Some(0xA8 | 0xA9)) => {
                let last = if c.get(i + 2) == Some(&0xA8) {
                    b'8'
                } else {
                    b'9'
                };
                out.extend_from_slice(b"\\u202");
                out.push(last);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
}

/// The stored message value. `preserve` keeps the dump's receive state (the dump was
/// written with `--preserve-sqs-visibility`); otherwise the message is restored as never
/// received.
pub fn data_value(m: &Message, preserve: bool) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, name: &str) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    }
    fn opt_str(out: &mut Vec<u8>, name: &str, v: &[u8]) {
        if !v.is_empty() {
            field(out, name);
            write_str_html(out, v);
        }
    }
    fn int(out: &mut Vec<u8>, name: &str, v: i64) {
        field(out, name);
        write_i64(out, v);
    }
    let mut out = MSG_MAGIC.to_vec();
    out.extend_from_slice(b"{\"message_id\":");
    write_str_html(&mut out, &m.message_id);
    field(&mut out, "body");
    out.push(b'"');
    out.extend_from_slice(STANDARD.encode(&m.body).as_bytes());
    out.push(b'"');
    field(&mut out, "md5_of_body");
    write_str_html(&mut out, &m.md5_of_body);
    opt_str(
        &mut out,
        "md5_of_message_attributes",
        &m.md5_of_message_attributes,
    );
    if !m.message_attributes.is_empty() {
        field(&mut out, "message_attributes");
        out.push(b'{');
        for (i, (k, v)) in m.message_attributes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str_html(&mut out, k);
            out.push(b':');
            compact_html(&mut out, v);
        }
        out.push(b'}');
    }
    opt_str(&mut out, "sender_id", &m.sender_id);
    int(&mut out, "send_timestamp_millis", m.send_timestamp_millis);
    int(&mut out, "available_at_millis", m.available_at_millis);
    let (visible_at, receives, first, token): (i64, i64, i64, &[u8]) = if preserve {
        (
            m.visible_at_millis,
            m.receive_count,
            m.first_receive_millis,
            &m.current_receipt_token,
        )
    } else {
        (0, 0, 0, &[])
    };
    int(&mut out, "visible_at_millis", visible_at);
    int(&mut out, "receive_count", receives);
    if first != 0 {
        int(&mut out, "first_receive_millis", first);
    }
    field(&mut out, "current_receipt_token");
    if token.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        out.push(b'"');
        out.extend_from_slice(STANDARD.encode(token).as_bytes());
        out.push(b'"');
    }
    field(&mut out, "queue_generation");
    write_u64(&mut out, 1);
    opt_str(&mut out, "message_group_id", &m.message_group_id);
    opt_str(
        &mut out,
        "message_deduplication_id",
        &m.message_deduplication_id,
    );
    if m.sequence_number != 0 {
        field(&mut out, "sequence_number");
        write_u64(&mut out, m.sequence_number);
    }
    opt_str(
        &mut out,
        "dead_letter_source_arn",
        &m.dead_letter_source_arn,
    );
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_dumptree::json::one_value;

    fn msg(json: &str) -> Result<(Message, Option<u32>), String> {
        parse(one_value(json.as_bytes())?)
    }

    #[test]
    fn s10_data_value() {
        let line = r#"{"message_id":"a","body":"x","md5_of_body":"z","message_attributes":{"k":{"DataType":"String","StringValue":"<v>"}},"send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"queue_generation":2,"message_group_id":"g1","message_deduplication_id":"d1","sequence_number":7,"partition":1}"#;
        let (m, p) = msg(line).unwrap();
        assert_eq!(p, Some(1));
        let v = data_value(&m, false);
        assert_eq!(&v[..4], b"\x00SM\x01");
        assert_eq!(
            std::str::from_utf8(&v[4..]).unwrap(),
            r#"{"message_id":"a","body":"eA==","md5_of_body":"z","message_attributes":{"k":{"DataType":"String","StringValue":"\u003cv\u003e"}},"send_timestamp_millis":5,"available_at_millis":5,"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":1,"message_group_id":"g1","message_deduplication_id":"d1","sequence_number":7}"#
        );
    }

    #[test]
    fn bodies_attributes_and_receive_state() {
        let (m, p) = msg(r#"{"message_id":"m-1","body":{"base64":"_w"},"md5_of_body":"y","sender_id":"s&1","message_attributes":{"b":{ "DataType" : "Number" ,"StringValue":"1"},"a":{"BinaryValue":"AQ==","DataType":"Binary"}},"send_timestamp_millis":1,"available_at_millis":2,"visible_at_millis":9,"receive_count":3,"first_receive_millis":4,"current_receipt_token":"AAEC","queue_generation":1}"#).unwrap();
        assert_eq!(p, None);
        assert_eq!(m.body, [0xff]);
        let v = String::from_utf8(data_value(&m, false)[4..].to_vec()).unwrap();
        assert_eq!(
            v,
            r#"{"message_id":"m-1","body":"/w==","md5_of_body":"y","message_attributes":{"a":{"BinaryValue":"AQ==","DataType":"Binary"},"b":{"DataType":"Number","StringValue":"1"}},"sender_id":"s\u00261","send_timestamp_millis":1,"available_at_millis":2,"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":1}"#
        );
        let v = String::from_utf8(data_value(&m, true)[4..].to_vec()).unwrap();
        assert!(
            v.contains(r#""visible_at_millis":9,"receive_count":3,"first_receive_millis":4,"current_receipt_token":"AAEC","queue_generation":1"#),
            "{v}"
        );
        // Empty body and md5 are still written; a text body is its UTF-8 bytes.
        let (m, _) = msg(r#"{"message_id":"z","body":"<b>& é \u2028\n"}"#).unwrap();
        assert_eq!(m.body, "<b>& é \u{2028}\n".as_bytes());
        let (m, _) = msg(r#"{"message_id":"e","body":""}"#).unwrap();
        let v = String::from_utf8(data_value(&m, false)[4..].to_vec()).unwrap();
        assert!(
            v.starts_with(
                r#"{"message_id":"e","body":"","md5_of_body":"","send_timestamp_millis":0"#
            ),
            "{v}"
        );
    }

    #[test]
    fn compaction_escapes_html_and_line_separators() {
        let mut o = Vec::new();
        compact_html(&mut o, "{ \"a\" : \"<&>\u{2028}\u{2029}é\" }".as_bytes());
        assert_eq!(
            String::from_utf8(o).unwrap(),
            r#"{"a":"\u003c\u0026\u003e\u2028\u2029é"}"#
        );
    }

    #[test]
    fn malformed_messages() {
        for (json, why) in [
            (r#"{"body":"x"}"#, "message_id is empty"),
            (
                r#"{"message_id":"m","body":{"base64":"_w","x":1}}"#,
                "exactly",
            ),
            (
                r#"{"message_id":"m","body":{"base64":"/w=="}}"#,
                "base64url",
            ),
            (r#"{"message_id":"m","body":1}"#, "string or object"),
            (
                r#"{"message_id":"m","current_receipt_token":"_"}"#,
                "current_receipt_token",
            ),
            (r#"{"message_id":"m","send_timestamp_millis":1.5}"#, "int64"),
            (r#"{"message_id":"m","partition":-1}"#, "uint32"),
            (
                r#"{"message_id":"m","message_attributes":[]}"#,
                "message_attributes",
            ),
        ] {
            let e = msg(json).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }
}
