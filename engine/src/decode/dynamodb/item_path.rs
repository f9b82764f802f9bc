//! Where an item's file goes (docs/format/10-dynamodb.md §5): `items/<hash>.json` for hash-only tables,
//! `items/<hash>/<range>.json` for composite keys. Key values come from the item body:
//! `S` and `N` (canonicalised, §3.5) through `encode_segment`, `B` through
//! `encode_binary_segment`.

use super::number::canonical_number;
use super::proto::{DynamoItem, Value};
use super::wire::{key_value, Attr, KeyValue};
use crate::encode::filename::{encode_binary_segment, encode_segment};
use crate::sinks::RelPath;

/// The item's path under `items_dir`; the error is upstream's detail text.
pub fn item_path(
    items_dir: &RelPath,
    hash_key: &str,
    range_key: &str,
    item: &DynamoItem,
) -> Result<RelPath, String> {
    path_of(items_dir, hash_key, range_key, |name| {
        item.attributes.get(name).map(|v| match &v.value {
            Some(Value::S(s)) => KeyValue::S(s),
            Some(Value::N(n)) => KeyValue::N(n),
            Some(Value::B(b)) => KeyValue::B(b),
            Some(other) => KeyValue::Other(other.go_type_name()),
            None => KeyValue::Nil,
        })
    })
}

/// [`item_path`] for an item read by the fast path ([`super::wire`]), from its sorted
/// attributes.
pub fn item_path_wire(
    items_dir: &RelPath,
    hash_key: &str,
    range_key: &str,
    body: &[u8],
    attrs: &[Attr],
) -> Result<RelPath, String> {
    path_of(items_dir, hash_key, range_key, |name| {
        key_value(body, attrs, name)
    })
}

/// The path from a lookup of key attributes by name (`None`: absent).
fn path_of<'a>(
    items_dir: &RelPath,
    hash_key: &str,
    range_key: &str,
    lookup: impl Fn(&str) -> Option<KeyValue<'a>>,
) -> Result<RelPath, String> {
    let mut hash = key_segment(lookup(hash_key), hash_key, "hash")?;
    if range_key.is_empty() {
        hash.push_str(".json");
        return join(items_dir, &hash);
    }
    let mut range = key_segment(lookup(range_key), range_key, "range")?;
    // Go's filepath.Join drops an empty component: an empty hash segment puts the file
    // directly under items/.
    let dir = if hash.is_empty() {
        items_dir.clone()
    } else {
        join(items_dir, &hash)?
    };
    range.push_str(".json");
    join(&dir, &range)
}

fn key_segment(v: Option<KeyValue<'_>>, attr: &str, role: &str) -> Result<String, String> {
    let v = v.ok_or_else(|| {
        format!(
            "item missing {role}-key attribute {}",
            super::error::go_quote(attr.as_bytes())
        )
    })?;
    let seg = match v {
        KeyValue::S(s) => encode_segment(s.as_bytes()),
        KeyValue::N(n) => encode_segment(canonical_number(n).as_bytes()),
        KeyValue::B(b) => encode_binary_segment(b),
        KeyValue::Other(go_type) => {
            return Err(format!(
                "primary key has unsupported attribute kind {go_type}"
            ))
        }
        KeyValue::Nil => return Err("primary key has unsupported attribute kind <nil>".to_string()),
    };
    if seg == "." || seg == ".." {
        return Err(format!(
            "{role}-key segment {} is a dot path (would escape items dir)",
            super::error::go_quote(seg.as_bytes())
        ));
    }
    Ok(seg)
}

fn join(dir: &RelPath, seg: &str) -> Result<RelPath, String> {
    dir.join(seg).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dynamodb::proto::DynamoAttributeValue;

    fn item(attrs: &[(&str, Value)]) -> DynamoItem {
        DynamoItem {
            attributes: attrs
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        DynamoAttributeValue {
                            value: Some(v.clone()),
                        },
                    )
                })
                .collect(),
        }
    }

    fn p(h: &str, r: &str, it: &DynamoItem) -> Result<String, String> {
        let d = RelPath::parse("dynamodb/t/items").unwrap();
        item_path(&d, h, r, it).map(|p| p.as_str().to_string())
    }

    #[test]
    fn shapes() {
        let it = item(&[
            ("h", Value::S("c/7".into())),
            ("r", Value::N("1.50".into())),
            ("b", Value::B(bytes::Bytes::from_static(b"\x00\xff\x10"))),
            ("e", Value::S(String::new())),
        ]);
        assert_eq!(p("h", "", &it).unwrap(), "dynamodb/t/items/c%2F7.json");
        assert_eq!(
            p("h", "r", &it).unwrap(),
            "dynamodb/t/items/c%2F7/3%2F2.json"
        );
        assert_eq!(p("b", "", &it).unwrap(), "dynamodb/t/items/b64.AP8Q.json");
        assert_eq!(p("e", "", &it).unwrap(), "dynamodb/t/items/.json");
        assert_eq!(p("e", "h", &it).unwrap(), "dynamodb/t/items/c%2F7.json");
        assert_eq!(p("h", "e", &it).unwrap(), "dynamodb/t/items/c%2F7/.json");
    }

    #[test]
    fn refusals() {
        let it = item(&[
            ("dot", Value::S(".".into())),
            ("dd", Value::S("..".into())),
            ("ok", Value::S("x".into())),
            ("bool", Value::Bool(true)),
        ]);
        assert_eq!(
            p("ok", "dot", &it).unwrap_err(),
            "range-key segment \".\" is a dot path (would escape items dir)"
        );
        assert_eq!(
            p("dd", "", &it).unwrap_err(),
            "hash-key segment \"..\" is a dot path (would escape items dir)"
        );
        assert_eq!(
            p("id", "", &it).unwrap_err(),
            "item missing hash-key attribute \"id\""
        );
        assert_eq!(
            p("ok", "sk", &it).unwrap_err(),
            "item missing range-key attribute \"sk\""
        );
        assert_eq!(
            p("bool", "", &it).unwrap_err(),
            "primary key has unsupported attribute kind *proto.DynamoAttributeValue_BoolValue"
        );
        let unset = DynamoItem {
            attributes: [("k".to_string(), DynamoAttributeValue { value: None })].into(),
        };
        assert_eq!(
            p("k", "", &unset).unwrap_err(),
            "primary key has unsupported attribute kind <nil>"
        );
    }
}
