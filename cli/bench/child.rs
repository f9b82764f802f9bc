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
        .as_deref()
        .and_then(vm_hwm_in)
        .unwrap_or(0)
}

/// The `VmHWM` line of a `/proc/<pid>/status` text, KiB.
fn vm_hwm_in(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
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

/// A finished process as `wait4` saw it.
pub(crate) struct Waited {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// The child's resource usage (CPU, `ru_maxrss`).
    pub ru: libc::rusage,
    /// The highest `VmHWM` read from `/proc/<pid>/status` while it ran, KiB (0 if none).
    pub sampled_kib: u64,
    /// Whether it exited with status 0.
    pub ok: bool,
    /// Its exit status as `wait4` reported it.
    pub status: libc::c_int,
    /// Its standard error.
    pub stderr: String,
}

impl Waited {
    /// User + system CPU time.
    pub fn cpu(&self) -> Duration {
        tv(self.ru.ru_utime) + tv(self.ru.ru_stime)
    }

    /// Its peak RSS, KiB: the sampled `VmHWM`, else `ru_maxrss` (which may include the
    /// parent's peak).
    pub fn peak_kib(&self) -> u64 {
        match self.sampled_kib {
            0 => self.ru.ru_maxrss.max(0) as u64,
            k => k,
        }
    }

    /// The last lines of its standard error, for a failure message.
    pub fn stderr_tail(&self) -> String {
        let tail: Vec<&str> = self.stderr.lines().rev().take(8).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// How often a child's peak RSS is read while it runs: a peak reached in its last few
/// milliseconds can be missed, and the reads cost the machine little.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// Spawns `cmd` (stdin and stdout null, stderr captured) and waits for it with `wait4`, so
/// its CPU time comes from the OS whatever program it is. With `sample_rss` its peak RSS
/// is also read from `/proc` while it runs (for programs that do not report their own).
pub(crate) fn spawn_and_wait(
    mut cmd: Command,
    what: &Path,
    sample_rss: bool,
) -> Result<Waited, Error> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(what.display(), e))?;
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let pid = child.id() as libc::pid_t;
    // The child's own peak RSS, sampled while it runs: `ru_maxrss` also counts the parent's
    // peak, which Linux carries into a spawned child at exec (the bench parent has
    // generated data and walked trees by then).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_rss.then(|| {
        let done = done.clone();
        let status_file = format!("/proc/{pid}/status");
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kib) = std::fs::read_to_string(&status_file)
                    .ok()
                    .as_deref()
                    .and_then(vm_hwm_in)
                {
                    peak = peak.max(kib);
                }
                std::thread::sleep(RSS_SAMPLE_EVERY);
            }
            peak
        })
    });
    // Wait for the exit without reaping, so the sampler cannot read a reused pid.
    // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped; `info` is valid and writable.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let sampled_kib = sampler.map_or(0, |h| h.join().unwrap_or(0));
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
    Ok(Waited {
        wall,
        ru,
        sampled_kib,
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        status,
        stderr,
    })
}

/// Spawns this binary with `__bench-child` around `command` and waits for it.
pub fn spawn(command: &[String], scratch: &Path) -> Result<ChildRun, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let stats_path = scratch.join(format!("stats-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&stats_path);
    let mut cmd = Command::new(&exe);
    cmd.arg("__bench-child")
        .arg("--stats")
        .arg(&stats_path)
        .arg("--")
        .args(command);
    // The child reports its own VmHWM: no sampling to disturb the measured run.
    let done = spawn_and_wait(cmd, &exe, false)?;
    if !done.ok {
        return Err(Error::Internal(format!(
            "bench child `{}` failed (status {}):\n{}",
            command.join(" "),
            done.status,
            done.stderr_tail()
        )));
    }
    let raw = std::fs::read(&stats_path).map_err(|e| Error::io(stats_path.display(), e))?;
    let _ = std::fs::remove_file(&stats_path);
    let stats: ChildStats =
        serde_json::from_slice(&raw).map_err(|e| Error::Internal(format!("bench stats: {e}")))?;
    let maxrss_kib = match stats.vm_hwm_kib {
        0 => done.ru.ru_maxrss.max(0) as u64,
        hwm => hwm,
    };
    Ok(ChildRun {
        wall: done.wall,
        maxrss_kib,
        cpu: done.cpu(),
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_from_a_status_text() {
        let s = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(vm_hwm_in(s), Some(1234));
        assert_eq!(vm_hwm_in("Name:\tzombie\n"), None);
    }

    #[test]
    fn a_small_child_of_a_big_parent_is_measured_small() {
        // This process peaks at 256 MiB first: Linux carries that into the `ru_maxrss` of
        // a child spawned afterwards, so only the sampled figure is the child's own.
        let mut big = vec![0u8; 256 << 20];
        for i in (0..big.len()).step_by(4096) {
            big[i] = 1;
        }
        std::hint::black_box(&big);
        drop(big);
        let mut cmd = Command::new("sleep");
        cmd.arg("0.3");
        let done = spawn_and_wait(cmd, Path::new("sleep"), true).unwrap();
        assert!(done.ok);
        assert!(done.sampled_kib > 0, "nothing sampled");
        assert!(done.peak_kib() < 64 << 10, "{} KiB", done.peak_kib());
    }
}
