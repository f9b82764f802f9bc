//! Go's deterministic protobuf marshalling of the DynamoDB records (docs/format/10-dynamodb.md §4), which
//! the live adapter and upstream's encoder use, so equal items give equal bytes: decoded
//! records (prost structs) written back through format's one writer (`values`).
//!
//! Why not `prost::Message::encode`: prost leaves an empty key or value out of a map
//! entry, while Go writes both fields of every entry (an attribute whose value message is
//! empty is `0a 05 0a 01 78 12 00`, not `0a 03 0a 01 78`). Everything else — ascending
//! field numbers, proto3 defaults omitted except the chosen oneof member, set message
//! fields written even when empty, map entries sorted by key — is spelled out here.

use elastickv_backup_engine::decode::dynamodb::proto::{
    DynamoAttributeValue, DynamoGlobalSecondaryIndex, DynamoItem, DynamoKeySchema,
    DynamoTableSchema, Value,
};
use elastickv_backup_format::values::ddb::{self as av, SetKind, SCHEMA_MAGIC};
use elastickv_backup_format::values::Pb;

/// `\x00DI\x01 ‖ DynamoItem`.
pub fn item_value(item: &DynamoItem) -> Vec<u8> {
    let values: Vec<(&str, Vec<u8>)> = item
        .attributes
        .iter()
        .map(|(name, v)| (name.as_str(), attribute(v)))
        .collect();
    av::item(values.iter().map(|(name, v)| (*name, v.as_slice())))
}

/// One `DynamoAttributeValue` message.
pub fn attribute(v: &DynamoAttributeValue) -> Vec<u8> {
    let Some(v) = &v.value else {
        return av::unset();
    };
    match v {
        Value::S(s) => av::s(s.as_bytes()),
        Value::N(n) => av::n(n.as_bytes()),
        Value::B(b) => av::b(b),
        Value::Bool(b) => av::boolean(*b),
        Value::Null(b) => av::null(*b),
        Value::Ss(s) => av::set(SetKind::Strings, s.values.iter().map(|v| v.as_bytes())),
        Value::Ns(s) => av::set(SetKind::Numbers, s.values.iter().map(|v| v.as_bytes())),
        Value::Bs(s) => av::set(SetKind::Binaries, s.values.iter().map(|v| &v[..])),
        Value::L(l) => {
            let elements: Vec<Vec<u8>> = l.values.iter().map(attribute).collect();
            av::list(elements.iter().map(Vec::as_slice))
        }
        Value::M(m) => {
            let entries: Vec<(&str, Vec<u8>)> = m
                .values
                .iter()
                .map(|(k, e)| (k.as_str(), attribute(e)))
                .collect();
            av::map(entries.iter().map(|(k, v)| (*k, v.as_slice())))
        }
    }
}

fn key_schema(k: &DynamoKeySchema) -> Vec<u8> {
    let mut pb = Pb::default();
    if !k.hash_key.is_empty() {
        pb = pb.bytes(1, k.hash_key.as_bytes());
    }
    if !k.range_key.is_empty() {
        pb = pb.bytes(2, k.range_key.as_bytes());
    }
    pb.0
}

fn gsi(g: &DynamoGlobalSecondaryIndex) -> Vec<u8> {
    let mut pb = Pb::default();
    if let Some(k) = &g.key_schema {
        pb = pb.bytes(1, &key_schema(k));
    }
    if let Some(p) = &g.projection {
        let mut proj = Pb::default();
        if !p.projection_type.is_empty() {
            proj = proj.bytes(1, p.projection_type.as_bytes());
        }
        for a in &p.non_key_attributes {
            proj = proj.bytes(2, a.as_bytes());
        }
        pb = pb.bytes(2, &proj.0);
    }
    pb.0
}

/// `\x00DS\x01 ‖ DynamoTableSchema`.
pub fn schema_value(s: &DynamoTableSchema) -> Vec<u8> {
    let mut pb = Pb(SCHEMA_MAGIC.to_vec());
    if !s.table_name.is_empty() {
        pb = pb.bytes(1, s.table_name.as_bytes());
    }
    for (name, ty) in &s.attribute_definitions {
        pb = pb.entry(2, name, ty.as_bytes());
    }
    if let Some(k) = &s.primary_key {
        pb = pb.bytes(3, &key_schema(k));
    }
    for (name, g) in &s.global_secondary_indexes {
        pb = pb.entry(4, name, &gsi(g));
    }
    for (field, v) in [
        (5, s.key_encoding_version),
        (6, s.migrating_from_generation),
        (7, s.generation),
    ] {
        if v != 0 {
            pb = pb.uint(field, v);
        }
    }
    pb.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn roundtrip_item(hex_value: &str) {
        let v = hex::decode(hex_value).unwrap();
        let item = DynamoItem::decode(&v[4..]).unwrap();
        assert_eq!(hex::encode(item_value(&item)), hex_value);
    }

    #[test]
    fn items_of_the_spec_vectors_marshal_back_exactly() {
        // V2, V3, and V4 (every attribute type, empty members, an unset oneof).
        roundtrip_item("004449010a0b0a036167651204120234320a0a0a02696412040a027531");
        roundtrip_item("004449010a110a08637573746f6d657212050a03632f370a0f0a0673746174757312050a036e65770a100a05746f74616c120712052d302e32350a0c0a02747312061204312e3530");
        roundtrip_item("004449010a0a0a04626f6f6c120220000a0e0a026273120842060a02fbff0a000a080a02656c12024a000a080a026573120232000a0a0a016b12051a0300ff100a130a016c120e4a0c0a0512033165320a030a01780a190a016d121452120a070a0141120252000a070a016212020a000a110a026e73120b3a090a0231300a03312e300a090a036e756c120228010a140a0173120f0a0d613c623e266320c3a920e280a80a0e0a027373120832060a017a0a01610a050a01781200");
    }

    #[test]
    fn schemas_of_the_spec_vectors_marshal_back_exactly() {
        for h in [
            "004453010a05757365727312070a0269641201531a040a02696428023801",
            "004453010a066f7264657273120d0a08637573746f6d6572120153120b0a0673746174757312015312070a02747312014e1a0e0a08637573746f6d657212027473221c0a03616c6c12150a0c0a067374617475731202747312050a03414c4c22290a0962795f737461747573121c0a080a0673746174757312100a07494e434c5544451205746f74616c28023803",
            "004453010a017412070a02706b1201531a040a02706b280230013802",
        ] {
            let v = hex::decode(h).unwrap();
            let s = DynamoTableSchema::decode(&v[4..]).unwrap();
            assert_eq!(hex::encode(schema_value(&s)), h);
        }
    }
}
