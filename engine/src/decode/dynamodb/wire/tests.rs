//! The fast path against prost + `render_item`: the same bytes on every item it accepts, and
//! it never accepts what prost rejects.

use super::*;
use crate::decode::dynamodb::proto::{
    DynamoAttributeValue, DynamoAttributeValueList, DynamoAttributeValueMap, DynamoBinarySet,
    DynamoItem, DynamoStringSet, Value,
};
use crate::decode::dynamodb::render::render_item;
use prost::Message;
use std::collections::BTreeMap;

/// xorshift64*: deterministic cases without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Names chosen to collide in order: empty, prefixes of each other, HTML and non-ASCII,
/// and names that share their first eight bytes (the sort's `head`) and differ after.
const NAMES: &[&str] = &[
    "",
    "a",
    "a\u{0}",
    "ab",
    "pk",
    "sk",
    "<&>",
    "é",
    "\u{2028}",
    "Z",
    "abcdefgh",
    "abcdefgh\u{0}",
    "abcdefgh10",
    "abcdefgh2",
    "abcdefghé",
];

fn text(r: &mut Rng) -> String {
    let pieces = [
        "x", "\"", "\\", "\n", "<", "&", "é", "\u{2028}", "\u{1}", " ", "123",
    ];
    (0..r.below(5))
        .map(|_| pieces[r.below(pieces.len() as u64) as usize])
        .collect()
}

fn value(r: &mut Rng, depth: usize) -> DynamoAttributeValue {
    let pick = if depth > 3 { r.below(6) } else { r.below(11) };
    let v = match pick {
        0 => Some(Value::S(text(r))),
        1 => Some(Value::N(format!("{}", r.below(1000)))),
        2 => Some(Value::B(
            (0..r.below(6))
                .map(|_| r.next() as u8)
                .collect::<Vec<_>>()
                .into(),
        )),
        3 => Some(Value::Bool(r.below(2) == 1)),
        4 => Some(Value::Null(r.below(2) == 1)),
        5 => None,
        6 => Some(Value::Ss(DynamoStringSet {
            values: (0..r.below(3)).map(|_| text(r)).collect(),
        })),
        7 => Some(Value::Ns(DynamoStringSet {
            values: (0..r.below(3)).map(|i| i.to_string()).collect(),
        })),
        8 => Some(Value::Bs(DynamoBinarySet {
            values: (0..r.below(3)).map(|i| vec![i as u8; 4].into()).collect(),
        })),
        9 => Some(Value::L(DynamoAttributeValueList {
            values: (0..r.below(4)).map(|_| value(r, depth + 1)).collect(),
        })),
        _ => Some(Value::M(DynamoAttributeValueMap {
            values: map(r, depth + 1),
        })),
    };
    DynamoAttributeValue { value: v }
}

fn map(r: &mut Rng, depth: usize) -> BTreeMap<String, DynamoAttributeValue> {
    (0..r.below(6))
        .map(|_| {
            let name = NAMES[r.below(NAMES.len() as u64) as usize].to_string();
            (name, value(r, depth))
        })
        .collect()
}

fn reference(body: &[u8], pretty: bool) -> Option<Vec<u8>> {
    let item = DynamoItem::decode(body).ok()?;
    let mut out = Vec::new();
    render_item(&item, pretty, &mut out);
    Some(out)
}

fn fast(body: &[u8], pretty: bool) -> Option<Vec<u8>> {
    let mut out = b"prefix".to_vec();
    render(body, pretty, &mut out).then(|| out.split_off(6))
}

#[test]
fn renders_every_generated_item_as_prost_does() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let item = DynamoItem {
            attributes: map(&mut r, 0),
        };
        let body = item.encode_to_vec();
        for pretty in [true, false] {
            let want = reference(&body, pretty).expect("prost decodes its own encoding");
            let got = fast(&body, pretty).expect("a plain encoding takes the fast path");
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{item:?}"
            );
        }
    }
}

#[test]
fn never_accepts_what_prost_rejects_and_agrees_on_what_it_accepts() {
    let mut r = Rng(7);
    let mut accepted_mutants = 0;
    for _ in 0..3000 {
        let item = DynamoItem {
            attributes: map(&mut r, 0),
        };
        let mut body = item.encode_to_vec();
        if body.is_empty() {
            continue;
        }
        for _ in 0..=r.below(3) {
            let at = r.below(body.len() as u64) as usize;
            match r.below(3) {
                0 => body[at] = r.next() as u8,
                1 => body.truncate(at),
                _ => body.insert(at, r.next() as u8),
            }
            if body.is_empty() {
                break;
            }
        }
        let want = reference(&body, true);
        let got = fast(&body, true);
        if let Some(got) = got {
            accepted_mutants += 1;
            assert_eq!(Some(got), want, "{body:02x?}");
        }
    }
    assert!(accepted_mutants > 50, "the mutants exercised the fast path");
}

/// Encodes `fields` (tag, wire bytes) of a message by hand.
fn entry(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut e = vec![0x0a, name.len() as u8];
    e.extend_from_slice(name);
    e.extend_from_slice(&[0x12, value.len() as u8]);
    e.extend_from_slice(value);
    let mut out = vec![0x0a, e.len() as u8];
    out.extend(e);
    out
}

#[test]
fn declines_what_prost_merges_or_overrides() {
    let s = |t: &str| {
        let mut v = vec![0x0a, t.len() as u8];
        v.extend_from_slice(t.as_bytes());
        v
    };
    // Two entries with one name: prost keeps the last.
    let mut body = entry(b"k", &s("1"));
    body.extend(entry(b"k", &s("2")));
    assert!(!scan(&body, &mut Vec::new()));
    assert!(fast(&body, true).is_none() && reference(&body, true).is_some());
    // Two members in one value: prost keeps the last.
    let mut two = s("1");
    two.extend_from_slice(&[0x20, 0x01]);
    assert!(!scan(&entry(b"k", &two), &mut Vec::new()));
    // An unknown field: prost skips it.
    let mut unknown = entry(b"k", &s("1"));
    unknown.extend_from_slice(&[0x10, 0x01]);
    assert!(!scan(&unknown, &mut Vec::new()));
    // Deep nesting: left to prost and its recursion limit.
    let mut deep = s("x");
    for _ in 0..(MAX_DEPTH + 2) {
        let mut l = vec![0x0a, deep.len() as u8];
        l.extend(deep);
        deep = vec![0x4a, l.len() as u8];
        deep.extend(l);
        if deep.len() > 120 {
            break;
        }
    }
    assert!(reference(&entry(b"k", &deep), true).is_some());
}

#[test]
fn empty_name_sorts_first_and_missing_parts_default() {
    // {"": S "e"}, {"a": <no value>}, and an entry with no name at all (also "").
    let mut body = entry(b"a", &[]);
    body.extend(entry(b"", &[0x0a, 0x01, b'e']));
    let mut attrs = Vec::new();
    assert!(scan(&body, &mut attrs));
    assert_eq!(&body[attrs[0].name.clone()], b"");
    assert_eq!(fast(&body, false), reference(&body, false));
    assert_eq!(
        String::from_utf8(fast(&body, false).unwrap()).unwrap(),
        r#"{"":{"S":"e"},"a":{"NULL":true}}"#
    );
}

#[test]
fn key_values_for_the_item_path() {
    let mut body = entry(b"pk", &[0x0a, 0x02, b'h', b'i']);
    body.extend(entry(b"n", &[0x12, 0x02, b'1', b'0']));
    body.extend(entry(b"b", &[0x1a, 0x01, 0xff]));
    body.extend(entry(b"t", &[0x20, 0x01]));
    body.extend(entry(b"z", &[]));
    let mut attrs = Vec::new();
    assert!(scan(&body, &mut attrs));
    assert_eq!(key_value(&body, &attrs, "pk"), Some(KeyValue::S("hi")));
    assert_eq!(key_value(&body, &attrs, "n"), Some(KeyValue::N("10")));
    assert_eq!(key_value(&body, &attrs, "b"), Some(KeyValue::B(&[0xff])));
    assert_eq!(
        key_value(&body, &attrs, "t"),
        Some(KeyValue::Other("*proto.DynamoAttributeValue_BoolValue"))
    );
    assert_eq!(key_value(&body, &attrs, "z"), Some(KeyValue::Nil));
    assert_eq!(key_value(&body, &attrs, "missing"), None);
}
