//! The adapter end to end on hand-built entries: the spec's test vectors (docs/format/40-redis.md §10),
//! the Redis part of the golden fixtures, and the cases where we read correctly what
//! upstream misreads.

use super::*;
use crate::decode::route;
use crate::encode::emitter::FailState;
use crate::encode::WorkerPool;
use crate::options::Scope;
use crate::sinks::{DirSink, Sink};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use elastickv_backup_format::container::PAYLOAD_MAGIC;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(super) type Tree = BTreeMap<String, Vec<u8>>;
pub(super) type Row = (Vec<u8>, Vec<u8>);

const MS1: &str = "000001941f297c00"; // 1735689600000
const MS2: &str = "0000019b76daa800"; // 1767225600000

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

pub(super) fn wide(prefix: &str, uk: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut k = prefix.as_bytes().to_vec();
    k.extend_from_slice(&(uk.len() as u32).to_be_bytes());
    k.extend_from_slice(uk);
    k.extend_from_slice(tail);
    k
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn read_tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                stack.push((e.path(), r));
            } else {
                out.insert(r, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// The commit timestamp of every test row: a realistic HLC (physical ms << 16), whose
/// inverted big-endian bytes start with 0xfe — the suffix that decides where a name
/// that is a prefix of another lands in encoded-key order.
pub(super) const TS: u64 = 1_735_689_600_000 << 16;

/// Sorts rows the way the pipeline delivers them: by encoded key `key ‖ BE64(!TS)`
/// (not by key alone: `""` and `"a"` arrive after `"ab"`).
pub(super) fn encoded_order(rows: &mut [Row]) {
    rows.sort_by_cached_key(|(k, _)| [&k[..], &(!TS).to_be_bytes()[..]].concat());
}

/// Runs the adapter over `rows` (sorted by encoded key first, as the pipeline delivers
/// them).
fn run_opts(rows: &[Row], opts: DecodeOptions) -> Result<Tree, Error> {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("out");
    let sink: Arc<dyn Sink> = Arc::new(DirSink::create(&root, false).unwrap());
    let fail = Arc::new(FailState::default());
    let pool = WorkerPool::start(2, sink.clone(), fail.clone());
    let emitter = Emitter::new(sink, &pool, fail, Arc::new(opts.clone())).unwrap();
    let mut rows = rows.to_vec();
    encoded_order(&mut rows);
    let mut adapter = RedisAdapter::new(&opts);
    let res = (|| {
        for (k, v) in &rows {
            let Some(r) = route(k) else { continue };
            if r.adapter != Some(AdapterKind::Redis) {
                continue;
            }
            let e = Entry {
                user_key: Bytes::from(k.clone()),
                commit_ts: TS,
                expire_at_ms: 0,
                tombstone: false,
                value: Bytes::from(v.clone()),
            };
            adapter.handle(r.family, &k[r.prefix.len()..], &e, &emitter)?;
        }
        adapter.finish(&emitter)
    })();
    drop(emitter);
    pool.join()?;
    res?;
    Ok(read_tree(&root))
}

pub(super) fn run(rows: &[Row]) -> Tree {
    run_opts(rows, DecodeOptions::default()).unwrap()
}

fn s(t: &Tree, p: &str) -> String {
    String::from_utf8(
        t.get(p)
            .unwrap_or_else(|| panic!("{p} missing: {:?}", t.keys()))
            .clone(),
    )
    .unwrap()
}

fn r(k: &[u8], v: &[u8]) -> Row {
    (k.to_vec(), v.to_vec())
}

#[test]
fn v1_v4_strings() {
    let t = run(&[
        r(b"!redis|str|greeting", &h("ff0100 68656c6c6f")),
        r(
            b"!redis|str|account:abc",
            &h(&format!("ff0101 {MS1} 746f6b")),
        ),
        r(b"!redis|ttl|account:abc", &h(MS2)),
        r(b"!redis|str|legacy", b"v1"),
        r(b"!redis|ttl|legacy", &h(MS1)),
        r(&h("2172656469737c7374727c6b00ff207e"), &h("00ff0a")),
    ]);
    assert_eq!(t["redis/db_0/strings/greeting.bin"], b"hello");
    assert_eq!(t["redis/db_0/strings/account%3Aabc.bin"], b"tok");
    assert_eq!(t["redis/db_0/strings/legacy.bin"], b"v1");
    assert_eq!(t["redis/db_0/strings/k%00%FF%20%7E.bin"], h("00ff0a"));
    // Inline lines first (string rows), then index lines (TTL rows); the redundant index
    // row of the inline-owned key is ignored.
    assert_eq!(
        s(&t, "redis/db_0/strings_ttl.jsonl"),
        "{\"key\":\"account%3Aabc\",\"expire_at_ms\":1735689600000}\n{\"key\":\"legacy\",\"expire_at_ms\":1735689600000}\n"
    );
    assert_eq!(t.len(), 5);
}

#[test]
fn v5_hll() {
    let t = run(&[r(
        b"!redis|hll|visitors",
        &h(&format!("ff0201 {MS1} 005253010a0161")),
    )]);
    assert_eq!(t["redis/db_0/hll/visitors.bin"], h("005253010a0161"));
    assert_eq!(
        s(&t, "redis/db_0/hll_ttl.jsonl"),
        "{\"key\":\"visitors\",\"expire_at_ms\":1735689600000}\n"
    );
}

#[test]
fn v6_v7_hashes() {
    let t = run(&[
        r(&wide("!hs|fld|", b"user:1", b"age"), b"30"),
        r(&wide("!hs|fld|", b"user:1", b"name"), b"alice"),
        r(&wide("!hs|fld|", b"user:1", b"\xff"), &h("0102")),
        r(&wide("!hs|meta|", b"user:1", b""), &h("0000000000000002")),
        r(
            &wide("!hs|meta|d|", b"user:1", &h("0000000000000063 00000000")),
            &h("0000000000000001"),
        ),
        r(b"!redis|ttl|user:1", &h(MS1)),
        r(
            &wide("!hs|meta|", b"h0", b""),
            &h("0000000000000000 0000000000000000"),
        ),
        r(b"!redis|ttl|h0", &h(MS1)),
    ]);
    let v6 = s(&t, "redis/db_0/hashes/user%3A1.json");
    assert_eq!(v6.len(), 279);
    assert!(v6.ends_with("\"expire_at_ms\": 1735689600000\n}"));
    assert_eq!(
        s(&t, "redis/db_0/hashes/h0.json"),
        "{\n  \"format_version\": 1,\n  \"fields\": [],\n  \"expire_at_ms\": null\n}"
    );
    assert_eq!(t.len(), 2);
}

#[test]
fn v8_v9_lists() {
    let t = run(&[
        r(&wide("!lst|claim|", b"jobs", &h("7ffffffffffffffd")), b""),
        r(&cat(&[b"!lst|itm|jobs", &h("7ffffffffffffffe")]), b"c"),
        r(&cat(&[b"!lst|itm|jobs", &h("7fffffffffffffff")]), b"b"),
        r(&cat(&[b"!lst|itm|jobs", &h("8000000000000000")]), b"a"),
        r(
            &wide("!lst|meta|d|", b"jobs", &h("0000000000000007 00000001")),
            &h("00000000000000000000000000000001"),
        ),
        r(
            b"!lst|meta|jobs",
            &h("fffffffffffffffe 0000000000000001 0000000000000003"),
        ),
        r(&cat(&[b"!lst|itm|q", &h("8000000000000000")]), &h("fe")),
        r(
            b"!lst|meta|q",
            &h(&format!(
                "0000000000000000 0000000000000001 0000000000000001 {MS1}"
            )),
        ),
    ]);
    assert_eq!(
        s(&t, "redis/db_0/lists/jobs.json"),
        "{\n  \"format_version\": 1,\n  \"items\": [\n    \"c\",\n    \"b\",\n    \"a\"\n  ],\n  \"expire_at_ms\": null\n}"
    );
    assert_eq!(s(&t, "redis/db_0/lists/q.json").len(), 109);
    assert_eq!(t.len(), 2);
}

#[test]
fn v10_v11_sets() {
    let t = run(&[
        r(b"!redis|ttl|colors", &h(MS2)),
        r(&wide("!st|mem|", b"colors", b"Blue"), b""),
        r(&wide("!st|mem|", b"colors", b"green"), b""),
        r(&wide("!st|mem|", b"colors", b"red"), b""),
        r(&wide("!st|mem|", b"colors", "é".as_bytes()), b""),
        r(
            &wide("!st|meta|", b"colors", b""),
            &h(&format!("0000000000000004 {MS1}")),
        ),
        r(b"!redis|ttl|tags", &h(MS2)),
        r(&wide("!st|mem|", b"tags", b"x"), b""),
        r(&wide("!st|meta|", b"tags", b""), &h("0000000000000001")),
    ]);
    let colors = s(&t, "redis/db_0/sets/colors.json");
    assert_eq!(colors.len(), 123);
    assert!(colors.ends_with("\"expire_at_ms\": 1735689600000\n}"));
    assert_eq!(
        s(&t, "redis/db_0/sets/tags.json"),
        "{\n  \"format_version\": 1,\n  \"members\": [\n    \"x\"\n  ],\n  \"expire_at_ms\": 1767225600000\n}"
    );
}

#[test]
fn v12_v13_zsets() {
    let mut rows = Vec::new();
    for (m, v) in [
        ("alice", "4059000000000000"),
        ("bob", "fff0000000000000"),
        ("carol", "7ff0000000000000"),
        ("dave", "3ff8000000000000"),
        ("erin", "444b1ae4d6e2ef50"),
        ("frank", "3e7ad7f29abcaf48"),
        ("gina", "8000000000000000"),
    ] {
        rows.push(r(&wide("!zs|mem|", b"board", m.as_bytes()), &h(v)));
    }
    rows.push(r(&wide("!zs|meta|", b"board", b""), &h("0000000000000007")));
    rows.push(r(
        &wide("!zs|scr|", b"board", &h("c059000000000000 616c696365")),
        b"",
    ));
    rows.push(r(b"!redis|ttl|old", &h(MS1)));
    rows.push(r(
        b"!redis|zset|old",
        &h("00525a01 0a0d0a026d31110000000000000440 0a0d0a026d3011000000000000f0bf"),
    ));
    let t = run(&rows);
    assert_eq!(s(&t, "redis/db_0/zsets/board.json").len(), 470);
    let old = s(&t, "redis/db_0/zsets/old.json");
    assert_eq!(old.len(), 184);
    assert!(old.contains("\"member\": \"m0\",\n      \"score\": -1\n"));
    assert!(old.ends_with("\"expire_at_ms\": 1735689600000\n}"));
}

#[test]
fn v14_v15_streams() {
    let mut k1 = wide(
        "!stream|entry|",
        b"events",
        &h("0000018f2a33f800 0000000000000000"),
    );
    let v1 = h("0052584501 0a0f313731343430303030303030302d30 12056576656e74 12056c6f67696e 120475736572 1205616c696365");
    let k2 = wide(
        "!stream|entry|",
        b"events",
        &h("0000018f2a33f801 0000000000000000"),
    );
    let v2 = h("0052584501 0a0f313731343430303030303030312d30 12056576656e74 12066c6f676f7574");
    let meta = h(&format!(
        "0000000000000002 0000018f2a33f801 0000000000000000 {MS1}"
    ));
    let ghost = wide(
        "!stream|entry|",
        b"ghost",
        &h("0000000000000001 0000000000000000"),
    );
    let t = run(&[
        (k1.clone(), v1),
        (k2, v2),
        r(&wide("!stream|meta|", b"events", b""), &meta),
        (ghost, h("0052584501 0a03312d30 120161 120162")),
    ]);
    let ev = s(&t, "redis/db_0/streams/events.jsonl");
    assert_eq!(ev.len(), 263);
    assert!(ev.ends_with("{\"_meta\":true,\"length\":2,\"last_ms\":1714400000001,\"last_seq\":0,\"expire_at_ms\":1735689600000}\n"));
    assert_eq!(
        t.len(),
        1,
        "no file for the stream without meta: {:?}",
        t.keys()
    );
    // A malformed entry key (tail not 16 bytes) is an error naming the family.
    k1.push(0);
    let err = run_opts(&[(k1, h("0052584501"))], DecodeOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("backup: malformed !stream| key"),
        "{err}"
    );
}

#[test]
fn v16_escaping() {
    let t = run(&[
        r(&wide("!hs|fld|", b"esc", b""), b""),
        r(
            &wide("!hs|fld|", b"esc", b"<a&b>"),
            &h("6c696e65310a6c696e6532092271225c"),
        ),
        r(&wide("!hs|fld|", b"esc", b"ctl"), &h("0108 0c7f e280a8")),
    ]);
    assert_eq!(s(&t, "redis/db_0/hashes/esc.json").len(), 275);
}

#[test]
fn v17_sha_fallback_keymap_twice() {
    let uk = vec![b'k'; 300];
    let t = run(&[(cat(&[b"!redis|str|", &uk]), h(&format!("ff0101 {MS1} 78")))]);
    let seg = format!("17b16d8ef494060fefa36a6a41567b8c__{}", "k".repeat(64));
    assert_eq!(t[&format!("redis/db_0/strings/{seg}.bin")], b"x");
    assert_eq!(s(&t, "redis/db_0/strings_ttl.jsonl").len(), 138);
    let line = format!(
        "{{\"encoded\":\"{seg}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
        "a2tr".repeat(100)
    );
    assert_eq!(s(&t, "redis/db_0/KEYMAP.jsonl"), line.repeat(2));
    assert_eq!(s(&t, "redis/db_0/KEYMAP.jsonl").len(), 1098);
}

#[test]
fn v18_only_the_visible_version_arrives() {
    // Upstream keeps the oldest retained version ("old"); visibility (applied before the
    // adapter) hands over only the newest, so the dump holds "new".
    let t = run(&[r(b"!redis|str|mv", &h("ff0100 6e6577"))]);
    assert_eq!(t["redis/db_0/strings/mv.bin"], b"new");
}

#[test]
fn keymap_order_strings_then_collections_by_type_and_key() {
    let long = |c: u8| vec![c; 250];
    let (a, b) = (long(b'a'), long(b'b'));
    let t = run(&[
        // Wide-column order puts shorter keys first; output order is by key bytes.
        r(&wide("!zs|mem|", &b, b"m"), &h("3ff0000000000000")),
        r(&wide("!zs|mem|", &a[..249], b"m"), &h("3ff0000000000000")),
        r(&wide("!hs|fld|", &b, b"f"), b"v"),
        r(&cat(&[b"!redis|str|", &a]), b"v"),
        r(&cat(&[b"!lst|itm|", &a, &h("8000000000000000")]), b"i"),
    ]);
    let km = s(&t, "redis/db_0/KEYMAP.jsonl");
    let originals: Vec<Vec<u8>> = km
        .lines()
        .map(|l| {
            let o = l
                .split("\"original\":\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, o).unwrap()
        })
        .collect();
    // string a, hash b, list a, zset a[..249], zset b.
    assert_eq!(
        originals,
        vec![a.clone(), b.clone(), a.clone(), a[..249].to_vec(), b]
    );
}

#[test]
fn list_key_starting_with_d_bar_keeps_its_meta() {
    // Upstream routes `!lst|meta|d|x` to the (ignored) delta handler: the list loses its
    // TTL and an empty list disappears. Its value length (24/32, deltas are 16) says it
    // is a meta, so it is read as one.
    let t = run(&[
        r(&cat(&[b"!lst|itm|d|x", &h("8000000000000000")]), b"item"),
        r(
            b"!lst|meta|d|x",
            &h(&format!(
                "0000000000000000 0000000000000001 0000000000000001 {MS1}"
            )),
        ),
        r(
            b"!lst|meta|d|empty",
            &h("0000000000000000 0000000000000000 0000000000000000"),
        ),
        // A genuine delta of list "d|x" is still ignored.
        r(
            &wide("!lst|meta|d|", b"d|x", &h("0000000000000009 00000000")),
            &h("00000000000000000000000000000001"),
        ),
    ]);
    assert!(s(&t, "redis/db_0/lists/d%7Cx.json").ends_with("\"expire_at_ms\": 1735689600000\n}"));
    assert_eq!(
        s(&t, "redis/db_0/lists/d%7Cempty.json"),
        "{\n  \"format_version\": 1,\n  \"items\": [],\n  \"expire_at_ms\": null\n}"
    );
    assert_eq!(t.len(), 2);
}

#[test]
fn interleaved_lists_with_prefix_keys() {
    // Items of "a" and "a\x80…" interleave in key order; each list still gets exactly its
    // own items in sequence order.
    let item = |uk: &[u8], seq: u64| cat(&[b"!lst|itm|", uk, &(seq ^ (1 << 63)).to_be_bytes()]);
    let inner = cat(&[b"a", &h("8000000000000000")]);
    let rows = [
        r(&item(b"a\x01", 0), b"other"),
        r(&item(b"a", 0), b"a0"),
        r(&item(&inner, 5), b"inner5"),
        r(&item(&inner, 6), b"inner6"),
        r(&item(b"a", 1), b"a1"),
        r(&item(b"a", 2), b"a2"),
    ];
    let mut sorted = rows.to_vec();
    sorted.sort();
    assert_eq!(sorted, rows, "the rows above are in key order, interleaved");
    let t = run(&rows);
    let items = |p: &str| {
        let f = s(&t, p);
        f.lines()
            .filter(|l| l.starts_with("    "))
            .map(|l| l.trim().trim_end_matches(',').to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        items("redis/db_0/lists/a.json"),
        vec!["\"a0\"", "\"a1\"", "\"a2\""]
    );
    assert_eq!(
        items("redis/db_0/lists/a%80%00%00%00%00%00%00%00.json"),
        vec!["\"inner5\"", "\"inner6\""]
    );
    assert_eq!(items("redis/db_0/lists/a%01.json"), vec!["\"other\""]);
}

#[test]
fn large_collections_stream_through_chunks() {
    // Enough members to span several scratch chunks and take the streamed-file path.
    let n = 20_000u32;
    let mut rows = Vec::new();
    for i in 0..n {
        let m = format!("member-{i:08}");
        rows.push(r(
            &wide("!zs|mem|", b"big", m.as_bytes()),
            &f64::from(i).to_bits().to_be_bytes(),
        ));
        rows.push(r(&wide("!hs|fld|", b"big", m.as_bytes()), b"<v>"));
    }
    rows.push(r(
        &wide("!zs|meta|", b"big", b""),
        &(n as u64).to_be_bytes(),
    ));
    rows.push(r(b"!redis|ttl|big", &h(MS1)));
    let t = run(&rows);
    let z = s(&t, "redis/db_0/zsets/big.json");
    assert!(z.starts_with("{\n  \"format_version\": 1,\n  \"members\": [\n    {\n      \"member\": \"member-00000000\",\n      \"score\": 0\n    },"));
    assert!(z.ends_with("\"member\": \"member-00019999\",\n      \"score\": 19999\n    }\n  ],\n  \"expire_at_ms\": null\n}"));
    assert_eq!(z.matches("\"member\":").count(), n as usize);
    // The hash takes the index TTL (upstream's kind map names it: hash rows come before
    // the TTL row, zset rows after it).
    let hsh = s(&t, "redis/db_0/hashes/big.json");
    assert_eq!(
        hsh.matches("\"value\": \"\\u003cv\\u003e\"").count(),
        n as usize
    );
    assert!(hsh.ends_with("\"expire_at_ms\": 1735689600000\n}"));
}

/// Names that are prefixes of one another, including the empty name: in encoded-key
/// order (`name ‖ BE64(!ts)`, `!ts` starting 0xfe) `"ab"` arrives before `"a"`, and `""`
/// after every name whose first byte is below 0xfe; upstream writes bytewise order.
const PREFIX_NAMES: [&[u8]; 7] = [b"", b"\x00", b"a", b"a\x00", b"ab", b"b", b"\xff"];

/// The elements' names in file order (the JSON strings after `key`), `\u0000` unescaped.
fn names_in(file: &str, key: &str) -> Vec<String> {
    file.split(key)
        .skip(1)
        .map(|rest| {
            let rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('{') {
                // {"base64": "…"} for non-UTF-8 names.
                return format!("b64:{}", r.split('"').nth(3).unwrap());
            }
            rest.split('"').nth(1).unwrap().replace("\\u0000", "\0")
        })
        .collect()
}

fn want_names() -> Vec<String> {
    let mut v: Vec<&[u8]> = PREFIX_NAMES.to_vec();
    v.sort();
    v.iter()
        .map(|n| match std::str::from_utf8(n) {
            Ok(s) => s.to_string(),
            Err(_) => format!("b64:{}", URL_SAFE_NO_PAD.encode(n)),
        })
        .collect()
}

#[test]
fn prefix_names_arrive_out_of_bytewise_order() {
    // The premise of the fix: the pipeline's order is not name order.
    let mut rows: Vec<Row> = PREFIX_NAMES
        .iter()
        .map(|n| r(&wide("!hs|fld|", b"h", n), b""))
        .collect();
    encoded_order(&mut rows);
    let names: Vec<&[u8]> = rows.iter().map(|(k, _)| &k[8 + 4 + 1..]).collect();
    assert_eq!(
        names,
        vec![&b"\x00"[..], b"a\x00", b"ab", b"a", b"b", b"", b"\xff"]
    );
}

#[test]
fn hash_fields_in_bytewise_order_with_empty_and_prefix_names() {
    let rows: Vec<Row> = PREFIX_NAMES
        .iter()
        .map(|n| r(&wide("!hs|fld|", b"h", n), b"v"))
        .collect();
    let t = run(&rows);
    let f = s(&t, "redis/db_0/hashes/h.json");
    assert_eq!(names_in(&f, "\"name\":"), want_names(), "{f}");
}

#[test]
fn set_members_in_bytewise_order_with_empty_and_prefix_names() {
    let rows: Vec<Row> = PREFIX_NAMES
        .iter()
        .map(|n| r(&wide("!st|mem|", b"s", n), b""))
        .collect();
    let t = run(&rows);
    let f = s(&t, "redis/db_0/sets/s.json");
    let got: Vec<String> = f
        .lines()
        .filter(|l| l.starts_with("    \"") || l.starts_with("      \"base64"))
        .map(|l| {
            let l = l.trim();
            match l.strip_prefix("\"base64\": ") {
                Some(b) => format!("b64:{}", b.trim_matches('"')),
                None => l
                    .trim_end_matches(',')
                    .trim_matches('"')
                    .replace("\\u0000", "\0"),
            }
        })
        .collect();
    assert_eq!(got, want_names(), "{f}");
}

#[test]
fn zset_members_in_bytewise_order_with_empty_and_prefix_names() {
    // Equal scores everywhere: the order is by member bytes only.
    let rows: Vec<Row> = PREFIX_NAMES
        .iter()
        .map(|n| r(&wide("!zs|mem|", b"z", n), &1.0f64.to_bits().to_be_bytes()))
        .collect();
    let t = run(&rows);
    let f = s(&t, "redis/db_0/zsets/z.json");
    assert_eq!(names_in(&f, "\"member\":"), want_names(), "{f}");
}

#[test]
fn large_collections_with_prefix_names_are_resorted_across_chunks() {
    // Thousands of names, each also present extended by a byte: every short name arrives
    // after its extension, and the empty name after all of them, across many scratch
    // chunks and spilled sort runs (test limits are tiny).
    let mut names: Vec<Vec<u8>> = vec![Vec::new()];
    for i in 0..3000u32 {
        let n = format!("m{i:05}").into_bytes();
        names.push([&n[..], b"a"].concat());
        names.push(n);
    }
    let mut rows = Vec::new();
    for n in &names {
        rows.push(r(&wide("!hs|fld|", b"big", n), n));
        rows.push(r(&wide("!st|mem|", b"big", n), b""));
        rows.push(r(
            &wide("!zs|mem|", b"big", n),
            &2.5f64.to_bits().to_be_bytes(),
        ));
    }
    let t = run(&rows);
    names.sort();
    let want: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8(n.clone()).unwrap())
        .collect();
    let hsh = s(&t, "redis/db_0/hashes/big.json");
    assert_eq!(names_in(&hsh, "\"name\":"), want);
    // Each value is its own name: values moved with their names.
    assert_eq!(names_in(&hsh, "\"value\":"), want);
    let z = s(&t, "redis/db_0/zsets/big.json");
    assert_eq!(names_in(&z, "\"member\":"), want);
    let set = s(&t, "redis/db_0/sets/big.json");
    let got: Vec<String> = set
        .lines()
        .filter(|l| l.starts_with("    \""))
        .map(|l| l.trim().trim_end_matches(',').trim_matches('"').to_string())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn ttl_index_rows_of_prefix_keys_reach_their_strings() {
    // `!redis|ttl|user` arrives after `!redis|ttl|user:1` (encoded-key order) and `""`
    // after both; each must still find its string, and the sidecar lines keep arrival
    // order. A hash `user:` takes its own TTL row.
    let t = run(&[
        r(b"!redis|str|", b"e"),
        r(b"!redis|str|user", b"u"),
        r(b"!redis|str|user:1", b"u1"),
        r(b"!redis|ttl|", &h(MS1)),
        r(b"!redis|ttl|user", &h(MS1)),
        r(b"!redis|ttl|user:", &h(MS2)),
        r(b"!redis|ttl|user:1", &h(MS2)),
        r(&wide("!hs|fld|", b"user:", b"f"), b"v"),
    ]);
    assert_eq!(
        s(&t, "redis/db_0/strings_ttl.jsonl"),
        "{\"key\":\"user%3A1\",\"expire_at_ms\":1767225600000}\n\
         {\"key\":\"user\",\"expire_at_ms\":1735689600000}\n\
         {\"key\":\"\",\"expire_at_ms\":1735689600000}\n"
    );
    assert!(s(&t, "redis/db_0/hashes/user%3A.json").ends_with("\"expire_at_ms\": 1767225600000\n}"));
}

#[test]
fn ttl_routing_between_kinds() {
    let t = run(&[
        // Hash + string with the same key: the TTL row belongs to the (legacy) string.
        r(&wide("!hs|fld|", b"k1", b"f"), b"v"),
        r(b"!redis|str|k1", b"legacy"),
        r(b"!redis|ttl|k1", &h(MS1)),
        // New-format string: its envelope owns the TTL; the hash gets nothing either.
        r(&wide("!hs|fld|", b"k2", b"f"), b"v"),
        r(b"!redis|str|k2", &h("ff0100 76")),
        r(b"!redis|ttl|k2", &h(MS1)),
        // Hash + list: upstream's kind map names the list (its rows come later).
        r(&wide("!hs|fld|", b"k0", b"f"), b"v"),
        r(&cat(&[b"!lst|itm|k0", &h("8000000000000000")]), b"i"),
        r(b"!redis|ttl|k0", &h(MS1)),
        // Stream (no meta) and set: the stream claims the parked TTL first.
        r(&wide("!stream|entry|", b"k3", &[0u8; 16]), &h("0052584501")),
        r(&wide("!st|mem|", b"k3", b"m"), b""),
        r(b"!redis|ttl|k3", &h(MS1)),
        // A zero index TTL is written as 0, not null.
        r(&wide("!st|mem|", b"k4", b"m"), b""),
        r(b"!redis|ttl|k4", &h("0000000000000000")),
        // An orphan TTL produces nothing.
        r(b"!redis|ttl|k5", &h(MS1)),
        // Legacy zset with wide rows: the wide rows win, the blob still claims the TTL
        // ahead of the set with the same key.
        r(
            b"!redis|zset|k6",
            &h("00525a01 0a0d0a026d31110000000000000440"),
        ),
        r(&wide("!zs|mem|", b"k6", b"w"), &h("3ff0000000000000")),
        r(&wide("!st|mem|", b"k6", b"m"), b""),
        r(b"!redis|ttl|k6", &h(MS2)),
    ]);
    assert_eq!(
        s(&t, "redis/db_0/strings_ttl.jsonl"),
        "{\"key\":\"k1\",\"expire_at_ms\":1735689600000}\n"
    );
    assert!(s(&t, "redis/db_0/hashes/k0.json").ends_with("null\n}"));
    assert!(s(&t, "redis/db_0/lists/k0.json").ends_with("1735689600000\n}"));
    assert!(s(&t, "redis/db_0/hashes/k1.json").ends_with("null\n}"));
    assert!(s(&t, "redis/db_0/hashes/k2.json").ends_with("null\n}"));
    assert!(s(&t, "redis/db_0/sets/k3.json").ends_with("null\n}"));
    assert!(!t.contains_key("redis/db_0/streams/k3.jsonl"));
    assert!(s(&t, "redis/db_0/sets/k4.json").ends_with("\"expire_at_ms\": 0\n}"));
    let k6 = s(&t, "redis/db_0/zsets/k6.json");
    assert!(
        k6.contains("\"member\": \"w\"") && !k6.contains("m1"),
        "{k6}"
    );
    assert!(k6.ends_with("1767225600000\n}"));
    assert!(s(&t, "redis/db_0/sets/k6.json").ends_with("null\n}"));
}

#[test]
fn legacy_zset_last_duplicate_wins() {
    // Entries m1=2.5, m0=-1, m1=-1 (wire order): m1 ends up -1.
    let t = run(&[r(
        b"!redis|zset|z",
        &h("00525a01 0a0d0a026d31110000000000000440 0a0d0a026d3011000000000000f0bf 0a0d0a026d3111000000000000f0bf"),
    )]);
    let z = s(&t, "redis/db_0/zsets/z.json");
    assert_eq!(z.matches("\"member\"").count(), 2);
    assert!(
        z.contains("\"member\": \"m1\",\n      \"score\": -1\n"),
        "{z}"
    );
}

#[test]
fn errors_name_the_key_and_carry_upstream_text() {
    let cases: Vec<(Row, &str)> = vec![
        (
            r(b"!redis|str|a", &h("ff01")),
            "header truncated (redis key \"a\"): backup: invalid !redis|str| value",
        ),
        (
            r(b"!redis|hll|a", &h("ff0201 00")),
            "ttl section truncated (redis key \"a\"): backup: invalid !redis|hll| value",
        ),
        (
            r(b"!redis|ttl|a", &h("00")),
            "length 1 != 8 (redis key \"a\"): backup: invalid !redis|ttl| value",
        ),
        (r(b"!hs|meta|\x00\x00", b""), "backup: malformed !hs| key"),
        (
            r(&wide("!hs|meta|", b"a", b""), &h("00")),
            "length 1 not in {8,16}",
        ),
        (r(b"!lst|itm|short", b""), "backup: malformed !lst| key"),
        (
            r(b"!lst|meta|a", &h("00")),
            "backup: invalid !lst|meta| value",
        ),
        (
            r(&wide("!st|meta|", b"a", b""), &h("8000000000000000")),
            "overflows int64",
        ),
        (r(&wide("!zs|mem|", b"a", b"m"), &h("00")), "length 1 != 8"),
        (
            r(&wide("!zs|mem|", b"a", b"m"), &h("7ff8000000000000")),
            "NaN score for member of user key \"a\" (length 1)",
        ),
        (
            r(b"!redis|zset|a", b""),
            "backup: invalid !redis|zset| value",
        ),
        (
            r(&wide("!stream|meta|", b"a", b""), &[0; 8]),
            "length 8 not in {24,32,48}",
        ),
        (
            r(&wide("!stream|entry|", b"a", &[0; 16]), b"x"),
            "backup: invalid !stream|entry| value",
        ),
    ];
    for ((k, v), want) in cases {
        let err = run_opts(&[(k.clone(), v)], DecodeOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains(want),
            "{:?}: {err}",
            String::from_utf8_lossy(&k)
        );
    }
}

#[test]
fn scope_without_db_0_writes_nothing() {
    let opts = DecodeOptions {
        scopes: vec![Scope {
            adapter: AdapterKind::Redis,
            name: b"1".to_vec(),
        }],
        ..DecodeOptions::default()
    };
    let t = run_opts(&[r(b"!redis|str|a", b"v")], opts).unwrap();
    assert!(t.is_empty());
}

// ---- golden fixtures ----

fn golden_dir() -> PathBuf {
    let d = std::env::var("EKVB_GOLDEN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/golden"));
    assert!(d.is_dir(), "golden fixtures not found at {}", d.display());
    d
}

/// The newest non-tombstone version of each user key of a hand-read bare-payload file.
fn read_fsm(p: &Path) -> Vec<Row> {
    let d = std::fs::read(p).unwrap();
    assert_eq!(&d[..8], PAYLOAD_MAGIC);
    let le = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap()) as usize;
    let mut at = 16;
    let mut rows: Vec<Row> = Vec::new();
    let mut last: Option<Vec<u8>> = None;
    while at < d.len() {
        let kl = le(&d[at..at + 8]);
        let k = &d[at + 8..at + 8 + kl];
        at += 8 + kl;
        let vl = le(&d[at..at + 8]);
        let v = &d[at + 8..at + 8 + vl];
        at += 8 + vl;
        let uk = k[..k.len() - 8].to_vec();
        if last.as_ref() == Some(&uk) {
            continue; // an older version
        }
        last = Some(uk.clone());
        if v[0] & 1 == 0 {
            rows.push((uk, v[9..].to_vec()));
        }
    }
    rows
}

fn check_golden(case: &str, opts: DecodeOptions) {
    let dir = golden_dir();
    let case_dir = dir.join(case);
    let got = run_opts(&read_fsm(&case_dir.join("input.fsm")), opts).unwrap();
    let want: Tree = read_tree(&case_dir.join("expected"))
        .into_iter()
        .filter(|(k, _)| k.starts_with("redis/"))
        .collect();
    assert!(!want.is_empty());
    for (p, w) in &want {
        let g = got.get(p).unwrap_or_else(|| panic!("{case}: {p} missing"));
        assert!(
            g == w,
            "{case}: {p} differs:\n got {:?}\nwant {:?}",
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(w)
        );
    }
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(extra.is_empty(), "{case}: unexpected files {extra:?}");
}

#[test]
fn golden_redis_strings() {
    check_golden("redis_strings", DecodeOptions::default());
}

#[test]
fn golden_redis_collections() {
    check_golden("redis_collections", DecodeOptions::default());
}

#[test]
fn golden_redis_zsets() {
    check_golden("redis_zsets", DecodeOptions::default());
}

#[test]
fn golden_redis_streams_hll() {
    check_golden("redis_streams_hll", DecodeOptions::default());
}

#[test]
fn golden_mixed_all_redis_part() {
    check_golden("mixed_all", DecodeOptions::default());
}
