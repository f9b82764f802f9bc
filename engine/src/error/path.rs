//! Why a name derived from data cannot be a path segment (see `sinks::path`).

/// Longest single name most filesystems accept (ext4, xfs, tmpfs: 255 bytes).
pub const NAME_MAX: usize = 255;

/// Why a name cannot be a path segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Empty segment (e.g. `a//b`).
    #[error("empty path segment in {0:?}")]
    Empty(String),
    /// `.` or `..`.
    #[error("path segment {0:?} is a dot path")]
    Dot(String),
    /// Contains `/` or NUL.
    #[error("path segment {0:?} contains '/' or NUL")]
    BadChar(String),
    /// Longer than [`NAME_MAX`].
    #[error("path segment of {0} bytes exceeds the {NAME_MAX}-byte name limit")]
    TooLong(usize),
}
