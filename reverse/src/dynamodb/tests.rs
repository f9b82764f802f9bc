//! Tree-level tests: docs/format/10-dynamodb.md V12 and the layouts and refusals of the walk.

use super::schema::tests::V12_SCHEMA;
use super::*;
use crate::Entries;
use elastickv_backup_format::keys::ddb;

/// V3's item file (`items/c%2F7/3%2F2.json`).
const V3_ITEM: &str = r#"{
  "customer": {
    "S": "c/7"
  },
  "status": {
    "S": "new"
  },
  "total": {
    "N": "-0.25"
  },
  "ts": {
    "N": "1.50"
  }
}"#;

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("dynamodb/orders");
    std::fs::create_dir_all(t.join("items/c%2F7")).unwrap();
    std::fs::write(t.join("_schema.json"), V12_SCHEMA).unwrap();
    std::fs::write(t.join("items/c%2F7/3%2F2.json"), V3_ITEM).unwrap();
    d
}

fn hexed(entries: &Entries) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = entries
        .iter()
        .map(|(k, v)| (hex::encode(k), hex::encode(v)))
        .collect();
    v.sort();
    v
}

#[test]
fn v12_reverse_encoder() {
    let d = tree();
    let mut out = Entries::new();
    encode_tree(d.path(), &mut out).unwrap();
    let item_key = "216464627c6974656d7c62334a6b5a584a7a7c317c632f3700010202010100ff31350001";
    let mut want = vec![
        (
            hex::encode(ddb::table_meta(b"b3JkZXJz")),
            "004453010a066f7264657273120d0a08637573746f6d6572120153120b0a0673746174757312015312070a02747312014e1a0e0a08637573746f6d65721202747322290a0962795f737461747573121c0a080a0673746174757312100a07494e434c5544451205746f74616c28023801".to_string(),
        ),
        (hex::encode(ddb::table_gen(b"b3JkZXJz")), "31".to_string()),
        (
            item_key.to_string(),
            "004449010a110a08637573746f6d657212050a03632f370a0f0a0673746174757312050a036e65770a100a05746f74616c120712052d302e32350a0c0a02747312061204312e3530".to_string(),
        ),
        (
            "216464627c6773697c62334a6b5a584a7a7c317c596e6c66633352686448567a7c6e65770001632f3700010202010100ff31350001".to_string(),
            item_key.to_string(),
        ),
    ];
    want.sort();
    assert_eq!(hexed(&out), want);
}

#[test]
fn absent_subtree_and_ignored_entries() {
    let d = tempfile::tempdir().unwrap();
    let mut out = Entries::new();
    encode_tree(d.path(), &mut out).unwrap();
    assert!(out.is_empty());
    // Plain files beside tables and non-.json files among items are not part of the format;
    // a table without items/ is a table without rows.
    let d = tree();
    std::fs::write(d.path().join("dynamodb/README"), "x").unwrap();
    std::fs::write(d.path().join("dynamodb/orders/items/notes.txt"), "x").unwrap();
    std::fs::write(d.path().join("dynamodb/orders/items/c%2F7/x.tmp"), "x").unwrap();
    let u = d.path().join("dynamodb/users");
    std::fs::create_dir_all(&u).unwrap();
    std::fs::write(
        u.join("_schema.json"),
        r#"{"format_version":1,"table_name":"users","primary_key":{"hash_key":{"name":"id"}},"attribute_definitions":[{"name":"id","type":"S"}]}"#,
    )
    .unwrap();
    encode_tree(d.path(), &mut out).unwrap();
    assert_eq!(out.len(), 6);
}

#[test]
fn jsonl_layout_reads_bundles() {
    let d = tree();
    let t = d.path().join("dynamodb/orders/items");
    std::fs::remove_dir_all(&t).unwrap();
    std::fs::create_dir_all(&t).unwrap();
    let line: String = V3_ITEM.split_whitespace().collect::<Vec<_>>().join("");
    let other = line.replace("c/7", "c/8");
    std::fs::write(t.join("data-00000.jsonl"), format!("{line}\n{other}\n")).unwrap();
    let mut per_item = Entries::new();
    encode_tree(tree().path(), &mut per_item).unwrap();
    let mut out = Entries::new();
    encode_into(d.path(), &Options { jsonl: true }, &mut out).unwrap();
    assert_eq!(out.len(), 6);
    for e in &per_item {
        assert!(out.contains(e));
    }
    // A directory has no place in a jsonl layout.
    std::fs::create_dir(t.join("x")).unwrap();
    let e = encode_into(d.path(), &Options { jsonl: true }, &mut out).unwrap_err();
    assert!(e.to_string().contains("jsonl"), "{e}");
}

#[test]
fn refusals_name_the_file() {
    type Breaker = fn(&Path);
    let cases: [(&str, Breaker); 5] = [
        ("nested directory", |t| {
            std::fs::create_dir(t.join("items/c%2F7/deeper")).unwrap()
        }),
        ("invalid item json", |t| {
            std::fs::write(t.join("items/c%2F7/3%2F2.json"), "{").unwrap()
        }),
        ("symlink", |t| {
            std::os::unix::fs::symlink(t.join("_schema.json"), t.join("items/l.json")).unwrap()
        }),
        ("_schema.json", |t| {
            std::fs::remove_file(t.join("_schema.json")).unwrap()
        }),
        ("expected a directory", |t| {
            std::fs::remove_dir_all(t.join("items")).unwrap();
            std::fs::write(t.join("items"), "x").unwrap();
        }),
    ];
    for (why, break_it) in cases {
        let d = tree();
        break_it(&d.path().join("dynamodb/orders"));
        let e = encode_tree(d.path(), &mut Entries::new())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dynamodb/orders/"), "{why}: {e}");
        assert!(e.contains(why), "{why}: {e}");
    }
}

#[test]
fn duplicate_items_reach_the_writer_twice() {
    // Two files with the same primary key stage the same key; the writer refuses it.
    let d = tree();
    std::fs::write(
        d.path().join("dynamodb/orders/items/c%2F7/1.5.json"),
        V3_ITEM,
    )
    .unwrap();
    let mut w = crate::writer::FsmWriter::new(1, 1 << 20);
    encode_into(d.path(), &Options::default(), &mut w).unwrap();
    let e = w.finish(Vec::new(), "o").unwrap_err();
    assert!(matches!(e, ReverseError::DuplicateKey { .. }), "{e}");
}
