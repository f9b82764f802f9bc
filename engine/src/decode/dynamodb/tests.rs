//! End-to-end tests of the adapter: docs/format/10-dynamodb.md §11 vectors V1–V11 (entries → files on disk),
//! bundle mode and migration. Entries go through the real `Dispatcher` (index pass, then
//! main pass in key order) into a `DirSink`, as the pipeline drives them.

use super::proto::{
    DynamoAttributeValue, DynamoItem, DynamoKeySchema, DynamoTableSchema, Value, ITEM_MAGIC,
    SCHEMA_MAGIC,
};
use super::DdbAdapter;
use crate::decode::{AdapterKind, Dispatcher};
use crate::encode::emitter::FailState;
use crate::encode::{Emitter, WorkerPool};
use crate::error::Error;
use crate::options::{DdbLayout, DecodeOptions, Scope};
use crate::sinks::{DirSink, Sink};
use bytes::Bytes;
use elastickv_backup_format::keys::ddb;
use elastickv_backup_format::Entry;
use prost::Message;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

type Kv = (Vec<u8>, Vec<u8>);

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn kv(k: &str, v: &str) -> Kv {
    (h(k), h(v))
}

/// The dump: files (path → bytes) and directories that exist.
struct Dump {
    files: BTreeMap<String, Vec<u8>>,
    dirs: Vec<String>,
}

impl Dump {
    fn text(&self, p: &str) -> &str {
        let b = self
            .files
            .get(p)
            .unwrap_or_else(|| panic!("missing {p}; have {:?}", self.files.keys()));
        std::str::from_utf8(b).unwrap()
    }
}

fn walk(root: &Path, rel: &str, d: &mut Dump) {
    for e in std::fs::read_dir(root.join(rel)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let p = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if e.file_type().unwrap().is_dir() {
            d.dirs.push(p.clone());
            walk(root, &p, d);
        } else {
            d.files
                .insert(p.clone(), std::fs::read(root.join(&p)).unwrap());
        }
    }
}

/// A realistic HLC commit timestamp (physical ms << 16).
const TS: u64 = 1_735_689_600_000 << 16;

fn run_adapter(a: DdbAdapter, opts: DecodeOptions, mut entries: Vec<Kv>) -> Result<Dump, Error> {
    // Encoded-key order `key ‖ BE64(!ts)`, as the pipeline delivers entries.
    entries.sort_by_cached_key(|(k, _)| [&k[..], &(!TS).to_be_bytes()].concat());
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("out");
    let sink: Arc<dyn Sink> = Arc::new(DirSink::create(&root, false)?);
    let fail = Arc::new(FailState::default());
    let pool = WorkerPool::start(2, sink.clone(), fail.clone());
    let out = Emitter::new(sink, &pool, fail, Arc::new(opts))?;
    let mut d = Dispatcher::new(vec![Box::new(a)]);
    let entries: Vec<Entry> = entries
        .into_iter()
        .map(|(k, v)| Entry {
            user_key: Bytes::from(k),
            commit_ts: TS,
            expire_at_ms: 0,
            tombstone: false,
            value: Bytes::from(v),
        })
        .collect();
    let prefixes = d.index_prefixes();
    let r = (|| {
        for e in entries
            .iter()
            .filter(|e| prefixes.iter().any(|p| e.user_key.starts_with(p)))
        {
            d.index(e)?;
        }
        for e in &entries {
            d.dispatch(e, &out)?;
        }
        d.finish(&out)
    })();
    drop(out);
    let joined = pool.join();
    r?;
    joined?;
    let mut dump = Dump {
        files: BTreeMap::new(),
        dirs: Vec::new(),
    };
    walk(&root, "", &mut dump);
    dump.dirs.sort();
    Ok(dump)
}

fn run_opts(opts: DecodeOptions, entries: Vec<Kv>) -> Result<Dump, Error> {
    run_adapter(DdbAdapter::new(&opts), opts, entries)
}

fn run(entries: Vec<Kv>) -> Result<Dump, Error> {
    run_opts(DecodeOptions::default(), entries)
}

const V1_META_KEY: &str = "216464627c6d6574617c7461626c657c64584e6c636e4d";
const V1_META_VAL: &str = "004453010a05757365727312070a0269641201531a040a02696428023801";
const V1_SCHEMA: &str = "{\n  \"format_version\": 1,\n  \"table_name\": \"users\",\n  \"primary_key\": {\n    \"hash_key\": {\n      \"name\": \"id\",\n      \"type\": \"S\"\n    },\n    \"range_key\": {}\n  },\n  \"attribute_definitions\": [\n    {\n      \"name\": \"id\",\n      \"type\": \"S\"\n    }\n  ]\n}";
const V2_ITEM_KEY: &str = "216464627c6974656d7c64584e6c636e4d7c317c75310001";
const V2_ITEM_VAL: &str = "004449010a0b0a036167651204120234320a0a0a02696412040a027531";

#[test]
fn v1_schema_only() {
    let d = run(vec![kv(V1_META_KEY, V1_META_VAL)]).unwrap();
    assert_eq!(d.text("dynamodb/users/_schema.json"), V1_SCHEMA);
    assert_eq!(d.files.len(), 1);
    assert_eq!(
        d.dirs,
        ["dynamodb", "dynamodb/users", "dynamodb/users/items"]
    );
}

#[test]
fn v2_one_item_gen_counter_ignored() {
    let d = run(vec![
        kv(V2_ITEM_KEY, V2_ITEM_VAL),
        kv(V1_META_KEY, V1_META_VAL),
        kv("216464627c6d6574617c67656e7c64584e6c636e4d", "31"),
    ])
    .unwrap();
    assert_eq!(d.text("dynamodb/users/_schema.json"), V1_SCHEMA);
    let want = "{\n  \"age\": {\n    \"N\": \"42\"\n  },\n  \"id\": {\n    \"S\": \"u1\"\n  }\n}";
    assert_eq!(d.text("dynamodb/users/items/u1.json"), want);
    assert_eq!(d.files.len(), 2);
}

const V3_ENTRIES: [(&str, &str); 4] = [
    ("216464627c6773697c62334a6b5a584a7a7c337c596e6c66633352686448567a7c6e65770001632f3700010202010100ff31350001", "216464627c6974656d7c62334a6b5a584a7a7c337c632f3700010202010100ff31350001"),
    ("216464627c6974656d7c62334a6b5a584a7a7c337c632f3700010202010100ff31350001", "004449010a110a08637573746f6d657212050a03632f370a0f0a0673746174757312050a036e65770a100a05746f74616c120712052d302e32350a0c0a02747312061204312e3530"),
    ("216464627c6d6574617c67656e7c62334a6b5a584a7a", "33"),
    ("216464627c6d6574617c7461626c657c62334a6b5a584a7a", "004453010a066f7264657273120d0a08637573746f6d6572120153120b0a0673746174757312015312070a02747312014e1a0e0a08637573746f6d657212027473221c0a03616c6c12150a0c0a067374617475731202747312050a03414c4c22290a0962795f737461747573121c0a080a0673746174757312100a07494e434c5544451205746f74616c28023803"),
];

#[test]
fn v3_composite_n_range_gsi_row_ignored() {
    let d = run(V3_ENTRIES.iter().map(|(k, v)| kv(k, v)).collect()).unwrap();
    assert_eq!(d.files["dynamodb/orders/_schema.json"].len(), 1013);
    let want = "{\n  \"customer\": {\n    \"S\": \"c/7\"\n  },\n  \"status\": {\n    \"S\": \"new\"\n  },\n  \"total\": {\n    \"N\": \"-0.25\"\n  },\n  \"ts\": {\n    \"N\": \"1.50\"\n  }\n}";
    assert_eq!(d.text("dynamodb/orders/items/c%2F7/3%2F2.json"), want);
    assert_eq!(want.len(), 138);
    assert_eq!(d.files.len(), 2);
}

#[test]
fn v4_binary_key_every_type_escaping() {
    let d = run(vec![
        kv("216464627c6974656d7c516d6c7549465268596d786c7c317c00ffff100001", "004449010a0a0a04626f6f6c120220000a0e0a026273120842060a02fbff0a000a080a02656c12024a000a080a026573120232000a0a0a016b12051a0300ff100a130a016c120e4a0c0a0512033165320a030a01780a190a016d121452120a070a0141120252000a070a016212020a000a110a026e73120b3a090a0231300a03312e300a090a036e756c120228010a140a0173120f0a0d613c623e266320c3a920e280a80a0e0a027373120832060a017a0a01610a050a01781200"),
        kv("216464627c6d6574617c7461626c657c516d6c7549465268596d786c", "004453010a0942696e205461626c6512060a016b1201421a030a016b28023801"),
    ])
    .unwrap();
    let schema = d.text("dynamodb/Bin%20Table/_schema.json");
    assert_eq!(schema.len(), 243);
    assert!(schema.contains("\"table_name\": \"Bin Table\""));
    let want = r#"{
  "bool": {
    "BOOL": false
  },
  "bs": {
    "BS": [
      "+/8=",
      ""
    ]
  },
  "el": {
    "L": []
  },
  "es": {
    "SS": []
  },
  "k": {
    "B": "AP8Q"
  },
  "l": {
    "L": [
      {
        "N": "1e2"
      },
      {
        "S": "x"
      }
    ]
  },
  "m": {
    "M": {
      "A": {
        "M": {}
      },
      "b": {
        "S": ""
      }
    }
  },
  "ns": {
    "NS": [
      "10",
      "1.0"
    ]
  },
  "nul": {
    "NULL": true
  },
  "s": {
    "S": "a\u003cb\u003e\u0026c é \u2028"
  },
  "ss": {
    "SS": [
      "z",
      "a"
    ]
  },
  "x": {
    "NULL": true
  }
}"#;
    assert_eq!(d.text("dynamodb/Bin%20Table/items/b64.AP8Q.json"), want);
    assert_eq!(want.len(), 616);
}

const T_META_KEY: &str = "216464627c6d6574617c7461626c657c6441";

#[test]
fn v5_stale_generation_excluded() {
    let d = run(vec![
        kv(
            "216464627c6974656d7c64417c317c6f6c640001",
            "004449010a0b0a02706b12050a036f6c64",
        ),
        kv(
            "216464627c6974656d7c64417c327c6e65770001",
            "004449010a0b0a02706b12050a036e6577",
        ),
        kv(
            T_META_KEY,
            "004453010a017412070a02706b1201531a040a02706b28023802",
        ),
    ])
    .unwrap();
    assert_eq!(d.files["dynamodb/t/_schema.json"].len(), 237);
    assert_eq!(
        d.text("dynamodb/t/items/new.json"),
        "{\n  \"pk\": {\n    \"S\": \"new\"\n  }\n}"
    );
    assert_eq!(d.files.len(), 2);
}

fn v6_entries() -> Vec<Kv> {
    vec![
        kv(
            "216464627c6974656d7c64417c317c5951",
            "004449010a090a02706b12030a01610a080a01761203120131",
        ),
        kv(
            "216464627c6974656d7c64417c317c5967",
            "004449010a090a02706b12030a01620a080a01761203120131",
        ),
        kv(
            "216464627c6974656d7c64417c327c610001",
            "004449010a090a02706b12030a01610a080a01761203120132",
        ),
        kv(
            T_META_KEY,
            "004453010a017412070a02706b1201531a040a02706b280230013802",
        ),
    ]
}

const V6_A: &str = "{\n  \"pk\": {\n    \"S\": \"a\"\n  },\n  \"v\": {\n    \"N\": \"2\"\n  }\n}";
const V6_B: &str = "{\n  \"pk\": {\n    \"S\": \"b\"\n  },\n  \"v\": {\n    \"N\": \"1\"\n  }\n}";

#[test]
fn v6_migration_active_generation_wins() {
    for budget in [super::MIGRATION_SORT_BUDGET, 1] {
        let opts = DecodeOptions::default();
        let a = DdbAdapter::new(&opts).with_spill_budget(budget);
        let d = run_adapter(a, opts, v6_entries()).unwrap();
        assert_eq!(d.text("dynamodb/t/items/a.json"), V6_A);
        assert_eq!(d.text("dynamodb/t/items/b.json"), V6_B);
        assert_eq!(d.files.len(), 3);
    }
}

#[test]
fn v6_migration_in_bundle_mode_keeps_key_order() {
    let opts = DecodeOptions {
        dynamodb_layout: DdbLayout::Jsonl {
            part_bytes: 1 << 20,
        },
        ..DecodeOptions::default()
    };
    for budget in [super::MIGRATION_SORT_BUDGET, 1] {
        let a = DdbAdapter::new(&opts).with_spill_budget(budget);
        let d = run_adapter(a, opts.clone(), v6_entries()).unwrap();
        // Survivors in key order: gen-1 "b" (…|1|Yg) before gen-2 "a" (…|2|a…).
        assert_eq!(
            d.text("dynamodb/t/items/data-00000.jsonl"),
            "{\"pk\":{\"S\":\"b\"},\"v\":{\"N\":\"1\"}}\n{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"2\"}}\n"
        );
        assert_eq!(d.files.len(), 2);
    }
}

#[test]
fn v7_newest_visible_version_wins() {
    // Upstream dispatches both MVCC versions (newest first), so the OLDER one ends up on
    // disk (spec V7: "v": "1"). Under the contract, visibility runs before adapters: only
    // the newest visible version reaches us, and the dump shows the current value "2".
    let d = run(vec![
        kv(
            "216464627c6974656d7c64584e6c636e4d7c317c75310001",
            "004449010a0a0a02696412040a0275310a080a01761203120132",
        ),
        kv(V1_META_KEY, V1_META_VAL),
    ])
    .unwrap();
    assert_eq!(
        d.text("dynamodb/users/items/u1.json"),
        "{\n  \"id\": {\n    \"S\": \"u1\"\n  },\n  \"v\": {\n    \"N\": \"2\"\n  }\n}"
    );
}

#[test]
fn v8_orphan_items_write_nothing() {
    let d = run(vec![kv(V2_ITEM_KEY, V2_ITEM_VAL)]).unwrap();
    assert!(
        d.files.is_empty() && d.dirs.is_empty(),
        "{:?} {:?}",
        d.files,
        d.dirs
    );
}

fn err(entries: Vec<Kv>) -> String {
    match run(entries) {
        Ok(d) => panic!("expected an error, got {:?}", d.files.keys()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn v9_errors() {
    let e = err(vec![kv(V2_ITEM_KEY, "00445301")]);
    assert!(
        e.starts_with("missing magic prefix: backup: invalid !ddb|item value"),
        "{e}"
    );
    let e = err(vec![kv("216464627c6974656d7c64584e6c636e4d7c317c", "00")]);
    assert!(e.contains("item key missing primary-key payload"), "{e}");
    assert!(e.contains("backup: malformed DynamoDB key"), "{e}");
    let e = err(vec![
        kv(
            "216464627c6974656d7c64584e6c636e4d7c317c2e2e0001",
            "004449010a0a0a02696412040a022e2e",
        ),
        kv(V1_META_KEY, V1_META_VAL),
    ]);
    assert!(
        e.starts_with("hash-key segment \"..\" is a dot path (would escape items dir): backup: invalid !ddb|item value"),
        "{e}"
    );
    let e = err(vec![
        kv(
            "216464627c6974656d7c64584e6c636e4d7c317c710001",
            "004449010a080a017812030a0171",
        ),
        kv(V1_META_KEY, V1_META_VAL),
    ]);
    assert!(
        e.starts_with("item missing hash-key attribute \"id\": backup: invalid !ddb|item value"),
        "{e}"
    );
    let e = err(vec![(ddb::table_meta(b""), h(V1_META_VAL))]);
    assert!(e.starts_with("empty table segment: "), "{e}");
    let e = err(vec![kv(V1_META_KEY, "0044490100")]);
    assert!(
        e.starts_with("missing magic prefix: backup: invalid !ddb|meta|table value"),
        "{e}"
    );
    // Items of a stale generation are never validated beyond key, magic and proto.
    let d = run(vec![
        kv(
            "216464627c6974656d7c64584e6c636e4d7c397c710001",
            "004449010a080a017812030a0171",
        ),
        kv(V1_META_KEY, V1_META_VAL),
    ])
    .unwrap();
    assert_eq!(d.files.len(), 1);
}

#[test]
fn dot_range_key_message_matches_golden() {
    let schema = DynamoTableSchema {
        table_name: "e".into(),
        attribute_definitions: [
            ("h".to_string(), "S".to_string()),
            ("r".to_string(), "S".to_string()),
        ]
        .into(),
        primary_key: Some(DynamoKeySchema {
            hash_key: "h".into(),
            range_key: "r".into(),
        }),
        key_encoding_version: 2,
        generation: 1,
        ..Default::default()
    };
    let it = item(&[("h", Value::S("x".into())), ("r", Value::S(".".into()))]);
    let e = err(vec![
        (item_key("ZQ", b"x\x00\x01.\x00\x01"), it),
        meta("ZQ", &schema),
    ]);
    assert!(
        e.starts_with("range-key segment \".\" is a dot path (would escape items dir): backup: invalid !ddb|item value"),
        "{e}"
    );
}

#[test]
fn v10_long_key_sha_fallback() {
    let k = "6b".repeat(250);
    let d = run(vec![
        kv(
            &format!("216464627c6974656d7c64584e6c636e4d7c317c{k}0001"),
            &format!("004449010a84020a02696412fd010afa01{k}"),
        ),
        kv(V1_META_KEY, V1_META_VAL),
    ])
    .unwrap();
    let name = format!(
        "dynamodb/users/items/b2c715564e4cfe3ed19da5b49dbb2931__{}.json",
        "k".repeat(64)
    );
    let body = d.text(&name);
    assert_eq!(
        body,
        format!(
            "{{\n  \"id\": {{\n    \"S\": \"{}\"\n  }}\n}}",
            "k".repeat(250)
        )
    );
    assert_eq!(body.len(), 279);
}

fn item(attrs: &[(&str, Value)]) -> Vec<u8> {
    let it = DynamoItem {
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
    };
    let mut v = ITEM_MAGIC.to_vec();
    it.encode(&mut v).unwrap();
    v
}

/// A generation-1 item key of the table encoded as `encoded`: [`ddb::item_prefix`] ‖ `rest`.
fn item_key(encoded: &str, rest: &[u8]) -> Vec<u8> {
    [ddb::item_prefix(encoded.as_bytes(), 1).as_slice(), rest].concat()
}

fn meta(encoded: &str, s: &DynamoTableSchema) -> Kv {
    let mut v = SCHEMA_MAGIC.to_vec();
    s.encode(&mut v).unwrap();
    (ddb::table_meta(encoded.as_bytes()), v)
}

fn nums_schema() -> DynamoTableSchema {
    DynamoTableSchema {
        table_name: "nums".into(),
        attribute_definitions: [("n".to_string(), "N".to_string())].into(),
        primary_key: Some(DynamoKeySchema {
            hash_key: "n".into(),
            range_key: String::new(),
        }),
        key_encoding_version: 2,
        generation: 1,
        ..Default::default()
    }
}

#[test]
fn v11_number_hash_keys_canonical_names() {
    let mut entries = vec![meta("bnVtcw", &nums_schema())];
    assert_eq!(
        entries[0].0,
        h("216464627c6d6574617c7461626c657c626e56746377")
    );
    for (i, lit) in [" -0.50 ", "1e3", "-0"].iter().enumerate() {
        let key = item_key("bnVtcw", format!("k{i}").as_bytes());
        entries.push((key, item(&[("n", Value::N(lit.to_string()))])));
    }
    let d = run(entries).unwrap();
    assert_eq!(
        d.text("dynamodb/nums/items/0.json"),
        "{\n  \"n\": {\n    \"N\": \"-0\"\n  }\n}"
    );
    assert_eq!(d.files["dynamodb/nums/items/0.json"].len(), 30);
    assert!(d
        .text("dynamodb/nums/items/-1%2F2.json")
        .contains("\" -0.50 \""));
    assert!(d.text("dynamodb/nums/items/1000.json").contains("\"1e3\""));
    assert_eq!(d.files.len(), 4);
}

#[test]
fn bundle_parts_roll_over_at_the_limit() {
    // Each line of a 5-byte value is 29 bytes: {"n":{"N":"1"},"v":{"S":"aaaaa"}}\n …
    let line = |n: usize, v: &str| format!("{{\"n\":{{\"N\":\"{n}\"}},\"v\":{{\"S\":\"{v}\"}}}}\n");
    let small = "aaaaa";
    let big = "b".repeat(200);
    let len = line(1, small).len() as u64;
    // Two lines fill a part exactly at 2·len, with a byte to spare at 2·len+1: the same
    // parts either way.
    for part_bytes in [2 * len, 2 * len + 1] {
        let opts = DecodeOptions {
            dynamodb_layout: DdbLayout::Jsonl { part_bytes },
            ..DecodeOptions::default()
        };
        let values = [small, small, small, &big, small, small];
        let mut entries = vec![meta("bnVtcw", &nums_schema())];
        for (i, v) in values.iter().enumerate() {
            let key = item_key("bnVtcw", format!("k{i}").as_bytes());
            entries.push((
                key,
                item(&[
                    ("n", Value::N((i + 1).to_string())),
                    ("v", Value::S(v.to_string())),
                ]),
            ));
        }
        let d = run_opts(opts, entries).unwrap();
        let p = |i: u32| {
            d.text(&format!("dynamodb/nums/items/data-{i:05}.jsonl"))
                .to_string()
        };
        assert_eq!(p(0), line(1, small) + &line(2, small)); // a third would exceed
        assert_eq!(p(1), line(3, small));
        assert_eq!(p(2), line(4, &big)); // larger than the limit: a part of its own
        assert_eq!(p(3), line(5, small) + &line(6, small));
        assert_eq!(d.files.len(), 5); // + _schema.json
        assert!(!d.files.contains_key("dynamodb/nums/items/4.json"));
    }
}

#[test]
fn bundle_mode_empty_table_has_no_parts() {
    let opts = DecodeOptions {
        dynamodb_layout: DdbLayout::Jsonl {
            part_bytes: 64 << 20,
        },
        ..DecodeOptions::default()
    };
    let d = run_opts(opts, vec![kv(V1_META_KEY, V1_META_VAL)]).unwrap();
    assert_eq!(d.files.len(), 1);
    assert!(d.dirs.contains(&"dynamodb/users/items".to_string()));
}

#[test]
fn scope_selects_tables() {
    let mut entries = vec![
        kv(V2_ITEM_KEY, V2_ITEM_VAL),
        kv(V1_META_KEY, V1_META_VAL),
        meta("bnVtcw", &nums_schema()),
    ];
    entries.push((
        item_key("bnVtcw", b"k"),
        item(&[("n", Value::N("7".into()))]),
    ));
    let opts = DecodeOptions {
        scopes: vec![Scope {
            adapter: AdapterKind::DynamoDb,
            name: b"nums".to_vec(),
        }],
        ..DecodeOptions::default()
    };
    let d = run_opts(opts, entries).unwrap();
    assert_eq!(
        d.files.keys().collect::<Vec<_>>(),
        ["dynamodb/nums/_schema.json", "dynamodb/nums/items/7.json"]
    );
}

#[test]
fn dot_table_name_is_refused() {
    // Upstream joins "dynamodb" with the encoded name "." or ".." and writes _schema.json
    // into dynamodb/ itself or next to it; we refuse with a clear error instead.
    for (enc, name) in [("Lg", "."), ("Li4", "..")] {
        let mut s = nums_schema();
        s.table_name = name.into();
        let e = err(vec![meta(enc, &s)]);
        assert!(e.contains("cannot name its output directory"), "{e}");
    }
}

#[test]
fn two_items_naming_one_file_fail_loudly() {
    // Two distinct internal items whose key values canonicalise to the same file name
    // (only possible with legacy keys or corrupt data): upstream silently keeps the last
    // one written; we stop with the sink's error instead of losing an item.
    let e = err(vec![
        meta("bnVtcw", &nums_schema()),
        (
            item_key("bnVtcw", b"a"),
            item(&[("n", Value::N("1.5".into()))]),
        ),
        (
            item_key("bnVtcw", b"b"),
            item(&[("n", Value::N("1.50".into()))]),
        ),
    ]);
    assert!(e.contains("two records map to the same file"), "{e}");
}

#[test]
fn bundle_parts_of_a_big_table_keep_key_order() {
    // Many items over many parts, through the worker pool as the pipeline drives it.
    let n = 3000;
    let line = |i: usize| format!("{{\"n\":{{\"N\":\"{i}\"}},\"v\":{{\"S\":\"v{i:05}\"}}}}\n");
    let limit = 4096u64;
    let opts = DecodeOptions {
        dynamodb_layout: DdbLayout::Jsonl { part_bytes: limit },
        ..DecodeOptions::default()
    };
    let mut entries = vec![meta("bnVtcw", &nums_schema())];
    for i in 0..n {
        let key = item_key("bnVtcw", format!("k{i:05}").as_bytes());
        entries.push((
            key,
            item(&[
                ("n", Value::N(i.to_string())),
                ("v", Value::S(format!("v{i:05}"))),
            ]),
        ));
    }
    let d = run_opts(opts, entries).unwrap();
    let mut parts: Vec<(&String, &Vec<u8>)> = d
        .files
        .iter()
        .filter(|(p, _)| p.contains("/data-"))
        .collect();
    parts.sort();
    assert!(parts.len() > 10, "{} parts", parts.len());
    // Every part is as full as the rule makes it: a line goes to the next part only when
    // it would push this one past the limit (lines are appended a segment at a time).
    let mut want_parts = vec![String::new()];
    for i in 0..n {
        let l = line(i);
        let cur = want_parts.last_mut().unwrap();
        if !cur.is_empty() && (cur.len() + l.len()) as u64 > limit {
            want_parts.push(l);
        } else {
            cur.push_str(&l);
        }
    }
    let got: Vec<String> = parts
        .iter()
        .map(|(_, b)| String::from_utf8(b.to_vec()).unwrap())
        .collect();
    assert_eq!(got, want_parts);
}

#[test]
fn bundle_lines_of_empty_and_prefix_hash_keys_are_in_bytewise_order() {
    // Ordered key segments escape 0x00 and end in 00 01, so encoded keys sort like the
    // raw keys whatever the timestamp suffix: "" < "\0" < "a" < "a\0" < "ab" < "b".
    fn seg(raw: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for &b in raw {
            v.push(b);
            if b == 0 {
                v.push(0xff);
            }
        }
        v.extend_from_slice(&[0, 1]);
        v
    }
    let schema = DynamoTableSchema {
        table_name: "t".into(),
        attribute_definitions: [("k".to_string(), "S".to_string())].into(),
        primary_key: Some(DynamoKeySchema {
            hash_key: "k".into(),
            range_key: String::new(),
        }),
        key_encoding_version: 2,
        generation: 1,
        ..Default::default()
    };
    let opts = DecodeOptions {
        dynamodb_layout: DdbLayout::Jsonl {
            part_bytes: 64 << 20,
        },
        ..DecodeOptions::default()
    };
    let keys = ["b", "ab", "a\0", "a", "", "\0"];
    let mut entries = vec![meta("dA", &schema)];
    for k in keys {
        let key = item_key("dA", &seg(k.as_bytes()));
        entries.push((key, item(&[("k", Value::S(k.to_string()))])));
    }
    let d = run_opts(opts, entries).unwrap();
    let got: Vec<String> = d
        .text("dynamodb/t/items/data-00000.jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["k"]["S"].as_str().unwrap().to_string()
        })
        .collect();
    let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn bundle_mode_reports_item_errors_like_per_item() {
    // Items are decoded and checked on the worker pool in bundle mode; the errors must be
    // the per-item layout's, word for word.
    let cases = vec![
        vec![
            kv(
                "216464627c6974656d7c64584e6c636e4d7c317c2e2e0001",
                "004449010a0a0a02696412040a022e2e",
            ),
            kv(V1_META_KEY, V1_META_VAL),
        ],
        vec![
            kv(
                "216464627c6974656d7c64584e6c636e4d7c317c710001",
                "004449010a080a017812030a0171",
            ),
            kv(V1_META_KEY, V1_META_VAL),
        ],
        vec![
            kv(
                "216464627c6974656d7c64584e6c636e4d7c317c710001",
                "00444901ffffff",
            ),
            kv(V1_META_KEY, V1_META_VAL),
        ],
    ];
    for entries in cases {
        let per_item = err(entries.clone());
        let opts = DecodeOptions {
            dynamodb_layout: DdbLayout::Jsonl {
                part_bytes: 1 << 20,
            },
            ..DecodeOptions::default()
        };
        let bundle = match run_opts(opts, entries) {
            Ok(d) => panic!("expected an error, got {:?}", d.files.keys()),
            Err(e) => e.to_string(),
        };
        assert_eq!(bundle, per_item);
    }
}
