//! SQS sample queues (docs/format/30-sqs.md §2): a standard queue with `count` messages (data record plus
//! visibility and age index rows) and an empty queue.

use super::enc::{b64std, b64url, cat, md5_hex};
use super::{Pair, EPOCH_MS};
use elastickv_backup_engine::decode::Family;

pub(crate) mod synth;

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

fn queue(out: &mut Vec<Pair>, name: &str) -> String {
    let q = b64url(name.as_bytes());
    out.push((Family::SqsQueueGen.key(q.as_bytes()), b"1".to_vec()));
    out.push((
        Family::SqsQueueMeta.key(q.as_bytes()),
        cat(&[
            b"\x00SQ\x01",
            format!(
                r#"{{"name":"{name}","generation":1,"visibility_timeout_seconds":30,"message_retention_seconds":345600,"delay_seconds":0,"receive_message_wait_seconds":0,"maximum_message_size":262144}}"#
            )
            .as_bytes(),
        ]),
    ));
    q
}

/// Appends queue `jobs` with `count` messages and the empty queue `idle`.
pub fn generate(count: usize, out: &mut Vec<Pair>) {
    let q = queue(out, "jobs");
    for i in 0..count {
        let id = format!("m-{i:06}");
        let m = b64url(id.as_bytes());
        let body = format!("job payload {i}");
        let sent = EPOCH_MS + i as u64;
        let record = format!(
            r#"{{"message_id":"{id}","body":"{}","md5_of_body":"{}","send_timestamp_millis":{sent},"available_at_millis":{sent},"visible_at_millis":0,"receive_count":0,"current_receipt_token":null,"queue_generation":1}}"#,
            b64std(body.as_bytes()),
            md5_hex(body.as_bytes())
        );
        let gen = be(1);
        out.push((
            cat(&[
                Family::SqsMsgData.prefix(),
                q.as_bytes(),
                &gen,
                m.as_bytes(),
            ]),
            cat(&[b"\x00SM\x01", record.as_bytes()]),
        ));
        for family in [Family::SqsMsgVis, Family::SqsMsgByAge] {
            out.push((
                cat(&[family.prefix(), q.as_bytes(), &gen, &be(sent), m.as_bytes()]),
                id.clone().into_bytes(),
            ));
        }
    }
    queue(out, "idle");
}
