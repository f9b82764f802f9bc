//! Items rendered straight from their stored protobuf bytes, without decoding them into a
//! [`DynamoItem`](super::proto::DynamoItem).
//!
//! Why: the per-item layout is bound by per-file work, and decoding an item with prost builds
//! a `BTreeMap` with an owned `String` per attribute name and value — about twenty allocations
//! for a ten-attribute item, most of the per-file allocations left in the pipeline. Here an
//! item is a list of `(name, value)` byte ranges into the stored body, sorted by name (the
//! order Go's `encoding/json` gives a map), and values are rendered from the bytes directly.
//!
//! This is a *fast path*, not a second decoder: [`scan`] accepts only plainly encoded items —
//! every field known and of its declared wire type, at most one member per value, no repeated
//! map-entry fields, no duplicate attribute names, valid UTF-8, nesting well inside prost's
//! recursion limit. On anything else it declines and the caller decodes with prost as before,
//! so errors, and the rare merge semantics of repeated protobuf fields, stay prost's own.
//! Everything [`scan`] accepts prost decodes too, and [`render`] writes the same bytes as
//! [`render_item`](super::render::render_item) on the decoded item (tests below check both on
//! generated and mutated items).

use super::render::html_escape_tail;
use crate::encode::json::{write_str, JsonWriter};
use elastickv_backup_gocompat::base64::append_std;
use std::cell::{Cell, RefCell};
use std::ops::Range;

/// Nesting (lists and maps inside values) beyond which the fast path declines; prost's own
/// limit is 100 nested messages and each level here is two or three of them.
const MAX_DEPTH: usize = 24;

/// One attribute: where its name and its `DynamoAttributeValue` message lie in the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// The attribute name (valid UTF-8).
    pub name: Range<usize>,
    /// The value message (may be empty: an unset value, rendered `{"NULL": true}`).
    pub value: Range<usize>,
    /// The name's first eight bytes as a big-endian number (zero-padded): sorting by it
    /// first orders most names without comparing their bytes.
    pub head: u64,
}

impl Attr {
    /// An attribute whose name and value lie at these ranges of `body`.
    pub fn new(body: &[u8], name: Range<usize>, value: Range<usize>) -> Attr {
        let mut head = [0u8; 8];
        let bytes = body.get(name.clone()).unwrap_or_default();
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        Attr {
            name,
            value,
            head: u64::from_be_bytes(head),
        }
    }

    /// Byte order of the two names (Go's order of map keys): the heads decide unless they
    /// are equal. Zero padding keeps a name before every longer name it begins.
    fn cmp_name(&self, other: &Attr, body: &[u8]) -> std::cmp::Ordering {
        self.head
            .cmp(&other.head)
            .then_with(|| body[self.name.clone()].cmp(&body[other.name.clone()]))
    }
}

/// A key attribute's value as the item path needs it.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyValue<'a> {
    /// `S`.
    S(&'a str),
    /// `N` (as stored; the path canonicalises it).
    N(&'a str),
    /// `B`.
    B(&'a [u8]),
    /// Any other member: its Go type name, for upstream's error text.
    Other(&'static str),
    /// No member set.
    Nil,
}

/// Reads an item body into `attrs`, sorted by name. `false`: not a plain encoding — decode
/// it with prost instead.
pub fn scan(body: &[u8], attrs: &mut Vec<Attr>) -> bool {
    attrs.clear();
    let read = with_pool(|pool| read_map(body, 0..body.len(), attrs, 0, pool));
    read.is_some() && sort_unique(body, attrs)
}

/// Runs `f` with this thread's pool of attribute lists for nested `M` values (scanning and
/// rendering both need one per nesting level): warm after the first items, so neither
/// allocates per item. A nested call finds the pool taken and starts an empty one.
fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Attr>>) -> R) -> R {
    thread_local! {
        static POOL: Cell<Vec<Vec<Attr>>> = const { Cell::new(Vec::new()) };
    }
    POOL.with(|p| {
        let mut pool = p.take();
        let r = f(&mut pool);
        p.set(pool);
        r
    })
}

/// Runs `f` on the item's sorted attributes when [`scan`] accepts the body, on `None` when
/// it declines; the attribute list is a per-thread scratch buffer, so nothing is allocated.
pub fn scan_with<R>(body: &[u8], f: impl FnOnce(Option<&[Attr]>) -> R) -> R {
    thread_local! {
        static ATTRS: RefCell<Vec<Attr>> = const { RefCell::new(Vec::new()) };
    }
    ATTRS.with(|s| match s.try_borrow_mut() {
        Ok(mut attrs) => {
            let ok = scan(body, &mut attrs);
            f(ok.then_some(attrs.as_slice()))
        }
        // Re-entered from inside `f` (never today): use a buffer of its own.
        Err(_) => {
            let mut attrs = Vec::new();
            let ok = scan(body, &mut attrs);
            f(ok.then_some(attrs.as_slice()))
        }
    })
}

/// The value of attribute `name` among sorted `attrs`, `None` when absent.
pub fn key_value<'a>(body: &'a [u8], attrs: &[Attr], name: &str) -> Option<KeyValue<'a>> {
    let i = attrs
        .binary_search_by(|a| body[a.name.clone()].cmp(name.as_bytes()))
        .ok()?;
    let v = &body[attrs[i].value.clone()];
    let Some((tag, payload)) = single_member(v) else {
        return Some(KeyValue::Nil);
    };
    Some(match tag {
        1 => KeyValue::S(std::str::from_utf8(payload).unwrap_or_default()),
        2 => KeyValue::N(std::str::from_utf8(payload).unwrap_or_default()),
        3 => KeyValue::B(payload),
        4 => KeyValue::Other("*proto.DynamoAttributeValue_BoolValue"),
        5 => KeyValue::Other("*proto.DynamoAttributeValue_NullValue"),
        6 => KeyValue::Other("*proto.DynamoAttributeValue_Ss"),
        7 => KeyValue::Other("*proto.DynamoAttributeValue_Ns"),
        8 => KeyValue::Other("*proto.DynamoAttributeValue_Bs"),
        9 => KeyValue::Other("*proto.DynamoAttributeValue_L"),
        _ => KeyValue::Other("*proto.DynamoAttributeValue_M"),
    })
}

/// Renders an item body accepted by [`scan`]: pretty (the per-item file) or compact (a
/// bundle line), byte for byte as `render_item` on the prost-decoded item. `false` (nothing
/// written) when the body is not one [`scan`] accepts.
pub fn render(body: &[u8], pretty: bool, out: &mut Vec<u8>) -> bool {
    scan_with(body, |attrs| match attrs {
        Some(attrs) => {
            render_scanned(body, attrs, pretty, out);
            true
        }
        None => false,
    })
}

/// Renders an item body from the attributes [`scan`] read from it (so a caller that
/// already scanned the body for its path does not scan it twice).
pub fn render_scanned(body: &[u8], attrs: &[Attr], pretty: bool, out: &mut Vec<u8>) {
    let start = out.len();
    with_pool(|pool| {
        let mut w = if pretty {
            JsonWriter::pretty(out)
        } else {
            JsonWriter::compact(out)
        };
        let mut r = Renderer {
            body,
            w: &mut w,
            nested: pool,
        };
        r.attr_map(attrs, 0);
    });
    html_escape_tail(out, start);
}

// ---- wire format ----

const VARINT: u8 = 0;
const LEN: u8 = 2;

/// A cursor over one message's fields.
struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
    end: usize,
}

/// One field: its number, wire type and payload (the bytes of a LEN field, the value of a
/// varint).
enum Field {
    Len(u32, Range<usize>),
    Varint(u32, u64),
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], r: Range<usize>) -> Self {
        Fields {
            buf,
            at: r.start,
            end: r.end,
        }
    }

    /// One varint; most are a single byte (tags, short lengths), read without the loop.
    #[inline]
    fn varint(&mut self) -> Option<u64> {
        if self.at < self.end {
            if let Some(&b) = self.buf.get(self.at) {
                if b < 0x80 {
                    self.at += 1;
                    return Some(u64::from(b));
                }
            }
        }
        self.varint_long()
    }

    fn varint_long(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            if self.at >= self.end {
                return None;
            }
            let b = self.buf[self.at];
            self.at += 1;
            if i == 9 && b > 1 {
                return None; // overflows 64 bits: prost rejects it
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// The next field; `Some(None)` at the end; `None` on anything malformed or of a wire
    /// type other than varint/LEN.
    #[inline]
    fn next_field(&mut self) -> Option<Option<Field>> {
        if self.at >= self.end {
            return Some(None);
        }
        // Nearly every field has a one-byte key and a one-byte length or value: read those
        // two bytes at once. Anything else (and every error) takes the general path below.
        if self.at + 1 < self.end {
            if let (Some(&key), Some(&second)) = (self.buf.get(self.at), self.buf.get(self.at + 1))
            {
                if key < 0x80 && second < 0x80 && key >> 3 != 0 {
                    let tag = u32::from(key >> 3);
                    match key & 7 {
                        0 => {
                            self.at += 2;
                            return Some(Some(Field::Varint(tag, u64::from(second))));
                        }
                        2 => {
                            let start = self.at + 2;
                            let end = start + usize::from(second);
                            if end <= self.end {
                                self.at = end;
                                return Some(Some(Field::Len(tag, start..end)));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        self.next_field_long()
    }

    fn next_field_long(&mut self) -> Option<Option<Field>> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).ok().filter(|&t| t != 0)?;
        match (key & 7) as u8 {
            VARINT => Some(Some(Field::Varint(tag, self.varint()?))),
            LEN => {
                let len = usize::try_from(self.varint()?).ok()?;
                let end = self.at.checked_add(len).filter(|&e| e <= self.end)?;
                let r = self.at..end;
                self.at = end;
                Some(Some(Field::Len(tag, r)))
            }
            _ => None,
        }
    }
}

/// Reads the map entries (field 1) of an item or `M` value into `attrs` (unsorted); checks
/// every value recursively, taking the attribute lists of nested maps from `pool` (and
/// putting them back) so a scan allocates nothing once the pool is warm.
fn read_map(
    buf: &[u8],
    r: Range<usize>,
    attrs: &mut Vec<Attr>,
    depth: usize,
    pool: &mut Vec<Vec<Attr>>,
) -> Option<()> {
    let mut f = Fields::new(buf, r);
    while let Some(field) = f.next_field()? {
        let Field::Len(1, entry) = field else {
            return None;
        };
        let (mut name, mut value) = (None, None);
        let mut e = Fields::new(buf, entry.clone());
        while let Some(field) = e.next_field()? {
            match field {
                Field::Len(1, n) if name.is_none() => name = Some(n),
                Field::Len(2, v) if value.is_none() => value = Some(v),
                _ => return None,
            }
        }
        let name = name.unwrap_or(entry.start..entry.start);
        utf8(&buf[name.clone()])?;
        let value = value.unwrap_or(entry.end..entry.end);
        check_value(buf, value.clone(), depth, pool)?;
        attrs.push(Attr::new(buf, name, value));
    }
    Some(())
}

/// Sorts by name; `false` when two entries share a name (prost keeps the last one).
fn sort_unique(buf: &[u8], attrs: &mut [Attr]) -> bool {
    attrs.sort_unstable_by(|a, b| a.cmp_name(b, buf));
    attrs.windows(2).all(|w| w[0].cmp_name(&w[1], buf).is_ne())
}

/// The single member of a value message (tag, payload bytes for LEN members; the varint's
/// own bytes for BOOL/NULL), `None` when none is set. Only called on checked values.
fn single_member(v: &[u8]) -> Option<(u32, &[u8])> {
    let mut f = Fields::new(v, 0..v.len());
    match f.next_field() {
        Some(Some(Field::Len(tag, r))) => Some((tag, &v[r])),
        Some(Some(Field::Varint(tag, x))) => Some((tag, if x != 0 { &[1] } else { &[0] })),
        _ => None,
    }
}

/// Checks one `DynamoAttributeValue`: at most one member, of its declared wire type, with
/// valid contents.
fn check_value(buf: &[u8], r: Range<usize>, depth: usize, pool: &mut Vec<Vec<Attr>>) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut f = Fields::new(buf, r);
    let Some(member) = f.next_field()? else {
        return Some(()); // unset: {"NULL": true}
    };
    if f.next_field()?.is_some() {
        return None; // several members: prost's last-wins/merge rules apply
    }
    match member {
        Field::Len(1 | 2, s) => utf8(&buf[s]),
        Field::Len(3, _) | Field::Varint(4 | 5, _) => Some(()),
        Field::Len(6 | 7, set) => repeated(buf, set, utf8),
        Field::Len(8, set) => repeated(buf, set, |_| Some(())),
        Field::Len(9, list) => {
            let mut f = Fields::new(buf, list);
            while let Some(field) = f.next_field()? {
                let Field::Len(1, e) = field else {
                    return None;
                };
                check_value(buf, e, depth + 1, pool)?;
            }
            Some(())
        }
        Field::Len(10, m) => {
            let mut inner = pool.pop().unwrap_or_default();
            inner.clear();
            let ok = read_map(buf, m, &mut inner, depth + 1, pool).is_some()
                && sort_unique(buf, &mut inner);
            pool.push(inner);
            ok.then_some(())
        }
        _ => None,
    }
}

/// `Some` when `b` is valid UTF-8 (as prost requires of a `string` field). Plain ASCII,
/// nearly every name and value, is settled by the cheap check before the full one.
fn utf8(b: &[u8]) -> Option<()> {
    (b.is_ascii() || std::str::from_utf8(b).is_ok()).then_some(())
}

/// Checks a set message: only field 1, LEN, each element passing `ok`.
fn repeated(buf: &[u8], r: Range<usize>, ok: impl Fn(&[u8]) -> Option<()>) -> Option<()> {
    let mut f = Fields::new(buf, r);
    while let Some(field) = f.next_field()? {
        let Field::Len(1, e) = field else {
            return None;
        };
        ok(&buf[e])?;
    }
    Some(())
}

// ---- rendering (only of checked bytes) ----

struct Renderer<'b, 'w, 'o, 'p> {
    body: &'b [u8],
    w: &'w mut JsonWriter<'o>,
    /// Reused for the attributes of nested `M` values (the thread's pool).
    nested: &'p mut Vec<Vec<Attr>>,
}

impl Renderer<'_, '_, '_, '_> {
    fn attr_map(&mut self, attrs: &[Attr], depth: usize) {
        let body = self.body;
        self.w.begin_object();
        for a in attrs {
            self.w.key_bytes(&body[a.name.clone()]);
            self.value(a.value.clone(), depth);
        }
        self.w.end_object();
    }

    fn value(&mut self, r: Range<usize>, depth: usize) {
        let body = self.body;
        let mut f = Fields::new(body, r);
        let member = f.next_field();
        // The scalar members: an object of one member, written in one call.
        match member {
            Some(Some(Field::Len(tag @ (1 | 2), s))) => {
                let key = if tag == 1 { "S" } else { "N" };
                self.w.object_of_one(key, |out| write_str(out, &body[s]));
                return;
            }
            Some(Some(Field::Len(3, b))) => {
                self.w.object_of_one("B", |out| base64_into(out, &body[b]));
                return;
            }
            Some(Some(Field::Varint(tag @ (4 | 5), v))) => {
                let key = if tag == 4 { "BOOL" } else { "NULL" };
                self.w.object_of_one(key, |out| write_bool(out, v != 0));
                return;
            }
            Some(Some(Field::Len(6..=10, _))) => {}
            _ => {
                self.w.object_of_one("NULL", |out| write_bool(out, true));
                return;
            }
        }
        self.w.begin_object();
        match member {
            Some(Some(Field::Len(tag @ (6 | 7), set))) => {
                self.w.key(if tag == 6 { "SS" } else { "NS" }).begin_array();
                for e in elements(body, set) {
                    self.w.string_bytes(&body[e]);
                }
                self.w.end_array();
            }
            Some(Some(Field::Len(8, set))) => {
                self.w.key("BS").begin_array();
                for e in elements(body, set) {
                    base64_value(self.w, &body[e]);
                }
                self.w.end_array();
            }
            Some(Some(Field::Len(9, list))) => {
                self.w.key("L").begin_array();
                for e in elements(body, list) {
                    self.value(e, depth + 1);
                }
                self.w.end_array();
            }
            Some(Some(Field::Len(_, m))) => {
                self.w.key("M");
                let mut attrs = self.nested.pop().unwrap_or_default();
                attrs.clear();
                checked_map(body, m, &mut attrs);
                self.attr_map(&attrs, depth + 1);
                self.nested.push(attrs);
            }
            _ => {}
        }
        self.w.end_object();
    }
}

/// The entries of an `M` value that [`scan`] already checked (every value, UTF-8, no
/// duplicate names), sorted by name: read again without checking anything twice.
fn checked_map(buf: &[u8], r: Range<usize>, attrs: &mut Vec<Attr>) {
    for entry in elements(buf, r) {
        let (mut name, mut value) = (entry.start..entry.start, entry.end..entry.end);
        let mut e = Fields::new(buf, entry);
        while let Some(Some(field)) = e.next_field() {
            match field {
                Field::Len(1, n) => name = n,
                Field::Len(2, v) => value = v,
                _ => {}
            }
        }
        attrs.push(Attr::new(buf, name, value));
    }
    attrs.sort_unstable_by(|a, b| a.cmp_name(b, buf));
}

/// The LEN elements (field 1) of a checked set or list message.
fn elements(buf: &[u8], r: Range<usize>) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut f = Fields::new(buf, r);
    std::iter::from_fn(move || match f.next_field() {
        Some(Some(Field::Len(_, e))) => Some(e),
        _ => None,
    })
}

/// A `B`/`BS` element: standard base64 in quotes (its alphabet needs no JSON escaping).
fn base64_value(w: &mut JsonWriter<'_>, b: &[u8]) {
    w.raw_with(|out| base64_into(out, b));
}

/// `b` as a JSON string of standard base64, written straight into `out`.
fn base64_into(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    append_std(out, b);
    out.push(b'"');
}

fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests;
