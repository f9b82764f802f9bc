//! The S3 encoder against the golden fixtures (encode(expected/) == the S3 entries of
//! `input.fsm`, byte for byte) and round trips through the real S3 decoder
//! (decode(encode(tree)) == tree), hostile keys included.

use super::encode_tree;
use super::testutil::{decode_into, golden_cases, read_fsm, subtree, tree_of, write_tree, Tree};
use crate::Entries;
use elastickv_backup_engine::decode::s3::S3Adapter;
use elastickv_backup_engine::decode::Family;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_format::keys::ns;
use elastickv_backup_format::keys::s3 as build;
use std::path::Path;

fn is_s3(k: &[u8]) -> bool {
    k.starts_with(ns::S3) || k.starts_with(Family::S3Route.prefix())
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
            let v = if v.len() > 300 {
                format!("<{} bytes>", v.len())
            } else {
                String::from_utf8_lossy(v).into_owned()
            };
            format!("{} = {v}", String::from_utf8_lossy(k))
        })
        .collect()
}

fn opts_for(case: &Path) -> DecodeOptions {
    let args = std::fs::read_to_string(case.join("decode_args.txt")).unwrap_or_default();
    DecodeOptions {
        rename_collisions: args.contains("--rename-collisions"),
        ..DecodeOptions::default()
    }
}

#[test]
fn golden_cases_encode_to_their_input_and_back() {
    let cases = golden_cases("s3");
    assert!(cases.iter().any(|(n, _)| n == "s3_multichunk"), "{cases:?}");
    for (name, dir) in cases {
        let want = read_fsm(&dir.join("input.fsm"), is_s3);
        let got = encode(&dir.join("expected")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            got == want,
            "{name}: encoded entries differ\n got: {:#?}\nwant: {:#?}",
            show(&got),
            show(&want)
        );
        let t = tempfile::tempdir().unwrap();
        let back = decode_into(
            &t.path().join("out"),
            got,
            Box::new(S3Adapter::new(&opts_for(&dir))),
            opts_for(&dir),
        )
        .unwrap();
        assert_eq!(
            subtree(&back, "s3/"),
            subtree(&tree_of(&dir.join("expected")), "s3/"),
            "{name}: decode(encode(tree)) != tree"
        );
    }
}

fn bm(name: &str) -> Vec<u8> {
    format!(r#"{{"bucket_name":"{name}","generation":3,"created_at_hlc":5,"owner":"o<&>","acl":"private"}}"#).into_bytes()
}

/// A live-style object: manifest (upload `u`, one part of one chunk) and its chunk.
fn object(bucket: &str, gen: u64, key: &[u8], body: &[u8], extra: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let man = format!(
        r#"{{"upload_id":"u","etag":"e","size_bytes":{},"last_modified_hlc":111820040892416001{extra},"parts":[{{"part_no":1,"chunk_count":1}}]}}"#,
        body.len()
    );
    vec![
        (
            build::manifest(bucket.as_bytes(), gen, key),
            man.into_bytes(),
        ),
        (
            build::chunk(Family::S3Blob, bucket.as_bytes(), gen, key, b"u", 1, 0, 0),
            body.to_vec(),
        ),
    ]
}

/// decode(records) → tree; encode(tree) → records'; decode(records') must give the same
/// tree.
fn round_trip(records: Vec<(Vec<u8>, Vec<u8>)>, opts: DecodeOptions) -> Tree {
    let t = tempfile::tempdir().unwrap();
    let first = decode_into(
        &t.path().join("a"),
        records,
        Box::new(S3Adapter::new(&opts)),
        opts.clone(),
    )
    .unwrap();
    let again = encode(&t.path().join("a")).unwrap();
    let second = decode_into(
        &t.path().join("b"),
        again,
        Box::new(S3Adapter::new(&opts)),
        opts,
    )
    .unwrap();
    assert_eq!(second, first);
    first
}

#[test]
fn hostile_keys_round_trip() {
    let mut recs = vec![(build::bucket_meta(b"b"), bm("b"))];
    let long = format!("p/{}", "L".repeat(300));
    let keys: Vec<&[u8]> = vec![
        b"plain.txt",
        b"a/b",
        b"a/b/c",
        b"x.elastickv-meta.json",
        b"a/../b",
        b"a//b",
        b"/lead",
        b"trail/",
        b"back\\slash",
        b"nul\x00x",
        b"\xff\xfe",
        b"_bucket.json",
        b"KEYMAP.jsonl",
        b"_orphans/x",
        b"_incomplete_uploads/r",
        b"_escaped_keys/z",
        b"ctl\x01\n.txt",
        long.as_bytes(),
    ];
    for (i, k) in keys.iter().enumerate() {
        recs.extend(object(
            "b",
            3,
            k,
            format!("body {i}").as_bytes(),
            r#","user_metadata":{"k":"v"}"#,
        ));
    }
    // A stale generation and an empty body.
    recs.extend(object("b", 2, b"stale", b"old", ""));
    recs.push((
        build::manifest(b"b", 3, b"empty"),
        br#"{"upload_id":"","size_bytes":0,"content_type":"text/plain\u2028"}"#.to_vec(),
    ));
    let t = round_trip(
        recs,
        DecodeOptions {
            rename_collisions: true,
            ..DecodeOptions::default()
        },
    );
    assert!(t.contains_key("s3/b/a/b.elastickv-leaf-data"));
    assert!(t.contains_key("s3/b/x.elastickv-meta.json.user-data"));
    assert!(t.contains_key("s3/b/_escaped_keys/_bucket%2Ejson"));
    assert!(t.contains_key("s3/b/_bucket.json"));
    assert!(!t.keys().any(|k| k.contains("stale")));
}

#[test]
fn bucket_without_meta_and_odd_names_round_trip() {
    let mut recs = Vec::new();
    recs.extend(object("my bucket~", 4, b"k", b"v", ""));
    recs.extend(object(
        "photos",
        1,
        b"deep/er/k",
        &vec![7u8; (1 << 20) + 3],
        "",
    ));
    recs.push((build::bucket_meta(b"photos"), bm("photos")));
    let t = round_trip(recs, DecodeOptions::default());
    assert!(t.contains_key("s3/my%20bucket%7E/k"));
    assert!(!t.contains_key("s3/my%20bucket%7E/_bucket.json"));
    // A bucket whose directory name is a SHA fallback cannot be restored without meta.
    let d = tempfile::tempdir().unwrap();
    let enc = elastickv_backup_engine::encode::filename::encode_segment(b"b64.x");
    std::fs::create_dir_all(d.path().join("s3").join(&enc)).unwrap();
    let e = encode(d.path()).unwrap_err();
    assert!(e.contains("does not decode to a bucket name"), "{e}");
}

fn bucket_file(name: &str) -> Vec<u8> {
    format!("{{\n  \"format_version\": 1,\n  \"name\": \"{name}\"\n}}").into_bytes()
}

const SIDE1: &[u8] = b"{\"format_version\":1,\"size_bytes\":1}";

/// Files of a tree, and a text its encoding error must contain.
type Case<'a> = (Vec<(&'a str, &'a [u8])>, &'a str);

fn err_of(files: &[(&str, &[u8])]) -> String {
    let d = tempfile::tempdir().unwrap();
    write_tree(d.path(), files);
    encode(d.path()).unwrap_err()
}

#[test]
fn refusals() {
    let b = bucket_file("b");
    let cases: Vec<Case<'_>> = vec![
        (vec![("s3/b/_bucket.json", &b), ("s3/b/o", b"x")], "o.elastickv-meta.json"),
        (
            vec![("s3/b/_bucket.json", &b), ("s3/b/o", b"xy"), ("s3/b/o.elastickv-meta.json", SIDE1)],
            "size_bytes 1 != body length 2",
        ),
        (vec![("s3/c/_bucket.json", &b)], "belongs in directory \"b\""),
        (
            vec![("s3/b/_bucket.json", b"{\"format_version\":2,\"name\":\"b\"}")],
            "unsupported format_version 2",
        ),
        (vec![("s3/b/_bucket.json", b"{\"format_version\":1}")], "empty bucket name"),
        (vec![("s3/stray", b"")], "only bucket directories"),
        (
            vec![
                ("s3/b/_bucket.json", &b),
                ("s3/b/_escaped_keys/x", b"x"),
                ("s3/b/_escaped_keys/x.elastickv-meta.json", SIDE1),
            ],
            "no record in",
        ),
        (
            vec![
                ("s3/b/_bucket.json", &b),
                ("s3/b/KEYMAP.jsonl", b"{\"encoded\":\"a.elastickv-leaf-data\",\"original\":\"YQ\",\"kind\":\"s3-leaf-data\"}\n"),
            ],
            "is not a regular file",
        ),
        (
            vec![
                ("s3/b/_bucket.json", &b),
                ("s3/b/_orphans/x", b"x"),
                ("s3/b/_orphans/x.elastickv-meta.json", SIDE1),
            ],
            "collides with reserved dump directory",
        ),
    ];
    for (files, want) in cases {
        let e = err_of(&files);
        assert!(e.contains(want), "want {want:?}, got {e}");
    }
}

#[test]
fn links_are_refused_and_absent_s3_is_empty() {
    let d = tempfile::tempdir().unwrap();
    assert!(encode(d.path()).unwrap().is_empty());
    let b = bucket_file("b");
    write_tree(
        d.path(),
        &[
            ("s3/b/_bucket.json", &b),
            ("s3/b/o.elastickv-meta.json", SIDE1),
            ("elsewhere", b"x"),
        ],
    );
    std::os::unix::fs::symlink(d.path().join("elsewhere"), d.path().join("s3/b/o")).unwrap();
    assert!(encode(d.path()).unwrap_err().contains("symlink"));
    let e = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(d.path().join("s3"), e.path().join("s3")).unwrap();
    assert!(encode(e.path())
        .unwrap_err()
        .contains("expected a directory"));
}
