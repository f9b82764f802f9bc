//! Shared by the `*_memory` tests: peak memory of a child process as the OS reports it, and
//! a streaming check of an encoded snapshot that never loads it.
#![allow(dead_code)] // each test uses what it needs

use elastickv_backup_format::container::PAYLOAD_MAGIC;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::Command;

/// Runs `cmd` and returns (exit status, peak RSS in KiB) from `wait4`'s `ru_maxrss`: the
/// child's own high-water mark, mapped input included, not a sample that could miss it.
#[allow(clippy::zombie_processes)] // the child is reaped by wait4, which also yields its rusage
pub fn run_measured(cmd: &mut Command) -> (i32, i64) {
    let child = cmd.spawn().expect("spawning elastickv-backup");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child; `status` and `ru` are writable locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, ru.ru_maxrss)
}

/// Counts the payload's entries, checking that keys strictly ascend.
pub fn count_sorted_entries(path: &Path) -> u64 {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path).unwrap());
    let mut header = [0u8; 16];
    r.read_exact(&mut header).unwrap();
    assert_eq!(&header[..8], PAYLOAD_MAGIC);
    assert_eq!(u64::from_le_bytes(header[8..].try_into().unwrap()), 7);
    let (mut prev, mut key, mut val) = (Vec::new(), Vec::new(), Vec::new());
    let mut n = 0u64;
    let mut len = [0u8; 8];
    loop {
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return n,
            Err(e) => panic!("{e}"),
        }
        key.resize(u64::from_le_bytes(len) as usize, 0);
        r.read_exact(&mut key).unwrap();
        r.read_exact(&mut len).unwrap();
        val.resize(u64::from_le_bytes(len) as usize, 0);
        r.read_exact(&mut val).unwrap();
        assert!(n == 0 || key > prev, "entry {n} out of order");
        std::mem::swap(&mut prev, &mut key);
        n += 1;
    }
}
