//! Messages decoded and rendered on the worker pool, by segments.
//!
//! Decoding a stored message (its Go-JSON record, the base64 body) and rendering its
//! `messages.jsonl` line was the SQS part of a dump's serial tail: the decode thread did it
//! message by message while the workers had nothing to do (`perf` timeline of `bench`,
//! per-item, 2 threads). Now the decode thread collects the messages of a segment with what
//! the verdict needs from the queue table (has the queue metadata? its active generation),
//! a worker decodes, judges and renders the whole segment, and the decode thread takes the
//! segments back in submission order — a bounded number in flight — to count the dropped
//! messages and push the lines into the send-time sorter exactly as before, so the sorter
//! sees the same records in the same order.
//!
//! The stored bytes are copied into the segment (see the DynamoDB bundle writer: zero-copy
//! slices of a snapshot mapping read late by a worker fault released pages back in).
//!
//! An invalid message is reported when its segment is taken back: after at most
//! [`SEGMENTS_IN_FLIGHT`] further segments, and before any error the adapter meets itself
//! later (every other path takes the pending segments back first).

use super::records::{self, Message};
use super::{render, show, KIND_MESSAGE};
use crate::encode::emitter::{InOrder, Pending};
use crate::encode::Emitter;
use crate::error::Error;
use bytes::Bytes;
use std::ops::Range;

/// Messages per segment...
const SEGMENT_MESSAGES: usize = 256;
/// ...or stored bytes, whichever comes first.
const SEGMENT_BYTES: usize = 128 << 10;
/// Segments being rendered ahead of the one taken back.
pub(super) const SEGMENTS_IN_FLIGHT: usize = 8;

/// One message to judge and render, with the queue state it is judged against.
struct Stored {
    /// The queue's ordinal in the adapter's table.
    ordinal: u32,
    /// The partition from the key, if partitioned.
    partition: Option<u32>,
    /// Whether the queue has metadata (else the message is an orphan).
    has_meta: bool,
    /// The queue's active generation (0: no filtering).
    active_gen: u64,
    /// Whether visibility state is kept (`--preserve-sqs-visibility`).
    preserve_visibility: bool,
    user_key: Bytes,
    value: Bytes,
}

/// What became of one message.
pub(super) enum Verdict {
    /// Dropped: its queue has no metadata.
    Orphan,
    /// Dropped: a stale generation.
    Stale,
    /// Sort key and line, as ranges of [`Rendered::buf`].
    Line(Range<usize>, Range<usize>),
    /// Not a valid stored message: the escaped user key and what is wrong.
    Invalid { key: String, what: String },
}

/// A segment's verdicts, in message order, with their queue ordinals.
pub(super) struct Rendered {
    pub(super) buf: Vec<u8>,
    pub(super) verdicts: Vec<(u32, Verdict)>,
}

impl Rendered {
    fn of(messages: &[Stored]) -> Self {
        let mut r = Rendered {
            buf: Vec::with_capacity(messages.len() * 512),
            verdicts: Vec::with_capacity(messages.len()),
        };
        for m in messages {
            let v = r.judge(m);
            r.verdicts.push((m.ordinal, v));
        }
        r
    }

    fn judge(&mut self, m: &Stored) -> Verdict {
        let mut msg: Message = match records::decode_message(&m.value) {
            Ok(msg) => msg,
            Err(p) => {
                return Verdict::Invalid {
                    key: show(&m.user_key),
                    what: p.to_string(),
                }
            }
        };
        if !m.has_meta {
            return Verdict::Orphan;
        }
        if m.active_gen != 0 && msg.queue_generation != m.active_gen {
            return Verdict::Stale;
        }
        if !m.preserve_visibility {
            msg.reset_visibility();
        }
        msg.partition = m.partition;
        let k = self.buf.len();
        self.buf.extend_from_slice(&m.ordinal.to_be_bytes());
        self.buf.push(KIND_MESSAGE);
        // i64 → u64 with the sign bit flipped keeps numeric order in byte order.
        let send = (msg.send_timestamp_millis as u64) ^ (1 << 63);
        self.buf.extend_from_slice(&send.to_be_bytes());
        self.buf
            .extend_from_slice(&msg.sequence_number.to_be_bytes());
        self.buf.extend_from_slice(&msg.message_id);
        let l = self.buf.len();
        render::message_line(&mut self.buf, &msg);
        Verdict::Line(k..l, l..self.buf.len())
    }
}

/// The segment being collected and the segments in flight.
pub(super) struct Segments {
    collecting: Vec<Stored>,
    bytes: usize,
    in_flight: InOrder<Rendered>,
}

impl Default for Segments {
    fn default() -> Self {
        Segments {
            collecting: Vec::new(),
            bytes: 0,
            in_flight: InOrder::new(SEGMENTS_IN_FLIGHT),
        }
    }
}

/// A message as the adapter hands it over.
pub(super) struct Incoming<'a> {
    pub(super) ordinal: u32,
    pub(super) partition: Option<u32>,
    pub(super) has_meta: bool,
    pub(super) active_gen: u64,
    pub(super) preserve_visibility: bool,
    pub(super) user_key: &'a [u8],
    pub(super) value: &'a [u8],
}

impl Segments {
    /// Queues a message; a full segment is submitted to the pool.
    pub(super) fn push(&mut self, m: Incoming<'_>, out: &Emitter) -> Result<(), Error> {
        self.bytes += m.user_key.len() + m.value.len();
        self.collecting.push(Stored {
            ordinal: m.ordinal,
            partition: m.partition,
            has_meta: m.has_meta,
            active_gen: m.active_gen,
            preserve_visibility: m.preserve_visibility,
            user_key: Bytes::copy_from_slice(m.user_key),
            value: Bytes::copy_from_slice(m.value),
        });
        if self.collecting.len() >= SEGMENT_MESSAGES || self.bytes >= SEGMENT_BYTES {
            self.submit(out)?;
        }
        Ok(())
    }

    /// Submits the segment being collected, if any.
    fn submit(&mut self, out: &Emitter) -> Result<(), Error> {
        if self.collecting.is_empty() {
            return Ok(());
        }
        let messages = std::mem::take(&mut self.collecting);
        self.bytes = 0;
        let p: Pending<Rendered> = out.submit(move || Rendered::of(&messages))?;
        self.in_flight.push(p);
        Ok(())
    }

    /// The next rendered segment: a ready one (or the oldest, when too many are in
    /// flight); with `all`, every segment, the one being collected included, in order.
    /// `None` when there is nothing to take now.
    pub(super) fn next(&mut self, all: bool, out: &Emitter) -> Result<Option<Rendered>, Error> {
        if all {
            self.submit(out)?;
        }
        self.in_flight.next(all, out).transpose()
    }
}
