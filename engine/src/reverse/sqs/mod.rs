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
mod message;
mod queue;
mod rows;

use super::fsutil::{list_dir, open_regular, read_regular, require_dir, shown_join};
use super::json::ValueStream;
use super::{Entries, ReverseError, Stage};
use crate::decode::sqs::records::{Message, QueueMeta};
use dedup::Dedup;
use rows::{partition_for, Layout};
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

/// Appends the internal entries for `root/sqs/` (if present) to `out`.
pub fn encode_tree(root: &Path, out: &mut Entries) -> Result<(), ReverseError> {
    encode_into(root, &Options::default(), out)
}

/// Stages the records of `root/sqs/` (nothing when the directory is absent).
pub fn encode_into(root: &Path, opts: &Options, out: &mut dyn Stage) -> Result<(), ReverseError> {
    let dir = root.join("sqs");
    if !require_dir(&dir, "sqs")? {
        return Ok(());
    }
    for (name, ft) in list_dir(&dir, "sqs")? {
        if ft.is_dir() {
            let shown = shown_join("sqs", name.as_bytes());
            encode_queue(&dir.join(&name), &shown, opts, &mut *out)?;
        }
    }
    Ok(())
}

fn encode_queue(
    dir: &Path,
    shown: &str,
    opts: &Options,
    out: &mut dyn Stage,
) -> Result<(), ReverseError> {
    let qshown = format!("{shown}/_queue.json");
    let qpath = dir.join("_queue.json");
    if open_regular(&qpath, &qshown)?.is_none() {
        let why = if shown.ends_with(".orphan") {
            "is missing: an .orphan directory holds side records of a queue whose metadata was gone; it cannot be encoded (remove it to encode the rest)"
        } else {
            "is missing"
        };
        return Err(ReverseError::invalid(qshown, why));
    }
    let meta = queue::parse(&read_regular(&qpath, &qshown)?)
        .map_err(|e| ReverseError::invalid(&qshown, format!("invalid _queue.json: {e}")))?;
    let layout = Layout::new(&meta.name, meta.partition_count);
    out.add(layout.queue_key("meta"), queue::meta_value(&meta))?;
    out.add(
        layout.queue_key("gen"),
        rows::GENERATION.to_string().into_bytes(),
    )?;
    let mshown = format!("{shown}/messages.jsonl");
    let Some(f) = open_regular(&dir.join("messages.jsonl"), &mshown)? else {
        return Ok(());
    };
    let mut q = Queue {
        meta: &meta,
        layout: &layout,
        preserve: opts.preserve_visibility,
        dedup: Dedup::new(meta.partition_count > 1, opts.dedup_budget),
        max_seq: 0,
    };
    let mut values = ValueStream::new(BufReader::with_capacity(1 << 16, f));
    let mut n = 0u64;
    loop {
        n += 1;
        let raw = match values.next_value() {
            Ok(Some(v)) => v,
            Ok(None) => break,
            Err(Ok(e)) => return Err(ReverseError::io(mshown, e)),
            Err(Err(e)) => return Err(ReverseError::invalid(mshown, format!("message {n}: {e}"))),
        };
        q.message(&raw, out).map_err(|e| match e {
            Problem::Data(why) => ReverseError::invalid(&mshown, format!("message {n}: {why}")),
            Problem::Stage(e) => e,
        })?;
    }
    let Queue { dedup, max_seq, .. } = q;
    dedup.finish(out)?;
    if meta.is_fifo && max_seq > 0 {
        out.add(layout.queue_key("seq"), max_seq.to_string().into_bytes())?;
    }
    Ok(())
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
struct Queue<'a> {
    meta: &'a QueueMeta,
    layout: &'a Layout,
    preserve: bool,
    dedup: Dedup,
    max_seq: u64,
}

impl Queue<'_> {
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

    fn message(&mut self, raw: &[u8], out: &mut dyn Stage) -> Result<(), Problem> {
        let (m, given) = message::parse(raw).map_err(Problem::Data)?;
        let p = self.partition(&m, given).map_err(Problem::Data)?;
        let l = self.layout;
        out.add(l.data_key(&m, p), message::data_value(&m, self.preserve))?;
        let visible_at = if self.preserve && m.visible_at_millis != 0 {
            m.visible_at_millis
        } else {
            m.available_at_millis
        };
        out.add(l.index_key("vis", &m, p, visible_at), m.message_id.clone())?;
        out.add(
            l.index_key("byage", &m, p, m.send_timestamp_millis),
            m.message_id.clone(),
        )?;
        if self.meta.is_fifo {
            self.max_seq = self.max_seq.max(m.sequence_number);
            self.dedup_candidate(&m, p)?;
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
