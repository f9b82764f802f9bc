//! A helper thread that makes the dump's files durable while it is still running: after
//! every [`STEP`] files it calls `syncfs` on the output's filesystem, so the one `syncfs`
//! before MANIFEST.json finds little left to write.
//!
//! A per-item dump writes hundreds of thousands of small files; left dirty until the end,
//! their data, inodes and directories all go to the disk in one stall (the bench's 200k
//! files on this machine's ext4: 4.5 s to create, 6.6 s until durable). Written back in
//! steps on a thread of its own, that work overlaps the decoding. (Per-file
//! `sync_file_range` would cost a system call per file and leave the inodes.)
//!
//! The step counts files, not bytes: a few big streamed files (bundle parts, large S3
//! bodies) already start their own write-back ([`super::writeback`]), and a `syncfs` in
//! the middle of them only adds the device's cache flushes (a DynamoDB-only bundle decode
//! on the disk went from 0.77 to 0.93 s with a flush every 32 MiB).
//!
//! The thread opens the output root itself: `syncfs` reports a write-back error once per
//! open file description, so the sink's own final `syncfs` on its descriptor still sees an
//! error this thread already met. The first such error is also kept and returned by
//! [`Flusher::stop`].

use rustix::fs::{self as rfs, Mode, OFlags};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Output files between two flushes: about ten in the bench's per-item dump of 200k files,
/// each large enough to keep the disk busy between them.
pub(crate) const STEP: u64 = 16 << 10;
/// How often the thread looks at the output counter.
const POLL: Duration = Duration::from_millis(100);

struct Shared {
    stop: AtomicBool,
    /// Flushes done (tests check the cadence with it).
    flushes: AtomicU64,
    error: Mutex<Option<std::io::Error>>,
}

/// Whether the filesystem holding `fd` writes anything back: tmpfs and ramfs keep their
/// files in memory, so a flush there has nothing to do but walk their inodes. (`bench`
/// asks too: deleting an output there costs nothing.)
pub fn has_write_back(fd: &impl std::os::fd::AsFd) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    // `f_type`'s type differs between architectures; on x86_64 it is already an i64.
    #[allow(clippy::useless_conversion)]
    rfs::fstatfs(fd).map_or(true, |st| {
        !matches!(i64::from(st.f_type), TMPFS_MAGIC | RAMFS_MAGIC)
    })
}

/// The running helper; stopped (and joined) by [`Flusher::stop`] or on drop.
pub(crate) struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts flushing the filesystem of `root` whenever `files()` (a running total of
    /// output files) has grown by [`STEP`] since the last flush.
    pub(crate) fn start(
        root: &Path,
        files: impl Fn() -> u64 + Send + 'static,
    ) -> std::io::Result<Self> {
        let fd: OwnedFd = rfs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(std::io::Error::from)?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            flushes: AtomicU64::new(0),
            error: Mutex::new(None),
        });
        let s = shared.clone();
        // The baseline is taken here, not on the thread: the steps count from the start.
        let mut flushed_at = files();
        let thread = std::thread::Builder::new()
            .name("ekvb-flush".into())
            .spawn(move || {
                while !s.stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(POLL);
                    let now = files();
                    if now.saturating_sub(flushed_at) < STEP || s.stop.load(Ordering::Acquire) {
                        continue;
                    }
                    flushed_at = now;
                    match rfs::syncfs(&fd) {
                        Ok(()) => {
                            s.flushes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if let Ok(mut slot) = s.error.lock() {
                                slot.get_or_insert(e.into());
                            }
                            // The final syncfs reports it too; no point retrying here.
                            return;
                        }
                    }
                }
            })?;
        Ok(Flusher {
            shared,
            thread: Some(thread),
        })
    }

    /// Stops the thread (waiting for a flush under way) and returns the first error a
    /// flush met, if any.
    pub(crate) fn stop(&mut self) -> Option<std::io::Error> {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        self.shared.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Flushes done so far.
    #[cfg(test)]
    pub(crate) fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn flushes_once_a_step_is_written_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let total = Arc::new(AtomicU64::new(0));
        let t = total.clone();
        let mut f = Flusher::start(dir.path(), move || t.load(Ordering::Relaxed)).unwrap();
        total.store(STEP - 1, Ordering::Relaxed);
        std::thread::sleep(POLL * 4);
        assert_eq!(f.flushes(), 0);
        total.store(STEP, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(20);
        while f.flushes() == 0 && Instant::now() < deadline {
            std::thread::sleep(POLL / 2);
        }
        assert_eq!(f.flushes(), 1);
        // Less than another step: no second flush.
        total.store(2 * STEP - 1, Ordering::Relaxed);
        std::thread::sleep(POLL * 4);
        assert_eq!(f.flushes(), 1);
        assert!(f.stop().is_none());
    }

    #[test]
    fn stop_returns_at_once_and_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Flusher::start(dir.path(), || 0).unwrap();
        let t = Instant::now();
        assert!(f.stop().is_none());
        assert!(f.stop().is_none());
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    /// Checked against the kernel's own list of mounts.
    #[test]
    fn in_memory_filesystems_have_no_write_back() {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        let mut seen = 0;
        for line in mounts.lines() {
            let mut f = line.split(' ');
            let (Some(_), Some(dir), Some(kind)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if dir.contains('\\') {
                continue; // escaped names
            }
            let expect = match kind {
                "tmpfs" | "ramfs" => false,
                "ext4" | "xfs" | "btrfs" => true,
                _ => continue,
            };
            let Ok(fd) = rfs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) else {
                continue;
            };
            assert_eq!(has_write_back(&fd), expect, "{dir} ({kind})");
            seen += 1;
        }
        assert!(seen > 0, "no tmpfs or disk filesystem mounted:\n{mounts}");
    }

    #[test]
    fn a_root_that_is_not_there_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Flusher::start(&dir.path().join("missing"), || 0).is_err());
    }
}
