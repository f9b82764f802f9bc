//! Why a dump tree could not be read (`dumptree`), and why one file name of a Redis type
//! directory does not stand for a key.
//!
//! Paths are shown as the caller shows the tree (relative to the dump root for `encode`,
//! as given for `restore`), so each caller's messages keep naming the file and line.

use elastickv_backup_engine::error::sort::SortError;

/// A dump tree, or one of its files, that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// An I/O error on a file or directory of the tree.
    #[error("{path}: {source}")]
    Io {
        /// The file, as the caller shows it.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content, type or name is not what the dump format allows.
    #[error("{path}: {why}")]
    Invalid {
        /// The file, as the caller shows it.
        path: String,
        /// What is wrong (with the line or record number where there is one).
        why: String,
    },
    /// The scratch space of a name, KEYMAP or sidecar sort failed.
    #[error(transparent)]
    Sort(#[from] SortError),
}

impl TreeError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        TreeError::Io {
            path: path.into(),
            source,
        }
    }

    /// A content or layout error on `path`.
    pub fn invalid(path: impl Into<String>, why: impl Into<String>) -> Self {
        TreeError::Invalid {
            path: path.into(),
            why: why.into(),
        }
    }
}

/// Why a file name of a Redis type directory does not map back to a key. Returned per
/// file, not as a failure of the listing: `encode` refuses the dump on it (with its own
/// wording), `restore` counts the key as failed and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is not UTF-8, so no segment encoding produced it.
    #[error("file name is not ASCII, so not an encoded key")]
    NotUtf8,
    /// The name is not a percent-encoded, `b64.` or SHA-fallback segment.
    #[error("file name is not an encoded key: {0}")]
    NotEncoded(String),
    /// A SHA-fallback name, and the database has no `KEYMAP.jsonl`.
    #[error("SHA-fallback file name but no KEYMAP.jsonl")]
    NoKeymap,
    /// A SHA-fallback name without a record in `KEYMAP.jsonl`.
    #[error("SHA-fallback file name has no KEYMAP.jsonl record")]
    NotInKeymap,
}
