//! The defensive file access of [`elastickv_backup_dumptree::fsutil`] with the encoders' error type,
//! for the DynamoDB, S3 and SQS walkers, whose visitors convert from [`ReverseError`].

use super::ReverseError;
use elastickv_backup_dumptree::fsutil as tree;
use std::ffi::OsString;
use std::fs::{File, FileType};
use std::path::Path;

pub(crate) use tree::shown_join;

/// See [`tree::require_dir`].
pub(crate) fn require_dir(path: &Path, shown: &str) -> Result<bool, ReverseError> {
    Ok(tree::require_dir(path, shown)?)
}

/// See [`tree::list_dir`].
pub(crate) fn list_dir(
    path: &Path,
    shown: &str,
) -> Result<Vec<(OsString, FileType)>, ReverseError> {
    Ok(tree::list_dir(path, shown)?)
}

/// See [`tree::open_regular`].
pub(crate) fn open_regular(path: &Path, shown: &str) -> Result<Option<File>, ReverseError> {
    Ok(tree::open_regular(path, shown)?)
}

/// See [`tree::read_regular`].
pub(crate) fn read_regular(path: &Path, shown: &str) -> Result<Vec<u8>, ReverseError> {
    Ok(tree::read_regular(path, shown)?)
}
