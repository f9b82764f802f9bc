//! Errors of the reverse direction: they name the file in the dump that is wrong (as a path
//! relative to the dump root), or the internal key that cannot be written.

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
    /// The dump's `MANIFEST.json` is missing, unreadable or not a dump manifest.
    #[error("MANIFEST.json: {why}")]
    Manifest {
        /// What is wrong, and what to do about it.
        why: String,
    },
    /// The dump was written in a mode the encoder cannot turn back into the records it
    /// came from (the data would be lost silently).
    #[error("{why}")]
    Unsupported {
        /// Which mode, and why it is refused.
        why: String,
    },
    /// `--last-commit-ts` below the dump's `last_commit_ts`: a restored node could then
    /// hand out read timestamps at or below the commit timestamps of restored rows.
    #[error("--last-commit-ts {given} is below the dump's last_commit_ts {manifest}: restored rows would carry commit timestamps above the restored clock ceiling")]
    CommitTsTooLow {
        /// The value given.
        given: u64,
        /// The dump's value.
        manifest: u64,
    },
    /// Two files of the tree produce the same internal key (e.g. two item files with the
    /// same primary key, two messages with the same id).
    #[error("duplicate key {key}: two records of the dump map to the same internal key")]
    DuplicateKey {
        /// The user key, Go-quoted.
        key: String,
    },
    /// A record larger than the snapshot format (and so the decoder) accepts.
    #[error("{what} of key {key} is {len} bytes, over the snapshot limit of {limit}")]
    TooLarge {
        /// `key` or `value`.
        what: &'static str,
        /// The user key, Go-quoted (truncated for long keys).
        key: String,
        /// Framed length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Scratch space for sorting the records failed.
    #[error("encode scratch space: {why}")]
    Scratch {
        /// What failed.
        why: String,
    },
    /// Writing the `.fsm` output failed.
    #[error("writing {path}: {source}")]
    Output {
        /// The output path as given.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl ReverseError {
    /// An I/O error on `path` (relative to the dump root).
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        ReverseError::Io {
            path: path.into(),
            source,
        }
    }

    /// A content or layout error on `path` (relative to the dump root).
    pub fn invalid(path: impl Into<String>, why: impl Into<String>) -> Self {
        ReverseError::Invalid {
            path: path.into(),
            why: why.into(),
        }
    }
}

impl From<elastickv_backup_engine::error::sort::SortError> for ReverseError {
    /// Sort failures of the encoder's sorters, worded as the SQS adapter words them.
    fn from(e: elastickv_backup_engine::error::sort::SortError) -> Self {
        elastickv_backup_engine::error::sqs::SqsError::from(e).into()
    }
}

impl From<elastickv_backup_engine::error::sqs::SqsError> for ReverseError {
    fn from(e: elastickv_backup_engine::error::sqs::SqsError) -> Self {
        ReverseError::Scratch { why: e.to_string() }
    }
}

impl From<elastickv_backup_dumptree::TreeError> for ReverseError {
    /// A tree read failure keeps its path and wording (`{path}: {why}`).
    fn from(e: elastickv_backup_dumptree::TreeError) -> Self {
        use elastickv_backup_dumptree::TreeError;
        match e {
            TreeError::Io { path, source } => ReverseError::Io { path, source },
            TreeError::Invalid { path, why } => ReverseError::Invalid { path, why },
            TreeError::Sort(e) => e.into(),
        }
    }
}
