//! Why the output location cannot take a dump (`sinks::preflight`), found before anything
//! is pinned.

use std::path::PathBuf;

/// Why the output cannot take the dump.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The path exists and is not a directory.
    #[error("output {path}: exists and is not a directory; give a directory path (or --archive for a file)")]
    NotADirectory {
        /// The output path.
        path: PathBuf,
    },
    /// The directory could not be created or read.
    #[error("output {path}: {source}; check that the parent exists and is writable")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Something is already there and `--force` was not given.
    #[error("output {path}: not empty (found {example}); use an empty directory, or --force to replace an earlier dump there")]
    NotEmpty {
        /// The output root.
        path: PathBuf,
        /// One entry found.
        example: String,
    },
    /// `--force` over a tree a dump did not write.
    #[error("output {path}: --force replaces only a dump tree, and {entry} is not part of one; refusing to delete it — choose an empty directory")]
    NotADump {
        /// The output root.
        path: PathBuf,
        /// The foreign entry.
        entry: String,
    },
    /// No write permission (or a read-only filesystem).
    #[error(
        "output {path}: not writable ({source}); fix the permissions or choose another directory"
    )]
    NotWritable {
        /// The output root.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Too little free space to start.
    #[error("output {path}: only {free} bytes free on its filesystem (at least {need} needed to start); free space or choose another filesystem")]
    NoSpace {
        /// The output root.
        path: PathBuf,
        /// Bytes available to this user.
        free: u64,
        /// The minimum.
        need: u64,
    },
}
