//! Peak memory of the Redis adapter on a huge collection: a snapshot holding one zset of
//! millions of members (built here by hand as a bare snapshot file) is decoded by the real
//! binary, whose peak RSS is read from the OS (`wait4` → `ru_maxrss`) and must stay under
//! 256 MiB — the adapter streams elements through scratch files instead of holding the
//! collection in memory as upstream does.
//!
//! The snapshot reader memory-maps its input; file-backed pages count in `ru_maxrss`, so
//! the scanner releases the pages it has consumed (in the index pass too) and the whole
//! process — mapped input included — must stay under 256 MiB although the input is larger.
//! The process's anonymous memory (heap, stacks) is also sampled from `/proc/<pid>/status`
//! (`RssAnon`) during the run and must stay under 256 MiB on its own.
//!
//! `EKVB_REDIS_MEMORY_MEMBERS` overrides the member count (default below).

use elastickv_backup_format::container::payload_header;
use elastickv_backup_format::Family;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_MEMBERS: u64 = 5_000_000;
const LIMIT_KIB: i64 = 256 * 1024;
const COMMIT_TS: u64 = 10;

fn entry(w: &mut impl Write, user_key: &[u8], body: &[u8]) -> std::io::Result<()> {
    w.write_all(&((user_key.len() + 8) as u64).to_le_bytes())?;
    w.write_all(user_key)?;
    w.write_all(&(!COMMIT_TS).to_be_bytes())?;
    w.write_all(&((body.len() + 9) as u64).to_le_bytes())?;
    w.write_all(&[0u8; 9])?; // flags 0, expire_at 0
    w.write_all(body)
}

fn wide(prefix: &[u8], uk: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&(uk.len() as u32).to_be_bytes());
    k.extend_from_slice(uk);
    k.extend_from_slice(tail);
    k
}

fn member(i: u64) -> String {
    format!("m{i:09}")
}

/// One zset `z` with `n` members `m000000000…` (score = index), then its meta.
fn build_snapshot(path: &Path, n: u64) {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    w.write_all(&payload_header(100)).unwrap();
    let mut key = Vec::new();
    for i in 0..n {
        key.clear();
        key.extend_from_slice(&wide(
            Family::RedisZsetMember.prefix(),
            b"z",
            member(i).as_bytes(),
        ));
        entry(&mut w, &key, &(i as f64).to_bits().to_be_bytes()).unwrap();
    }
    entry(
        &mut w,
        &wide(Family::RedisZsetMeta.prefix(), b"z", b""),
        &n.to_be_bytes(),
    )
    .unwrap();
    w.flush().unwrap();
}

/// Largest `RssAnon` (KiB) seen in `/proc/<pid>/status` until `done` is set.
fn sample_anon(pid: u32, done: Arc<AtomicBool>) -> std::thread::JoinHandle<i64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut max = 0i64;
        while !done.load(Ordering::Relaxed) {
            if let Ok(s) = std::fs::read_to_string(&path) {
                let anon = s
                    .lines()
                    .find_map(|l| l.strip_prefix("RssAnon:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
                max = max.max(anon.unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        max
    })
}

/// Runs the binary; returns (exit status, peak RSS in KiB, peak sampled RssAnon in KiB).
// The child is reaped by `libc::wait4` (to read its rusage; rustix has no wait4), which
// clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (i32, i64, i64) {
    let child = Command::new(env!("CARGO_BIN_EXE_elastickv-backup"))
        .args(args)
        .spawn()
        .expect("spawning elastickv-backup");
    let done = Arc::new(AtomicBool::new(false));
    let sampler = sample_anon(child.id(), done.clone());
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped; both pointers are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    done.store(true, Ordering::Relaxed);
    let anon = sampler.join().unwrap();
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally: {status}"
    );
    (libc::WEXITSTATUS(status), usage.ru_maxrss, anon)
}

fn tail_of(path: &Path, n: u64) -> String {
    let mut f = File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.seek(SeekFrom::Start(len.saturating_sub(n))).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

#[test]
fn huge_zset_decodes_in_bounded_memory() {
    let n: u64 = std::env::var("EKVB_REDIS_MEMORY_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MEMBERS);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.fsm");
    let out = tmp.path().join("out");
    build_snapshot(&input, n);
    let input_kib = (std::fs::metadata(&input).unwrap().len() / 1024) as i64;
    let (code, peak_kib, anon_kib) = run_measured(&[
        "decode",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "decode failed");
    eprintln!(
        "redis_memory: {n} members, input {} MiB, peak RSS {} MiB, peak RssAnon {} MiB",
        input_kib / 1024,
        peak_kib / 1024,
        anon_kib / 1024
    );
    assert!(
        peak_kib < LIMIT_KIB,
        "peak RSS {peak_kib} KiB exceeds {LIMIT_KIB} KiB (input {input_kib} KiB)"
    );
    assert!(
        anon_kib < LIMIT_KIB,
        "peak anonymous RSS {anon_kib} KiB exceeds {LIMIT_KIB} KiB"
    );

    // The file is complete and in member order.
    let z = out.join("redis/db_0/zsets/z.json");
    let mut lines = BufReader::new(File::open(&z).unwrap()).lines();
    let head: Vec<String> = lines.by_ref().take(6).map(Result::unwrap).collect();
    assert_eq!(
        head,
        [
            "{",
            "  \"format_version\": 1,",
            "  \"members\": [",
            "    {",
            &format!("      \"member\": \"{}\",", member(0)),
            "      \"score\": 0",
        ]
    );
    let members = 1 + lines
        .map(Result::unwrap)
        .filter(|l| l.starts_with("      \"member\": "))
        .count() as u64;
    assert_eq!(members, n);
    let want_tail = format!(
        "      \"member\": \"{}\",\n      \"score\": {}\n    }}\n  ],\n  \"expire_at_ms\": null\n}}",
        member(n - 1),
        n - 1
    );
    assert!(tail_of(&z, want_tail.len() as u64) == want_tail);
}
