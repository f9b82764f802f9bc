//! DynamoDB sample tables (docs/format/10-dynamodb.md §2): `orders` (hash `id` S + range `line` N) and
//! `users` (hash `id` S), schema, generation counter and items.

use super::enc::{b64url, cat, seg};
use super::Pair;
use elastickv_backup_format::keys::ddb;
use elastickv_backup_format::values::ddb::{self as av, SCHEMA_MAGIC};
use elastickv_backup_format::values::Pb;

pub(crate) mod synth;

/// Order-preserving raw key bytes of a positive integer `N` (docs/format/10-dynamodb.md §3).
pub(crate) fn number_raw(n: u64) -> Vec<u8> {
    let text = n.to_string();
    let digits = text.trim_end_matches('0');
    let e = text.len() as u64;
    let mut out = vec![0x02, 0x02, 0x01, e as u8, 0x00];
    out.extend_from_slice(digits.as_bytes());
    out
}

fn schema(table: &str, hash: &str, range: Option<&str>) -> Vec<u8> {
    let mut defs: Vec<(&str, &str)> = vec![(hash, "S")];
    if let Some(r) = range {
        defs.push((r, "N"));
    }
    schema_with(&SchemaDef {
        table,
        defs: &defs,
        hash,
        range,
        gsis: &[],
        generation: 1,
    })
}

/// A table schema (docs/format/10-dynamodb.md §4) in Go's deterministic marshalling.
pub(crate) struct SchemaDef<'a> {
    /// Table name.
    pub table: &'a str,
    /// Attribute definitions (name, `S`/`N`/`B`), any order.
    pub defs: &'a [(&'a str, &'a str)],
    /// Hash key attribute.
    pub hash: &'a str,
    /// Range key attribute.
    pub range: Option<&'a str>,
    /// GSIs: (index name, hash attribute, range attribute), projection `ALL`.
    pub gsis: &'a [(&'a str, &'a str, Option<&'a str>)],
    /// Active generation.
    pub generation: u64,
}

fn key_schema(hash: &str, range: Option<&str>) -> Vec<u8> {
    let mut pk = Pb::default().bytes(1, hash.as_bytes());
    if let Some(r) = range {
        pk = pk.bytes(2, r.as_bytes());
    }
    pk.0
}

/// `\x00DS\x01` + `DynamoTableSchema` for `d`.
pub(crate) fn schema_with(d: &SchemaDef) -> Vec<u8> {
    let mut defs = d.defs.to_vec();
    defs.sort();
    let mut m = Pb::default().bytes(1, d.table.as_bytes());
    for (name, ty) in defs {
        m = m.entry(2, name, ty.as_bytes());
    }
    m = m.bytes(3, &key_schema(d.hash, d.range));
    let mut gsis = d.gsis.to_vec();
    gsis.sort();
    for (name, h, r) in gsis {
        let proj = Pb::default().bytes(1, b"ALL");
        let gsi = Pb::default().bytes(1, &key_schema(h, r)).bytes(2, &proj.0);
        m = m.entry(4, name, &gsi.0);
    }
    let m = m.uint(5, 2).uint(7, d.generation);
    cat(&[SCHEMA_MAGIC, &m.0])
}

pub(crate) fn s(v: &str) -> Vec<u8> {
    av::s(v.as_bytes())
}

pub(crate) fn n(v: &str) -> Vec<u8> {
    av::n(v.as_bytes())
}

pub(crate) fn item(attrs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    av::item(attrs.iter().map(|(name, v)| (*name, v.as_slice())))
}

fn table_keys(out: &mut Vec<Pair>, table: &str, schema_value: Vec<u8>) -> String {
    let t = b64url(table.as_bytes());
    out.push((ddb::table_meta(t.as_bytes()), schema_value));
    out.push((ddb::table_gen(t.as_bytes()), b"1".to_vec()));
    t
}

/// Appends both tables with `count` items each.
pub fn generate(count: usize, out: &mut Vec<Pair>) {
    let t = table_keys(out, "orders", schema("orders", "id", Some("line")));
    for i in 0..count {
        let id = format!("order-{:03}", i / 2);
        let line = (i % 2 + 1) as u64;
        let key = cat(&[
            &ddb::item_prefix(t.as_bytes(), 1),
            &seg(id.as_bytes()),
            &seg(&number_raw(line)),
        ]);
        let batch = format!("batch-{}", i % 3);
        let tags = av::set(av::SetKind::Strings, [&b"sample"[..], batch.as_bytes()]);
        let value = item(&[
            ("id", s(&id)),
            ("line", n(&line.to_string())),
            ("amount", n(&format!("{}.{:02}", 10 + i, i % 100))),
            ("paid", av::boolean(i % 2 == 1)),
            ("tags", tags),
        ]);
        out.push((key, value));
    }
    let t = table_keys(out, "users", schema("users", "id", None));
    for i in 0..count {
        let id = format!("user {i}/ü");
        let key = cat(&[&ddb::item_prefix(t.as_bytes(), 1), &seg(id.as_bytes())]);
        let value = item(&[("id", s(&id)), ("email", s(&format!("u{i}@example.com")))]);
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        // Spec 10 V1: table "users", {id: S}, hash id, version 2, generation 1.
        assert_eq!(
            hex::encode(schema("users", "id", None)),
            "004453010a05757365727312070a0269641201531a040a02696428023801"
        );
        // Spec 10 §3.3: 1 → 0202010100 31, 10 → 0202010200 31, 100 → 0202010300 31.
        assert_eq!(hex::encode(number_raw(1)), "020201010031");
        assert_eq!(hex::encode(number_raw(10)), "020201020031");
        assert_eq!(hex::encode(number_raw(100)), "020201030031");
        // Spec 10 V2: {age: N "42", id: S "u1"}.
        assert_eq!(
            hex::encode(item(&[("id", s("u1")), ("age", n("42"))])),
            "004449010a0b0a036167651204120234320a0a0a02696412040a027531"
        );
    }
}
