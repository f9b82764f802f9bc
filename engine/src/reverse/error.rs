//! Errors of the reverse direction: they name the file in the dump that is wrong.

/// A dump tree that cannot be encoded back.
#[derive(Debug, thiserror::Error)]
pub enum ReverseError {
    /// An I/O error on a file of the tree.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content or name is not what the dump format allows.
    #[error("{path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
}
