//! `--checksums blake3`: the dump lists BLAKE3 digests in `CHECKSUMS.b3` (what `b3sum -c`
//! reads) instead of SHA-256 in `CHECKSUMS`, MANIFEST.json says so, every data byte is the
//! same as the default dump's, and `verify` checks either kind — catching a changed byte
//! and a manifest that names the other digest — for a directory and for archives; live,
//! resumable and partitioned dumps take it too.

mod common;

use common::*;
use elastickv_backup_gen as gen;
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CASE: &str = "mixed_all";

fn decode(t: &Path, name: &str, extra: &[&str]) -> PathBuf {
    decode_golden(CASE, &t.join(name), extra)
}

fn verify(target: &Path) -> (i32, String) {
    verify_report(target)
}

#[test]
fn blake3_dump_lists_b3_digests_of_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let sha = read_tree(&decode(tmp.path(), "sha", &[]));
    let b3_dir = decode(tmp.path(), "b3", &["--checksums", "blake3"]);
    let b3 = read_tree(&b3_dir);

    assert!(sha.contains_key("CHECKSUMS") && !sha.contains_key("CHECKSUMS.b3"));
    assert!(b3.contains_key("CHECKSUMS.b3") && !b3.contains_key("CHECKSUMS"));
    let manifest = String::from_utf8(b3["MANIFEST.json"].clone()).unwrap();
    assert!(
        manifest.contains("\"checksum_algorithm\": \"blake3\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("\"checksum_format\": \"b3sum\""),
        "{manifest}"
    );

    // The data files are the default dump's, byte for byte.
    let data = |m: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        m.iter()
            .filter(|(k, _)| !["MANIFEST.json", "CHECKSUMS", "CHECKSUMS.b3"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(data(&sha), data(&b3));

    // One `<blake3 hex>  <path>` line per file but the list itself, sorted like CHECKSUMS.
    let list = String::from_utf8(b3["CHECKSUMS.b3"].clone()).unwrap();
    let mut listed = Vec::new();
    for line in list.lines() {
        let (hex, path) = line.split_once("  ").expect("two-space separator");
        let body = &b3[path];
        assert_eq!(hex, blake3::hash(body).to_hex().as_str(), "{path}");
        listed.push(path.to_string());
    }
    let mut want: Vec<String> = b3
        .keys()
        .filter(|k| k.as_str() != "CHECKSUMS.b3")
        .cloned()
        .collect();
    want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(listed, want);
    let sha_lines = String::from_utf8(sha["CHECKSUMS"].clone()).unwrap();
    let sha_paths: Vec<&str> = sha_lines.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        sha_paths,
        listed.iter().map(String::as_str).collect::<Vec<_>>()
    );

    let (code, report) = verify(&b3_dir);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn verify_checks_blake3_dumps_and_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for (name, extra) in [
        ("d.tar", &["--archive", "tar"][..]),
        ("d.tar.zst", &["--archive", "tar.zst"][..]),
    ] {
        let mut args = vec!["--checksums", "blake3"];
        args.extend_from_slice(extra);
        let p = decode(t, name, &args);
        let (code, report) = verify(&p);
        assert_eq!(code, 0, "{name}:\n{report}");
    }

    // A changed byte is caught and named with the list it differs from.
    let d = decode(t, "dir", &["--checksums", "blake3"]);
    let p = d.join("s3/b1/o.txt");
    let mut b = std::fs::read(&p).unwrap();
    b[0] ^= 0x20;
    std::fs::write(&p, &b).unwrap();
    let (code, report) = verify(&d);
    assert_eq!(code, 1, "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("ERROR s3/b1/o.txt: content differs from CHECKSUMS.b3")),
        "{report}"
    );
    b[0] ^= 0x20;
    std::fs::write(&p, &b).unwrap();
    assert_eq!(verify(&d).0, 0);

    // A SHA-256 list beside the BLAKE3 one is refused.
    std::fs::write(d.join("CHECKSUMS"), "").unwrap();
    let (code, report) = verify(&d);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("CHECKSUMS is here too"), "{report}");
    std::fs::remove_file(d.join("CHECKSUMS")).unwrap();

    // A manifest naming SHA-256 over a BLAKE3 list (its own line in the list fixed up, so
    // only the disagreement is left).
    let m = d.join("MANIFEST.json");
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace("\"blake3\"", "\"sha256\"")
        .replace("\"b3sum\"", "\"sha256sum\"");
    std::fs::write(&m, &text).unwrap();
    let list = std::fs::read_to_string(d.join("CHECKSUMS.b3")).unwrap();
    let fixed: String = list
        .lines()
        .map(|l| {
            if l.ends_with("  MANIFEST.json") {
                format!(
                    "{}  MANIFEST.json\n",
                    blake3::hash(text.as_bytes()).to_hex()
                )
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(d.join("CHECKSUMS.b3"), fixed).unwrap();
    let (code, report) = verify(&d);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("checksum_algorithm \"sha256\", but the dump holds CHECKSUMS.b3"),
        "{report}"
    );
}

/// A loopback cluster of two groups with the sample data.
fn cluster() -> LoopbackServer {
    LoopbackServer::start(
        ServerConfig {
            groups: 2,
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        load::from_pairs(gen::sample(2), gen::EPOCH_MS << 16),
    )
    .unwrap()
}

fn ok(res: std::process::Output, what: &str) -> String {
    assert!(
        res.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    String::from_utf8_lossy(&res.stdout).into_owned()
}

/// A BLAKE3 dump tree: `CHECKSUMS.b3` only, the manifest saying so, `verify` passing.
fn assert_blake3_dump(dir: &Path) {
    assert!(dir.join("CHECKSUMS.b3").is_file(), "{}", dir.display());
    assert!(!dir.join("CHECKSUMS").exists());
    let m = std::fs::read_to_string(dir.join("MANIFEST.json")).unwrap();
    assert!(m.contains("\"checksum_algorithm\": \"blake3\""), "{m}");
    let (code, report) = verify(dir);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn resumable_and_partitioned_dumps_take_blake3() {
    let s = cluster();
    let addr = s.addr().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    // Resumable: the journal records the digest, every unit hashes with it.
    let res = t.join("resumable");
    let r = res.to_str().unwrap();
    ok(
        run(
            t,
            &[
                "dump",
                "--address",
                &addr,
                "--resumable",
                "--checksums",
                "blake3",
                "--output",
                r,
            ],
        ),
        "dump --resumable --checksums blake3",
    );
    assert_blake3_dump(&res);

    // Partitioned: the token records it, `finish` writes the BLAKE3 list.
    let part = t.join("partitioned");
    let p = part.to_str().unwrap();
    let token = ok(
        run(
            t,
            &[
                "dump",
                "begin",
                "--address",
                &addr,
                "--partitions",
                "2",
                "--checksums",
                "blake3",
                "--output",
                p,
            ],
        ),
        "dump begin",
    );
    let token = token.trim();
    for i in 0..2 {
        ok(
            run(
                t,
                &["dump", "--join", token, "--partition", &format!("{i}/2")],
            ),
            "dump --join",
        );
    }
    ok(run(t, &["dump", "finish", "--output", p]), "dump finish");
    assert_blake3_dump(&part);

    // The data is the same as a SHA-256 dump of the same cluster.
    let plain = t.join("plain");
    ok(
        run(
            t,
            &[
                "dump",
                "--address",
                &addr,
                "--output",
                plain.to_str().unwrap(),
            ],
        ),
        "dump",
    );
    let data = |d: &Path| -> BTreeMap<String, Vec<u8>> {
        read_tree(d)
            .into_iter()
            .filter(|(k, _)| !["MANIFEST.json", "CHECKSUMS", "CHECKSUMS.b3"].contains(&k.as_str()))
            .collect()
    };
    assert_eq!(data(&res), data(&plain));
    assert_eq!(data(&part), data(&plain));
    assert_eq!(s.cluster().active_pins(), 0);
}

#[test]
fn live_dump_with_blake3_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("live");
    let res = run(
        tmp.path(),
        &[
            "dump",
            "--embedded",
            "--checksums",
            "blake3",
            "--quiet",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(out.join("CHECKSUMS.b3").is_file() && !out.join("CHECKSUMS").exists());
    let (code, report) = verify(&out);
    assert_eq!(code, 0, "{report}");
}
