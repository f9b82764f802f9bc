//! `restore dynamodb|s3|sqs` against a real moto server (started on a free loopback port
//! by each test, killed when it ends): golden snapshots are decoded with the binary,
//! restored with the binary, and read back through the same APIs — item for item, object
//! for object (bytes, content type, user metadata), message for message (body,
//! attributes, order within each FIFO group) — against the dump's own files. The
//! loopback cluster's `dump` is restored the same way, and the failure paths (a bad file
//! in the dump, the server gone, a target that exists) stop with a clear message after
//! printing what was created.
//!
//! Without `moto_server` these tests FAIL (never skip): run `.ci/run`, which installs it.

mod common;
mod moto;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::*;
use elastickv_backup_restore::aws::{load_config, runtime, Target};
use moto::{Moto, ENV};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tokio::runtime::Runtime;

// ---------------------------------------------------------------- running

/// Runs the binary with the test credentials (and nothing from the caller's AWS setup).
fn restore(args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.args(args).envs(ENV);
    for v in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
    ] {
        c.env_remove(v);
    }
    c.output().expect("running elastickv-backup")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `restore SERVICE --input DIR --endpoint URL [extra…]`, which must succeed.
fn restore_ok(service: &str, dir: &Path, m: &Moto, extra: &[&str]) -> String {
    let ep = m.endpoint();
    let mut args = vec![
        "restore",
        service,
        "--input",
        dir.to_str().unwrap(),
        "--endpoint",
        &ep,
    ];
    args.extend_from_slice(extra);
    let out = restore(&args);
    assert!(
        out.status.success(),
        "restore {service} {}: {}\n{}",
        dir.display(),
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
}

/// Decodes golden case `case` into a fresh directory (with its own decode flags and
/// `extra`).
fn decode_case(case: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let src = golden_dir().join(case);
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("dump");
    let input = src.join("input.fsm");
    let mut args = vec![
        "decode".to_string(),
        "--input".into(),
        input.to_str().unwrap().into(),
        "--output".into(),
        out_dir.to_str().unwrap().into(),
    ];
    args.extend(case_args(&src));
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(tmp.path(), &a);
    assert!(out.status.success(), "decode {case}: {}", text(&out.stderr));
    (tmp, out_dir)
}

/// A runtime and SDK configuration pointed at `m`.
fn sdk(m: &Moto) -> (Runtime, aws_config::SdkConfig) {
    let rt = runtime().unwrap();
    let mut t = Target::new(Some(m.endpoint()));
    t.region = Some("us-east-1".into());
    let conf = load_config(&rt, &t);
    (rt, conf)
}

fn creds() -> aws_sdk_s3::config::Credentials {
    aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests")
}

fn ddb(conf: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(conf)
            .credentials_provider(creds())
            .build(),
    )
}

fn s3c(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .credentials_provider(creds())
            .force_path_style(true)
            .build(),
    )
}

fn sqsc(conf: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(conf)
            .credentials_provider(creds())
            .build(),
    )
}

fn json_file(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The immediate subdirectories of `dir` (none when it is absent).
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- DynamoDB

/// A DynamoDB value in the dump's JSON form, sets sorted (their order is not kept).
fn av_json(v: &AttributeValue) -> Value {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": STANDARD.encode(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(s) => json!({ "SS": sorted(s.clone()) }),
        AttributeValue::Ns(s) => json!({ "NS": sorted(s.clone()) }),
        AttributeValue::Bs(s) => {
            json!({ "BS": sorted(s.iter().map(|b| STANDARD.encode(b.as_ref())).collect()) })
        }
        AttributeValue::L(l) => json!({ "L": l.iter().map(av_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({
            "M": m.iter().map(|(k, v)| (k.clone(), av_json(v))).collect::<serde_json::Map<_, _>>()
        }),
        other => panic!("unexpected attribute value {other:?}"),
    }
}

/// The dump's item JSON with its sets sorted.
fn normalize_item(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = if matches!(k.as_str(), "SS" | "NS" | "BS") {
                        let mut a: Vec<Value> = v.as_array().unwrap().clone();
                        a.sort_by_key(|x| x.to_string());
                        Value::Array(a)
                    } else {
                        normalize_item(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize_item).collect()),
        other => other.clone(),
    }
}

/// Every item of a table directory (both layouts), as canonical JSON text, sorted.
fn dump_items(table_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![table_dir.join("items")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".jsonl") {
                for line in std::fs::read_to_string(&p).unwrap().lines() {
                    if !line.trim().is_empty() {
                        let v: Value = serde_json::from_str(line).unwrap();
                        out.push(normalize_item(&v).to_string());
                    }
                }
            } else if name.ends_with(".json") {
                out.push(normalize_item(&json_file(&p)).to_string());
            }
        }
    }
    out.sort();
    out
}

/// Scans a restored table: every item as canonical JSON text, sorted.
fn scan(rt: &Runtime, c: &aws_sdk_dynamodb::Client, table: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = rt
            .block_on(
                c.scan()
                    .table_name(table)
                    .set_exclusive_start_key(start.take())
                    .send(),
            )
            .unwrap();
        for it in page.items() {
            let m: serde_json::Map<String, Value> =
                it.iter().map(|(k, v)| (k.clone(), av_json(v))).collect();
            out.push(Value::Object(m).to_string());
        }
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    out.sort();
    out
}

/// Checks every table of `dump` against the server: schema (keys, GSIs) and items.
fn check_dynamodb(dump: &Path, m: &Moto) -> usize {
    let (rt, conf) = sdk(m);
    let c = ddb(&conf);
    let mut items = 0;
    for dir in subdirs(&dump.join("dynamodb")) {
        let schema = json_file(&dir.join("_schema.json"));
        let table = schema["table_name"].as_str().unwrap();
        let d = rt
            .block_on(c.describe_table().table_name(table).send())
            .unwrap();
        let t = d.table().unwrap();
        let keys: Vec<(String, String)> = t
            .key_schema()
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_string(),
                    k.key_type().as_str().to_string(),
                )
            })
            .collect();
        let mut want = vec![(
            schema["primary_key"]["hash_key"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
            "HASH".to_string(),
        )];
        if let Some(r) = schema["primary_key"]["range_key"]["name"].as_str() {
            want.push((r.to_string(), "RANGE".to_string()));
        }
        assert_eq!(keys, want, "{table}: key schema");
        let mut gsis: Vec<String> = t
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                format!(
                    "{}:{}:{:?}",
                    g.index_name().unwrap_or_default(),
                    g.key_schema()
                        .iter()
                        .map(|k| k.attribute_name())
                        .collect::<Vec<_>>()
                        .join(","),
                    g.projection()
                        .and_then(|p| p.projection_type())
                        .map(|p| p.as_str().to_string())
                )
            })
            .collect();
        gsis.sort();
        let mut want_gsis: Vec<String> = schema["global_secondary_indexes"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let mut k = vec![g["key_schema"]["hash_key"]["name"].as_str().unwrap()];
                if let Some(r) = g["key_schema"]["range_key"]["name"].as_str() {
                    k.push(r);
                }
                format!(
                    "{}:{}:{:?}",
                    g["name"].as_str().unwrap(),
                    k.join(","),
                    g["projection"]["type"].as_str().map(str::to_string)
                )
            })
            .collect();
        want_gsis.sort();
        assert_eq!(gsis, want_gsis, "{table}: global secondary indexes");
        let want = dump_items(&dir);
        let got = scan(&rt, &c, table);
        assert_eq!(got, want, "{table}: items");
        items += want.len();
    }
    items
}

const DDB_CASES: [&str; 5] = [
    "ddb_hash_only",
    "ddb_hash_range",
    "ddb_binary_keys",
    "ddb_gsi",
    "mixed_all",
];

#[test]
fn dynamodb_golden_cases_round_trip_item_for_item() {
    for case in DDB_CASES {
        for layout in [
            &[][..],
            &[
                "--dynamodb-bundle-mode",
                "jsonl",
                "--dynamodb-bundle-size",
                "2",
            ][..],
        ] {
            let m = Moto::start();
            let (_tmp, dump) = decode_case(case, layout);
            let summary = restore_ok("dynamodb", &dump, &m, &[]);
            let n = check_dynamodb(&dump, &m);
            assert!(n > 0, "{case}: no items compared");
            assert!(
                summary.contains(&format!("{n} items written")),
                "{case} {layout:?}: {summary}"
            );
        }
    }
}

#[test]
fn dynamodb_rate_limit_and_batches_beyond_25_items() {
    // 60 items in one jsonl bundle: three BatchWriteItem requests, rate-limited.
    let m = Moto::start();
    let (_tmp, dump) = decode_case("ddb_hash_only", &["--dynamodb-bundle-mode", "jsonl"]);
    let table_dir = subdirs(&dump.join("dynamodb")).remove(0);
    let schema = json_file(&table_dir.join("_schema.json"));
    let hash = schema["primary_key"]["hash_key"]["name"].as_str().unwrap();
    let ty = schema["attribute_definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == hash)
        .unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ty, "S");
    let items = table_dir.join("items");
    std::fs::remove_dir_all(&items).unwrap();
    std::fs::create_dir(&items).unwrap();
    let lines: String = (0..60)
        .map(|i| {
            format!(
                "{}\n",
                json!({ hash: { "S": format!("k{i:03}") }, "n": { "N": i.to_string() } })
            )
        })
        .collect();
    std::fs::write(items.join("data-00000.jsonl"), lines).unwrap();
    let summary = restore_ok(
        "dynamodb",
        &dump,
        &m,
        &["--max-writes-per-second", "400", "--concurrency", "2"],
    );
    assert!(summary.contains("60 items written"), "{summary}");
    assert_eq!(check_dynamodb(&dump, &m), 60);
}

// ---------------------------------------------------------------- S3

/// The objects a bucket directory holds: key → (body, sidecar), renames undone.
fn dump_objects(bucket: &Path) -> BTreeMap<String, (Vec<u8>, Value)> {
    let mut renames = HashMap::new();
    let log = bucket.join("KEYMAP.jsonl");
    let is_log = log.is_file() && !bucket.join("KEYMAP.jsonl.elastickv-meta.json").exists();
    if is_log {
        for line in std::fs::read_to_string(&log).unwrap().lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            let orig = URL_SAFE_NO_PAD
                .decode(r["original"].as_str().unwrap())
                .unwrap();
            renames.insert(
                r["encoded"].as_str().unwrap().to_string(),
                String::from_utf8(orig).unwrap(),
            );
        }
    }
    let tree = read_tree(bucket);
    let mut out = BTreeMap::new();
    for (rel, body) in &tree {
        let top = !rel.contains('/');
        if rel.ends_with(".elastickv-meta.json")
            || (top && rel == "_bucket.json")
            || (top && rel == "KEYMAP.jsonl" && is_log)
        {
            continue;
        }
        let side = tree
            .get(&format!("{rel}.elastickv-meta.json"))
            .unwrap_or_else(|| panic!("{rel}: no sidecar"));
        let key = renames.get(rel).cloned().unwrap_or_else(|| rel.clone());
        out.insert(key, (body.clone(), serde_json::from_slice(side).unwrap()));
    }
    out
}

/// Checks every bucket of `dump` against the server; returns the objects compared.
fn check_s3(dump: &Path, m: &Moto) -> usize {
    let (rt, conf) = sdk(m);
    let c = s3c(&conf);
    let mut n = 0;
    for dir in subdirs(&dump.join("s3")) {
        let name = json_file(&dir.join("_bucket.json"))["name"]
            .as_str()
            .unwrap()
            .to_string();
        let want = dump_objects(&dir);
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = rt
                .block_on(
                    c.list_objects_v2()
                        .bucket(&name)
                        .set_continuation_token(token.take())
                        .send(),
                )
                .unwrap();
            keys.extend(page.contents().iter().map(|o| o.key().unwrap().to_string()));
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        keys.sort();
        assert_eq!(
            keys,
            want.keys().cloned().collect::<Vec<_>>(),
            "bucket {name}: keys"
        );
        for (key, (body, side)) in &want {
            let o = rt
                .block_on(c.get_object().bucket(&name).key(key).send())
                .unwrap();
            let ct = o.content_type().map(str::to_string);
            let meta: BTreeMap<String, String> = o
                .metadata()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            for (field, got) in [
                ("content_encoding", o.content_encoding().map(str::to_string)),
                ("cache_control", o.cache_control().map(str::to_string)),
                (
                    "content_disposition",
                    o.content_disposition().map(str::to_string),
                ),
            ] {
                if let Some(w) = side[field].as_str() {
                    assert_eq!(got.as_deref(), Some(w), "{name}/{key}: {field}");
                }
            }
            let got = rt.block_on(o.body.collect()).unwrap().into_bytes();
            assert_eq!(got.as_ref(), body.as_slice(), "{name}/{key}: body");
            if let Some(w) = side["content_type"].as_str() {
                assert_eq!(ct.as_deref(), Some(w), "{name}/{key}: content type");
            }
            let want_meta: BTreeMap<String, String> = side["user_metadata"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(meta, want_meta, "{name}/{key}: user metadata");
            n += 1;
        }
    }
    n
}

// mixed_all's bucket "b1" is shorter than S3 allows (3..=63): the server refuses it.
const S3_CASES: [&str; 3] = ["s3_basic", "s3_multichunk", "s3_user_meta_suffix_key"];

#[test]
fn s3_golden_cases_round_trip_object_for_object() {
    for case in S3_CASES {
        let m = Moto::start();
        let (_tmp, dump) = decode_case(case, &[]);
        let summary = restore_ok("s3", &dump, &m, &[]);
        let n = check_s3(&dump, &m);
        assert!(n > 0, "{case}: no objects compared");
        assert!(
            summary.contains(&format!("{n} objects written")),
            "{case}: {summary}"
        );
    }
}

#[test]
fn s3_large_objects_go_up_in_parts_with_their_metadata() {
    let m = Moto::start();
    let (_tmp, dump) = decode_case("s3_basic", &[]);
    let bucket = subdirs(&dump.join("s3"))
        .into_iter()
        .find(|d| d.join("hello.txt").exists())
        .unwrap();
    // 12 MiB + 3 bytes: three 5 MiB parts, the last one short.
    let body: Vec<u8> = (0..(12u32 << 20) + 3)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::create_dir_all(bucket.join("big")).unwrap();
    std::fs::write(bucket.join("big/blob.bin"), &body).unwrap();
    std::fs::write(
        bucket.join("big/blob.bin.elastickv-meta.json"),
        json!({
            "format_version": 1, "etag": "\"x-3\"", "size_bytes": body.len(),
            "last_modified": "2026-04-29T12:34:56.789Z", "content_type": "application/x-test",
            "cache_control": "max-age=60", "user_metadata": { "owner": "restore-test" }
        })
        .to_string(),
    )
    .unwrap();
    let summary = restore_ok(
        "s3",
        &dump,
        &m,
        &["--multipart-threshold", "5M", "--part-size", "5M"],
    );
    assert!(check_s3(&dump, &m) >= 4, "{summary}");
    let (rt, conf) = sdk(&m);
    let c = s3c(&conf);
    let name = json_file(&bucket.join("_bucket.json"))["name"]
        .as_str()
        .unwrap()
        .to_string();
    let head = rt
        .block_on(c.head_object().bucket(&name).key("big/blob.bin").send())
        .unwrap();
    assert!(
        head.e_tag().unwrap_or_default().ends_with("-3\""),
        "not a 3-part upload: {:?}",
        head.e_tag()
    );
    let uploads = rt
        .block_on(c.list_multipart_uploads().bucket(&name).send())
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}

// ---------------------------------------------------------------- SQS

/// One message as compared: body and user attributes.
fn dump_message(v: &Value) -> (String, String) {
    let body = match &v["body"] {
        Value::String(s) => s.clone(),
        other => panic!("binary body {other}"),
    };
    let mut attrs = BTreeMap::new();
    if let Some(o) = v["message_attributes"].as_object() {
        for (k, a) in o {
            attrs.insert(
                k.clone(),
                (
                    a["DataType"].as_str().unwrap_or_default().to_string(),
                    a["StringValue"].as_str().unwrap_or_default().to_string(),
                    a["BinaryValue"].as_str().unwrap_or_default().to_string(),
                ),
            );
        }
    }
    (body, format!("{attrs:?}"))
}

/// Receives every message of a queue (deleting each), in receive order, with its group.
fn drain_queue(
    rt: &Runtime,
    c: &aws_sdk_sqs::Client,
    url: &str,
    expect: usize,
) -> Vec<(String, (String, String))> {
    let mut got = Vec::new();
    let mut empty = 0;
    while got.len() < expect || empty < 1 {
        let r = rt
            .block_on(
                c.receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .message_attribute_names("All")
                    .message_system_attribute_names(
                        aws_sdk_sqs::types::MessageSystemAttributeName::All,
                    )
                    .visibility_timeout(30)
                    .send(),
            )
            .unwrap();
        if r.messages().is_empty() {
            empty += 1;
            if empty > 3 {
                break;
            }
            continue;
        }
        for msg in r.messages() {
            let group = msg
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
                })
                .cloned()
                .unwrap_or_default();
            let mut attrs = BTreeMap::new();
            if let Some(a) = msg.message_attributes() {
                for (k, v) in a {
                    attrs.insert(
                        k.clone(),
                        (
                            v.data_type().to_string(),
                            v.string_value().unwrap_or_default().to_string(),
                            v.binary_value()
                                .map(|b| STANDARD.encode(b.as_ref()))
                                .unwrap_or_default(),
                        ),
                    );
                }
            }
            got.push((
                group,
                (
                    msg.body().unwrap_or_default().to_string(),
                    format!("{attrs:?}"),
                ),
            ));
            rt.block_on(
                c.delete_message()
                    .queue_url(url)
                    .receipt_handle(msg.receipt_handle().unwrap())
                    .send(),
            )
            .unwrap();
        }
    }
    got
}

/// Checks every queue of `dump` against the server; returns the messages compared.
fn check_sqs(dump: &Path, m: &Moto) -> usize {
    let (rt, conf) = sdk(m);
    let c = sqsc(&conf);
    let mut n = 0;
    for dir in subdirs(&dump.join("sqs")) {
        let q = json_file(&dir.join("_queue.json"));
        let name = q["name"].as_str().unwrap();
        let url = rt
            .block_on(c.get_queue_url().queue_name(name).send())
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let attrs = rt
            .block_on(
                c.get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                    .send(),
            )
            .unwrap();
        let a = attrs.attributes().unwrap();
        let get = |k: aws_sdk_sqs::types::QueueAttributeName| a.get(&k).cloned();
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let fifo = q["fifo"].as_bool().unwrap_or(false);
        assert_eq!(
            get(A::FifoQueue).as_deref() == Some("true"),
            fifo,
            "{name}: FifoQueue"
        );
        if fifo {
            assert_eq!(
                get(A::ContentBasedDeduplication).as_deref(),
                Some(
                    if q["content_based_deduplication"].as_bool().unwrap_or(false) {
                        "true"
                    } else {
                        "false"
                    }
                ),
                "{name}: ContentBasedDeduplication"
            );
        }
        for (field, attr) in [
            ("visibility_timeout_seconds", A::VisibilityTimeout),
            ("message_retention_seconds", A::MessageRetentionPeriod),
            ("delay_seconds", A::DelaySeconds),
        ] {
            if let Some(v) = q[field].as_i64().filter(|v| *v != 0) {
                assert_eq!(
                    get(attr).as_deref(),
                    Some(v.to_string().as_str()),
                    "{name}: {field}"
                );
            }
        }
        let lines: Vec<Value> = std::fs::read_to_string(dir.join("messages.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got = drain_queue(&rt, &c, &url, lines.len());
        if fifo {
            // Per group: exactly the dump's messages, in the dump's order.
            let mut want: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
            for l in &lines {
                want.entry(l["message_group_id"].as_str().unwrap().to_string())
                    .or_default()
                    .push(dump_message(l));
            }
            let mut by_group: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
            for (g, msg) in got {
                by_group.entry(g).or_default().push(msg);
            }
            assert_eq!(by_group, want, "{name}: messages per group, in order");
        } else {
            let mut want: Vec<_> = lines.iter().map(dump_message).collect();
            let mut got: Vec<_> = got.into_iter().map(|(_, m)| m).collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{name}: messages");
        }
        n += lines.len();
    }
    n
}

#[test]
fn sqs_golden_fifo_case_round_trips_message_for_message_in_group_order() {
    sqs_cases(&["sqs_fifo"]);
}

#[test]
fn sqs_golden_cases_with_message_attributes_round_trip() {
    // sqs_standard and sqs_side_records hold a binary body, which SQS cannot carry: the
    // restore stops there, naming the line (below).
    sqs_cases(&["sqs_message_states", "sqs_preserve_visibility", "mixed_all"]);
    let m = Moto::start();
    let (_t, dump) = decode_case("sqs_standard", &[]);
    let (out, err) = restore_fails("sqs", &dump, &m.endpoint(), &[]);
    assert!(
        err.contains("sqs/orders/messages.jsonl: message 6: the body is not UTF-8"),
        "{err}"
    );
    assert!(out.contains("5 messages written"), "{out}");
}

fn sqs_cases(cases: &[&str]) {
    for &case in cases {
        let m = Moto::start();
        let (_tmp, dump) = decode_case(case, &[]);
        let summary = restore_ok("sqs", &dump, &m, &[]);
        let n = check_sqs(&dump, &m);
        assert!(n > 0, "{case}: no messages compared");
        assert!(
            summary.contains(&format!("{n} messages written")),
            "{case}: {summary}"
        );
    }
}

// ---------------------------------------------------------------- loopback cluster

#[test]
fn a_live_dump_of_the_loopback_cluster_restores_into_moto() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let out = run(
        tmp.path(),
        &["dump", "--embedded", "--output", dump.to_str().unwrap()],
    );
    assert!(out.status.success(), "dump: {}", text(&out.stderr));
    let m = Moto::start();
    restore_ok("dynamodb", &dump, &m, &[]);
    restore_ok("s3", &dump, &m, &[]);
    restore_ok("sqs", &dump, &m, &[]);
    assert!(check_dynamodb(&dump, &m) > 0);
    assert!(check_s3(&dump, &m) > 0);
    assert!(check_sqs(&dump, &m) > 0);
}

// ---------------------------------------------------------------- failures

/// Runs a restore expected to fail; returns (stdout, stderr).
fn restore_fails(service: &str, dir: &Path, endpoint: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "restore",
        service,
        "--input",
        dir.to_str().unwrap(),
        "--endpoint",
        endpoint,
    ];
    args.extend_from_slice(extra);
    let out = restore(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_bad_file_in_the_dump_is_named_and_what_was_created_is_reported() {
    let m = Moto::start();
    // DynamoDB: a broken item file after a good one.
    let (_t1, dump) = decode_case("ddb_hash_only", &[]);
    let table = subdirs(&dump.join("dynamodb")).remove(0);
    std::fs::write(table.join("items/zzzz-broken.json"), b"{\"id\": {\"S\": ").unwrap();
    let (out, err) = restore_fails("dynamodb", &dump, &m.endpoint(), &[]);
    assert!(err.contains("items/zzzz-broken.json"), "{err}");
    assert!(err.contains("invalid item json"), "{err}");
    assert!(
        out.contains("(1 created)") && out.contains(": created,"),
        "{out}"
    );

    // S3: a sidecar whose size does not match its body.
    let (_t2, dump) = decode_case("s3_basic", &[]);
    let bucket = subdirs(&dump.join("s3"))
        .into_iter()
        .find(|d| d.join("hello.txt").exists())
        .unwrap();
    std::fs::write(bucket.join("hello.txt"), b"longer than the sidecar says").unwrap();
    let (out, err) = restore_fails("s3", &dump, &m.endpoint(), &[]);
    assert!(
        err.contains("hello.txt.elastickv-meta.json") && err.contains("size_bytes"),
        "{err}"
    );
    assert!(
        out.contains("restore s3:") && out.contains("created"),
        "{out}"
    );

    // SQS: a message line that is not JSON (orders.fifo holds 6 messages).
    let (_t3, dump) = decode_case("sqs_fifo", &[]);
    let q = subdirs(&dump.join("sqs")).remove(0);
    let mut lines = std::fs::read(q.join("messages.jsonl")).unwrap();
    lines.extend_from_slice(b"{not json}\n");
    std::fs::write(q.join("messages.jsonl"), lines).unwrap();
    let (out, err) = restore_fails("sqs", &dump, &m.endpoint(), &[]);
    assert!(
        err.contains("messages.jsonl") && err.contains("message 7"),
        "{err}"
    );
    assert!(out.contains("6 messages written"), "{out}");

    // No MANIFEST.json: not a complete dump.
    std::fs::remove_file(dump.join("MANIFEST.json")).unwrap();
    let (_, err) = restore_fails("sqs", &dump, &m.endpoint(), &["--use-existing"]);
    assert!(err.contains("MANIFEST.json: missing"), "{err}");
}

#[test]
fn an_existing_target_is_refused_unless_use_existing() {
    let m = Moto::start();
    for (service, case) in [
        ("dynamodb", "mixed_all"),
        ("s3", "s3_basic"),
        ("sqs", "sqs_fifo"),
    ] {
        let (_t, dump) = decode_case(case, &[]);
        restore_ok(service, &dump, &m, &[]);
        let (_, err) = restore_fails(service, &dump, &m.endpoint(), &[]);
        assert!(
            err.contains("already exists") && err.contains("--use-existing"),
            "{err}"
        );
        let again = restore_ok(service, &dump, &m, &["--use-existing"]);
        assert!(
            again.contains("(0 created)") && again.contains("existing"),
            "{again}"
        );
    }
}

#[test]
fn a_server_that_is_gone_fails_clearly() {
    let mut m = Moto::start();
    let endpoint = m.endpoint();
    m.stop();
    let (_t, dump) = decode_case("mixed_all", &[]);
    for service in ["dynamodb", "s3", "sqs"] {
        let (out, err) = restore_fails(service, &dump, &endpoint, &["--timeout", "5"]);
        assert!(err.contains(&format!("{service} ")), "{err}");
        assert!(err.contains("is the server at --endpoint running"), "{err}");
        assert!(out.contains("(0 created), 0 "), "{out}");
    }
}
