//! JSON rendering of items (docs/format/10-dynamodb.md §6) and `_schema.json` (§6.3), byte-exact with Go's
//! `json.MarshalIndent(v, "", "  ")` — including Go's default HTML escaping of `<`, `>` and
//! `&`, which upstream's DynamoDB files carry (the shared writer leaves those literal).

use super::proto::DynamoAttributeValue;
use super::proto::{DynamoItem, DynamoKeySchema, DynamoTableSchema, Value};
use crate::encode::json::JsonWriter;
use crate::error::Error;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use prost::Message;
use std::collections::BTreeMap;

/// Renders one item: pretty (the per-item file) or compact (a bundle line, no newline).
pub fn render_item(item: &DynamoItem, pretty: bool, out: &mut Vec<u8>) {
    let start = out.len();
    {
        let mut w = if pretty {
            JsonWriter::pretty(out)
        } else {
            JsonWriter::compact(out)
        };
        write_attr_map(&mut w, &item.attributes);
    }
    html_escape_tail(out, start);
}

/// Renders a stored item body: through the fast path ([`super::wire`]) when `item` is
/// `None` (the caller found the body plain), else the prost-decoded `item`.
pub fn render_stored(
    item: Option<&DynamoItem>,
    body: &[u8],
    pretty: bool,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match item {
        Some(item) => render_item(item, pretty, out),
        None if super::wire::render(body, pretty, out) => {}
        None => {
            let item = DynamoItem::decode(body)
                .map_err(|e| Error::Internal(format!("re-decoding an item: {e}")))?;
            render_item(&item, pretty, out);
        }
    }
    Ok(())
}

fn write_attr_map(w: &mut JsonWriter<'_>, m: &BTreeMap<String, DynamoAttributeValue>) {
    w.begin_object();
    for (name, v) in m {
        w.key_bytes(name.as_bytes());
        write_value(w, v);
    }
    w.end_object();
}

fn write_value(w: &mut JsonWriter<'_>, v: &DynamoAttributeValue) {
    w.begin_object();
    match &v.value {
        Some(Value::S(s)) => {
            w.key("S").string(s);
        }
        Some(Value::N(n)) => {
            w.key("N").string(n);
        }
        Some(Value::B(b)) => {
            w.key("B").string(&STANDARD.encode(b));
        }
        Some(Value::Bool(b)) => {
            w.key("BOOL").bool(*b);
        }
        Some(Value::Null(b)) => {
            w.key("NULL").bool(*b);
        }
        Some(Value::Ss(s)) => string_array(w, "SS", &s.values),
        Some(Value::Ns(s)) => string_array(w, "NS", &s.values),
        Some(Value::Bs(s)) => {
            w.key("BS").begin_array();
            for b in &s.values {
                w.string(&STANDARD.encode(b));
            }
            w.end_array();
        }
        Some(Value::L(l)) => {
            w.key("L").begin_array();
            for e in &l.values {
                write_value(w, e);
            }
            w.end_array();
        }
        Some(Value::M(m)) => {
            w.key("M");
            write_attr_map(w, &m.values);
        }
        None => {
            w.key("NULL").bool(true);
        }
    }
    w.end_object();
}

fn string_array(w: &mut JsonWriter<'_>, tag: &'static str, values: &[String]) {
    w.key(tag).begin_array();
    for s in values {
        w.string(s);
    }
    w.end_array();
}

/// Renders `_schema.json` (pretty, no trailing newline).
pub fn render_schema(s: &DynamoTableSchema, out: &mut Vec<u8>) {
    let start = out.len();
    {
        let defs = &s.attribute_definitions;
        let mut w = JsonWriter::pretty(out);
        w.begin_object();
        w.key("format_version").u64(1);
        w.key("table_name").string(&s.table_name);
        w.key("primary_key");
        write_key_schema(&mut w, s.primary_key.as_ref(), defs);
        w.key("attribute_definitions").begin_array();
        for (name, ty) in defs {
            w.begin_object();
            w.key("name").string(name);
            w.key("type").string(ty);
            w.end_object();
        }
        w.end_array();
        if !s.global_secondary_indexes.is_empty() {
            w.key("global_secondary_indexes").begin_array();
            for (name, gsi) in &s.global_secondary_indexes {
                w.begin_object();
                w.key("name").string(name);
                w.key("key_schema");
                write_key_schema(&mut w, gsi.key_schema.as_ref(), defs);
                w.key("projection").begin_object();
                let p = gsi.projection.as_ref();
                w.key("type")
                    .string(p.map_or("", |p| p.projection_type.as_str()));
                if let Some(p) = p.filter(|p| !p.non_key_attributes.is_empty()) {
                    string_array(&mut w, "non_key_attributes", &p.non_key_attributes);
                }
                w.end_object();
                w.end_object();
            }
            w.end_array();
        }
        w.end_object();
    }
    html_escape_tail(out, start);
}

/// `{"hash_key": {name?, type?}, "range_key": {name?, type?}}`; the range key is `{}` when
/// absent and the hash key's type is looked up even when its name is empty (as upstream).
fn write_key_schema(
    w: &mut JsonWriter<'_>,
    k: Option<&DynamoKeySchema>,
    defs: &BTreeMap<String, String>,
) {
    let hash = k.map_or("", |k| k.hash_key.as_str());
    let range = k.map_or("", |k| k.range_key.as_str());
    w.begin_object();
    w.key("hash_key");
    write_key_attr(w, hash, defs.get(hash).map_or("", String::as_str));
    w.key("range_key");
    let range_ty = if range.is_empty() {
        ""
    } else {
        defs.get(range).map_or("", String::as_str)
    };
    write_key_attr(w, range, range_ty);
    w.end_object();
}

fn write_key_attr(w: &mut JsonWriter<'_>, name: &str, ty: &str) {
    w.begin_object();
    if !name.is_empty() {
        w.key("name").string(name);
    }
    if !ty.is_empty() {
        w.key("type").string(ty);
    }
    w.end_object();
}

/// Applies Go's HTML escaping to JSON just written from `start`: `<`, `>`, `&` become
/// `\u003c`, `\u003e`, `\u0026`. Those bytes can only occur inside string literals (the
/// writer emits no other text containing them, and UTF-8 continuation bytes are never
/// ASCII), so a byte-level pass is exact.
pub fn html_escape_tail(out: &mut Vec<u8>, start: usize) {
    let tail = out.get(start..).unwrap_or_default();
    let Some(first) = memchr::memchr3(b'<', b'>', b'&', tail) else {
        return;
    };
    let from = start + first;
    let rest: Vec<u8> = out.split_off(from);
    for b in rest {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            b => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn schema(hexval: &str) -> String {
        let v = hex::decode(hexval).unwrap();
        let s = DynamoTableSchema::decode(&v[4..]).unwrap();
        let mut out = Vec::new();
        render_schema(&s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn v1_schema_bytes() {
        let got = schema("004453010a05757365727312070a0269641201531a040a02696428023801");
        let want = "{\n  \"format_version\": 1,\n  \"table_name\": \"users\",\n  \"primary_key\": {\n    \"hash_key\": {\n      \"name\": \"id\",\n      \"type\": \"S\"\n    },\n    \"range_key\": {}\n  },\n  \"attribute_definitions\": [\n    {\n      \"name\": \"id\",\n      \"type\": \"S\"\n    }\n  ]\n}";
        assert_eq!(got, want);
        assert_eq!(got.len(), 241);
    }

    #[test]
    fn v3_schema_has_sorted_gsis() {
        let got = schema("004453010a066f7264657273120d0a08637573746f6d6572120153120b0a0673746174757312015312070a02747312014e1a0e0a08637573746f6d657212027473221c0a03616c6c12150a0c0a067374617475731202747312050a03414c4c22290a0962795f737461747573121c0a080a0673746174757312100a07494e434c5544451205746f74616c28023803");
        assert_eq!(got.len(), 1013);
        assert!(got.contains("\"name\": \"by_status\",\n      \"key_schema\": {\n        \"hash_key\": {\n          \"name\": \"status\",\n          \"type\": \"S\"\n        },\n        \"range_key\": {}\n      },\n      \"projection\": {\n        \"type\": \"INCLUDE\",\n        \"non_key_attributes\": [\n          \"total\"\n        ]\n      }"));
        assert!(got.find("\"all\"").unwrap() < got.find("\"by_status\"").unwrap());
    }

    #[test]
    fn html_escaping() {
        let mut v = b"{\"a<\": \"x>&y\"}".to_vec();
        html_escape_tail(&mut v, 0);
        assert_eq!(v, br#"{"a\u003c": "x\u003e\u0026y"}"#);
    }
}
