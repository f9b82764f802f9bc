//! dynamodb subtree → internal entries (not yet implemented).

use super::{Entries, ReverseError};
use std::path::Path;

/// Appends the internal entries for `root/dynamodb/` (if present) to `out`.
pub fn encode_tree(root: &Path, _out: &mut Entries) -> Result<(), ReverseError> {
    if root.join("dynamodb").exists() {
        return Err(ReverseError::Invalid {
            path: "dynamodb".into(),
            why: "encoding the dynamodb adapter back is not implemented yet".into(),
        });
    }
    Ok(())
}
