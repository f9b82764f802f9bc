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
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
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
    fn measures_something_plausible() {
        let c = available(Duration::from_millis(50));
        assert!(c > 0.0 && c <= cores() as f64 + 0.5, "{c}");
    }
}
