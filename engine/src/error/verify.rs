//! A dump that did not verify (`verify`).

/// A dump that did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Problems were found (each is in the printed report).
    #[error("verify {target}: {errors} error(s): the dump is not complete and intact (see the report above)")]
    Failed {
        /// The directory or archive verified.
        target: String,
        /// Number of errors.
        errors: usize,
    },
}
