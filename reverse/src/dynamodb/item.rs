//! An item's JSON (`items/…json`, or one line of a JSONL bundle) → `DynamoItem`, and the
//! keys it is stored under (docs/format/10-dynamodb.md §10 steps 5–7): the ordered item key built from the
//! schema's key attributes, and one row per global secondary index whose key attributes
//! the item carries (sparse indexes skip the others).
//!
//! The JSON is the decoder's typed form: each attribute is an object with exactly one of
//! `S N B BOOL NULL SS NS BS L M`. `N` literals are kept verbatim (only key attributes
//! must parse as numbers); `B`/`BS` are standard base64 with padding.

use super::number::ordered_number;
use super::schema::RESTORE_GENERATION;
use crate::b64url;
use crate::Entries;
use elastickv_backup_dumptree::json::{boolean, elements, members, text, Kind};
use elastickv_backup_engine::decode::dynamodb::proto::{
    DynamoAttributeValue, DynamoAttributeValueList, DynamoAttributeValueMap, DynamoBinarySet,
    DynamoItem, DynamoStringSet, DynamoTableSchema, Value,
};
use elastickv_backup_format::keys::ddb;
use elastickv_backup_format::keys::seg;
use elastickv_backup_gocompat::base64::std_decode;
use std::collections::BTreeMap;

/// Deepest `L`/`M` nesting accepted: far beyond what DynamoDB allows (32) or the decoder
/// can read back, and shallow enough that the recursive conversion cannot exhaust a stack.
const MAX_DEPTH: usize = 1000;

/// Parses one validated item object.
pub fn parse_item(raw: &[u8]) -> Result<DynamoItem, String> {
    let mut attributes = BTreeMap::new();
    if Kind::of(raw) != Kind::Null {
        for (name, v) in members(raw)? {
            let name = String::from_utf8_lossy(&name).into_owned();
            let value = typed(v, 0).map_err(|e| format!("attribute {name:?}: {e}"))?;
            attributes.insert(name, value);
        }
    }
    Ok(DynamoItem { attributes })
}

fn strings(raw: &[u8], ty: &str) -> Result<Vec<String>, String> {
    elements(raw)?
        .into_iter()
        .map(|e| text(e).ok_or_else(|| format!("{ty}: every member must be a string")))
        .collect()
}

fn b64(s: &str, ty: &str) -> Result<bytes::Bytes, String> {
    std_decode(s.as_bytes())
        .map(bytes::Bytes::from)
        .ok_or_else(|| format!("{ty}: {s:?} is not standard base64"))
}

/// One typed value `{"<T>": …}`.
fn typed(raw: &[u8], depth: usize) -> Result<DynamoAttributeValue, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    if Kind::of(raw) != Kind::Obj {
        return Err(format!(
            "expected a typed value object, found {}",
            Kind::of(raw).name()
        ));
    }
    // Go decodes the object into a map: a repeated type key keeps its last value.
    let mut by_type: BTreeMap<Vec<u8>, &[u8]> = BTreeMap::new();
    for (k, v) in members(raw)? {
        by_type.insert(k, v);
    }
    let mut it = by_type.into_iter();
    let (Some((ty, v)), None) = (it.next(), it.next()) else {
        return Err("a typed value must have exactly one type key".into());
    };
    let ty = String::from_utf8_lossy(&ty).into_owned();
    let want = |what: &str| format!("{ty}: expected {what}");
    let value = match ty.as_str() {
        "S" => Value::S(text(v).ok_or_else(|| want("a string"))?),
        "N" => Value::N(text(v).ok_or_else(|| want("a string"))?),
        "B" => Value::B(b64(&text(v).ok_or_else(|| want("a string"))?, "B")?),
        "BOOL" => Value::Bool(boolean(v).ok_or_else(|| want("true or false"))?),
        "NULL" => Value::Null(boolean(v).ok_or_else(|| want("true or false"))?),
        "SS" => Value::Ss(DynamoStringSet {
            values: strings(v, "SS")?,
        }),
        "NS" => Value::Ns(DynamoStringSet {
            values: strings(v, "NS")?,
        }),
        "BS" => Value::Bs(DynamoBinarySet {
            values: strings(v, "BS")?
                .iter()
                .map(|s| b64(s, "BS"))
                .collect::<Result<_, _>>()?,
        }),
        "L" => Value::L(DynamoAttributeValueList {
            values: elements(v)?
                .into_iter()
                .map(|e| typed(e, depth + 1))
                .collect::<Result<_, _>>()?,
        }),
        "M" => {
            if Kind::of(v) != Kind::Obj {
                return Err(want("an object"));
            }
            let mut values = BTreeMap::new();
            for (k, e) in members(v)? {
                let k = String::from_utf8_lossy(&k).into_owned();
                let e = typed(e, depth + 1).map_err(|err| format!("M member {k:?}: {err}"))?;
                values.insert(k, e);
            }
            Value::M(DynamoAttributeValueMap { values })
        }
        _ => return Err(format!("unknown attribute type {ty:?}")),
    };
    Ok(DynamoAttributeValue { value: Some(value) })
}

/// The raw key bytes of a key attribute (docs/format/10-dynamodb.md §3): `S` text, `B` bytes, `N` ordered
/// number; any other type cannot be part of a key.
fn key_raw(name: &str, v: &DynamoAttributeValue) -> Result<Vec<u8>, String> {
    match &v.value {
        Some(Value::S(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::B(b)) => Ok(b.to_vec()),
        Some(Value::N(n)) => ordered_number(n).map_err(|e| format!("key attribute {name:?}: {e}")),
        Some(other) => Err(format!(
            "key attribute {name:?} has unsupported type {}",
            type_tag(other)
        )),
        None => Err(format!("key attribute {name:?} has no value")),
    }
}

fn type_tag(v: &Value) -> &'static str {
    match v {
        Value::S(_) => "S",
        Value::N(_) => "N",
        Value::B(_) => "B",
        Value::Bool(_) => "BOOL",
        Value::Null(_) => "NULL",
        Value::Ss(_) => "SS",
        Value::Ns(_) => "NS",
        Value::Bs(_) => "BS",
        Value::L(_) => "L",
        Value::M(_) => "M",
    }
}

/// `seg(hash) [‖ seg(range)]` of a key schema, or `None` when the item lacks one of the
/// attributes (`required` turns that into an error naming the attribute).
fn key_segments(
    item: &DynamoItem,
    hash: &str,
    range: &str,
    required: bool,
) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    for (role, name) in [("hash", hash), ("range", range)] {
        if role == "range" && name.is_empty() {
            break;
        }
        let Some(v) = item.attributes.get(name) else {
            if required {
                return Err(format!("item missing {role}-key attribute {name:?}"));
            }
            return Ok(None);
        };
        out.extend_from_slice(&seg(&key_raw(name, v)?));
    }
    Ok(Some(out))
}

/// The ordered item key: [`ddb::item_prefix`] of b64url(T) and generation 1, then
/// seg(hash)[seg(range)].
pub fn item_key(schema: &DynamoTableSchema, item: &DynamoItem) -> Result<Vec<u8>, String> {
    let pk = schema.primary_key.clone().unwrap_or_default();
    let segs = key_segments(item, &pk.hash_key, &pk.range_key, true)?.unwrap_or_default();
    let mut key = ddb::item_prefix(
        b64url(schema.table_name.as_bytes()).as_bytes(),
        RESTORE_GENERATION,
    );
    key.extend_from_slice(&segs);
    Ok(key)
}

/// The GSI rows of an item, in index-name order: key
/// [`ddb::gsi_prefix`] of b64url(T), generation 1 and b64url(I), then
/// seg(idxHash)[seg(idxRange)] followed by the
/// primary-key segments, value = the item key.
pub fn gsi_rows(
    schema: &DynamoTableSchema,
    item: &DynamoItem,
    item_key: &[u8],
) -> Result<Entries, String> {
    let pk = schema.primary_key.clone().unwrap_or_default();
    let pk_segs = key_segments(item, &pk.hash_key, &pk.range_key, true)?.unwrap_or_default();
    let table = b64url(schema.table_name.as_bytes());
    let mut rows = Vec::new();
    for (index, g) in &schema.global_secondary_indexes {
        let ks = g.key_schema.clone().unwrap_or_default();
        let Some(idx_segs) = key_segments(item, &ks.hash_key, &ks.range_key, false)
            .map_err(|e| format!("index {index:?}: {e}"))?
        else {
            continue;
        };
        let mut key = ddb::gsi_prefix(
            table.as_bytes(),
            RESTORE_GENERATION,
            b64url(index.as_bytes()).as_bytes(),
        );
        key.extend_from_slice(&idx_segs);
        key.extend_from_slice(&pk_segs);
        rows.push((key, item_key.to_vec()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::marshal::item_value;
    use elastickv_backup_dumptree::json::one_value;

    fn item(json: &str) -> Result<DynamoItem, String> {
        parse_item(one_value(json.as_bytes())?)
    }

    #[test]
    fn v4_item_every_type() {
        // Spec 10 V4's item file, minus the unset oneof (which the dump shows as NULL true).
        let json = r#"{"bool":{"BOOL":false},"bs":{"BS":["+/8=",""]},"el":{"L":[]},"es":{"SS":[]},"k":{"B":"AP8Q"},"l":{"L":[{"N":"1e2"},{"S":"x"}]},"m":{"M":{"A":{"M":{}},"b":{"S":""}}},"ns":{"NS":["10","1.0"]},"nul":{"NULL":true},"s":{"S":"a\u003cb\u003e\u0026c é \u2028"},"ss":{"SS":["z","a"]}}"#;
        let got = hex::encode(item_value(&item(json).unwrap()));
        assert_eq!(got, "004449010a0a0a04626f6f6c120220000a0e0a026273120842060a02fbff0a000a080a02656c12024a000a080a026573120232000a0a0a016b12051a0300ff100a130a016c120e4a0c0a0512033165320a030a01780a190a016d121452120a070a0141120252000a070a016212020a000a110a026e73120b3a090a0231300a03312e300a090a036e756c120228010a140a0173120f0a0d613c623e266320c3a920e280a80a0e0a027373120832060a017a0a0161");
    }

    #[test]
    fn malformed_items() {
        for (json, why) in [
            (r#"{"a":{"S":"x","N":"1"}}"#, "exactly one"),
            (r#"{"a":{}}"#, "exactly one"),
            (r#"{"a":{"X":"1"}}"#, "unknown attribute type"),
            (r#"{"a":{"S":1}}"#, "expected a string"),
            (r#"{"a":{"B":"_w=="}}"#, "base64"),
            (r#"{"a":{"BOOL":"true"}}"#, "true or false"),
            (r#"{"a":{"SS":[1]}}"#, "string"),
            (r#"{"a":{"L":[{"Q":1}]}}"#, "unknown attribute type"),
            (r#"{"a":{"M":[]}}"#, "an object"),
            (r#"{"a":"x"}"#, "typed value object"),
            (r#"[1]"#, "expected an object"),
        ] {
            let e = item(json).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
        // A repeated type key collapses (Go map semantics); a repeated attribute too.
        let i = item(r#"{"a":{"S":"x","S":"y"},"a":{"N":"2"}}"#).unwrap();
        assert_eq!(i.attributes["a"].value, Some(Value::N("2".into())));
        let mut deep = String::new();
        for _ in 0..=MAX_DEPTH + 1 {
            deep.push_str(r#"{"L":["#);
        }
        for _ in 0..=MAX_DEPTH + 1 {
            deep.push_str("]}");
        }
        let e = item(&format!(r#"{{"a":{deep}}}"#)).unwrap_err();
        assert!(e.contains("nested deeper"), "{e}");
    }

    #[test]
    fn keys_and_sparse_gsi_rows() {
        let schema = super::super::schema::parse(
            super::super::schema::tests::V12_SCHEMA.as_bytes(),
            b"orders",
        )
        .unwrap();
        let i = item(r#"{"customer":{"S":"c/7"},"status":{"S":"new"},"total":{"N":"-0.25"},"ts":{"N":"1.50"}}"#).unwrap();
        let k = item_key(&schema, &i).unwrap();
        assert_eq!(
            hex::encode(&k),
            "216464627c6974656d7c62334a6b5a584a7a7c317c632f3700010202010100ff31350001"
        );
        let rows = gsi_rows(&schema, &i, &k).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            hex::encode(&rows[0].0),
            "216464627c6773697c62334a6b5a584a7a7c317c596e6c66633352686448567a7c6e65770001632f3700010202010100ff31350001"
        );
        assert_eq!(rows[0].1, k);
        // No `status`: no row in the sparse index.
        let i = item(r#"{"customer":{"S":"c"},"ts":{"N":"1"}}"#).unwrap();
        let k = item_key(&schema, &i).unwrap();
        assert!(gsi_rows(&schema, &i, &k).unwrap().is_empty());
        // Missing key attributes, unsupported key types, bad numbers.
        let e = item_key(&schema, &item(r#"{"customer":{"S":"c"}}"#).unwrap()).unwrap_err();
        assert!(e.contains("item missing range-key attribute \"ts\""), "{e}");
        let e = item_key(&schema, &item(r#"{"ts":{"N":"1"}}"#).unwrap()).unwrap_err();
        assert!(e.contains("hash-key attribute \"customer\""), "{e}");
        let e = item_key(
            &schema,
            &item(r#"{"customer":{"BOOL":true},"ts":{"N":"1"}}"#).unwrap(),
        )
        .unwrap_err();
        assert!(e.contains("unsupported type BOOL"), "{e}");
        let e = item_key(
            &schema,
            &item(r#"{"customer":{"S":"c"},"ts":{"N":"x"}}"#).unwrap(),
        )
        .unwrap_err();
        assert!(e.contains("not a decimal literal"), "{e}");
        let i = item(r#"{"customer":{"S":"c"},"ts":{"N":"1"},"status":{"L":[]}}"#).unwrap();
        let k = item_key(&schema, &i).unwrap();
        let e = gsi_rows(&schema, &i, &k).unwrap_err();
        assert!(e.contains("index \"by_status\""), "{e}");
    }
}
