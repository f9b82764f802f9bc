//! How much CPU this machine actually gives us right now: one spinning thread per core for
//! a moment, summing the CPU time each got. On a dedicated machine this is the core count;
//! on a shared one it is what is left over, and it bounds every speed-up a run can show
//! (two worker threads cannot beat one when only one core's worth of CPU is free).

use std::time::{Duration, Instant};

/// Cores the OS lets this process use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn thread_cpu() -> Duration {
    clock(rustix::time::ClockId::ThreadCPUTime)
}

fn clock(id: rustix::time::ClockId) -> Duration {
    let ts = rustix::time::clock_gettime(id);
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// User + system CPU time this process has used so far. Around a measured child it is the
/// bench process's own work while the child ran: for the live variant, the embedded
/// server's, which shares the cores with the dump.
pub fn own_cpu() -> Duration {
    clock(rustix::time::ClockId::ProcessCPUTime)
}

/// Core time the whole machine has spent idle so far (`idle` + `iowait` of the `cpu` line
/// of `/proc/stat`), or `None` where that file cannot be read. Around a run, the cores it
/// left unused: what a run that is bound by its CPU cannot show in its wall time, and
/// what other load on a shared machine hides (their work is not idle).
pub fn idle_core_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    idle_from_stat(&text, clock_ticks())
}

/// The `idle` + `iowait` fields of `/proc/stat`'s first line, in ticks of `hz` per second.
fn idle_from_stat(text: &str, hz: u64) -> Option<Duration> {
    let line = text.lines().next()?;
    let mut fields = line.split_ascii_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = fields
        .take(5)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let ticks = v.get(3)? + v.get(4)?;
    let hz = hz.max(1);
    Some(Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz))
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Cores' worth of CPU obtained by `cores()` spinning threads over `span`.
pub fn available(span: Duration) -> f64 {
    let started = Instant::now();
    let total: Duration = std::thread::scope(|s| {
        let hs: Vec<_> = (0..cores())
            .map(|_| {
                s.spawn(move || {
                    let t0 = thread_cpu();
                    let mut x = 0u64;
                    while started.elapsed() < span {
                        for i in 0..10_000u64 {
                            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
                        }
                        std::hint::black_box(x);
                    }
                    thread_cpu().saturating_sub(t0)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_default()).sum()
    });
    total.as_secs_f64() / started.elapsed().as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_is_read_from_the_cpu_line() {
        let stat = "cpu  100 5 50 2000 300 0 7 0 0 0\ncpu0 50 2 25 1000 150 0 3 0 0 0\n";
        // idle 2000 + iowait 300 ticks at 100 Hz.
        assert_eq!(idle_from_stat(stat, 100), Some(Duration::from_secs(23)));
        assert_eq!(
            idle_from_stat(stat, 1000),
            Some(Duration::from_millis(2300))
        );
        assert_eq!(idle_from_stat("cpu0 1 2 3 4 5\n", 100), None);
        assert_eq!(idle_from_stat("cpu 1 2 x 4 5\n", 100), None);
        assert_eq!(idle_from_stat("", 100), None);
    }

    #[test]
    fn a_spin_counts_as_our_cpu_and_proc_stat_reads() {
        assert!(idle_core_time().is_some(), "/proc/stat unreadable");
        let c0 = own_cpu();
        let spin = Instant::now();
        let mut x = 1u64;
        while spin.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
        }
        let used = own_cpu().saturating_sub(c0);
        assert!(used >= Duration::from_millis(100), "{used:?}");
    }

    #[test]
    fn measures_something_plausible() {
        let c = available(Duration::from_millis(50));
        assert!(c > 0.0 && c <= cores() as f64 + 0.5, "{c}");
    }
}
