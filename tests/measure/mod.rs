//! Peak memory of a child process as the OS reports it, for the `*_memory` tests.

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
