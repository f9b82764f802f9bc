//! `sqs/` subtree → internal records (docs/format/30-sqs.md §10).
//!
//! Per queue directory: the queue record and generation counter from `_queue.json`, then
//! for every message of `messages.jsonl` its data record and the visibility and age index
//! rows the live adapter keeps; for FIFO queues the dedup rows (one per dedup id: the
//! latest send wins) and the sequence counter. Group locks and queue tombstones are never
//! written (a lock row would block its group forever), and `_internals/` is not read: its
//! side records belong to the source cluster's generations; the rows a restored queue
//! needs are the ones regenerated here.
//!
//! `messages.jsonl` is streamed one message at a time; FIFO dedup candidates go through an
//! external sorter, so no per-queue state grows with the queue.

mod dedup;
pub(crate) mod message;
pub(crate) mod queue;
mod rows;

use super::{ReverseError, Stage};
use crate::fsutil::{list_dir, open_regular, read_regular, require_dir, shown_join};
use dedup::Dedup;
use elastickv_backup_dumptree::json::ValueStream;
use elastickv_backup_engine::decode::sqs::records::{Message, QueueMeta};
use elastickv_backup_engine::decode::Family;
use elastickv_backup_format::keys::sqs_partition_for as partition_for;
use rows::Layout;
use sha2::{Digest, Sha256};
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How the tree was written, and memory for dedup candidates.
#[derive(Debug, Clone)]
pub struct Options {
    /// The dump kept the messages' receive state (`--preserve-sqs-visibility`); restore
    /// it instead of restoring every message as never received.
    pub preserve_visibility: bool,
    /// Memory for one queue's FIFO dedup candidates before they spill (bytes).
    pub dedup_budget: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            preserve_visibility: false,
            dedup_budget: dedup::DEDUP_SORT_BUDGET,
        }
    }
}

/// Stages the records of `root/sqs/` (nothing when the directory is absent).
pub fn encode_into(root: &Path, opts: &Options, out: &mut dyn Stage) -> Result<(), ReverseError> {
    walk(
        root,
        &mut Encoder {
            opts,
            out,
            queue: None,
        },
    )
}

/// What a walk over `sqs/` hands on, queue by queue: shared by `encode` (records) and
/// `restore sqs` (API calls), so both read the tree with the same rules.
pub trait QueueVisitor {
    /// The caller's error; reading the tree fails with a [`ReverseError`].
    type Error: From<ReverseError>;
    /// A queue's parsed `_queue.json`, before any of its messages.
    fn queue(&mut self, meta: &QueueMeta, shown: &str) -> Result<(), Self::Error>;
    /// Message number `n` (from 1) of `messages.jsonl` (named `shown`), in file order;
    /// `partition` as the line gives it.
    fn message(
        &mut self,
        m: Message,
        partition: Option<u32>,
        shown: &str,
        n: u64,
    ) -> Result<(), Self::Error>;
    /// The last queue's messages are all handed on.
    fn queue_done(&mut self) -> Result<(), Self::Error>;
}

/// Walks `root/sqs/` (nothing when the directory is absent).
pub fn walk<V: QueueVisitor + ?Sized>(root: &Path, v: &mut V) -> Result<(), V::Error> {
    let dir = root.join("sqs");
    if !require_dir(&dir, "sqs")? {
        return Ok(());
    }
    for (name, ft) in list_dir(&dir, "sqs")? {
        if ft.is_dir() {
            let shown = shown_join("sqs", name.as_bytes());
            walk_queue(&dir.join(&name), &shown, v)?;
        }
    }
    Ok(())
}

fn walk_queue<V: QueueVisitor + ?Sized>(
    dir: &Path,
    shown: &str,
    v: &mut V,
) -> Result<(), V::Error> {
    let qshown = format!("{shown}/_queue.json");
    let qpath = dir.join("_queue.json");
    if open_regular(&qpath, &qshown)?.is_none() {
        let why = if shown.ends_with(".orphan") {
            "is missing: an .orphan directory holds side records of a queue whose metadata was gone; it cannot be encoded or restored (remove it to use the rest)"
        } else {
            "is missing"
        };
        return Err(ReverseError::invalid(qshown, why).into());
    }
    let meta = queue::parse(&read_regular(&qpath, &qshown)?)
        .map_err(|e| ReverseError::invalid(&qshown, format!("invalid _queue.json: {e}")))?;
    v.queue(&meta, &qshown)?;
    let mshown = format!("{shown}/messages.jsonl");
    let Some(f) = open_regular(&dir.join("messages.jsonl"), &mshown)? else {
        return v.queue_done();
    };
    let mut values = ValueStream::new(BufReader::with_capacity(1 << 16, f));
    let mut n = 0u64;
    loop {
        n += 1;
        let raw = match values.next_value() {
            Ok(Some(v)) => v,
            Ok(None) => break,
            Err(Ok(e)) => return Err(ReverseError::io(mshown, e).into()),
            Err(Err(e)) => {
                return Err(ReverseError::invalid(mshown, format!("message {n}: {e}")).into())
            }
        };
        let (m, given) = message::parse(&raw)
            .map_err(|why| ReverseError::invalid(&mshown, format!("message {n}: {why}")))?;
        v.message(m, given, &mshown, n)?;
    }
    v.queue_done()
}

/// The encoder's visitor: queue, message, index, dedup and sequence records.
struct Encoder<'a> {
    opts: &'a Options,
    out: &'a mut dyn Stage,
    queue: Option<Queue>,
}

impl QueueVisitor for Encoder<'_> {
    type Error = ReverseError;

    fn queue(&mut self, meta: &QueueMeta, _shown: &str) -> Result<(), ReverseError> {
        let layout = Layout::new(&meta.name, meta.partition_count);
        self.out.add(
            layout.queue_key(Family::SqsQueueMeta),
            queue::meta_value(meta),
        )?;
        self.out.add(
            layout.queue_key(Family::SqsQueueGen),
            rows::GENERATION.to_string().into_bytes(),
        )?;
        self.queue = Some(Queue {
            meta: meta.clone(),
            layout,
            preserve: self.opts.preserve_visibility,
            dedup: Dedup::new(meta.partition_count > 1, self.opts.dedup_budget),
            max_seq: 0,
        });
        Ok(())
    }

    fn message(
        &mut self,
        m: Message,
        given: Option<u32>,
        shown: &str,
        n: u64,
    ) -> Result<(), ReverseError> {
        let Some(q) = self.queue.as_mut() else {
            return Err(ReverseError::invalid(shown, "a message before its queue"));
        };
        q.message(&m, given, &mut *self.out).map_err(|e| match e {
            Problem::Data(why) => ReverseError::invalid(shown, format!("message {n}: {why}")),
            Problem::Stage(e) => e,
        })
    }

    fn queue_done(&mut self) -> Result<(), ReverseError> {
        let Some(Queue {
            meta,
            layout,
            dedup,
            max_seq,
            ..
        }) = self.queue.take()
        else {
            return Ok(());
        };
        dedup.finish(&mut *self.out)?;
        if meta.is_fifo && max_seq > 0 {
            self.out.add(
                layout.queue_key(Family::SqsQueueSeq),
                max_seq.to_string().into_bytes(),
            )?;
        }
        Ok(())
    }
}

/// Why a message could not be staged.
enum Problem {
    /// The message is wrong (named with its position by the caller).
    Data(String),
    /// Staging failed.
    Stage(ReverseError),
}

impl From<ReverseError> for Problem {
    fn from(e: ReverseError) -> Self {
        Problem::Stage(e)
    }
}

/// One queue's messages being staged.
struct Queue {
    meta: QueueMeta,
    layout: Layout,
    preserve: bool,
    dedup: Dedup,
    max_seq: u64,
}

impl Queue {
    /// The partition a message is stored on, checked against the queue's routing.
    fn partition(&self, m: &Message, given: Option<u32>) -> Result<u32, String> {
        let count = self.meta.partition_count;
        if count <= 1 {
            return match given {
                Some(p) if p != 0 => Err(format!("partition {p} on a queue without partitions")),
                _ => Ok(0),
            };
        }
        let p = given.ok_or("missing partition (the queue is partitioned)")?;
        if p >= count {
            return Err(format!(
                "partition {p} out of range (partition_count {count})"
            ));
        }
        let per_queue = self.meta.fifo_throughput_limit == queue::PER_QUEUE;
        let want = partition_for(count, per_queue, &m.message_group_id);
        if p != want {
            return Err(if per_queue {
                format!(
                    "partition {p}: routing mismatch (perQueue keeps every message on partition 0)"
                )
            } else {
                format!(
                    "partition {p}: hash mismatch (message group {:?} belongs on partition {want})",
                    String::from_utf8_lossy(&m.message_group_id)
                )
            });
        }
        Ok(p)
    }

    fn message(
        &mut self,
        m: &Message,
        given: Option<u32>,
        out: &mut dyn Stage,
    ) -> Result<(), Problem> {
        let p = self.partition(m, given).map_err(Problem::Data)?;
        let l = &self.layout;
        out.add(l.data_key(m, p), message::data_value(m, self.preserve))?;
        let visible_at = if self.preserve && m.visible_at_millis != 0 {
            m.visible_at_millis
        } else {
            m.available_at_millis
        };
        out.add(
            l.index_key(Family::SqsMsgVis, m, p, visible_at),
            m.message_id.clone(),
        )?;
        out.add(
            l.index_key(Family::SqsMsgByAge, m, p, m.send_timestamp_millis),
            m.message_id.clone(),
        )?;
        if self.meta.is_fifo {
            self.max_seq = self.max_seq.max(m.sequence_number);
            self.dedup_candidate(m, p)?;
        }
        Ok(())
    }

    /// Offers `m` for its dedup id's row (FIFO queues): the id given, or with
    /// content-based deduplication the SHA-256 of the body; no id, no row.
    fn dedup_candidate(&mut self, m: &Message, p: u32) -> Result<(), ReverseError> {
        let id = if !m.message_deduplication_id.is_empty() {
            m.message_deduplication_id.clone()
        } else if self.meta.content_based_dedup {
            hex::encode(Sha256::digest(&m.body)).into_bytes()
        } else {
            return Ok(());
        };
        let key = self.layout.dedup_key(m, p, &id);
        self.dedup.offer(
            &key,
            m.send_timestamp_millis,
            m.sequence_number,
            &m.message_id,
        )
    }
}

#[cfg(test)]
mod tests;
