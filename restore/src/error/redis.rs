//! Errors of `restore redis`. Fatal ones stop the run (the connection or the dump tree is
//! unusable); per-key problems are counted in the summary instead and never use this type
//! past the key they concern.

/// Why a Redis restore stopped (or, for the per-key variants, why one key was skipped).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Connecting to, writing to or reading from the server failed.
    #[error("redis server {address}: {what}: {source}")]
    Connection {
        /// `host:port`.
        address: String,
        /// What the client was doing.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The server sent bytes that are not RESP2, or a reply of an unexpected shape.
    #[error("redis server {address}: protocol error: {why}")]
    Protocol {
        /// `host:port`.
        address: String,
        /// What was wrong.
        why: String,
    },
    /// The server refused a command the restore cannot go on without (AUTH, SELECT).
    #[error("redis server {address}: {command} refused: {message}")]
    Refused {
        /// `host:port`.
        address: String,
        /// The command (never its arguments: they may hold a password).
        command: &'static str,
        /// The server's error reply.
        message: String,
    },
    /// A file or directory of the dump could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Path of the dump file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A dump file's content is not what the decoder writes (docs/format/40-redis.md §4–§6).
    #[error("{path}: byte {offset}: {why}")]
    Format {
        /// Path of the dump file.
        path: String,
        /// Byte offset of the problem in the file.
        offset: u64,
        /// What is wrong.
        why: String,
    },
    /// The dump has nothing to restore from, or the selection matches nothing.
    #[error("{0}")]
    Input(String),
    /// The run finished, but some keys were not restored (the summary lists them).
    #[error(
        "restore finished with {failed} key(s) not restored (see the failures in the summary)"
    )]
    Incomplete {
        /// Keys failed.
        failed: u64,
    },
    /// Temporary sort files (outside the dump, removed on exit) could not be used.
    #[error("restore scratch space: {0}")]
    Scratch(#[source] std::io::Error),
}

impl RestoreError {
    /// An I/O error on a dump path.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        RestoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A format error in a dump file.
    pub fn format(path: &std::path::Path, offset: u64, why: impl Into<String>) -> Self {
        RestoreError::Format {
            path: path.display().to_string(),
            offset,
            why: why.into(),
        }
    }

    /// Whether the error concerns one dump file only (the key is skipped and counted) rather
    /// than the connection or the run.
    pub fn is_per_file(&self) -> bool {
        matches!(self, RestoreError::Format { .. } | RestoreError::Io { .. })
    }
}

impl From<elastickv_backup_dumptree::TreeError> for RestoreError {
    /// A dump tree the shared reader could not list or join: an unreadable file keeps its
    /// path, a malformed KEYMAP or sidecar stops the run with its file and line, and a
    /// failed sort is scratch space.
    fn from(e: elastickv_backup_dumptree::TreeError) -> Self {
        use elastickv_backup_dumptree::TreeError;
        use elastickv_backup_engine::extsort::SortError;
        match e {
            TreeError::Io { path, source } => RestoreError::Io { path, source },
            e @ TreeError::Invalid { .. } => RestoreError::Input(e.to_string()),
            TreeError::Sort(SortError::Scratch { source, .. }) => RestoreError::Scratch(source),
            TreeError::Sort(other) => {
                RestoreError::Scratch(std::io::Error::other(other.to_string()))
            }
        }
    }
}
