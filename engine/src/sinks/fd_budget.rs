//! How many file descriptors a directory dump may keep open, and an fd table sized for
//! them before the writing starts.
//!
//! The directory sink keeps directory fds open (one per output directory, up to a cap) so
//! that each file costs one `openat` relative to its directory. Two facts of the platform
//! shape that cap:
//!
//! - The soft `RLIMIT_NOFILE` is 1024 on most distributions and under systemd, while the
//!   hard limit is far higher. A per-item dump with a thousand partition-key directories
//!   then failed with "Too many open files". Raising the soft limit to the hard one is
//!   what Go programs (upstream's included) do at start; where the hard limit itself is
//!   low, the cache is made small enough to fit under it.
//! - The kernel grows a process's fd table on demand by doubling it, and in a
//!   multithreaded process every growth waits for an RCU grace period with both writing
//!   threads in uninterruptible sleep (`synchronize_rcu` in `expand_files`: five growths
//!   from 64 to 2048 slots cost 10–60 ms of both cores on a 2-core run, traced with
//!   `perf record -e sched:sched_switch -g`). Growing it once, up front, costs nothing.

use std::os::fd::AsFd;

/// The most directory fds the cache keeps, whatever the limit allows.
const DIR_CACHE_CEILING: usize = 1024;
/// The fewest it keeps (a limit this low leaves room for little else).
const DIR_CACHE_FLOOR: usize = 16;

/// Raises the soft open-file limit to the hard one (best effort) and returns the soft
/// limit now in force (`None` when it cannot be read, or is unlimited).
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        let raised = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            lim = raised;
        }
    }
    lim.current
}

/// Directory fds to keep open under a soft limit of `limit` descriptors: a quarter of it
/// (the rest is for the files being written, the inputs, sockets and the runtime), within
/// 16..=1024 (`DIR_CACHE_FLOOR`..=`DIR_CACHE_CEILING`).
pub fn dir_cache_size(limit: Option<u64>) -> usize {
    let quarter = limit.map_or(DIR_CACHE_CEILING, |l| {
        usize::try_from(l / 4).unwrap_or(DIR_CACHE_CEILING)
    });
    quarter.clamp(DIR_CACHE_FLOOR, DIR_CACHE_CEILING)
}

/// Grows the fd table to hold descriptor numbers up to about `2 * dirs` now (best effort:
/// a descriptor that high is duplicated from `any` and closed again), so it never grows
/// while the workers run. Stays below `limit`.
pub fn reserve_fd_table(any: impl AsFd, dirs: usize, limit: Option<u64>) {
    let want = 2 * dirs as u64;
    let top = limit.map_or(want, |l| want.min(l.saturating_sub(1)));
    if let Ok(top) = i32::try_from(top) {
        // The duplicate is closed when dropped; the table keeps its size.
        let _ = rustix::io::fcntl_dupfd_cloexec(any, top);
    }
}

/// Raises the open-file limit and grows the fd table for the directory cache the limit
/// allows, at process start: with one thread the kernel grows the table without waiting
/// for an RCU grace period (a live dump's sink is created after the network runtime's
/// threads, and its growth cost 9 ms of wall time, traced with `strace -T`). The sink's
/// own reservation then finds the table big enough. Best effort.
pub fn prepare_process() {
    let limit = raise_open_file_limit();
    if let Ok(root) = std::fs::File::open("/") {
        reserve_fd_table(&root, dir_cache_size(limit), limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_fits_under_the_limit() {
        assert_eq!(dir_cache_size(Some(1_048_576)), DIR_CACHE_CEILING);
        assert_eq!(dir_cache_size(None), DIR_CACHE_CEILING);
        assert_eq!(dir_cache_size(Some(1024)), 256);
        assert_eq!(dir_cache_size(Some(200)), 50);
        assert_eq!(dir_cache_size(Some(8)), DIR_CACHE_FLOOR);
    }

    /// The kernel's fd table size for this process (`FDSize` in /proc/self/status).
    fn fd_table_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse().unwrap()
    }

    #[test]
    fn the_table_is_grown_up_front_and_nothing_is_left_open() {
        use std::os::fd::AsRawFd;
        let limit = raise_open_file_limit();
        let f = std::fs::File::open("/").unwrap();
        reserve_fd_table(&f, 1500, limit);
        let top = limit.map_or(3000, |l| 3000.min(l - 1));
        assert!(
            fd_table_size() > top,
            "FDSize {} for {top}",
            fd_table_size()
        );
        // The probe descriptor was closed again: the number is free (no other test opens
        // descriptors this high).
        let again = rustix::io::fcntl_dupfd_cloexec(&f, top as i32).unwrap();
        assert_eq!(again.as_raw_fd() as u64, top);
        // More than the limit allows is refused quietly.
        reserve_fd_table(&f, 1 << 30, Some(64));
    }
}
