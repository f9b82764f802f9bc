//! SQS adapter: queues, messages and (optionally) side records → `sqs/<queue>/…`
//! (docs/format/30-sqs.md).
//!
//! How the work is laid out, given that entries arrive in key order:
//! * `!sqs|queue|meta|` and `!sqs|queue|gen|` sort *after* every `!sqs|msg|` key, but a
//!   message can only be judged (orphan? stale generation?) knowing them, so both are
//!   [`Adapter::index_families`]: the index pass fills the queue table first. Their
//!   errors are still raised in the main pass, where upstream meets them.
//! * Messages are decoded, judged and rendered to their final JSONL lines on the worker
//!   pool, by segments (`segments`), and each surviving line is pushed, in key order, with
//!   its sort key (queue, send time, sequence number, message id), into one
//!   [`ExternalSorter`]; side records join the same sorter after their queue's
//!   messages, in arrival order. Memory is bounded by the sorter's budget whatever the
//!   queue sizes; beyond it, sorted runs are spilled to the system temp dir.
//! * `finish` writes every `_queue.json`, then streams the merged records into
//!   `messages.jsonl` and `_internals/side_records.jsonl`, one queue after another.

mod flush;
pub mod keys;
pub mod records;
pub mod render;
mod segments;
#[cfg(test)]
mod tests;

pub use crate::extsort::{ExternalSorter, DEFAULT_SORT_BUDGET};

use super::{Adapter, AdapterKind, Family};
use crate::encode::Emitter;
use crate::error::Error;
use crate::options::{DecodeOptions, Scope};
use elastickv_backup_format::Entry;
use keys::KeyProblem;
use records::QueueMeta;
use segments::{Incoming, Segments, Verdict};
use std::collections::HashMap;

/// The families of side records, written only with `--include-sqs-side-records` (and
/// so left out of a full scan without it).
pub const SIDE_FAMILIES: [Family; 6] = [
    Family::SqsQueueSeq,
    Family::SqsQueueTombstone,
    Family::SqsMsgVis,
    Family::SqsMsgByAge,
    Family::SqsMsgDedup,
    Family::SqsMsgGroup,
];

/// Environment variable that overrides the sorter's in-memory budget (bytes). Lets an
/// operator trade memory for scratch I/O, and lets tests force spills through the
/// binary.
pub const SORT_BUDGET_ENV: &str = "ELASTICKV_BACKUP_SQS_SORT_BUDGET";

pub use crate::error::sqs::SqsError;

/// Renders bytes for an error message: printable ASCII kept, the rest `\xHH`, quoted.
fn show(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

fn malformed(key: &[u8], problem: KeyProblem, prefix: &[u8]) -> SqsError {
    let what = match problem {
        KeyProblem::QueueSegmentNotFound => format!("{} {}", problem.text(), show(prefix)),
        _ => problem.text().to_string(),
    };
    SqsError::MalformedKey {
        key: show(key),
        what,
    }
}

/// Sort-key tag of a queue's messages (they come first) and side records.
const KIND_MESSAGE: u8 = 0;
const KIND_SIDE: u8 = 1;

/// What is known about one queue (one encoded segment).
struct Queue {
    /// The encoded segment as it appears in keys.
    segment: Vec<u8>,
    /// Name decoded from the meta key; meaningful when `meta` is set.
    key_name: Vec<u8>,
    meta: Option<QueueMeta>,
    /// Generation from `!sqs|queue|gen|`; 0 = none seen (no filtering).
    active_gen: u64,
    /// `--scope` verdict, decided on first use in the main pass.
    in_scope: Option<bool>,
    /// Messages seen for a queue without metadata (dropped).
    orphan_messages: u64,
    /// Side records buffered.
    side_records: u64,
    /// Messages dropped for a stale generation.
    stale_dropped: u64,
}

/// SQS decoder.
pub struct SqsAdapter {
    preserve_visibility: bool,
    side_records: bool,
    scopes: Vec<Scope>,
    queues: Vec<Queue>,
    by_segment: HashMap<Vec<u8>, u32>,
    sorter: Option<ExternalSorter>,
    /// Runs the sorter had spilled when it was drained.
    spilled: usize,
    line: Vec<u8>,
    sort_key: Vec<u8>,
    /// Messages being decoded and rendered on the pool.
    segments: Segments,
}

impl SqsAdapter {
    /// A decoder for the given options; the sort budget is [`DEFAULT_SORT_BUDGET`]
    /// unless [`SORT_BUDGET_ENV`] holds a byte count.
    pub fn new(opts: &DecodeOptions) -> Self {
        let budget = std::env::var(SORT_BUDGET_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(DEFAULT_SORT_BUDGET);
        Self::with_sort_budget(opts, budget)
    }

    /// A decoder whose message sort keeps at most about `budget` bytes in memory before
    /// spilling sorted runs to disk.
    pub fn with_sort_budget(opts: &DecodeOptions, budget: usize) -> Self {
        SqsAdapter {
            preserve_visibility: opts.preserve_sqs_visibility,
            side_records: opts.include_sqs_side_records,
            scopes: opts
                .scopes
                .iter()
                .filter(|s| s.adapter == AdapterKind::Sqs)
                .cloned()
                .collect(),
            queues: Vec::new(),
            by_segment: HashMap::new(),
            sorter: Some(ExternalSorter::new("sqs", budget)),
            spilled: 0,
            line: Vec::with_capacity(1 << 12),
            sort_key: Vec::with_capacity(64),
            segments: Segments::default(),
        }
    }

    /// Runs spilled by the message sorter so far (diagnostics and tests).
    #[cfg(test)]
    pub fn spilled_runs(&self) -> usize {
        self.sorter
            .as_ref()
            .map_or(self.spilled, ExternalSorter::spilled_runs)
    }

    fn ordinal(&mut self, segment: &[u8]) -> Result<u32, SqsError> {
        if let Some(&i) = self.by_segment.get(segment) {
            return Ok(i);
        }
        let i = u32::try_from(self.queues.len())
            .map_err(|_| SqsError::Internal("more than 2^32 queues".into()))?;
        self.queues.push(Queue {
            segment: segment.to_vec(),
            key_name: Vec::new(),
            meta: None,
            active_gen: 0,
            in_scope: None,
            orphan_messages: 0,
            side_records: 0,
            stale_dropped: 0,
        });
        self.by_segment.insert(segment.to_vec(), i);
        Ok(i)
    }

    fn queue(&mut self, i: u32) -> Result<&mut Queue, SqsError> {
        self.queues
            .get_mut(i as usize)
            .ok_or_else(|| SqsError::Internal(format!("queue ordinal {i} out of range")))
    }

    /// The `--scope` verdict for a queue: its meta-key name, or for a queue without
    /// metadata the name its segment decodes to.
    fn in_scope(&mut self, i: u32) -> Result<bool, SqsError> {
        let no_scopes = self.scopes.is_empty();
        let scopes = &self.scopes;
        let q = self
            .queues
            .get_mut(i as usize)
            .ok_or_else(|| SqsError::Internal(format!("queue ordinal {i} out of range")))?;
        if let Some(v) = q.in_scope {
            return Ok(v);
        }
        let v = no_scopes || {
            let name = if q.meta.is_some() {
                Some(q.key_name.clone())
            } else {
                elastickv_backup_gocompat::base64::url_raw_decode(&q.segment)
            };
            name.is_some_and(|n| scopes.iter().any(|s| s.name == n))
        };
        q.in_scope = Some(v);
        Ok(v)
    }

    fn queue_label(&self, segment: &[u8]) -> String {
        match elastickv_backup_gocompat::base64::url_raw_decode(segment) {
            Some(n) => show(&n),
            None => show(segment),
        }
    }

    fn parse_meta(&self, key: &[u8], entry: &Entry) -> Result<(Vec<u8>, QueueMeta), SqsError> {
        let name = keys::meta_name(key)
            .map_err(|p| malformed(&entry.user_key, p, Family::SqsQueueMeta.prefix()))?;
        let meta = records::decode_meta(&entry.value).map_err(|p| SqsError::InvalidQueueMeta {
            queue: show(&name),
            key: show(&entry.user_key),
            what: p.to_string(),
        })?;
        Ok((name, meta))
    }

    fn parse_gen(entry: &Entry) -> Result<u64, SqsError> {
        records::parse_generation(&entry.value).ok_or_else(|| SqsError::MalformedKey {
            key: show(&entry.user_key),
            what: format!(
                "generation value {} is not a base-10 uint64",
                show(&entry.value)
            ),
        })
    }

    fn set_meta(&mut self, key: &[u8], name: Vec<u8>, meta: QueueMeta) -> Result<(), SqsError> {
        let i = self.ordinal(key)?;
        let q = self.queue(i)?;
        q.key_name = name;
        q.meta = Some(meta);
        Ok(())
    }

    fn handle_message(&mut self, rest: &[u8], entry: &Entry, out: &Emitter) -> Result<(), Error> {
        let mk = keys::parse_msg_data(rest)
            .map_err(|p| malformed(&entry.user_key, p, Family::SqsMsgData.prefix()))?;
        let i = self.ordinal(mk.queue)?;
        if !self.in_scope(i)? {
            return Ok(());
        }
        let q = self.queue(i)?;
        let (has_meta, active_gen) = (q.meta.is_some(), q.active_gen);
        self.segments.push(
            Incoming {
                ordinal: i,
                partition: mk.partition,
                has_meta,
                active_gen,
                preserve_visibility: self.preserve_visibility,
                user_key: &entry.user_key,
                value: &entry.value,
            },
            out,
        )?;
        self.take_segments(false, out)
    }

    /// Takes back rendered message segments (every one with `all`) and applies their
    /// verdicts in message order: counts the dropped messages, pushes the lines into the
    /// sorter, reports the first invalid message.
    fn take_segments(&mut self, all: bool, out: &Emitter) -> Result<(), Error> {
        while let Some(r) = self.segments.next(all, out)? {
            for (i, v) in &r.verdicts {
                match v {
                    Verdict::Orphan => self.queue(*i)?.orphan_messages += 1,
                    Verdict::Stale => self.queue(*i)?.stale_dropped += 1,
                    Verdict::Line(k, l) => match self.sorter.as_mut() {
                        Some(s) => s.push(&r.buf[k.clone()], &r.buf[l.clone()])?,
                        None => return Err(SqsError::Internal("record after finish".into()).into()),
                    },
                    Verdict::Invalid { key, what } => {
                        let segment = self.queue(*i)?.segment.clone();
                        return Err(SqsError::InvalidMessage {
                            queue: self.queue_label(&segment),
                            key: key.clone(),
                            what: what.clone(),
                        }
                        .into());
                    }
                }
            }
        }
        Ok(())
    }

    fn handle_side(&mut self, family: Family, rest: &[u8], entry: &Entry) -> Result<(), SqsError> {
        if !self.side_records {
            return Ok(());
        }
        let prefix = family.prefix();
        let parsed = if family == Family::SqsQueueSeq {
            keys::parse_seq(rest)
        } else {
            keys::parse_side(rest)
        };
        let segment = parsed.map_err(|p| malformed(&entry.user_key, p, prefix))?;
        let i = self.ordinal(segment)?;
        if !self.in_scope(i)? {
            return Ok(());
        }
        self.queue(i)?.side_records += 1;
        self.line.clear();
        render::side_record_line(&mut self.line, prefix, &entry.user_key, &entry.value);
        self.sort_key.clear();
        self.sort_key.extend_from_slice(&i.to_be_bytes());
        self.sort_key.push(KIND_SIDE);
        self.push_sorted()
    }

    fn push_sorted(&mut self) -> Result<(), SqsError> {
        match self.sorter.as_mut() {
            Some(s) => Ok(s.push(&self.sort_key, &self.line)?),
            None => Err(SqsError::Internal("record after finish".into())),
        }
    }
}

impl Adapter for SqsAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Sqs
    }

    fn index_families(&self) -> &'static [Family] {
        &[Family::SqsQueueMeta, Family::SqsQueueGen]
    }

    fn index(&mut self, family: Family, key: &[u8], entry: &Entry) -> Result<(), Error> {
        // Invalid records are left out here and reported by `handle`, in key order.
        match family {
            Family::SqsQueueMeta => {
                if let Ok((name, meta)) = self.parse_meta(key, entry) {
                    self.set_meta(key, name, meta)?;
                }
            }
            Family::SqsQueueGen => {
                if let Ok(g) = Self::parse_gen(entry) {
                    let i = self.ordinal(key)?;
                    self.queue(i)?.active_gen = g;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn handle(
        &mut self,
        family: Family,
        key: &[u8],
        entry: &Entry,
        out: &Emitter,
    ) -> Result<(), Error> {
        if family != Family::SqsMsgData {
            // Side records and queue records after every message before them.
            self.take_segments(true, out)?;
        }
        let r = self.handle_entry(family, key, entry, out);
        if r.is_err() {
            // An invalid message before this entry is the error to report.
            self.take_segments(true, out)?;
        }
        r
    }

    /// Without `--include-sqs-side-records` the side families are read for nothing
    /// (`handle_side` returns at once; the message segments `handle` appends before them
    /// are appended at the next record anyway, in the same order).
    fn skipped_families(&self) -> &'static [Family] {
        if self.side_records {
            &[]
        } else {
            &SIDE_FAMILIES
        }
    }

    fn finish(&mut self, out: &Emitter) -> Result<(), Error> {
        self.take_segments(true, out)?;
        let files = self.write_queue_files(out);
        let Some(sorter) = self.sorter.take() else {
            return files;
        };
        files?;
        self.spilled = sorter.spilled_runs();
        self.write_streams(sorter, out)
    }
}

impl SqsAdapter {
    fn handle_entry(
        &mut self,
        family: Family,
        key: &[u8],
        entry: &Entry,
        out: &Emitter,
    ) -> Result<(), Error> {
        match family {
            Family::SqsMsgData => self.handle_message(key, entry, out)?,
            Family::SqsQueueMeta => {
                let (name, meta) = self.parse_meta(key, entry)?;
                let i = self.ordinal(key)?;
                if self.queue(i)?.meta.is_none() {
                    self.set_meta(key, name, meta)?;
                }
            }
            Family::SqsQueueGen => {
                let g = Self::parse_gen(entry)?;
                let i = self.ordinal(key)?;
                let q = self.queue(i)?;
                if q.active_gen == 0 {
                    q.active_gen = g;
                }
            }
            f if SIDE_FAMILIES.contains(&f) => self.handle_side(family, key, entry)?,
            _ => {}
        }
        Ok(())
    }
}
