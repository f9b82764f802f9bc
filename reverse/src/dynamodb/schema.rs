//! `_schema.json` → the `DynamoTableSchema` a fresh table is restored with (docs/format/10-dynamodb.md §10
//! steps 1–2): the names and types the dump records, key encoding version 2, generation 1
//! and no migration. The per-key `type` fields are ignored; `attribute_definitions` is
//! the source of attribute types, as in the stored schema.

use elastickv_backup_dumptree::json::{one_value, text, Record};
use elastickv_backup_engine::decode::dynamodb::proto::{
    DynamoGlobalSecondaryIndex, DynamoGsiProjection, DynamoKeySchema, DynamoTableSchema,
};
use elastickv_backup_engine::encode::filename::encode_segment;
use std::collections::BTreeMap;

/// Key encoding of every restored table: ordered keys (docs/format/10-dynamodb.md §3).
pub const KEY_ENCODING_VERSION: u64 = 2;
/// Generation of every restored table, item key and GSI row.
pub const RESTORE_GENERATION: u64 = 1;

fn key_schema(r: &Record<'_>) -> Result<DynamoKeySchema, String> {
    Ok(DynamoKeySchema {
        hash_key: r.record("hash_key")?.text("name")?,
        range_key: r.record("range_key")?.text("name")?,
    })
}

fn strings(raw: Vec<&[u8]>, what: &str) -> Result<Vec<String>, String> {
    raw.into_iter()
        .map(|v| text(v).ok_or_else(|| format!("{what}: expected strings")))
        .collect()
}

/// Parses `_schema.json` of the table directory named `dir_name` (its on-disk name).
pub fn parse(bytes: &[u8], dir_name: &[u8]) -> Result<DynamoTableSchema, String> {
    let r = Record::new(one_value(bytes)?)?;
    let version: i64 = r.int("format_version", "int")?;
    if version != 1 {
        return Err(format!(
            "format_version {version} is not supported (expected 1)"
        ));
    }
    let table_name = r.text("table_name")?;
    if table_name.is_empty() {
        return Err("table_name is empty".into());
    }
    let want_dir = encode_segment(table_name.as_bytes());
    if want_dir.as_bytes() != dir_name {
        return Err(format!(
            "table_name {table_name:?} belongs in directory {want_dir:?}, not {:?}",
            String::from_utf8_lossy(dir_name)
        ));
    }
    let primary_key = key_schema(&r.record("primary_key")?)?;
    if primary_key.hash_key.is_empty() {
        return Err("primary_key.hash_key.name is empty".into());
    }
    let mut attribute_definitions = BTreeMap::new();
    for d in r.array("attribute_definitions")? {
        let d = Record::new(d).map_err(|e| format!("attribute_definitions: {e}"))?;
        let name = d.text("name")?;
        if attribute_definitions
            .insert(name.clone(), d.text("type")?)
            .is_some()
        {
            return Err(format!("attribute_definitions: duplicate name {name:?}"));
        }
    }
    let mut global_secondary_indexes = BTreeMap::new();
    for g in r.array("global_secondary_indexes")? {
        let g = Record::new(g).map_err(|e| format!("global_secondary_indexes: {e}"))?;
        let name = g.text("name")?;
        let p = g.record("projection")?;
        let index = DynamoGlobalSecondaryIndex {
            key_schema: Some(key_schema(&g.record("key_schema")?)?),
            projection: Some(DynamoGsiProjection {
                projection_type: p.text("type")?,
                non_key_attributes: strings(p.array("non_key_attributes")?, "non_key_attributes")?,
            }),
        };
        if global_secondary_indexes
            .insert(name.clone(), index)
            .is_some()
        {
            return Err(format!("global_secondary_indexes: duplicate name {name:?}"));
        }
    }
    Ok(DynamoTableSchema {
        table_name,
        attribute_definitions,
        primary_key: Some(primary_key),
        global_secondary_indexes,
        key_encoding_version: KEY_ENCODING_VERSION,
        migrating_from_generation: 0,
        generation: RESTORE_GENERATION,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dynamodb::marshal::schema_value;

    /// `_schema.json` of docs/format/10-dynamodb.md V12: V3's table with only the `by_status` index.
    pub(crate) const V12_SCHEMA: &str = r#"{
  "format_version": 1,
  "table_name": "orders",
  "primary_key": {
    "hash_key": {
      "name": "customer",
      "type": "S"
    },
    "range_key": {
      "name": "ts",
      "type": "N"
    }
  },
  "attribute_definitions": [
    {
      "name": "customer",
      "type": "S"
    },
    {
      "name": "status",
      "type": "S"
    },
    {
      "name": "ts",
      "type": "N"
    }
  ],
  "global_secondary_indexes": [
    {
      "name": "by_status",
      "key_schema": {
        "hash_key": {
          "name": "status",
          "type": "S"
        },
        "range_key": {}
      },
      "projection": {
        "type": "INCLUDE",
        "non_key_attributes": [
          "total"
        ]
      }
    }
  ]
}"#;

    #[test]
    fn v12_schema_record() {
        let s = parse(V12_SCHEMA.as_bytes(), b"orders").unwrap();
        assert_eq!(
            hex::encode(schema_value(&s)),
            "004453010a066f7264657273120d0a08637573746f6d6572120153120b0a0673746174757312015312070a02747312014e1a0e0a08637573746f6d65721202747322290a0962795f737461747573121c0a080a0673746174757312100a07494e434c5544451205746f74616c28023801"
        );
    }

    #[test]
    fn v1_schema_record() {
        let json = r#"{"format_version":1,"table_name":"users","primary_key":{"hash_key":{"name":"id","type":"S"},"range_key":{}},"attribute_definitions":[{"name":"id","type":"S"}]}"#;
        let s = parse(json.as_bytes(), b"users").unwrap();
        assert_eq!(
            hex::encode(schema_value(&s)),
            "004453010a05757365727312070a0269641201531a040a02696428023801"
        );
    }

    #[test]
    fn invalid_schemas() {
        let ok =
            r#"{"format_version":1,"table_name":"a b","primary_key":{"hash_key":{"name":"k"}}}"#;
        assert!(parse(ok.as_bytes(), b"a%20b").is_ok());
        // Directory name must be the table name's segment.
        assert!(parse(ok.as_bytes(), b"a b")
            .unwrap_err()
            .contains("directory"));
        for (json, why) in [
            (
                r#"{"format_version":2,"table_name":"t","primary_key":{"hash_key":{"name":"k"}}}"#,
                "format_version",
            ),
            (
                r#"{"table_name":"t","primary_key":{"hash_key":{"name":"k"}}}"#,
                "format_version",
            ),
            (
                r#"{"format_version":1,"table_name":"","primary_key":{"hash_key":{"name":"k"}}}"#,
                "table_name",
            ),
            (
                r#"{"format_version":1,"table_name":"t","primary_key":{"hash_key":{}}}"#,
                "hash_key",
            ),
            (
                r#"{"format_version":1,"table_name":"t","primary_key":{"hash_key":{"name":"k"}},"attribute_definitions":[{"name":"k"},{"name":"k"}]}"#,
                "duplicate",
            ),
            (
                r#"{"format_version":1,"table_name":"t","primary_key":{"hash_key":{"name":"k"}},"global_secondary_indexes":[{"name":"g"},{"name":"g"}]}"#,
                "duplicate",
            ),
            (
                r#"{"format_version":1,"table_name":"t","primary_key":{"hash_key":{"name":"k"}}} {}"#,
                "trailing",
            ),
            (r#"{"format_version":"1"}"#, "format_version"),
        ] {
            let e = parse(json.as_bytes(), b"t").unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }
}
