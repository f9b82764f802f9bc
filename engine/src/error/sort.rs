//! Why an external sort (`extsort`) failed.

/// Why a sort failed.
#[derive(Debug, thiserror::Error)]
pub enum SortError {
    /// The scratch space (temp dir, run files) failed.
    #[error("{what} sort scratch {path}: {source}")]
    Scratch {
        /// What was being sorted (`sqs`, `checksums`, ...).
        what: &'static str,
        /// Scratch file or directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// One record exceeds what a sort run can frame (4 GiB).
    #[error("{what} record of {bytes} bytes is too large to sort")]
    RecordTooLarge {
        /// What was being sorted.
        what: &'static str,
        /// Size of key plus payload.
        bytes: usize,
    },
    /// A broken internal invariant.
    #[error("{what} sort internal error: {detail}")]
    Internal {
        /// What was being sorted.
        what: &'static str,
        /// What broke.
        detail: String,
    },
}
