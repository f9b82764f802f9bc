//! Why `verify` could not pass a dump: it could not be read at all, or it was read and
//! found wanting. Problems *inside* a dump are not errors but lines of the
//! [`Report`](crate::Report); this type is what ends the command.

use elastickv_backup_engine::sinks::object::ObjectError;

/// Why `verify` failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The dump (directory, archive file, standard input) could not be opened or read.
    #[error("{path}: {source}")]
    Open {
        /// The path as given (`<stdin>` for standard input).
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object store holding an `s3://` dump could not be reached or refused a request.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// Problems were found (each is in the printed report).
    #[error("verify {target}: {errors} error(s): the dump is not complete and intact (see the report above)")]
    Failed {
        /// The directory or archive verified.
        target: String,
        /// Number of errors.
        errors: usize,
    },
}

impl VerifyError {
    /// An I/O error opening or reading `path`.
    pub(crate) fn open(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        VerifyError::Open {
            path: path.to_string(),
            source,
        }
    }
}
