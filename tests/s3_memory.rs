//! Peak memory of decoding very large S3 objects.
//!
//! Builds a bare snapshot holding one bucket with one object of
//! `EKVB_S3_MEMORY_MIB` MiB (default 2048 = 2 GiB) in 1 MiB blob chunks, decodes it
//! with the built binary, and checks from the OS (`wait4` → `ru_maxrss`) that the
//! process stayed under 256 MiB, that the body is exactly the chunks in order, that no
//! scratch directory appears in the dump, and that no scratch file stayed behind in the
//! temp dir. A second test does the same for several objects of the sizes a worker is
//! handed whole from the snapshot mapping (32 to 64 MiB), beside one streamed.

mod measure;
use measure::run_measured;

use elastickv_backup_format::container::payload_header;
use elastickv_backup_format::keys::s3;
use elastickv_backup_format::Family;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const RSS_LIMIT_KIB: i64 = 256 * 1024;
const CHUNK: usize = 1 << 20;

fn put_entry(w: &mut impl Write, user_key: &[u8], body: &[u8]) -> std::io::Result<()> {
    let commit_ts: u64 = 1;
    w.write_all(&((user_key.len() + 8) as u64).to_le_bytes())?;
    w.write_all(user_key)?;
    w.write_all(&(!commit_ts).to_be_bytes())?;
    w.write_all(&((body.len() + 9) as u64).to_le_bytes())?;
    w.write_all(&[0u8])?; // flags: not a tombstone
    w.write_all(&0u64.to_le_bytes())?; // no expiry
    w.write_all(body)
}

/// Chunk `i`'s bytes: distinct per chunk and per position, cheap to regenerate.
fn fill_chunk(buf: &mut [u8], i: u64) {
    for (j, w) in buf.chunks_exact_mut(8).enumerate() {
        w.copy_from_slice(&((i << 32) | j as u64).to_le_bytes());
    }
}

/// A snapshot of bucket `big` holding `objects` (name, size in 1 MiB chunks; names in
/// ascending order). Object `k`'s chunk `i` holds `fill_chunk(.., (k << 24) | i)`.
fn build_snapshot(path: &Path, objects: &[(&str, u64)]) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    w.write_all(&payload_header(2))?; // last_commit_ts ≥ every commit_ts
                                      // Key order: blob chunks < bucket meta < manifest (the families' prefixes sort so).
    let mut buf = vec![0u8; CHUNK];
    for (k, (name, chunks)) in objects.iter().enumerate() {
        for i in 0..*chunks {
            let key = s3::chunk(
                Family::S3Blob,
                b"big",
                1,
                name.as_bytes(),
                b"upload-1",
                1,
                i,
                0,
            );
            fill_chunk(&mut buf, ((k as u64) << 24) | i);
            put_entry(&mut w, &key, &buf)?;
        }
    }
    put_entry(
        &mut w,
        &s3::bucket_meta(b"big"),
        br#"{"bucket_name":"big","generation":1,"created_at_hlc":0,"owner":"alice"}"#,
    )?;
    for (name, chunks) in objects {
        let sizes = vec![CHUNK.to_string(); *chunks as usize].join(",");
        let total = chunks * CHUNK as u64;
        let manifest = format!(
            r#"{{"upload_id":"upload-1","etag":"\"big\"","size_bytes":{total},"last_modified_hlc":111820040892416000,"parts":[{{"part_no":1,"etag":"\"big\"","size_bytes":{total},"chunk_count":{chunks},"chunk_sizes":[{sizes}]}}]}}"#
        );
        put_entry(
            &mut w,
            &s3::manifest(b"big", 1, name.as_bytes()),
            manifest.as_bytes(),
        )?;
    }
    w.flush()
}

/// `decode` of `input`'s S3 data into `output` with `extra` flags, output discarded.
fn decode_s3(input: &Path, output: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_elastickv-backup"));
    cmd.arg("decode")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(["--adapter", "s3"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Checks that object `k`'s body is its `chunks` chunks in order.
fn check_body(path: &Path, k: u64, chunks: u64) {
    assert_eq!(
        std::fs::metadata(path).unwrap().len(),
        chunks * CHUNK as u64
    );
    let mut r = BufReader::with_capacity(1 << 20, File::open(path).unwrap());
    let (mut got, mut want) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    for i in 0..chunks {
        r.read_exact(&mut got).unwrap();
        fill_chunk(&mut want, (k << 24) | i);
        assert!(got == want, "{}: chunk {i} differs", path.display());
    }
}

fn has_entry_named(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let e = e.unwrap();
        e.file_name().to_string_lossy().contains(needle)
            || (e.file_type().unwrap().is_dir() && has_entry_named(&e.path(), needle))
    })
}

#[test]
fn s3_large_object_peak_rss_is_bounded() {
    let mib: u64 = std::env::var("EKVB_S3_MEMORY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    assert!(mib > 0);
    let work = tempfile::tempdir().expect("temp dir");
    let input = work.path().join("input.fsm");
    let output = work.path().join("out");
    let scratch = work.path().join("tmp");
    std::fs::create_dir(&scratch).unwrap();
    build_snapshot(&input, &[("huge.bin", mib)]).expect("writing the snapshot");

    let stderr_path = work.path().join("stderr.txt");
    let mut cmd = decode_s3(&input, &output, &[]);
    cmd.env("TMPDIR", &scratch)
        .stderr(File::create(&stderr_path).unwrap());
    let (code, maxrss_kib) = run_measured(&mut cmd);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert_eq!(code, 0, "decode failed: {stderr}");
    eprintln!(
        "s3_memory: {mib} MiB object, peak RSS {} MiB",
        maxrss_kib / 1024
    );
    // The input file is no longer needed; free the disk before reading the output.
    std::fs::remove_file(&input).unwrap();

    check_body(&output.join("s3/big/huge.bin"), 0, mib);
    assert!(output.join("s3/big/huge.bin.elastickv-meta.json").is_file());
    assert!(output.join("s3/big/_bucket.json").is_file());
    assert!(
        !has_entry_named(&output, "scratch"),
        "scratch inside the dump"
    );
    assert!(
        std::fs::read_dir(&scratch).unwrap().next().is_none(),
        "scratch left behind in TMPDIR"
    );
    assert!(
        maxrss_kib < RSS_LIMIT_KIB,
        "peak RSS {} MiB exceeds 256 MiB",
        maxrss_kib / 1024
    );
}

#[test]
fn s3_objects_handed_whole_from_the_mapping_are_written_whole_and_bounded() {
    // Three objects between the heap's collection limit (32 MiB) and the mapping's
    // (64 MiB), handed to the worker whole as slices of the snapshot mapping while the
    // decode thread goes on, then one over both (streamed by the decode thread), then a
    // small one.
    let objects = [
        ("a.bin", 40),
        ("b.bin", 48),
        ("c.bin", 33),
        ("d.bin", 70),
        ("e.bin", 1),
    ];
    let work = tempfile::tempdir().expect("temp dir");
    let input = work.path().join("input.fsm");
    let output = work.path().join("out");
    build_snapshot(&input, &objects).expect("writing the snapshot");
    let (code, maxrss_kib) = run_measured(&mut decode_s3(&input, &output, &["--threads", "2"]));
    assert_eq!(code, 0, "decode failed");
    eprintln!("s3_memory: 5 objects, peak RSS {} MiB", maxrss_kib / 1024);
    for (k, (name, chunks)) in objects.iter().enumerate() {
        check_body(&output.join("s3/big").join(name), k as u64, *chunks);
    }
    // Every body's digest in CHECKSUMS matches its bytes.
    let verify = Command::new(env!("CARGO_BIN_EXE_elastickv-backup"))
        .arg("verify")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        maxrss_kib < RSS_LIMIT_KIB,
        "peak RSS {} MiB exceeds 256 MiB",
        maxrss_kib / 1024
    );
}
