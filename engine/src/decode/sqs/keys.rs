//! SQS key parsing (docs/format/30-sqs.md §2): which queue a key belongs to, and its partition.
//!
//! Queues are grouped by the *encoded* queue segment exactly as it appears in the key,
//! so these functions return that segment; the name is decoded only from meta keys.
//! Every `rest` argument is the key with its routing prefix already removed.

use elastickv_backup_gocompat::base64::url_raw_decode;

/// Bytes of the BE32 partition in a partitioned key.
const PARTITION_BYTES: usize = 4;
/// Bytes of the BE64 generation in every message-scoped key.
const GEN_BYTES: usize = 8;
/// The discriminator that starts the rest of a partitioned key.
pub const PARTITIONED: &[u8] = elastickv_backup_format::keys::SQS_PARTITION_MARKER;

/// Why a key cannot be attributed to a queue (upstream's wording, so a reader can find
/// the matching upstream check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyProblem {
    /// Partitioned key without the `|` that ends the queue segment.
    MissingTerminator,
    /// A queue segment or message-id segment is not base64url.
    BadBase64,
    /// Partitioned message key with no message id after partition and generation.
    MissingMessageId,
    /// Classic message key whose queue or message-id segment is missing.
    SegmentsNotFound,
    /// Partitioned side-record key shorter than partition + generation.
    TrailerTruncated,
    /// Classic side-record key whose queue segment is empty or runs to the end.
    QueueSegmentNotFound,
}

impl KeyProblem {
    /// The upstream message text for this problem.
    pub(crate) fn text(self) -> &'static str {
        match self {
            KeyProblem::MissingTerminator => "partitioned key missing queue terminator",
            KeyProblem::BadBase64 => "illegal base64 data",
            KeyProblem::MissingMessageId => "partitioned msg-data key missing message-id",
            KeyProblem::SegmentsNotFound => "queue segment or message-id segment not found",
            KeyProblem::TrailerTruncated => "partitioned side-record key trailer truncated",
            KeyProblem::QueueSegmentNotFound => "queue segment not found after prefix",
        }
    }
}

/// A parsed message-data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MsgKey<'a> {
    /// The encoded queue segment.
    pub queue: &'a [u8],
    /// The partition, for partitioned keys.
    pub partition: Option<u32>,
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Index of the first byte outside the base64url alphabet (`len` if none).
fn b64url_boundary(s: &[u8]) -> usize {
    s.iter().position(|&c| !is_b64url(c)).unwrap_or(s.len())
}

/// A partitioned key's queue segment and the trailer after its `|`.
type QueueAndTrailer<'a> = (&'a [u8], &'a [u8]);

/// Splits `p|<queue>|<trailer>` into a validated queue segment and the trailer.
fn partitioned(rest: &[u8]) -> Result<Option<QueueAndTrailer<'_>>, KeyProblem> {
    let Some(body) = rest.strip_prefix(PARTITIONED) else {
        return Ok(None);
    };
    let term = match body.iter().position(|&c| c == b'|') {
        Some(t) if t > 0 => t,
        _ => return Err(KeyProblem::MissingTerminator),
    };
    let queue = &body[..term];
    if url_raw_decode(queue).is_none() {
        return Err(KeyProblem::BadBase64);
    }
    Ok(Some((queue, &body[term + 1..])))
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

/// Parses the rest of a `!sqs|msg|data|` key.
pub(crate) fn parse_msg_data(rest: &[u8]) -> Result<MsgKey<'_>, KeyProblem> {
    if let Some((queue, trailer)) = partitioned(rest)? {
        if trailer.len() <= PARTITION_BYTES + GEN_BYTES {
            return Err(KeyProblem::MissingMessageId);
        }
        if url_raw_decode(&trailer[PARTITION_BYTES + GEN_BYTES..]).is_none() {
            return Err(KeyProblem::BadBase64);
        }
        return Ok(MsgKey {
            queue,
            partition: Some(be32(trailer)),
        });
    }
    let idx = b64url_boundary(rest);
    if idx == 0 || idx + GEN_BYTES >= rest.len() {
        return Err(KeyProblem::SegmentsNotFound);
    }
    let queue = &rest[..idx];
    if url_raw_decode(queue).is_none() || url_raw_decode(&rest[idx + GEN_BYTES..]).is_none() {
        return Err(KeyProblem::BadBase64);
    }
    Ok(MsgKey {
        queue,
        partition: None,
    })
}

/// Parses the rest of a vis/byage/dedup/group/tombstone key: its encoded queue segment.
pub(crate) fn parse_side(rest: &[u8]) -> Result<&[u8], KeyProblem> {
    if let Some((queue, trailer)) = partitioned(rest)? {
        if trailer.len() < PARTITION_BYTES + GEN_BYTES {
            return Err(KeyProblem::TrailerTruncated);
        }
        return Ok(queue);
    }
    let idx = b64url_boundary(rest);
    if idx == 0 || idx == rest.len() {
        return Err(KeyProblem::QueueSegmentNotFound);
    }
    Ok(&rest[..idx])
}

/// Parses the rest of a `!sqs|queue|seq|` key, which is just the encoded queue segment
/// (the live adapter writes `prefix || b64url(name)`). Upstream applies the side-record
/// parser here, which needs a trailer and so refuses every real sequence row; see
/// "SQS" in docs/COMPATIBILITY.md.
pub(crate) fn parse_seq(rest: &[u8]) -> Result<&[u8], KeyProblem> {
    if rest.is_empty() || b64url_boundary(rest) != rest.len() {
        return Err(KeyProblem::QueueSegmentNotFound);
    }
    if url_raw_decode(rest).is_none() {
        return Err(KeyProblem::BadBase64);
    }
    Ok(rest)
}

/// Decodes the segment of a meta key to the queue name (an empty segment is the empty
/// name, as upstream accepts it).
pub(crate) fn meta_name(rest: &[u8]) -> Result<Vec<u8>, KeyProblem> {
    url_raw_decode(rest).ok_or(KeyProblem::BadBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys() {
        let k = parse_msg_data(b"b3JkZXJz\0\0\0\0\0\0\0\x01bS0x").unwrap();
        assert_eq!((k.queue, k.partition), (&b"b3JkZXJz"[..], None));
        let k = parse_msg_data(b"p|am9icy5maWZv|\0\0\0\x01\0\0\0\0\0\0\0\x02YQ").unwrap();
        assert_eq!((k.queue, k.partition), (&b"am9icy5maWZv"[..], Some(1)));
        // S8: partitioned with ≤ 12 trailer bytes.
        assert_eq!(
            parse_msg_data(b"p|am9icy5maWZv|\0\0\0\x01\0\0\0\0\0\0\0\x02"),
            Err(KeyProblem::MissingMessageId)
        );
        assert_eq!(parse_msg_data(b"p||x"), Err(KeyProblem::MissingTerminator));
        assert_eq!(
            parse_msg_data(b"b3JkZXJz\0\0\0\0\0\0\0\x01"),
            Err(KeyProblem::SegmentsNotFound)
        );
        assert_eq!(
            parse_msg_data(b"\0\0\0\0\0\0\0\x01bQ"),
            Err(KeyProblem::SegmentsNotFound)
        );
        assert_eq!(
            parse_msg_data(b"b\0\0\0\0\0\0\0\x01bQ"),
            Err(KeyProblem::BadBase64)
        );
    }

    #[test]
    fn side_and_seq_keys() {
        assert_eq!(
            parse_side(b"b3JkZXJz\0\0\0\0\0\0\0\0").unwrap(),
            b"b3JkZXJz"
        );
        assert_eq!(
            parse_side(b"b3JkZXJz"),
            Err(KeyProblem::QueueSegmentNotFound)
        );
        assert_eq!(
            parse_side(b"p|am9icy5maWZv|\0\0\0\x01\0\0\0\0\0\0\0\x02ZzE").unwrap(),
            b"am9icy5maWZv"
        );
        assert_eq!(
            parse_side(b"p|am9icy5maWZv|\0\0\0\x01"),
            Err(KeyProblem::TrailerTruncated)
        );
        assert_eq!(parse_seq(b"b3JkZXJz").unwrap(), b"b3JkZXJz");
        assert!(parse_seq(b"").is_err());
        assert!(parse_seq(b"b3Jk\0").is_err());
        assert_eq!(meta_name(b"").unwrap(), b"");
        assert_eq!(meta_name(b"cQ").unwrap(), b"q");
        assert!(meta_name(b"c").is_err());
    }
}
