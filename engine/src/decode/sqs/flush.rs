//! Finalisation: `_queue.json` files, warnings, and the merged message and side-record
//! streams written queue after queue (docs/format/30-sqs.md §4, §6).

use super::{render, show, ExternalSorter, Queue, SqsAdapter, SqsError, KIND_MESSAGE, KIND_SIDE};
use crate::decode::Family;
use crate::encode::filename::encode_segment;
use crate::encode::Emitter;
use crate::error::Error;
use crate::sinks::{RelPath, StreamFile};
use std::collections::HashMap;

impl SqsAdapter {
    /// The directory of a queue with metadata: `sqs/<EncodeSegment(name)>` (or `sqs`
    /// itself for the empty name, as Go's path joining drops the empty component).
    fn queue_dir(q: &Queue) -> Result<RelPath, Error> {
        let sqs = RelPath::root().join("sqs")?;
        let seg = encode_segment(&q.key_name);
        Ok(if seg.is_empty() { sqs } else { sqs.join(&seg)? })
    }

    /// Where a queue's stream of `kind` goes.
    fn stream_path(q: &Queue, kind: u8) -> Result<RelPath, Error> {
        if q.meta.is_none() {
            let seg = format!("{}.orphan", String::from_utf8_lossy(&q.segment));
            return Ok(RelPath::root()
                .join("sqs")?
                .join(&seg)?
                .join_path("_internals/side_records.jsonl")?);
        }
        let dir = Self::queue_dir(q)?;
        Ok(if kind == KIND_MESSAGE {
            dir.join("messages.jsonl")?
        } else {
            dir.join_path("_internals/side_records.jsonl")?
        })
    }

    /// Writes `_queue.json` files and warnings; returns the first error after trying
    /// every queue.
    pub(super) fn write_queue_files(&mut self, out: &Emitter) -> Result<(), Error> {
        let mut first: Option<Error> = None;
        let mut dirs: HashMap<String, usize> = HashMap::new();
        for idx in 0..self.queues.len() {
            let i = u32::try_from(idx).map_err(|_| SqsError::Internal("queue index".into()))?;
            if !self.in_scope(i)? {
                continue;
            }
            let Some(q) = self.queues.get(idx) else {
                continue;
            };
            let Some(meta) = q.meta.as_ref() else {
                out.warn(
                    "sqs_orphan_messages",
                    &format!(
                        "encoded_queue={} buffered_messages={} buffered_side_records={} hint=\"no {} record matched this encoded prefix; messages dropped from the dump\"",
                        show(&q.segment),
                        q.orphan_messages,
                        q.side_records,
                        Family::SqsQueueMeta.label()
                    ),
                );
                continue;
            };
            let r = (|| -> Result<(), Error> {
                let dir = Self::queue_dir(q)?;
                if let Some(&other) = dirs.get(dir.as_str()) {
                    let o = self.queues.get(other).map(|o| show(&o.segment));
                    return Err(SqsError::QueueNameCollision {
                        first: o.unwrap_or_default(),
                        second: show(&q.segment),
                        name: show(&q.key_name),
                    }
                    .into());
                }
                dirs.insert(dir.as_str().to_string(), idx);
                out.file(
                    dir.join("_queue.json")?,
                    render::queue_json(meta, &q.key_name),
                )?;
                if q.stale_dropped > 0 {
                    out.warn(
                        "sqs_stale_generation_messages_dropped",
                        &format!(
                            "queue={} active_gen={} dropped={} hint=\"messages with mismatched queue_generation suppressed; reaper had not finished cleanup at snapshot time\"",
                            show(&q.key_name),
                            q.active_gen,
                            q.stale_dropped
                        ),
                    );
                }
                Ok(())
            })();
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Hands the sorted records to the pool, which streams them into their files while
    /// the decode thread finishes the other adapters. Each queue's two stream paths are
    /// worked out here; a path's error is reported only if that stream has records.
    pub(super) fn write_streams(
        &mut self,
        sorter: ExternalSorter,
        out: &Emitter,
    ) -> Result<(), Error> {
        let mut paths: Vec<[Option<Result<RelPath, Error>>; 2]> = self
            .queues
            .iter()
            .map(|q| {
                [
                    Some(Self::stream_path(q, KIND_MESSAGE)),
                    Some(Self::stream_path(q, KIND_SIDE)),
                ]
            })
            .collect();
        out.run(move |sink| {
            let mut current: Option<(u32, u8, StreamFile)> = None;
            sorter.drain(|key, payload| -> Result<(), Error> {
                let (Some(&[a, b, c, d]), Some(&kind)) = (key.get(..4), key.get(4)) else {
                    return Err(SqsError::Internal("short sort key".into()).into());
                };
                let ord = u32::from_be_bytes([a, b, c, d]);
                let same = matches!(&current, Some((o, k, _)) if *o == ord && *k == kind);
                if !same {
                    if let Some((_, _, s)) = current.take() {
                        s.finish()?;
                    }
                    let slot = usize::from(kind != KIND_MESSAGE);
                    let path = paths
                        .get_mut(ord as usize)
                        .and_then(|p| p.get_mut(slot))
                        .and_then(Option::take)
                        .ok_or_else(|| {
                            SqsError::Internal("sort key names no queue, or a stream twice".into())
                        })??;
                    current = Some((ord, kind, sink.open_stream(&path)?));
                }
                match current.as_mut() {
                    Some((_, _, s)) => s.write_all(payload),
                    None => Err(SqsError::Internal("no open stream".into()).into()),
                }
            })?;
            if let Some((_, _, s)) = current.take() {
                s.finish()?;
            }
            Ok(())
        })
    }
}
