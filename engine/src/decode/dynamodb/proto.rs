//! The protobuf messages stored in `!ddb|meta|table|` and `!ddb|item|` values (docs/format/10-dynamodb.md §4),
//! written by hand as `prost` derives so the build needs no `protoc`.
//!
//! Maps are `BTreeMap`s: the JSON output lists attributes, definitions and indexes sorted
//! bytewise, which is exactly `String`'s order, so rendering never sorts. prost rejects
//! invalid UTF-8 in `string` fields (map keys included), as Go's runtime does.

use bytes::Bytes;
use std::collections::BTreeMap;

/// The value magics (`\x00DS\x01` schema, `\x00DI\x01` item) are format's.
pub use elastickv_backup_format::values::ddb::{ITEM_MAGIC, SCHEMA_MAGIC};

/// Primary key (or GSI key) attribute names; an empty range key means "hash only".
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoKeySchema {
    /// Hash (partition) key attribute name.
    #[prost(string, tag = "1")]
    pub hash_key: String,
    /// Range (sort) key attribute name; empty when the key has no range part.
    #[prost(string, tag = "2")]
    pub range_key: String,
}

/// Which attributes a GSI projects; copied verbatim into `_schema.json`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoGsiProjection {
    /// `ALL`, `KEYS_ONLY`, `INCLUDE` by convention.
    #[prost(string, tag = "1")]
    pub projection_type: String,
    /// Extra attributes of an `INCLUDE` projection, in stored order.
    #[prost(string, repeated, tag = "2")]
    pub non_key_attributes: Vec<String>,
}

/// One global secondary index of a table.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoGlobalSecondaryIndex {
    /// The index key.
    #[prost(message, optional, tag = "1")]
    pub key_schema: Option<DynamoKeySchema>,
    /// The projection.
    #[prost(message, optional, tag = "2")]
    pub projection: Option<DynamoGsiProjection>,
}

/// A table's schema: the source of `_schema.json` and of the active generation.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoTableSchema {
    /// The table name as the proto records it (written to `_schema.json`).
    #[prost(string, tag = "1")]
    pub table_name: String,
    /// Attribute name → `S`/`N`/`B`.
    #[prost(btree_map = "string, string", tag = "2")]
    pub attribute_definitions: BTreeMap<String, String>,
    /// The table's primary key.
    #[prost(message, optional, tag = "3")]
    pub primary_key: Option<DynamoKeySchema>,
    /// Index name → index.
    #[prost(btree_map = "string, message", tag = "4")]
    pub global_secondary_indexes: BTreeMap<String, DynamoGlobalSecondaryIndex>,
    /// 2 = ordered item keys; not written to the dump.
    #[prost(uint64, tag = "5")]
    pub key_encoding_version: u64,
    /// Generation being migrated away from (0 = none); its items are still readable.
    #[prost(uint64, tag = "6")]
    pub migrating_from_generation: u64,
    /// The active generation: only its items (and the migration source's) are dumped.
    #[prost(uint64, tag = "7")]
    pub generation: u64,
}

/// `SS` / `NS` payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoStringSet {
    /// Members in stored order (not de-duplicated).
    #[prost(string, repeated, tag = "1")]
    pub values: Vec<String>,
}

/// `BS` payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoBinarySet {
    /// Members in stored order.
    #[prost(bytes = "bytes", repeated, tag = "1")]
    pub values: Vec<Bytes>,
}

/// `L` payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoAttributeValueList {
    /// Elements in order.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<DynamoAttributeValue>,
}

/// `M` payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoAttributeValueMap {
    /// Member name → value, sorted bytewise.
    #[prost(btree_map = "string, message", tag = "1")]
    pub values: BTreeMap<String, DynamoAttributeValue>,
}

/// One typed DynamoDB value; an unset oneof renders as `{"NULL": true}`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoAttributeValue {
    /// The value, if any member of the oneof is set.
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10")]
    pub value: Option<Value>,
}

/// The members of [`DynamoAttributeValue`]'s oneof.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// `S`.
    #[prost(string, tag = "1")]
    S(String),
    /// `N`: the literal exactly as stored.
    #[prost(string, tag = "2")]
    N(String),
    /// `B`.
    #[prost(bytes = "bytes", tag = "3")]
    B(Bytes),
    /// `BOOL`.
    #[prost(bool, tag = "4")]
    Bool(bool),
    /// `NULL` (the stored boolean is copied verbatim).
    #[prost(bool, tag = "5")]
    Null(bool),
    /// `SS`.
    #[prost(message, tag = "6")]
    Ss(DynamoStringSet),
    /// `NS`.
    #[prost(message, tag = "7")]
    Ns(DynamoStringSet),
    /// `BS`.
    #[prost(message, tag = "8")]
    Bs(DynamoBinarySet),
    /// `L`.
    #[prost(message, tag = "9")]
    L(DynamoAttributeValueList),
    /// `M`.
    #[prost(message, tag = "10")]
    M(DynamoAttributeValueMap),
}

impl Value {
    /// The Go type name upstream prints (`%T`) when this member cannot be a key.
    pub fn go_type_name(&self) -> &'static str {
        match self {
            Value::S(_) => "*proto.DynamoAttributeValue_S",
            Value::N(_) => "*proto.DynamoAttributeValue_N",
            Value::B(_) => "*proto.DynamoAttributeValue_B",
            Value::Bool(_) => "*proto.DynamoAttributeValue_BoolValue",
            Value::Null(_) => "*proto.DynamoAttributeValue_NullValue",
            Value::Ss(_) => "*proto.DynamoAttributeValue_Ss",
            Value::Ns(_) => "*proto.DynamoAttributeValue_Ns",
            Value::Bs(_) => "*proto.DynamoAttributeValue_Bs",
            Value::L(_) => "*proto.DynamoAttributeValue_L",
            Value::M(_) => "*proto.DynamoAttributeValue_M",
        }
    }
}

/// One item: attribute name → value, sorted bytewise.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DynamoItem {
    /// The attributes (key attributes included).
    #[prost(btree_map = "string, message", tag = "1")]
    pub attributes: BTreeMap<String, DynamoAttributeValue>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn decodes_v1_schema() {
        let v = hex::decode("0a05757365727312070a0269641201531a040a02696428023801").unwrap();
        let s = DynamoTableSchema::decode(&v[..]).unwrap();
        assert_eq!(s.table_name, "users");
        assert_eq!(
            s.attribute_definitions.get("id").map(String::as_str),
            Some("S")
        );
        assert_eq!(s.primary_key.unwrap().hash_key, "id");
        assert_eq!((s.key_encoding_version, s.generation), (2, 1));
    }

    #[test]
    fn rejects_invalid_utf8_string() {
        // attributes{"k": S "\xff"}
        let v = [0x0a, 0x08, 0x0a, 0x01, b'k', 0x12, 0x03, 0x0a, 0x01, 0xff];
        assert!(DynamoItem::decode(&v[..]).is_err());
    }
}
