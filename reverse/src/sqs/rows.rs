//! The internal keys of a restored queue (docs/format/30-sqs.md §2, §9, §10 steps 4–7): where a message
//! lives (classic or partitioned layout, generation 1), the visibility and age index rows
//! the live adapter keeps beside it, FIFO dedup rows, and the partition a message group
//! hashes to.

use crate::b64url;
use elastickv_backup_engine::decode::sqs::records::Message;
use elastickv_backup_engine::decode::Family;
use elastickv_backup_engine::encode::json::write_str_html;
use elastickv_backup_engine::encode::json::{write_i64, write_u64};
use elastickv_backup_format::keys::SQS_PARTITION_MARKER;

/// Generation of every restored queue.
pub const GENERATION: u64 = 1;
/// How long a FIFO dedup id stays in force after the send (5 minutes).
pub const DEDUP_WINDOW_MS: i64 = 300_000;

/// Where a queue's message-scoped keys go: the encoded queue segment and, for a
/// partitioned queue (`partition_count > 1`), the partitioned layout.
pub struct Layout {
    queue: String,
    partitioned: bool,
}

/// A time for an index key: milliseconds, negative clamped to 0.
fn ms(t: i64) -> [u8; 8] {
    (t.max(0) as u64).to_be_bytes()
}

impl Layout {
    /// The layout of queue `name`.
    pub fn new(name: &[u8], partition_count: u32) -> Self {
        Layout {
            queue: b64url(name),
            partitioned: partition_count > 1,
        }
    }

    /// A queue-scoped key ([`Family::SqsQueueMeta`], [`Family::SqsQueueGen`],
    /// [`Family::SqsQueueSeq`]): the family's prefix ‖ b64url(Q).
    pub fn queue_key(&self, family: Family) -> Vec<u8> {
        family.key(self.queue.as_bytes())
    }

    /// A message family's prefix + queue segment + [partition] + generation: partitioned,
    /// prefix ‖ `p|` ‖ b64url(Q) ‖ `|` ‖ BE32(partition); classic, prefix ‖ b64url(Q).
    fn msg_prefix(&self, family: Family, partition: u32) -> Vec<u8> {
        let mut k = family.prefix().to_vec();
        if self.partitioned {
            k.extend_from_slice(SQS_PARTITION_MARKER);
            k.extend_from_slice(self.queue.as_bytes());
            k.push(b'|');
            k.extend_from_slice(&partition.to_be_bytes());
        } else {
            k.extend_from_slice(self.queue.as_bytes());
        }
        k.extend_from_slice(&GENERATION.to_be_bytes());
        k
    }

    /// The message record's key.
    pub fn data_key(&self, m: &Message, partition: u32) -> Vec<u8> {
        let mut k = self.msg_prefix(Family::SqsMsgData, partition);
        k.extend_from_slice(b64url(&m.message_id).as_bytes());
        k
    }

    /// A visibility ([`Family::SqsMsgVis`]) or age ([`Family::SqsMsgByAge`]) index key at
    /// time `at`.
    pub fn index_key(&self, family: Family, m: &Message, partition: u32, at: i64) -> Vec<u8> {
        let mut k = self.msg_prefix(family, partition);
        k.extend_from_slice(&ms(at));
        k.extend_from_slice(b64url(&m.message_id).as_bytes());
        k
    }

    /// The dedup row key of `dedup_id` (partitioned: scoped by message group).
    pub fn dedup_key(&self, m: &Message, partition: u32, dedup_id: &[u8]) -> Vec<u8> {
        let mut k = self.msg_prefix(Family::SqsMsgDedup, partition);
        if self.partitioned {
            k.extend_from_slice(b64url(&m.message_group_id).as_bytes());
            k.push(b'|');
        }
        k.extend_from_slice(b64url(dedup_id).as_bytes());
        k
    }
}

/// The dedup row value: `{"message_id","send_timestamp_ms","expires_at_millis",
/// "original_sequence"*}` (Go `json.Marshal`).
pub fn dedup_value(message_id: &[u8], send_ms: i64, sequence: u64) -> Vec<u8> {
    let mut out = b"{\"message_id\":".to_vec();
    write_str_html(&mut out, message_id);
    out.extend_from_slice(b",\"send_timestamp_ms\":");
    write_i64(&mut out, send_ms);
    out.extend_from_slice(b",\"expires_at_millis\":");
    write_i64(&mut out, send_ms.wrapping_add(DEDUP_WINDOW_MS));
    if sequence != 0 {
        out.extend_from_slice(b",\"original_sequence\":");
        write_u64(&mut out, sequence);
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, group: &str) -> Message {
        Message {
            message_id: id.as_bytes().to_vec(),
            message_group_id: group.as_bytes().to_vec(),
            ..Message::default()
        }
    }

    #[test]
    fn s10_keys() {
        let l = Layout::new(b"jobs.fifo", 4);
        let a = m("a", "g1");
        assert_eq!(
            hex::encode(l.data_key(&a, 1)),
            "217371737c6d73677c646174617c707c616d39696379356d61575a767c0000000100000000000000015951"
        );
        assert_eq!(
            hex::encode(l.index_key(Family::SqsMsgVis, &a, 1, 5)),
            "217371737c6d73677c7669737c707c616d39696379356d61575a767c00000001000000000000000100000000000000055951"
        );
        assert_eq!(
            hex::encode(l.index_key(Family::SqsMsgByAge, &a, 1, 5)),
            "217371737c6d73677c62796167657c707c616d39696379356d61575a767c00000001000000000000000100000000000000055951"
        );
        assert_eq!(
            hex::encode(l.dedup_key(&a, 1, b"d1")),
            "217371737c6d73677c64656475707c707c616d39696379356d61575a767c0000000100000000000000015a7a457c5a4445"
        );
        assert_eq!(
            hex::encode(l.queue_key(Family::SqsQueueSeq)),
            "217371737c71756575657c7365717c616d39696379356d61575a76"
        );
        assert_eq!(
            dedup_value(b"a", 5, 7),
            br#"{"message_id":"a","send_timestamp_ms":5,"expires_at_millis":300005,"original_sequence":7}"#
        );
    }

    #[test]
    fn classic_keys() {
        let l = Layout::new(b"orders", 0);
        let m1 = m("m-1", "");
        assert_eq!(
            hex::encode(l.data_key(&m1, 0)),
            "217371737c6d73677c646174617c62334a6b5a584a7a000000000000000162533078"
        );
        // Spec 30 S5's vis key (visible at 1700000000500).
        assert_eq!(
            hex::encode(l.index_key(Family::SqsMsgVis, &m1, 0, 1_700_000_000_500)),
            "217371737c6d73677c7669737c62334a6b5a584a7a00000000000000010000018bcfe569f462533078"
        );
        assert!(l
            .index_key(Family::SqsMsgVis, &m1, 0, -5)
            .ends_with(&[0, 0, 0, 0, 0, 0, 0, 0, b'b', b'S', b'0', b'x']));
        assert_eq!(
            dedup_value(b"<", 0, 0),
            br#"{"message_id":"\u003c","send_timestamp_ms":0,"expires_at_millis":300000}"#
        );
    }
}
