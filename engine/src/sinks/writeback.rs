//! Write-back started while a streamed file (a bundle part, a large S3 body) is still
//! being written, so the dump's one `syncfs` before MANIFEST.json finds little left to do.
//!
//! Without it, every byte of a multi-gigabyte dump sits dirty in the page cache until
//! that `syncfs`, which then stalls the end of the run for as long as the disk needs to
//! take it all (and the dirty pages crowd the host's cache meanwhile). Asking the kernel
//! to start writing each finished stretch (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, as
//! PostgreSQL's `*_flush_after` settings do) overlaps the disk's work with the decoding.
//! It does not wait: a slow disk never holds up the writer here, and any write-back error
//! is still reported by the final `syncfs`.

use std::fs::File;
use std::os::fd::AsRawFd;

/// Bytes written between two write-back requests: large enough that the requests cost
/// nothing next to the writes, small enough that the disk starts early.
pub(crate) const STEP: u64 = 8 << 20;

/// How much of one file has been written and how much of that was handed to write-back.
#[derive(Debug, Default)]
pub(crate) struct Writeback {
    /// Bytes written to the file so far.
    written: u64,
    /// Bytes `[0, requested)` already handed to write-back.
    requested: u64,
    /// Requests the kernel accepted (tests check the cadence with it).
    requests: u64,
}

impl Writeback {
    /// Counts `n` more bytes written to `f`; once a [`STEP`] has built up since the last
    /// request, starts write-back of it. A refusal (a filesystem without the call) only
    /// means the final `syncfs` does all the work, as it would without this.
    pub(crate) fn wrote(&mut self, f: &File, n: usize) {
        self.written += n as u64;
        let len = self.written - self.requested;
        if len < STEP {
            return;
        }
        let (Ok(off), Ok(count)) = (
            libc::off64_t::try_from(self.requested),
            libc::off64_t::try_from(len),
        ) else {
            return;
        };
        // SAFETY: plain system call on a descriptor `f` keeps open for the call's
        // duration; no memory is passed.
        let r = unsafe {
            libc::sync_file_range(f.as_raw_fd(), off, count, libc::SYNC_FILE_RANGE_WRITE)
        };
        self.requested = self.written;
        if r == 0 {
            self.requests += 1;
        }
    }

    /// Write-back requests made so far.
    #[cfg(test)]
    pub(crate) fn requests(&self) -> u64 {
        self.requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_request_goes_out_for_every_step_written_and_none_for_less() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = File::create(dir.path().join("part")).unwrap();
        let mut wb = Writeback::default();
        let chunk = vec![7u8; 1 << 20];
        // 8 MiB - 1 byte: no request yet.
        for _ in 0..7 {
            f.write_all(&chunk).unwrap();
            wb.wrote(&f, chunk.len());
        }
        f.write_all(&chunk[1..]).unwrap();
        wb.wrote(&f, chunk.len() - 1);
        assert_eq!(wb.requests(), 0);
        // The byte that completes the step sends the first request...
        f.write_all(&chunk[..1]).unwrap();
        wb.wrote(&f, 1);
        assert_eq!(wb.requests(), 1);
        // ...and 2.5 more steps two more.
        for _ in 0..20 {
            f.write_all(&chunk).unwrap();
            wb.wrote(&f, chunk.len());
        }
        assert_eq!(wb.requests(), 3);
        assert_eq!(wb.requested, 24 << 20);
        assert_eq!(wb.written, 28 << 20);
    }
}
