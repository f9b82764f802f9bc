//! The Redis encoder against the golden fixtures (encode(expected/) == the Redis entries
//! of `input.fsm`, byte for byte) and round trips through the real Redis decoder
//! (decode(encode(tree)) == tree), binary and fallback keys included.

use super::encode_tree;
use crate::s3::testutil::{decode_into, golden_cases, read_fsm, subtree, tree_of, write_tree};
use crate::Entries;
use elastickv_backup_engine::decode::redis::RedisAdapter;
use elastickv_backup_engine::options::DecodeOptions;
use std::path::Path;

const PREFIXES: [&[u8]; 6] = [b"!redis|", b"!hs|", b"!lst|", b"!st|", b"!zs|", b"!stream|"];

fn is_redis(k: &[u8]) -> bool {
    PREFIXES.iter().any(|p| k.starts_with(p))
}

fn encode(root: &Path) -> Result<Entries, String> {
    let mut out = Entries::new();
    encode_tree(root, &mut out).map_err(|e| e.to_string())?;
    out.sort();
    Ok(out)
}

fn show(e: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    e.iter()
        .map(|(k, v)| {
            format!(
                "{:?} = {:?}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            )
        })
        .collect()
}

fn decode(root: &Path, records: Entries) -> crate::s3::testutil::Tree {
    let opts = DecodeOptions::default();
    decode_into(root, records, Box::new(RedisAdapter::new(&opts)), opts).unwrap()
}

#[test]
fn golden_cases_encode_to_their_input_and_back() {
    let cases = golden_cases("redis");
    assert!(cases.iter().any(|(n, _)| n == "redis_zsets"), "{cases:?}");
    for (name, dir) in cases {
        let want = read_fsm(&dir.join("input.fsm"), is_redis);
        let got = encode(&dir.join("expected")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            got == want,
            "{name}: encoded entries differ\n got: {:#?}\nwant: {:#?}",
            show(&got),
            show(&want)
        );
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            subtree(&decode(&t.path().join("out"), got), "redis/"),
            subtree(&tree_of(&dir.join("expected")), "redis/"),
            "{name}: decode(encode(tree)) != tree"
        );
    }
}

/// decode(records) → tree; encode(tree) → records'; decode(records') == tree.
fn round_trip(records: Entries) -> crate::s3::testutil::Tree {
    let t = tempfile::tempdir().unwrap();
    let first = decode(&t.path().join("a"), records);
    let again = encode(&t.path().join("a")).unwrap();
    let second = decode(&t.path().join("b"), again);
    assert_eq!(second, first);
    first
}

fn wide(prefix: &str, uk: &[u8], rest: &[u8]) -> Vec<u8> {
    [
        prefix.as_bytes(),
        &(uk.len() as u32).to_be_bytes(),
        uk,
        rest,
    ]
    .concat()
}

#[test]
fn hostile_keys_and_values_round_trip() {
    let k300 = vec![b'k'; 300];
    let ms = 1_735_689_600_000u64.to_be_bytes();
    let mut recs: Entries = vec![
        // Strings: fallback key with TTL (KEYMAP written twice), binary key, empty key.
        (
            [&b"!redis|str|"[..], &k300].concat(),
            [&b"\xff\x01\x01"[..], &ms, b"x"].concat(),
        ),
        (
            b"!redis|str|k\x00\xff ~".to_vec(),
            b"\xff\x01\x00\x00\xff\n".to_vec(),
        ),
        (b"!redis|str|".to_vec(), b"\xff\x01\x00".to_vec()),
        (b"!redis|str|b64.x".to_vec(), b"\xff\x01\x00v".to_vec()),
        (b"!redis|hll|h".to_vec(), b"raw".to_vec()),
        // Hash with a binary name, an empty name, JSON-hostile text.
        (wide("!hs|meta|", b"esc", b""), 3u64.to_be_bytes().to_vec()),
        (wide("!hs|fld|", b"esc", b""), b"".to_vec()),
        (
            wide("!hs|fld|", b"esc", b"<a&b>"),
            b"line1\nline2\t\"q\"\\".to_vec(),
        ),
        (
            wide("!hs|fld|", b"esc", b"\xff"),
            b"\x01\x08\x0c\x7f\xe2\x80\xa8".to_vec(),
        ),
        // A fallback-named list with a binary item and an inline TTL.
        (
            [&b"!lst|meta|"[..], &k300].concat(),
            [&[0u8; 15][..], &[2], &[0u8; 7], &[2], &ms].concat(),
        ),
        (
            [&b"!lst|itm|"[..], &k300, &[0x80, 0, 0, 0, 0, 0, 0, 0]].concat(),
            b"\xfe".to_vec(),
        ),
        (
            [&b"!lst|itm|"[..], &k300, &[0x80, 0, 0, 0, 0, 0, 0, 1]].concat(),
            b"".to_vec(),
        ),
        // Set, zset with extreme scores, stream with unicode fields.
        (
            wide("!st|meta|", b"s", b""),
            [&1u64.to_be_bytes()[..], &ms].concat(),
        ),
        (wide("!st|mem|", b"s", "é".as_bytes()), Vec::new()),
        (wide("!zs|meta|", b"z", b""), 3u64.to_be_bytes().to_vec()),
        (
            wide("!zs|mem|", b"z", b"a"),
            1e-7f64.to_bits().to_be_bytes().to_vec(),
        ),
        (
            wide("!zs|mem|", b"z", b"b"),
            f64::INFINITY.to_bits().to_be_bytes().to_vec(),
        ),
        (
            wide("!zs|mem|", b"z", b"\xc3("),
            (-0.0f64).to_bits().to_be_bytes().to_vec(),
        ),
        (
            wide(
                "!stream|entry|",
                b"st",
                &[&5u64.to_be_bytes()[..], &0u64.to_be_bytes()].concat(),
            ),
            super::records::stream_entry("5-0", &[b"k".to_vec(), "値".as_bytes().to_vec()]),
        ),
        (
            wide("!stream|meta|", b"st", b""),
            super::records::stream_meta(1, 9, 3, Some(1_735_689_600_000)),
        ),
    ];
    recs.push((b"!redis|ttl|st".to_vec(), ms.to_vec()));
    let t = round_trip(recs);
    assert!(t.contains_key("redis/db_0/KEYMAP.jsonl"));
    assert!(t.contains_key("redis/db_0/strings/k%00%FF%20%7E.bin"));
    assert!(t.contains_key("redis/db_0/strings/.bin"));
}

/// Files of a tree, and a text its encoding error must contain.
type Case<'a> = (Vec<(&'a str, &'a [u8])>, &'a str);

fn err_of(files: &[(&str, &[u8])]) -> String {
    let d = tempfile::tempdir().unwrap();
    write_tree(d.path(), files);
    encode(d.path()).unwrap_err()
}

#[test]
fn refusals() {
    let fallback = elastickv_backup_engine::encode::filename::encode_segment(&[b'k'; 300]);
    let fb_path = format!("redis/db_0/strings/{fallback}.bin");
    let cases: Vec<Case<'_>> = vec![
        (vec![(fb_path.as_str(), b"x")], "missing KEYMAP entry"),
        (vec![("redis/db_0/strings/a b.bin", b"x")], "not an encoded Redis key"),
        (vec![("redis/db_1/strings/a.bin", b"x")], "requires single db_0"),
        (
            vec![("redis/db_0/strings/a.bin", b"x"), ("redis/db_2/strings/a.bin", b"x")],
            "requires single db_0",
        ),
        (vec![("redis/db_0", b"")], "not a directory"),
        (vec![("redis/db_0/hashes/h.json", b"{\"format_version\":2}")], "unsupported format_version 2"),
        (vec![("redis/db_0/hashes/h.json", b"{\"format_version\":1} {}")], "trailing data"),
        (
            vec![("redis/db_0/hashes/h.json", b"{\"format_version\":1,\"fields\":[{\"name\":\"a\"}]}")],
            "fields[0].value: missing",
        ),
        (
            vec![("redis/db_0/sets/s.json", b"{\"format_version\":1,\"members\":[{\"wrong\":\"x\"}]}")],
            "neither a string nor a base64 envelope",
        ),
        (
            vec![("redis/db_0/zsets/z.json", b"{\"format_version\":1,\"members\":[{\"member\":\"a\",\"score\":\"nan\"}]}")],
            "score",
        ),
        (
            vec![("redis/db_0/lists/l.json", b"{\"format_version\":1,\"items\":[],\"expire_at_ms\":-5}")],
            "expire_at_ms",
        ),
        (vec![("redis/db_0/streams/s.jsonl", b"{\"id\":\"1-0\",\"fields\":[]}\n")], "missing _meta line"),
        (
            vec![(
                "redis/db_0/streams/s.jsonl",
                b"{\"id\":\"1-0\",\"fields\":[]}\n{\"_meta\":true,\"length\":2,\"last_ms\":1,\"last_seq\":0}\n",
            )],
            "disagrees with 1 entries",
        ),
        (
            vec![(
                "redis/db_0/streams/s.jsonl",
                b"{\"id\":\"2-0\",\"fields\":[]}\n{\"_meta\":true,\"length\":1,\"last_ms\":1,\"last_seq\":0}\n",
            )],
            "is behind the largest entry id 2-0",
        ),
        (
            vec![(
                "redis/db_0/streams/s.jsonl",
                b"{\"_meta\":true,\"length\":0}\n{\"_meta\":true,\"length\":0}\n",
            )],
            "multiple _meta lines",
        ),
        (
            vec![(
                "redis/db_0/streams/s.jsonl",
                b"{\"id\":\"1-0\",\"fields\":[{\"name\":{\"base64\":\"_w\"},\"value\":\"v\"}]}\n{\"_meta\":true,\"length\":1,\"last_ms\":1}\n",
            )],
            "is not UTF-8",
        ),
        (
            vec![("redis/db_0/streams/s.jsonl", b"{\"id\":\"x\",\"fields\":[]}\n")],
            "missing '-'",
        ),
        (
            vec![("redis/db_0/strings_ttl.jsonl", b"{\"key\":\"a\",\"expire_at_ms\":1.5}\n")],
            "expire_at_ms",
        ),
    ];
    for (files, want) in cases {
        let e = err_of(&files);
        assert!(e.contains(want), "want {want:?}, got {e}");
    }
}

#[test]
fn empty_trees_and_links() {
    let d = tempfile::tempdir().unwrap();
    assert!(encode(d.path()).unwrap().is_empty());
    write_tree(d.path(), &[("redis/other", b""), ("redis/db_00/x", b"")]);
    assert!(encode(d.path()).unwrap().is_empty());
    write_tree(d.path(), &[("outside", b"secret")]);
    std::fs::create_dir_all(d.path().join("redis/db_0/strings")).unwrap();
    std::os::unix::fs::symlink(
        d.path().join("outside"),
        d.path().join("redis/db_0/strings/a.bin"),
    )
    .unwrap();
    assert!(encode(d.path()).unwrap_err().contains("symlink"));
}

#[test]
fn v17_and_upstream_record_shapes() {
    // Strings never get a scan-index row; an HLL with TTL gets envelope and row; a
    // collection TTL of 0 or null is no TTL.
    let d = tempfile::tempdir().unwrap();
    write_tree(
        d.path(),
        &[
            ("redis/db_0/strings/s.bin", b"v"),
            (
                "redis/db_0/strings_ttl.jsonl",
                b"{\"key\":\"s\",\"expire_at_ms\":7}\n{\"key\":\"gone\",\"expire_at_ms\":8}\n",
            ),
            ("redis/db_0/hll/h.bin", b"raw"),
            (
                "redis/db_0/hll_ttl.jsonl",
                b"{\"key\":\"h\",\"expire_at_ms\":9}\n",
            ),
            (
                "redis/db_0/sets/z.json",
                b"{\"format_version\":1,\"members\":[],\"expire_at_ms\":0}",
            ),
            (
                "redis/db_0/lists/n.json",
                b"{\"format_version\":1,\"items\":[\"a\"],\"expire_at_ms\":null}",
            ),
        ],
    );
    let got = encode(d.path()).unwrap();
    let want: Entries = vec![
        (
            b"!lst|itm|n\x80\x00\x00\x00\x00\x00\x00\x00".to_vec(),
            b"a".to_vec(),
        ),
        (
            b"!lst|meta|n".to_vec(),
            [0u64.to_be_bytes(), 1u64.to_be_bytes(), 1u64.to_be_bytes()].concat(),
        ),
        (
            b"!redis|hll|h".to_vec(),
            [&b"\xff\x02\x01"[..], &9u64.to_be_bytes(), b"raw"].concat(),
        ),
        (
            b"!redis|str|s".to_vec(),
            [&b"\xff\x01\x01"[..], &7u64.to_be_bytes(), b"v"].concat(),
        ),
        (b"!redis|ttl|h".to_vec(), 9u64.to_be_bytes().to_vec()),
        (wide("!st|meta|", b"z", b""), 0u64.to_be_bytes().to_vec()),
    ];
    assert_eq!(got, want);
}

/// Many keys — a third with SHA-fallback names, every other string with a TTL line that
/// overrides an earlier one — encode the same with the smallest sort budget (every name,
/// KEYMAP and sidecar sort spills) as with the default, and each key keeps its own TTL.
#[test]
fn many_keys_encode_the_same_with_spilled_name_sorts() {
    use super::names::Db;
    use elastickv_backup_engine::encode::filename::encode_segment;
    use elastickv_backup_engine::encode::keymap::{write_keymap_line, KeymapKind};
    let t = tempfile::tempdir().unwrap();
    let db = t.path().join("redis/db_0");
    for sub in ["strings", "hashes"] {
        std::fs::create_dir_all(db.join(sub)).unwrap();
    }
    let n = 2000u64;
    let key = |i: u64| -> Vec<u8> {
        if i.is_multiple_of(3) {
            format!("{i:06}-{}", "x".repeat(300)).into_bytes()
        } else {
            format!("key:{i}").into_bytes()
        }
    };
    let (mut km, mut side) = (Vec::new(), String::new());
    for i in 0..n {
        let k = key(i);
        let seg = encode_segment(&k);
        if i.is_multiple_of(3) {
            write_keymap_line(&mut km, seg.as_bytes(), &k, KeymapKind::ShaFallback);
        }
        if i % 4 == 3 {
            std::fs::write(
                db.join("hashes").join(format!("{seg}.json")),
                format!("{{\"format_version\":1,\"fields\":[{{\"name\":\"f\",\"value\":\"{i}\"}}],\"expire_at_ms\":null}}"),
            )
            .unwrap();
            continue;
        }
        std::fs::write(db.join("strings").join(format!("{seg}.bin")), i.to_string()).unwrap();
        if i.is_multiple_of(2) {
            side.push_str(&format!("{{\"key\":\"{seg}\",\"expire_at_ms\":1}}\n"));
            side.push_str(&format!(
                "{{\"key\":\"{seg}\",\"expire_at_ms\":{}}}\n",
                i + 10
            ));
        }
    }
    std::fs::write(db.join("KEYMAP.jsonl"), &km).unwrap();
    std::fs::write(db.join("strings_ttl.jsonl"), side).unwrap();
    let run = |budget| {
        let mut out = Entries::new();
        super::encode_db(
            Db {
                path: &db,
                shown: "redis/db_0",
                budget,
            },
            &mut out,
        )
        .unwrap();
        out.sort();
        out
    };
    let small = run(0);
    assert_eq!(small, run(64 << 20));
    let strings: Vec<_> = small
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(b"!redis|str|")?, v)))
        .collect();
    assert_eq!(strings.len() as u64, n - n / 4);
    for (k, v) in strings {
        let i = (0..n).find(|&i| key(i) == k).unwrap();
        let body = i.to_string();
        let want = if i.is_multiple_of(2) {
            [&[0xff, 1, 1][..], &(i + 10).to_be_bytes(), body.as_bytes()].concat()
        } else {
            [&[0xff, 1, 0][..], body.as_bytes()].concat()
        };
        assert_eq!(*v, want, "key {i}");
    }
    let hashes = small
        .iter()
        .filter(|(k, _)| k.starts_with(b"!hs|fld|"))
        .count();
    assert_eq!(hashes as u64, n / 4);
}
