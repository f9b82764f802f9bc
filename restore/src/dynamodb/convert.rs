//! The dump's DynamoDB values → the SDK's request types: items (the typed values the
//! tree reader parsed) and the `CreateTable` shape of a `_schema.json` (keys, attribute
//! types of the key attributes only — DynamoDB refuses definitions no key uses — and the
//! GSIs with their projections). Tables are created on-demand (`PAY_PER_REQUEST`): the
//! dump keeps no capacity settings.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use elastickv_backup_engine::decode::dynamodb::proto::{
    DynamoAttributeValue, DynamoItem, DynamoKeySchema, DynamoTableSchema, Value,
};
use std::collections::{BTreeSet, HashMap};

/// One typed value; `Err` names what is wrong (a value with no type).
pub(crate) fn attribute(v: &DynamoAttributeValue) -> Result<AttributeValue, String> {
    Ok(match &v.value {
        None => return Err("an attribute value without a type".into()),
        Some(Value::S(s)) => AttributeValue::S(s.clone()),
        Some(Value::N(n)) => AttributeValue::N(n.clone()),
        Some(Value::B(b)) => AttributeValue::B(Blob::new(b.to_vec())),
        Some(Value::Bool(b)) => AttributeValue::Bool(*b),
        Some(Value::Null(b)) => AttributeValue::Null(*b),
        Some(Value::Ss(s)) => AttributeValue::Ss(s.values.clone()),
        Some(Value::Ns(s)) => AttributeValue::Ns(s.values.clone()),
        Some(Value::Bs(s)) => {
            AttributeValue::Bs(s.values.iter().map(|b| Blob::new(b.to_vec())).collect())
        }
        Some(Value::L(l)) => AttributeValue::L(
            l.values
                .iter()
                .map(attribute)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(Value::M(m)) => AttributeValue::M(
            m.values
                .iter()
                .map(|(k, v)| Ok((k.clone(), attribute(v).map_err(|e| format!("{k:?}: {e}"))?)))
                .collect::<Result<HashMap<_, _>, String>>()?,
        ),
    })
}

/// A whole item.
pub(crate) fn item(it: &DynamoItem) -> Result<HashMap<String, AttributeValue>, String> {
    it.attributes
        .iter()
        .map(|(k, v)| {
            attribute(v)
                .map(|a| (k.clone(), a))
                .map_err(|e| format!("attribute {k:?}: {e}"))
        })
        .collect()
}

/// The pieces of a `CreateTable` request.
#[derive(Debug, Clone)]
pub(crate) struct CreateTable {
    pub key_schema: Vec<KeySchemaElement>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    pub billing_mode: BillingMode,
}

fn keys(k: &DynamoKeySchema, used: &mut BTreeSet<String>) -> Result<Vec<KeySchemaElement>, String> {
    let mut out = Vec::new();
    for (name, ty) in [(&k.hash_key, KeyType::Hash), (&k.range_key, KeyType::Range)] {
        if name.is_empty() {
            continue;
        }
        used.insert(name.clone());
        out.push(
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(ty)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(out)
}

/// The `CreateTable` shape of a schema; `Err` says what in `_schema.json` cannot be
/// expressed (a key attribute without a type, a GSI without keys).
pub(crate) fn create_table(s: &DynamoTableSchema) -> Result<CreateTable, String> {
    let mut used = BTreeSet::new();
    let pk = s.primary_key.as_ref().ok_or("no primary_key")?;
    let key_schema = keys(pk, &mut used)?;
    let mut global_secondary_indexes = Vec::new();
    for (name, g) in &s.global_secondary_indexes {
        let ks = g
            .key_schema
            .as_ref()
            .ok_or_else(|| format!("global secondary index {name:?}: no key_schema"))?;
        let mut projection = Projection::builder();
        if let Some(p) = &g.projection {
            if !p.projection_type.is_empty() {
                projection =
                    projection.projection_type(ProjectionType::from(p.projection_type.as_str()));
            }
            for a in &p.non_key_attributes {
                projection = projection.non_key_attributes(a);
            }
        }
        global_secondary_indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .set_key_schema(Some(keys(ks, &mut used)?))
                .projection(projection.build())
                .build()
                .map_err(|e| format!("global secondary index {name:?}: {e}"))?,
        );
    }
    let mut attribute_definitions = Vec::new();
    for name in &used {
        let ty = s.attribute_definitions.get(name).ok_or_else(|| {
            format!("key attribute {name:?} has no entry in attribute_definitions")
        })?;
        if !matches!(ty.as_str(), "S" | "N" | "B") {
            return Err(format!(
                "key attribute {name:?} has type {ty:?} (a key must be S, N or B)"
            ));
        }
        attribute_definitions.push(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(ty.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(CreateTable {
        key_schema,
        attribute_definitions,
        global_secondary_indexes,
        billing_mode: BillingMode::PayPerRequest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::decode::dynamodb::proto::{
        DynamoAttributeValueMap, DynamoGlobalSecondaryIndex, DynamoGsiProjection, DynamoStringSet,
    };

    fn v(value: Value) -> DynamoAttributeValue {
        DynamoAttributeValue { value: Some(value) }
    }

    #[test]
    fn values_convert_type_for_type() {
        let m = DynamoAttributeValueMap {
            values: [("n".to_string(), v(Value::N("1.50".into())))].into(),
        };
        assert_eq!(
            attribute(&v(Value::M(m))).unwrap(),
            AttributeValue::M([("n".to_string(), AttributeValue::N("1.50".into()))].into())
        );
        assert_eq!(
            attribute(&v(Value::Ns(DynamoStringSet {
                values: vec!["1".into(), "2".into()]
            })))
            .unwrap(),
            AttributeValue::Ns(vec!["1".into(), "2".into()])
        );
        assert_eq!(
            attribute(&v(Value::B(bytes::Bytes::from_static(b"\0\xff")))).unwrap(),
            AttributeValue::B(Blob::new(vec![0, 255]))
        );
        let e = item(&DynamoItem {
            attributes: [("x".to_string(), DynamoAttributeValue { value: None })].into(),
        })
        .unwrap_err();
        assert!(e.contains("\"x\"") && e.contains("without a type"), "{e}");
    }

    #[test]
    fn create_table_defines_only_key_attributes() {
        let s = DynamoTableSchema {
            table_name: "t".into(),
            attribute_definitions: [
                ("pk".to_string(), "S".to_string()),
                ("sk".to_string(), "N".to_string()),
                ("g".to_string(), "S".to_string()),
                ("unused".to_string(), "S".to_string()),
            ]
            .into(),
            primary_key: Some(DynamoKeySchema {
                hash_key: "pk".into(),
                range_key: "sk".into(),
            }),
            global_secondary_indexes: [(
                "by_g".to_string(),
                DynamoGlobalSecondaryIndex {
                    key_schema: Some(DynamoKeySchema {
                        hash_key: "g".into(),
                        range_key: String::new(),
                    }),
                    projection: Some(DynamoGsiProjection {
                        projection_type: "INCLUDE".into(),
                        non_key_attributes: vec!["a".into()],
                    }),
                },
            )]
            .into(),
            ..Default::default()
        };
        let c = create_table(&s).unwrap();
        let names: Vec<_> = c
            .attribute_definitions
            .iter()
            .map(|d| d.attribute_name().to_string())
            .collect();
        assert_eq!(names, ["g", "pk", "sk"]);
        assert_eq!(c.key_schema.len(), 2);
        let g = &c.global_secondary_indexes[0];
        assert_eq!(g.index_name(), "by_g");
        let p = g.projection().unwrap();
        assert_eq!(p.projection_type(), Some(&ProjectionType::Include));
        assert_eq!(p.non_key_attributes(), ["a".to_string()]);

        let mut bad = s.clone();
        bad.attribute_definitions.remove("g");
        let e = create_table(&bad).unwrap_err();
        assert!(e.contains("\"g\" has no entry"), "{e}");
    }
}
