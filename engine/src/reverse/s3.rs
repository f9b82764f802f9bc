//! s3 subtree → internal entries (not yet implemented).

use super::{Entries, ReverseError};
use std::path::Path;

/// Appends the internal entries for `root/s3/` (if present) to `out`.
pub fn encode_tree(root: &Path, _out: &mut Entries) -> Result<(), ReverseError> {
    if root.join("s3").exists() {
        return Err(ReverseError::Invalid {
            path: "s3".into(),
            why: "encoding the s3 adapter back is not implemented yet".into(),
        });
    }
    Ok(())
}
