//! Dumps written straight to S3-compatible storage, against a real moto server on
//! 127.0.0.1: object for object the same as the directory output, `verify s3://…` passes
//! and catches a corrupted object, and a store that goes away mid-upload fails the dump
//! clearly, with no MANIFEST.json and no multipart upload left behind.

mod common;
mod moto_support;

use common::{bin, case_args, compare_trees, golden_dir, read_tree};
use elastickv_backup_engine::sinks::object::{S3Config, Store};
use moto_support::Moto;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Part size for these tests: S3's minimum, so a few MiB of data reach multipart uploads.
const PART: usize = 5 << 20;

/// A generator mix heavy in DynamoDB bytes: its bundle files exceed one part (multipart
/// uploads) while the dump stays around a thousand objects, since every small object is one
/// request to the Python S3 server and the default mix made this suite the slowest of all.
const SMALL_FILE_LIGHT_MIX: &str = "dynamodb=70,s3=20,redis=5,sqs=5";

/// The binary with the moto client environment.
fn cmd(extra_env: &[(&str, String)]) -> Command {
    let mut c = Command::new(bin());
    for (k, v) in Moto::client_env() {
        c.env(k, v);
    }
    c.env("ELASTICKV_BACKUP_S3_PART_SIZE", PART.to_string());
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c
}

fn ok(out: Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

/// A client of the test server, in this process (for reading back and tampering).
fn store(m: &Moto) -> Store {
    for (k, v) in Moto::client_env() {
        std::env::set_var(k, v);
    }
    Store::connect(&S3Config {
        endpoint: Some(m.endpoint()),
    })
    .expect("client")
}

/// Every object under `prefix`, by key relative to it.
fn objects(s: &Store, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let req = s
            .client()
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take());
        let page = s.run(req.send()).unwrap().expect("list");
        for o in page.contents() {
            let key = o.key().unwrap().to_string();
            let get = s.client().get_object().bucket(bucket).key(&key);
            let body = s
                .run(async move {
                    let o = get.send().await.expect("get");
                    o.body.collect().await.expect("body").into_bytes()
                })
                .unwrap();
            out.insert(key[prefix.len()..].to_string(), body.to_vec());
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return out,
        }
    }
}

/// Every directory of a dump tree on disk (relative paths).
fn dirs_of(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                let r = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                out.insert(r.clone());
                stack.push((e.path(), r));
            }
        }
    }
    out
}

/// The S3 dump under `prefix` is the directory dump at `dir`, object for object: same
/// files, same bytes (MANIFEST.json up to its wall time), and a `path/` marker for each
/// directory that holds no file.
fn assert_same_as_dir(s: &Store, bucket: &str, prefix: &str, dir: &Path) {
    let all = objects(s, bucket, prefix);
    let (markers, files): (BTreeMap<_, _>, BTreeMap<_, _>) =
        all.into_iter().partition(|(k, _)| k.ends_with('/'));
    let want = read_tree(dir);
    let diffs = compare_trees(&files, &want, false);
    assert!(diffs.is_empty(), "{prefix}: {diffs:#?}");
    let dirs = dirs_of(dir);
    for m in markers.keys() {
        assert!(
            dirs.contains(m.trim_end_matches('/')),
            "{prefix}: marker {m} for a directory the directory output lacks"
        );
    }
    for d in &dirs {
        let has_file = files.keys().any(|f| f.starts_with(&format!("{d}/")));
        assert!(
            has_file || markers.contains_key(&format!("{d}/")),
            "{prefix}: empty directory {d} has no marker object"
        );
    }
}

fn verify(m: &Moto, url: &str) -> Output {
    cmd(&[])
        .args(["verify", url, "--s3-endpoint", &m.endpoint()])
        .output()
        .unwrap()
}

#[test]
fn golden_cases_to_s3_match_the_directory_output_and_verify() {
    let m = Moto::start();
    m.create_bucket("golden");
    let s = store(&m);
    let t = tempfile::tempdir().unwrap();
    for case in ["mixed_all", "ddb_hash_range", "s3_multichunk", "sqs_fifo"] {
        let cdir = golden_dir().join(case);
        let dir_out = t.path().join(case);
        let prefix = format!("cases/{case}/");
        for output in [
            dir_out.display().to_string(),
            format!("s3://golden/{prefix}"),
        ] {
            let out = cmd(&[])
                .current_dir(&cdir)
                .args(["decode", "--input", "input.fsm", "--output", &output])
                .args(case_args(&cdir))
                .args(
                    output
                        .starts_with("s3://")
                        .then(|| ["--s3-endpoint".to_string(), m.endpoint()])
                        .into_iter()
                        .flatten(),
                )
                .output()
                .unwrap();
            ok(out, &format!("{case} decode to {output}"));
        }
        assert_same_as_dir(&s, "golden", &prefix, &dir_out);
        let remote = verify(&m, &format!("s3://golden/{prefix}"));
        let remote_out = String::from_utf8_lossy(&remote.stdout).into_owned();
        ok(remote, "verify");
        // It counts every object it hashed (the folder markers carry no content).
        let (n, bytes) = objects(&s, "golden", &prefix)
            .iter()
            .filter(|(k, _)| !k.ends_with('/'))
            .fold((0, 0), |(n, b), (_, v)| (n + 1, b + v.len()));
        assert!(
            remote_out.contains(&format!(": {n} files, {bytes} bytes verified")),
            "{case}: verify s3:// counts: {remote_out}"
        );
    }
    // A non-empty prefix is refused, as a non-empty directory is.
    let cdir = golden_dir().join("mixed_all");
    let out = cmd(&[])
        .current_dir(&cdir)
        .args([
            "decode",
            "--input",
            "input.fsm",
            "--output",
            "s3://golden/cases/mixed_all/",
        ])
        .args(["--s3-endpoint", &m.endpoint()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is not empty") && err.contains("s3://golden/cases/mixed_all/"),
        "{err}"
    );
}

#[test]
fn generated_dataset_to_s3_matches_directory_output_verify_catches_corruption() {
    let m = Moto::start();
    m.create_bucket("gen");
    let s = store(&m);
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let out = cmd(&[])
        .args(["gen", "--size", "24M", "--shards", "2"])
        .args(["--mix", SMALL_FILE_LIGHT_MIX, "--output"])
        .arg(&data)
        .output()
        .unwrap();
    ok(out, "gen");
    let layout = [
        "--dynamodb-bundle-mode",
        "jsonl",
        "--dynamodb-bundle-size",
        "12M",
    ];
    let dir_out = t.path().join("dir");
    let out = cmd(&[])
        .args(["decode", "--input-snap-dir"])
        .arg(&data)
        .arg("--output")
        .arg(&dir_out)
        .args(layout)
        .output()
        .unwrap();
    ok(out, "decode to a directory");
    let out = cmd(&[])
        .args(["decode", "--input-snap-dir"])
        .arg(&data)
        .args(["--output", "s3://gen/tree/", "--s3-endpoint", &m.endpoint()])
        .args(layout)
        .output()
        .unwrap();
    ok(out, "decode to s3://");
    let files = read_tree(&dir_out);
    assert!(
        files.values().any(|v| v.len() > PART),
        "the dataset has no file larger than one part, so multipart uploads were not exercised"
    );
    assert_same_as_dir(&s, "gen", "tree/", &dir_out);
    assert!(m.open_uploads("gen").is_empty());
    ok(verify(&m, "s3://gen/tree/"), "verify s3://gen/tree/");

    // `--checksums blake3`: the same objects, CHECKSUMS.b3 in place of CHECKSUMS, verified.
    let out = cmd(&[])
        .args(["decode", "--input-snap-dir"])
        .arg(&data)
        .args(["--output", "s3://gen/b3/", "--s3-endpoint", &m.endpoint()])
        .args(["--checksums", "blake3"])
        .args(layout)
        .output()
        .unwrap();
    ok(out, "decode --checksums blake3 to s3://");
    let b3 = objects(&s, "gen", "b3/");
    let list = b3.get("CHECKSUMS.b3").expect("CHECKSUMS.b3 object");
    assert!(!b3.contains_key("CHECKSUMS"));
    let first = String::from_utf8_lossy(list)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let (hex, path) = first.split_once("  ").unwrap();
    assert_eq!(hex, blake3::hash(&b3[path]).to_hex().as_str(), "{path}");
    ok(verify(&m, "s3://gen/b3/"), "verify s3://gen/b3/");

    // The same as one tar.zst object (a multipart upload), verified streaming.
    let out = cmd(&[])
        .args(["decode", "--input-snap-dir"])
        .arg(&data)
        .args([
            "--output",
            "s3://gen/dump.tar.zst",
            "--s3-endpoint",
            &m.endpoint(),
        ])
        .args(["--archive", "tar.zst"])
        .args(layout)
        .output()
        .unwrap();
    ok(out, "decode --archive tar.zst to s3://");
    ok(
        verify(&m, "s3://gen/dump.tar.zst"),
        "verify the archive object",
    );

    // Tampering: one byte of one data object changed.
    let (victim, bytes) = files
        .iter()
        .find(|(p, v)| p.starts_with("sqs/") && !v.is_empty())
        .expect("an sqs file");
    let mut bad = bytes.clone();
    bad[0] ^= 1;
    let put = s
        .client()
        .put_object()
        .bucket("gen")
        .key(format!("tree/{victim}"))
        .body(bad.into());
    s.run(put.send()).unwrap().expect("put");
    let out = verify(&m, "s3://gen/tree/");
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains(&format!("ERROR {victim}: content differs from CHECKSUMS")),
        "{report}"
    );
    // A missing MANIFEST.json is an incomplete dump.
    let del = s
        .client()
        .delete_object()
        .bucket("gen")
        .key("tree/MANIFEST.json");
    s.run(del.send()).unwrap().expect("delete");
    let out = verify(&m, "s3://gen/tree/");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MANIFEST.json"));
}

/// A TCP relay to moto that the test can cut (the store, as the dump sees it, dies:
/// connections reset, new ones refused) and bring back on the same port.
struct Relay {
    port: u16,
    upstream: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    saw_part: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let mut r = Relay {
            port: moto_support::free_port(),
            upstream,
            cut: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Mutex::new(Vec::new())),
            saw_part: Arc::new(AtomicBool::new(false)),
            accept: None,
        };
        r.listen();
        r
    }

    /// Accepts on the relay port until cut or stopped.
    fn listen(&mut self) {
        let l = TcpListener::bind(("127.0.0.1", self.port)).expect("relay port");
        l.set_nonblocking(true).unwrap();
        let (cut, stop, conns, saw, up) = (
            self.cut.clone(),
            self.stop.clone(),
            self.conns.clone(),
            self.saw_part.clone(),
            self.upstream,
        );
        self.accept = Some(std::thread::spawn(move || {
            while !cut.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", up)) else {
                    continue;
                };
                conns.lock().unwrap().push(client.try_clone().unwrap());
                conns.lock().unwrap().push(server.try_clone().unwrap());
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    Some(saw.clone()),
                );
                pump(server, client, None);
            }
        }));
    }

    /// The store goes away: every connection reset, the port closed.
    fn cut(&mut self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            h.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// The store is back on the same port.
    fn restore(&mut self) {
        self.cut.store(false, Ordering::SeqCst);
        self.listen();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
    }
}

/// Copies `from` to `to` on a thread; with `watch`, flags an UploadPart request.
fn pump(mut from: TcpStream, mut to: TcpStream, watch: Option<Arc<AtomicBool>>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(w) = &watch {
                if buf[..n].windows(11).any(|x| x == b"partNumber=") {
                    w.store(true, Ordering::SeqCst);
                }
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[test]
fn store_dying_mid_upload_fails_clearly_without_manifest_and_aborts_uploads() {
    let m = Moto::start();
    m.create_bucket("kill");
    let s = store(&m);
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    ok(
        cmd(&[])
            .args(["gen", "--size", "32M", "--shards", "2"])
            .args(["--mix", SMALL_FILE_LIGHT_MIX, "--output"])
            .arg(&data)
            .output()
            .unwrap(),
        "gen",
    );
    let mut relay = Relay::start(m.port);
    let endpoint = format!("http://127.0.0.1:{}", relay.port);
    let mut child = cmd(&[])
        .args(["decode", "--input-snap-dir"])
        .arg(&data)
        .args(["--output", "s3://kill/run/", "--s3-endpoint", &endpoint])
        .args([
            "--dynamodb-bundle-mode",
            "jsonl",
            "--dynamodb-bundle-size",
            "24M",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !relay.saw_part.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "no UploadPart request seen");
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the dump ended ({st}) before any multipart upload");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    relay.cut();
    // Down for longer than the client's retries, then back: the dump has failed by then
    // and is still trying to abort its uploads.
    std::thread::sleep(Duration::from_secs(8));
    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the dump did not stop after the store died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("s3://kill/run/") && err.contains(&endpoint) && err.contains("failed"),
        "the error names the object, the endpoint and the failed operation: {err}"
    );
    let left = objects(&s, "kill", "run/");
    assert!(
        !left.contains_key("MANIFEST.json") && !left.contains_key("CHECKSUMS"),
        "a failed dump must not have MANIFEST.json/CHECKSUMS: {:?}",
        left.keys().collect::<Vec<_>>()
    );
    assert!(!left.is_empty(), "nothing was uploaded before the cut");
    assert_eq!(m.open_uploads("kill"), Vec::<String>::new(), "{err}");
}
