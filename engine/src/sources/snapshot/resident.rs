//! Which bytes are pages of a snapshot mapping, so whoever reads them last can drop them
//! from the process's resident set.
//!
//! The scanner releases the mapping behind the merge (see `PageReleaser`), but a worker
//! that writes a value long after — an S3 body handed over as zero-copy slices — faults
//! those pages back in, and nothing would release them again before the next sweep.
//! Dropping pages is only sound on a read-only file mapping (the bytes fault back in from
//! the file); on heap memory it would zero the data. So the mappings register their
//! address range here for exactly their lifetime, and [`release`] acts only on bytes
//! inside a registered range.

use bytes::Bytes;
use std::sync::Mutex;

/// Address ranges `[start, end)` of the live snapshot mappings.
static MAPPINGS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// A read-only file mapping, registered in [`MAPPINGS`] while it exists: the owner of a
/// snapshot's [`Bytes`].
pub(super) struct Registered(memmap2::Mmap);

impl Registered {
    /// Registers `map`'s range.
    pub(super) fn new(map: memmap2::Mmap) -> Self {
        let start = map.as_ptr() as usize;
        if let Ok(mut m) = MAPPINGS.lock() {
            m.push((start, start + map.len()));
        }
        Registered(map)
    }
}

impl AsRef<[u8]> for Registered {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Registered {
    /// Unregisters before the field unmaps, so no range is ever listed after its pages
    /// could belong to something else.
    fn drop(&mut self) {
        let start = self.0.as_ptr() as usize;
        if let Ok(mut m) = MAPPINGS.lock() {
            m.retain(|&(s, _)| s != start);
        }
    }
}

/// Whether `bytes` lies inside a live snapshot mapping: such bytes are pages of a file,
/// so holding them until a worker writes them allocates nothing (they are dropped from
/// the resident set behind the scan and fault back in from the file when read), unlike
/// bytes on the heap. The worker pool bounds the two separately.
pub fn is_mapped(bytes: &[u8]) -> bool {
    let (lo, hi) = (
        bytes.as_ptr() as usize,
        bytes.as_ptr() as usize + bytes.len(),
    );
    !bytes.is_empty()
        && MAPPINGS
            .lock()
            .is_ok_and(|m| m.iter().any(|&(s, e)| s <= lo && hi <= e))
}

/// Drops the whole pages inside `bytes` from the resident set if `bytes` lies in a
/// snapshot mapping (they fault back in from the file if read again); does nothing for
/// any other memory. `bytes` itself keeps its mapping alive for the call.
pub fn release(bytes: &Bytes) {
    let page = rustix::param::page_size();
    let (lo, hi) = (
        bytes.as_ptr() as usize,
        bytes.as_ptr() as usize + bytes.len(),
    );
    let start = lo.div_ceil(page) * page;
    let end = (hi / page) * page;
    if end <= start {
        return;
    }
    if !is_mapped(bytes) {
        return;
    }
    // SAFETY: [start, end) lies inside a live read-only file mapping (registered, and kept
    // alive by `bytes`); MADV_DONTNEED there only discards this process's page-table
    // entries, never the file's contents. Failure only leaves the pages resident.
    let _ = unsafe {
        rustix::mm::madvise(
            start as *mut std::ffi::c_void,
            end - start,
            rustix::mm::Advice::LinuxDontNeed,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn mapped_pages_are_released_and_read_back_heap_is_left_alone() {
        let page = rustix::param::page_size();
        let data: Vec<u8> = (0..page * 8).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        // SAFETY: the file is private to this test and not modified while mapped.
        let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
        let bytes = Bytes::from_owner(Registered::new(map));
        let slice = bytes.slice(page / 2..page * 6);
        assert!(is_mapped(&slice) && is_mapped(&bytes));
        release(&slice);
        assert_eq!(
            &slice[..],
            &data[page / 2..page * 6],
            "read back from the file"
        );

        // Heap bytes are never released (that would zero them).
        let heap = Bytes::from(data.clone());
        assert!(!is_mapped(&heap));
        release(&heap);
        assert_eq!(&heap[..], &data[..]);

        // Once the mapping is gone its range is no longer listed.
        let start = bytes.as_ptr() as usize;
        drop((bytes, slice));
        assert!(!MAPPINGS.lock().unwrap().iter().any(|&(s, _)| s == start));
    }
}
