//! Bundle mode (contract README §3): a table's items as `items/data-<NNNNN>.jsonl` parts,
//! one compact JSON object per line, in ascending internal key order.
//!
//! Lines are streamed as items arrive, so a table is never held in memory. A new part
//! starts when the next line would push the current part past the size limit; a line
//! larger than the limit goes alone into a part of its own.
//!
//! A huge table must not leave the workers idle while the decode thread decodes and
//! renders every item of it (the "single slow tail"): stored items are grouped into
//! segments, each segment is decoded, checked and rendered on the worker pool
//! ([`Emitter::submit`]), and the decode thread appends the rendered segments in order —
//! a bounded number in flight, so memory stays bounded. (`bench --layout jsonl
//! --vs-threads 1`: the 2-thread speed-up went from 1.14 to 1.25 in one run each.)

use super::error::{go_quote, DdbError};
use super::item_path::{item_path, item_path_wire};
use super::proto::DynamoItem;
use super::render::render_item;
use super::wire;
use crate::encode::emitter::InOrder;
use crate::encode::Emitter;
use crate::error::Error;
use crate::sinks::{RelPath, StreamFile};
use prost::Message;
use std::ops::Range;
use std::sync::Arc;

/// Items per rendered segment...
const SEGMENT_ITEMS: usize = 256;
/// ...or stored bytes, whichever comes first (a segment's JSON is a few times this).
const SEGMENT_BYTES: usize = 128 << 10;
/// Segments rendered or being rendered ahead of the one being appended.
const SEGMENTS_IN_FLIGHT: usize = 8;

/// What a worker needs to turn a stored item into its line: the key schema (the key
/// attributes are checked as in the per-item layout, with the same errors) and the
/// table's name for those errors.
pub struct ItemCtx {
    /// The table's `items/` directory.
    pub items_dir: RelPath,
    /// Hash key attribute name.
    pub hash_key: String,
    /// Range key attribute name (empty without one).
    pub range_key: String,
    /// The table name, Go-quoted.
    pub table: String,
}

/// A segment's stored items, copied back to back into one buffer: one allocation per
/// segment rather than two per item (the decode thread paid a `malloc` for every key and
/// body, and a worker the matching `free`s).
struct Segment {
    bytes: Vec<u8>,
    /// Where each item's user key and body lie in `bytes`.
    items: Vec<(Range<usize>, Range<usize>)>,
}

impl Segment {
    fn new() -> Self {
        Segment {
            bytes: Vec::new(),
            items: Vec::new(),
        }
    }

    fn push(&mut self, key: &[u8], body: &[u8]) {
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(SEGMENT_BYTES + SEGMENT_BYTES / 4);
            self.items.reserve(SEGMENT_ITEMS);
        }
        let k = self.bytes.len()..self.bytes.len() + key.len();
        self.bytes.extend_from_slice(key);
        let b = k.end..k.end + body.len();
        self.bytes.extend_from_slice(body);
        self.items.push((k, b));
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A rendered segment: its lines back to back and where each one ends.
struct Rendered {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Rendered {
    /// Decodes, checks and renders a segment's items (user key, stored body without the
    /// magic).
    fn of(ctx: &ItemCtx, segment: Segment) -> Result<Self, Error> {
        let Segment { bytes, items } = segment;
        // A line is usually a little longer than its stored item (JSON's names, quotes and
        // base64 against protobuf's tags): sized from the stored bytes, the buffer is not
        // outgrown and copied halfway through the segment.
        let mut r = Rendered {
            bytes: Vec::with_capacity(bytes.len() * 2),
            ends: Vec::with_capacity(items.len()),
        };
        for (key, body) in items {
            let key = bytes.get(key).unwrap_or_default();
            let body = bytes.get(body).unwrap_or_default();
            let invalid = |detail: String| DdbError::InvalidItem {
                table: ctx.table.clone(),
                key: go_quote(key),
                detail,
            };
            let (dir, hash, range) = (&ctx.items_dir, &ctx.hash_key, &ctx.range_key);
            // A plain encoding is checked and rendered from its bytes (`wire`), anything
            // else decoded by prost.
            let plain = wire::scan_with(body, |attrs| {
                attrs.map(|attrs| {
                    item_path_wire(dir, hash, range, body, attrs)?;
                    wire::render_scanned(body, attrs, false, &mut r.bytes);
                    Ok(())
                })
            });
            match plain {
                Some(checked) => checked.map_err(invalid)?,
                None => {
                    let item =
                        DynamoItem::decode(body).map_err(|e| invalid(format!("proto: {e}")))?;
                    item_path(dir, hash, range, &item).map_err(invalid)?;
                    render_item(&item, false, &mut r.bytes);
                }
            }
            r.bytes.push(b'\n');
            r.ends.push(r.bytes.len());
        }
        Ok(r)
    }
}

/// Writes one table's parts.
pub struct BundleWriter {
    items_dir: RelPath,
    limit: u64,
    next_part: u32,
    current: Option<StreamFile>,
    /// How to render stored items (tables written item by item; none for the migration
    /// path, which writes ready lines).
    ctx: Option<Arc<ItemCtx>>,
    /// Stored items of the segment being collected.
    segment: Segment,
    /// Submitted segments, oldest first.
    in_flight: InOrder<Result<Rendered, Error>>,
}

impl BundleWriter {
    /// Parts under `items_dir`, each at most `limit` bytes unless one line is larger.
    pub fn new(items_dir: RelPath, limit: u64) -> Self {
        BundleWriter {
            items_dir,
            limit,
            next_part: 0,
            current: None,
            ctx: None,
            segment: Segment::new(),
            in_flight: InOrder::new(SEGMENTS_IN_FLIGHT),
        }
    }

    /// A writer fed stored items through [`BundleWriter::write_item`].
    pub fn for_items(ctx: ItemCtx, limit: u64) -> Self {
        let mut w = BundleWriter::new(ctx.items_dir.clone(), limit);
        w.ctx = Some(Arc::new(ctx));
        w
    }

    /// Queues one stored item (user key, body after the magic); it is decoded, checked and
    /// rendered on the pool and its line appended in key order.
    ///
    /// The bytes are copied: a zero-copy slice of a snapshot mapping read by a worker
    /// after the scanner released its pages would fault them back in and keep them
    /// resident until the next sweep (+40 MiB peak RSS on `bench --layout jsonl`).
    pub fn write_item(&mut self, out: &Emitter, key: &[u8], body: &[u8]) -> Result<(), Error> {
        self.segment.push(key, body);
        if self.segment.len() >= SEGMENT_ITEMS || self.segment.bytes.len() >= SEGMENT_BYTES {
            self.submit_segment(out)?;
        }
        // Append whatever is already rendered, oldest first.
        while let Some(r) = self.in_flight.next(false, out) {
            self.append(out, r??)?;
        }
        Ok(())
    }

    fn submit_segment(&mut self, out: &Emitter) -> Result<(), Error> {
        if self.segment.len() == 0 {
            return Ok(());
        }
        let items = std::mem::replace(&mut self.segment, Segment::new());
        let ctx = self.ctx.clone().ok_or_else(|| {
            Error::Internal("DynamoDB bundle: stored items queued without a key schema".into())
        })?;
        self.in_flight
            .push(out.submit(move || Rendered::of(&ctx, items))?);
        Ok(())
    }

    /// Renders and appends everything queued, in order.
    fn drain(&mut self, out: &Emitter) -> Result<(), Error> {
        self.submit_segment(out)?;
        while let Some(r) = self.in_flight.next(true, out) {
            self.append(out, r??)?;
        }
        Ok(())
    }

    fn append(&mut self, out: &Emitter, r: Rendered) -> Result<(), Error> {
        let mut start = 0;
        for &end in &r.ends {
            let line = r.bytes.get(start..end).unwrap_or_default();
            self.append_line(out, line)?;
            start = end;
        }
        Ok(())
    }

    /// Appends one line (`line` must already end in `\n`) after every queued item.
    pub fn write_line(&mut self, out: &Emitter, line: &[u8]) -> Result<(), Error> {
        self.drain(out)?;
        self.append_line(out, line)
    }

    fn append_line(&mut self, out: &Emitter, line: &[u8]) -> Result<(), Error> {
        let len = line.len() as u64;
        if let Some(cur) = self
            .current
            .take_if(|c| !c.is_empty() && c.len() + len > self.limit)
        {
            cur.finish()?;
        }
        let cur = match self.current.as_mut() {
            Some(c) => c,
            None => {
                let name = format!("data-{:05}.jsonl", self.next_part);
                self.next_part += 1;
                let path = self.items_dir.join(&name)?;
                self.current.insert(out.stream(&path)?)
            }
        };
        cur.write_all(line)
    }

    /// Appends everything queued and finishes the open part, if any.
    pub fn finish(mut self, out: &Emitter) -> Result<(), Error> {
        self.drain(out)?;
        match self.current.take() {
            Some(c) => c.finish(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dynamodb::proto::{DynamoAttributeValue, Value};

    fn body(pk: &str, text: &str) -> Vec<u8> {
        let attr = |v: Value| DynamoAttributeValue { value: Some(v) };
        DynamoItem {
            attributes: [
                ("pk".to_string(), attr(Value::S(pk.into()))),
                ("note".to_string(), attr(Value::S(text.into()))),
            ]
            .into_iter()
            .collect(),
        }
        .encode_to_vec()
    }

    /// Lines a little longer than their stored items (the common case) fit the buffer a
    /// segment is rendered into as sized up front: it is never grown (and copied) midway.
    #[test]
    fn a_segment_renders_into_its_first_buffer() {
        let ctx = ItemCtx {
            items_dir: RelPath::parse("dynamodb/t/items").unwrap(),
            hash_key: "pk".into(),
            range_key: String::new(),
            table: "\"t\"".into(),
        };
        let mut seg = Segment::new();
        let text = "x".repeat(400);
        for i in 0..SEGMENT_ITEMS {
            let pk = format!("user-{i:05}");
            seg.push(pk.as_bytes(), &body(&pk, &text));
        }
        let planned = seg.bytes.len() * 2;
        let r = Rendered::of(&ctx, seg).unwrap();
        assert_eq!(r.ends.len(), SEGMENT_ITEMS);
        // Each line is longer than 256 bytes, the old per-item guess.
        assert!(r.bytes.len() > SEGMENT_ITEMS * 256, "{}", r.bytes.len());
        assert_eq!(r.bytes.capacity(), planned);
        let first = &r.bytes[..r.ends[0]];
        assert!(first.starts_with(b"{\"note\":{\"S\":\"xxx"), "{first:?}");
        assert!(
            first.ends_with(b"\"pk\":{\"S\":\"user-00000\"}}\n"),
            "{first:?}"
        );
    }
}
