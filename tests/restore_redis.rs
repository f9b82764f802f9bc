//! `restore redis` against a real `redis-server` (started on a free loopback port by each
//! test and killed when it ends): every Redis golden case is decoded, restored, and read
//! back key by key (GET/HGETALL/LRANGE/SMEMBERS/ZRANGE WITHSCORES/XRANGE/PTTL) against the
//! dump's own files; hand-built dumps cover the modes, chunking, streaming, KEYMAP names,
//! member-set HLLs, empty streams, TTL handling and the rate limit.
//!
//! Without `redis-server` these tests FAIL (never skip): run `.ci/run`, which installs it.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use elastickv_backup_engine::encode::filename::{decode_segment, encode_segment, DecodedSegment};
use elastickv_backup_restore::redis::{parse_address, Client, Reply};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------- server

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// With extra configuration arguments (e.g. `--rename-command X ""` to take a command
    /// away, as elastickv lacks some).
    fn start_with(extra: &[&str]) -> Server {
        let installed = Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            installed,
            "redis-server is not installed, so the Redis restore cannot be tested: run .ci/run \
             (it installs redis-server), or `apt-get install -y redis-server`"
        );
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawning redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break; // port taken meanwhile: try another
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Server { child, port };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start on a free port");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn client(&self) -> Client {
        Client::connect(
            &parse_address(&self.url()).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- helpers

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn call(c: &mut Client, args: &[&[u8]]) -> Reply {
    let r = c.call(args).unwrap();
    if let Reply::Error(e) = &r {
        panic!("{:?}: {e}", String::from_utf8_lossy(args[0]));
    }
    r
}

fn int(r: Reply) -> i64 {
    match r {
        Reply::Int(i) => i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn bulk(r: Reply) -> Option<Vec<u8>> {
    match r {
        Reply::Bulk(b) => b,
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn array(r: Reply) -> Vec<Reply> {
    match r {
        Reply::Array(Some(a)) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn bulks(r: Reply) -> Vec<Vec<u8>> {
    array(r).into_iter().map(|b| bulk(b).unwrap()).collect()
}

fn restore(input: &Path, url: &str, extra: &[&str]) -> Output {
    let out = Command::new(bin())
        .args(["restore", "redis", "--input"])
        .arg(input)
        .args(["--address", url, "--quiet"])
        .args(extra)
        .output()
        .unwrap();
    eprintln!(
        "restore {extra:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn restore_ok(input: &Path, url: &str, extra: &[&str]) -> String {
    let out = restore(input, url, extra);
    assert!(out.status.success(), "restore failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The summary's `total` row: restored, failed, expired, existing, empty.
fn totals(summary: &str) -> [u64; 5] {
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("total "))
        .expect("total row");
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    v.try_into().unwrap()
}

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A dump's `<value>`: a string, or `{"base64": …}`.
fn value_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => URL_SAFE_NO_PAD
            .decode(o["base64"].as_str().unwrap())
            .unwrap(),
        other => panic!("not a <value>: {other}"),
    }
}

fn score(v: &Value) -> f64 {
    match v {
        Value::String(s) if s.trim() == "+inf" => f64::INFINITY,
        Value::String(s) if s.trim() == "-inf" => f64::NEG_INFINITY,
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("not a score: {other}"),
    }
}

fn parse_score(b: &[u8]) -> f64 {
    std::str::from_utf8(b).unwrap().parse().unwrap()
}

// ---------------------------------------------------------------- the dump, independently

/// What one key of a dump should look like on the server.
#[derive(Debug)]
enum Want {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Zset(Vec<(Vec<u8>, f64)>),
    /// Entries `(id, fields)` and the last ID.
    Stream(Vec<(String, Vec<Vec<u8>>)>, String),
    /// An elastickv member-set HLL: PFCOUNT.
    Hll(i64),
    /// Nothing Redis can hold (an empty collection).
    Absent,
}

fn stem_key(db: &Path, stem: &str) -> Vec<u8> {
    match decode_segment(stem).unwrap() {
        DecodedSegment::Bytes(b) | DecodedSegment::Binary(b) => b,
        DecodedSegment::NeedsKeymap => {
            let km = std::fs::read_to_string(db.join("KEYMAP.jsonl")).unwrap();
            let line = km
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .rfind(|v| v["encoded"] == stem)
                .unwrap();
            URL_SAFE_NO_PAD
                .decode(line["original"].as_str().unwrap())
                .unwrap()
        }
    }
}

fn sidecar(db: &Path, name: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(db.join(name)) {
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            m.insert(
                v["key"].as_str().unwrap().to_string(),
                v["expire_at_ms"].as_u64().unwrap(),
            );
        }
    }
    m
}

fn files(dir: &Path, ext: &str) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            Some((name.strip_suffix(ext)?.to_string(), p))
        })
        .collect();
    v.sort();
    v
}

/// Every key of `db` with its expected value and expiry (0 = none).
fn expected(db: &Path) -> Vec<(Vec<u8>, Want, u64)> {
    let mut out = Vec::new();
    for (sub, side) in [("strings", "strings_ttl.jsonl"), ("hll", "hll_ttl.jsonl")] {
        let ttls = sidecar(db, side);
        for (stem, p) in files(&db.join(sub), ".bin") {
            let ttl = ttls.get(&stem).copied().unwrap_or(0);
            let body = std::fs::read(p).unwrap();
            let want = match body.strip_prefix(b"\x00RS\x01") {
                // One-byte lengths only in these tests: tag, len, member.
                Some(set) if sub == "hll" => {
                    Want::Hll(set.iter().filter(|&&b| b == 0x0a).count() as i64)
                }
                _ => Want::Str(body),
            };
            out.push((stem_key(db, &stem), want, ttl));
        }
    }
    for sub in ["hashes", "lists", "sets", "zsets"] {
        for (stem, p) in files(&db.join(sub), ".json") {
            let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            assert_eq!(v["format_version"], 1);
            let ttl = v["expire_at_ms"].as_u64().unwrap_or(0);
            let array_key = ["fields", "items", "members"];
            if array_key
                .iter()
                .any(|k| v[k].as_array().is_some_and(|a| a.is_empty()))
            {
                out.push((stem_key(db, &stem), Want::Absent, ttl));
                continue;
            }
            let want = match sub {
                "hashes" => Want::Hash(
                    v["fields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| (value_bytes(&f["name"]), value_bytes(&f["value"])))
                        .collect(),
                ),
                "lists" => Want::List(
                    v["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(value_bytes)
                        .collect(),
                ),
                "sets" => Want::Set(
                    v["members"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(value_bytes)
                        .collect(),
                ),
                _ => {
                    let mut m: Vec<(Vec<u8>, f64)> = v["members"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| (value_bytes(&m["member"]), score(&m["score"])))
                        .collect();
                    // ZRANGE order: by score, then member bytes.
                    m.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
                    Want::Zset(m)
                }
            };
            out.push((stem_key(db, &stem), want, ttl));
        }
    }
    for (stem, p) in files(&db.join("streams"), ".jsonl") {
        let text = std::fs::read_to_string(p).unwrap();
        let (mut entries, mut last, mut ttl) = (Vec::new(), String::new(), 0);
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            if v["_meta"] == true {
                last = format!("{}-{}", v["last_ms"], v["last_seq"]);
                ttl = v["expire_at_ms"].as_u64().unwrap_or(0);
            } else {
                let fields = v["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|f| [value_bytes(&f["name"]), value_bytes(&f["value"])])
                    .collect();
                entries.push((v["id"].as_str().unwrap().to_string(), fields));
            }
        }
        let want = if entries.is_empty() && last == "0-0" {
            Want::Absent
        } else {
            Want::Stream(entries, last)
        };
        out.push((stem_key(db, &stem), want, ttl));
    }
    out
}

/// Reads every key of the dump back from the server and compares. Keys whose expiry has
/// passed must be absent. Returns the number of keys expected to exist.
fn check_against_dump(c: &mut Client, db: &Path, case: &str) -> usize {
    let now = now_ms();
    let mut live = 0;
    for (key, want, ttl) in expected(db) {
        let k = key.as_slice();
        let name = format!("{case}: key {:?}", String::from_utf8_lossy(k));
        if (ttl != 0 && ttl <= now) || matches!(want, Want::Absent) {
            assert_eq!(int(call(c, &[b"EXISTS", k])), 0, "{name}: must be absent");
            continue;
        }
        live += 1;
        match want {
            Want::Str(b) => assert_eq!(bulk(call(c, &[b"GET", k])).unwrap(), b, "{name}"),
            Want::Hll(n) => assert_eq!(int(call(c, &[b"PFCOUNT", k])), n, "{name}"),
            Want::Absent => unreachable!(),
            Want::Hash(m) => {
                let flat = bulks(call(c, &[b"HGETALL", k]));
                let got: BTreeMap<Vec<u8>, Vec<u8>> = flat
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                assert_eq!(got, m, "{name}");
            }
            Want::List(items) => {
                assert_eq!(
                    bulks(call(c, &[b"LRANGE", k, b"0", b"-1"])),
                    items,
                    "{name}"
                )
            }
            Want::Set(m) => {
                let got: BTreeSet<Vec<u8>> =
                    bulks(call(c, &[b"SMEMBERS", k])).into_iter().collect();
                assert_eq!(got, m, "{name}");
            }
            Want::Zset(m) => {
                let flat = bulks(call(c, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"]));
                let got: Vec<(Vec<u8>, f64)> = flat
                    .chunks(2)
                    .map(|p| (p[0].clone(), parse_score(&p[1])))
                    .collect();
                assert_eq!(got, m, "{name}");
            }
            Want::Stream(entries, last) => {
                let got: Vec<(String, Vec<Vec<u8>>)> = array(call(c, &[b"XRANGE", k, b"-", b"+"]))
                    .into_iter()
                    .map(|e| {
                        let mut parts = array(e).into_iter();
                        let id = String::from_utf8(bulk(parts.next().unwrap()).unwrap()).unwrap();
                        (id, bulks(parts.next().unwrap()))
                    })
                    .collect();
                assert_eq!(got, entries, "{name}");
                let info = array(call(c, &[b"XINFO", b"STREAM", k]));
                let pos = info
                    .iter()
                    .position(|r| r == &Reply::Bulk(Some(b"last-generated-id".to_vec())))
                    .unwrap();
                assert_eq!(
                    bulk(info[pos + 1].clone()).unwrap(),
                    last.as_bytes(),
                    "{name}: last ID"
                );
            }
        }
        let pttl = int(call(c, &[b"PTTL", k]));
        if ttl == 0 {
            assert_eq!(pttl, -1, "{name}: no expiry expected");
        } else {
            let want = ttl as i64 - now_ms() as i64;
            assert!(
                (pttl - want).abs() < 60_000,
                "{name}: PTTL {pttl}, expected about {want}"
            );
        }
    }
    live
}

fn dbsize(c: &mut Client) -> i64 {
    int(call(c, &[b"DBSIZE"]))
}

// ---------------------------------------------------------------- golden cases

const CASES: [&str; 5] = [
    "redis_strings",
    "redis_collections",
    "redis_zsets",
    "redis_streams_hll",
    "mixed_all",
];

#[test]
fn golden_cases_restore_and_read_back() {
    let server = Server::start();
    let mut c = server.client();
    for case in CASES {
        let dir = golden_dir().join(case);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("dump");
        let out_s = out.to_str().unwrap().to_string();
        let extra = case_args(&dir);
        let mut args: Vec<&str> = vec!["decode", "--input", "input.fsm", "--output", &out_s];
        args.extend(extra.iter().map(String::as_str));
        let res = run(&dir, &args);
        assert!(res.status.success(), "{case}: decode failed");
        let db = out.join("redis/db_0");
        let n_expired = expected(&db)
            .iter()
            .filter(|(_, _, t)| *t != 0 && *t <= now_ms())
            .count() as u64;

        // Default: replace mode, expired keys skipped.
        call(&mut c, &[b"FLUSHALL"]);
        let summary = restore_ok(&out, &server.url(), &[]);
        let live = check_against_dump(&mut c, &db, case);
        assert_eq!(
            dbsize(&mut c),
            live as i64,
            "{case}: stray keys on the server"
        );
        let t = totals(&summary);
        assert_eq!(
            (t[0], t[1], t[2]),
            (live as u64, 0, n_expired),
            "{case}: {summary}"
        );

        // Again over the restored data: replace gives the same result.
        restore_ok(&out, &server.url(), &[]);
        check_against_dump(&mut c, &db, case);
        assert_eq!(dbsize(&mut c), live as i64);

        // --preserve-ttl writes the expired keys too, with their past expiry: the server
        // drops them at once, so the end state is the same.
        call(&mut c, &[b"FLUSHALL"]);
        let summary = restore_ok(&out, &server.url(), &["--preserve-ttl"]);
        assert_eq!(totals(&summary)[0], live as u64 + n_expired, "{summary}");
        check_against_dump(&mut c, &db, case);
        assert_eq!(dbsize(&mut c), live as i64);
    }
}

// ---------------------------------------------------------------- hand-built dumps

fn collection(array_key: &str, elems: &str, ttl: Option<u64>) -> String {
    let ttl = ttl.map_or("null".to_string(), |t| t.to_string());
    format!("{{\n  \"format_version\": 1,\n  \"{array_key}\": [{elems}],\n  \"expire_at_ms\": {ttl}\n}}")
}

/// An elastickv HLL body: `\x00RS\x01` ‖ RedisSetValue{members}.
fn member_set_hll(members: &[&[u8]]) -> Vec<u8> {
    let mut v = b"\x00RS\x01".to_vec();
    for m in members {
        v.push(0x0a);
        v.push(m.len() as u8);
        v.extend_from_slice(m);
    }
    v
}

#[test]
fn edge_cases_round_trip() {
    let server = Server::start();
    let mut c = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let future = now_ms() + 3_600_000;
    // A key too long to be a file name: SHA-fallback name + KEYMAP.jsonl (twice, as the
    // decoder writes it).
    let long = vec![b'k'; 300];
    let seg = encode_segment(&long);
    write(root, &format!("redis/db_0/strings/{seg}.bin"), b"x");
    let km = format!(
        "{{\"encoded\":\"{seg}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
        URL_SAFE_NO_PAD.encode(&long)
    );
    write(root, "redis/db_0/KEYMAP.jsonl", format!("{km}{km}"));
    write(
        root,
        "redis/db_0/strings_ttl.jsonl",
        format!("{{\"key\":\"{seg}\",\"expire_at_ms\":{future}}}\n"),
    );
    // A string larger than the in-memory limit (sent streamed from the file).
    let big: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 251) as u8).collect();
    write(root, "redis/db_0/strings/big%00bin.bin", &big);
    // A list larger than the in-memory limit and than one RPUSH.
    let items: Vec<String> = (0..30_000).map(|i| format!("\"item-{i:08}\"")).collect();
    write(
        root,
        "redis/db_0/lists/long.json",
        collection("items", &items.join(",\n    "), None),
    );
    // A hash with more fields than one HSET carries.
    let fields: Vec<String> = (0..1500)
        .map(|i| {
            format!(
                "{{\"name\":\"f{i}\",\"value\":{{\"base64\":\"{}\"}}}}",
                URL_SAFE_NO_PAD.encode([i as u8, 0xff])
            )
        })
        .collect();
    write(
        root,
        "redis/db_0/hashes/wide.json",
        collection("fields", &fields.join(","), Some(future)),
    );
    // An elastickv HLL (exact member set) → PFADD; PFCOUNT of 3 is exact in Redis too.
    write(
        root,
        "redis/db_0/hll/pf.bin",
        member_set_hll(&[b"a", b"b", b"c"]),
    );
    // A stream with no entries but a last ID; a zset with infinities and -0.
    write(
        root,
        "redis/db_0/streams/empty.jsonl",
        "{\"_meta\":true,\"length\":0,\"last_ms\":5,\"last_seq\":7,\"expire_at_ms\":null}\n",
    );
    write(
        root,
        "redis/db_0/zsets/z.json",
        collection(
            "members",
            "{\"member\":\"a\",\"score\":\"-inf\"},{\"member\":\"b\",\"score\":-0},{\"member\":\"c\",\"score\":1e-7},{\"member\":\"d\",\"score\":\"+inf\"}",
            None,
        ),
    );
    // Empty collections: nothing Redis can hold; counted as empty.
    write(
        root,
        "redis/db_0/sets/none.json",
        collection("members", "", None),
    );
    write(
        root,
        "redis/db_0/streams/nothing.jsonl",
        "{\"_meta\":true,\"length\":0,\"last_ms\":0,\"last_seq\":0,\"expire_at_ms\":null}\n",
    );

    let summary = restore_ok(root, &server.url(), &[]);
    assert_eq!(totals(&summary), [7, 0, 0, 0, 2], "{summary}");
    assert_eq!(bulk(call(&mut c, &[b"GET", &long])).unwrap(), b"x");
    let pttl = int(call(&mut c, &[b"PTTL", &long]));
    assert!(pttl > 3_500_000 && pttl <= 3_600_000, "{pttl}");
    assert_eq!(bulk(call(&mut c, &[b"GET", b"big\x00bin"])).unwrap(), big);
    let got = bulks(call(&mut c, &[b"LRANGE", b"long", b"0", b"-1"]));
    assert_eq!(got.len(), 30_000);
    assert_eq!(got[29_999], b"item-00029999");
    assert_eq!(int(call(&mut c, &[b"HLEN", b"wide"])), 1500);
    assert_eq!(
        bulk(call(&mut c, &[b"HGET", b"wide", b"f258"])).unwrap(),
        [2u8, 0xff]
    );
    assert!(int(call(&mut c, &[b"PTTL", b"wide"])) > 3_500_000);
    assert_eq!(int(call(&mut c, &[b"PFCOUNT", b"pf"])), 3);
    assert_eq!(int(call(&mut c, &[b"XLEN", b"empty"])), 0);
    let info = array(call(&mut c, &[b"XINFO", b"STREAM", b"empty"]));
    let pos = info
        .iter()
        .position(|r| r == &Reply::Bulk(Some(b"last-generated-id".to_vec())))
        .unwrap();
    assert_eq!(bulk(info[pos + 1].clone()).unwrap(), b"5-7");
    let z = bulks(call(&mut c, &[b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"]));
    assert_eq!(z[0], b"a");
    assert_eq!(parse_score(&z[1]), f64::NEG_INFINITY);
    assert_eq!(parse_score(&z[3]), 0.0);
    assert_eq!(parse_score(&z[5]), 1e-7);
    assert_eq!(parse_score(&z[7]), f64::INFINITY);
    assert_eq!(dbsize(&mut c), 7);
    check_against_dump(&mut c, &root.join("redis/db_0"), "edge cases");
}

/// Many keys — a third with SHA-fallback names, every other string with a sidecar TTL line
/// that overrides an earlier one — restore as the dump says with the smallest sort budget,
/// where the name, KEYMAP and sidecar sorts all spill to scratch files.
#[test]
fn many_keys_restore_with_spilled_name_sorts() {
    use elastickv_backup_restore::redis::{restore, RestoreOptions};
    let server = Server::start();
    let mut c = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let future = now_ms() + 3_600_000;
    let n = 3000u64;
    let key = |i: u64| -> Vec<u8> {
        if i.is_multiple_of(3) {
            format!("{i:06}-{}", "x".repeat(300)).into_bytes()
        } else {
            format!("key:{i}").into_bytes()
        }
    };
    let (mut km, mut side) = (String::new(), String::new());
    for i in 0..n {
        let k = key(i);
        let seg = encode_segment(&k);
        write(
            root,
            &format!("redis/db_0/strings/{seg}.bin"),
            i.to_string(),
        );
        if i.is_multiple_of(3) {
            km.push_str(&format!(
                "{{\"encoded\":\"{seg}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
                URL_SAFE_NO_PAD.encode(&k)
            ));
        }
        if i.is_multiple_of(2) {
            side.push_str(&format!("{{\"key\":\"{seg}\",\"expire_at_ms\":1}}\n"));
            side.push_str(&format!(
                "{{\"key\":\"{seg}\",\"expire_at_ms\":{}}}\n",
                future + i
            ));
        }
    }
    write(root, "redis/db_0/KEYMAP.jsonl", km);
    write(root, "redis/db_0/strings_ttl.jsonl", side);
    let mut opts = RestoreOptions::new(root.to_path_buf(), parse_address(&server.url()).unwrap());
    opts.sort_budget = 0;
    let summary = restore(&opts).unwrap();
    assert_eq!(summary.failed_total(), 0, "{}", summary.render());
    assert_eq!(dbsize(&mut c), n as i64);
    for i in 0..n {
        let k = key(i);
        assert_eq!(
            bulk(call(&mut c, &[b"GET", &k])),
            Some(i.to_string().into_bytes())
        );
        let ttl = int(call(&mut c, &[b"PEXPIRETIME", &k]));
        assert_eq!(
            ttl,
            if i.is_multiple_of(2) {
                (future + i) as i64
            } else {
                -1
            },
            "key {i}"
        );
    }
}

#[test]
fn modes_replace_merge_skip_existing() {
    let server = Server::start();
    let mut c = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "redis/db_0/strings/s.bin", b"dumped");
    write(
        root,
        "redis/db_0/hashes/h.json",
        collection("fields", "{\"name\":\"a\",\"value\":\"dumped\"}", None),
    );
    write(
        root,
        "redis/db_0/lists/l.json",
        collection("items", "\"x\",\"y\"", None),
    );
    write(
        root,
        "redis/db_0/sets/new.json",
        collection("members", "\"m\"", None),
    );
    // Large enough to take the one-key EXISTS path of skip-existing.
    let many: Vec<String> = (0..20_000).map(|i| format!("\"member-{i:012}\"")).collect();
    write(
        root,
        "redis/db_0/sets/big.json",
        collection("members", &many.join(","), None),
    );

    let seed = |c: &mut Client| {
        call(c, &[b"FLUSHALL"]);
        call(c, &[b"SET", b"s", b"old", b"PX", b"100000"]);
        call(c, &[b"HSET", b"h", b"a", b"old", b"b", b"kept?"]);
        call(c, &[b"RPUSH", b"l", b"w"]);
        call(c, &[b"SADD", b"big", b"other"]);
    };

    seed(&mut c);
    let s = restore_ok(root, &server.url(), &["--mode", "replace"]);
    assert_eq!(totals(&s), [5, 0, 0, 0, 0], "{s}");
    assert_eq!(bulk(call(&mut c, &[b"GET", b"s"])).unwrap(), b"dumped");
    assert_eq!(
        int(call(&mut c, &[b"PTTL", b"s"])),
        -1,
        "SET drops the old TTL"
    );
    assert_eq!(
        bulks(call(&mut c, &[b"HGETALL", b"h"])),
        [b"a".to_vec(), b"dumped".to_vec()]
    );
    assert_eq!(
        bulks(call(&mut c, &[b"LRANGE", b"l", b"0", b"-1"])),
        [b"x", b"y"]
    );
    assert_eq!(int(call(&mut c, &[b"SCARD", b"big"])), 20_000);
    assert_eq!(int(call(&mut c, &[b"SISMEMBER", b"big", b"other"])), 0);

    seed(&mut c);
    let s = restore_ok(root, &server.url(), &["--mode", "merge"]);
    assert_eq!(totals(&s), [5, 0, 0, 0, 0], "{s}");
    assert_eq!(bulk(call(&mut c, &[b"GET", b"s"])).unwrap(), b"dumped");
    assert_eq!(
        bulk(call(&mut c, &[b"HGET", b"h", b"a"])).unwrap(),
        b"dumped"
    );
    assert_eq!(
        bulk(call(&mut c, &[b"HGET", b"h", b"b"])).unwrap(),
        b"kept?"
    );
    assert_eq!(
        bulks(call(&mut c, &[b"LRANGE", b"l", b"0", b"-1"])),
        [b"w", b"x", b"y"]
    );
    assert_eq!(int(call(&mut c, &[b"SCARD", b"big"])), 20_001);

    seed(&mut c);
    let s = restore_ok(root, &server.url(), &["--mode", "skip-existing"]);
    assert_eq!(totals(&s), [1, 0, 0, 4, 0], "{s}");
    assert_eq!(bulk(call(&mut c, &[b"GET", b"s"])).unwrap(), b"old");
    assert_eq!(bulk(call(&mut c, &[b"HGET", b"h", b"a"])).unwrap(), b"old");
    assert_eq!(bulks(call(&mut c, &[b"LRANGE", b"l", b"0", b"-1"])), [b"w"]);
    assert_eq!(int(call(&mut c, &[b"SCARD", b"big"])), 1);
    assert_eq!(bulks(call(&mut c, &[b"SMEMBERS", b"new"])), [b"m"]);

    // A type clash in merge mode is a per-key failure: the rest is restored, exit 1.
    seed(&mut c);
    call(&mut c, &[b"DEL", b"l"]);
    call(&mut c, &[b"SET", b"l", b"a string"]);
    let out = restore(root, &server.url(), &["--mode", "merge"]);
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(totals(&s), [4, 1, 0, 0, 0], "{s}");
    assert!(s.contains("lists l: WRONGTYPE"), "{s}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 key(s) not restored"));
}

#[test]
fn databases_ttls_and_rate_limit() {
    let server = Server::start();
    let mut c = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let future = now_ms() + 600_000;
    for i in 0..40 {
        write(
            root,
            &format!("redis/db_3/strings/k{i}.bin"),
            format!("v{i}"),
        );
    }
    write(
        root,
        "redis/db_3/strings_ttl.jsonl",
        format!(
            "{{\"key\":\"k1\",\"expire_at_ms\":1}}\n{{\"key\":\"k2\",\"expire_at_ms\":1}}\n{{\"key\":\"k2\",\"expire_at_ms\":{future}}}\n{{\"key\":\"k3\",\"expire_at_ms\":0}}\n"
        ),
    );
    // 40 SETs + 1 PEXPIREAT at 50 commands/s: the first 5 go at once, the rest take ~0.7 s.
    let t0 = Instant::now();
    let s = restore_ok(root, &server.url(), &["--rate-limit", "50"]);
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(totals(&s), [39, 0, 1, 0, 0], "{s}");
    assert!(s.contains("db_3 -> 3"), "{s}");
    call(&mut c, &[b"SELECT", b"3"]);
    assert_eq!(dbsize(&mut c), 39);
    assert_eq!(
        int(call(&mut c, &[b"EXISTS", b"k1"])),
        0,
        "expired: skipped"
    );
    assert!(
        int(call(&mut c, &[b"PTTL", b"k2"])) > 500_000,
        "last sidecar line wins"
    );
    assert_eq!(int(call(&mut c, &[b"PTTL", b"k3"])), -1, "0 = no expiry");

    // --db overrides the target database.
    restore_ok(root, &server.url(), &["--db", "5"]);
    call(&mut c, &[b"SELECT", b"5"]);
    assert_eq!(dbsize(&mut c), 39);
}

/// A server without PEXPIREAT and XSETID (like elastickv's adapter): expiries go out as
/// PEXPIRE relative to now, and a stream's last ID past its last entry is a noted loss.
#[test]
fn servers_without_pexpireat_or_xsetid() {
    let server = Server::start_with(&[
        "--rename-command",
        "PEXPIREAT",
        "",
        "--rename-command",
        "XSETID",
        "",
    ]);
    let mut c = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let future = now_ms() + 600_000;
    write(root, "redis/db_0/strings/live.bin", b"1");
    write(root, "redis/db_0/strings/gone.bin", b"2");
    write(
        root,
        "redis/db_0/strings_ttl.jsonl",
        format!(
            "{{\"key\":\"live\",\"expire_at_ms\":{future}}}\n{{\"key\":\"gone\",\"expire_at_ms\":1000}}\n"
        ),
    );
    write(
        root,
        "redis/db_0/streams/st.jsonl",
        "{\"id\":\"5-0\",\"fields\":[{\"name\":\"k\",\"value\":\"v\"}]}\n{\"_meta\":true,\"length\":1,\"last_ms\":9,\"last_seq\":3,\"expire_at_ms\":null}\n",
    );
    let s = restore_ok(root, &server.url(), &["--preserve-ttl"]);
    assert!(s.contains("PEXPIRE relative to now"), "{s}");
    assert!(
        s.contains("1 stream(s) had a last ID past their last entry"),
        "{s}"
    );
    assert_eq!(totals(&s), [3, 0, 0, 0, 0], "{s}");
    let pttl = int(call(&mut c, &[b"PTTL", b"live"]));
    assert!(pttl > 590_000 && pttl <= 600_000, "{pttl}");
    assert_eq!(
        int(call(&mut c, &[b"EXISTS", b"gone"])),
        0,
        "past expiry: removed"
    );
    assert_eq!(int(call(&mut c, &[b"XLEN", b"st"])), 1);
}

#[test]
fn refusals() {
    let tmp = tempfile::tempdir().unwrap();
    // No Redis data in the dump.
    let out = restore(tmp.path(), "redis://127.0.0.1:1", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no redis/ directory"));
    // A bad address is a usage error.
    write(tmp.path(), "redis/db_0/strings/a.bin", b"x");
    let out = restore(tmp.path(), "rediss://h:1", &[]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing listening: the connection error names the address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = restore(tmp.path(), &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{port}")));
}
