//! Measured runs happen in a child process (the same binary, hidden `__bench-child`
//! command): its peak RSS then comes from the OS (`wait4` → `ru_maxrss`) untouched by the
//! generator or the embedded cluster, and its stage counters start from zero. The child
//! runs an ordinary command line (`decode ...`, `dump ...`) with stage timing on and writes
//! its counters as JSON for the parent (the command itself is `cli::bench_child`; this
//! module spawns it and reads what it wrote).

use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::progress::{self, StageSnapshot};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Everything the child measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChildStats {
    /// Stage counters by name (see [`progress::Stages`]).
    pub stages: Vec<(String, StageSnapshot)>,
    /// Visible records dispatched.
    pub records: u64,
    /// Input bytes consumed.
    pub input_bytes: u64,
    /// Output files completed.
    pub files: u64,
    /// Output bytes written.
    pub output_bytes: u64,
    /// Wall time of the command inside the child, ns.
    pub wall_ns: u64,
    /// Peak resident set of the child's own address space (`VmHWM`), KiB; 0 if unknown.
    #[serde(default)]
    pub vm_hwm_kib: u64,
}

impl ChildStats {
    /// A stage's counters (zero if absent).
    pub fn stage(&self, name: &str) -> StageSnapshot {
        self.stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }
}

/// The counters of this process after a run of `wall`: what a child reports.
pub fn collect(wall: Duration) -> ChildStats {
    let st = progress::stages();
    let named = [
        ("scan", &st.scan),
        ("decode", &st.decode),
        ("send_wait", &st.send_wait),
        ("encode", &st.encode),
        ("sink", &st.sink),
        ("file_hash", &st.file_hash),
        ("file_write", &st.file_write),
        ("stream_hash", &st.stream_hash),
        ("stream_write", &st.stream_write),
    ];
    let c = progress::counters().snapshot();
    ChildStats {
        stages: named
            .iter()
            .map(|(n, s)| (n.to_string(), s.snapshot()))
            .collect(),
        records: c.records,
        input_bytes: c.input_bytes,
        files: c.files,
        output_bytes: c.output_bytes,
        wall_ns: wall.as_nanos() as u64,
        vm_hwm_kib: vm_hwm_kib(),
    }
}

/// `VmHWM` from `/proc/self/status`: the peak RSS of this process image. Unlike the
/// parent's `ru_maxrss`, it does not include the RSS the parent had when it spawned us
/// (Linux carries the pre-exec high-water mark into the child's `ru_maxrss`, and the
/// bench parent may hold a whole embedded cluster).
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A finished child run as the parent saw it.
#[derive(Debug, Clone)]
pub struct ChildRun {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set of the run, KiB (the child's `VmHWM`; `ru_maxrss` where that is
    /// unavailable).
    pub maxrss_kib: u64,
    /// User + system CPU time.
    pub cpu: Duration,
    /// The child's counters.
    pub stats: ChildStats,
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// Spawns this binary with `__bench-child` around `command` and waits for it.
pub fn spawn(command: &[String], scratch: &Path) -> Result<ChildRun, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let stats_path = scratch.join(format!("stats-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&stats_path);
    let started = Instant::now();
    let mut child = Command::new(&exe)
        .arg("__bench-child")
        .arg("--stats")
        .arg(&stats_path)
        .arg("--")
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(exe.display(), e))?;
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (std's handle never waited on it);
    // `status` and `ru` are valid, writable and live for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = started.elapsed();
    let stderr = reader.join().unwrap_or_default();
    if r != pid {
        return Err(Error::io(
            "waiting for the bench child",
            std::io::Error::last_os_error(),
        ));
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::Internal(format!(
            "bench child `{}` failed (status {status}):\n{}",
            command.join(" "),
            tail.join("\n")
        )));
    }
    let raw = std::fs::read(&stats_path).map_err(|e| Error::io(stats_path.display(), e))?;
    let _ = std::fs::remove_file(&stats_path);
    let stats: ChildStats =
        serde_json::from_slice(&raw).map_err(|e| Error::Internal(format!("bench stats: {e}")))?;
    let maxrss_kib = match stats.vm_hwm_kib {
        0 => ru.ru_maxrss.max(0) as u64,
        hwm => hwm,
    };
    Ok(ChildRun {
        wall,
        maxrss_kib,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        stats,
    })
}
