//! sqs subtree → internal entries (not yet implemented).

use super::{Entries, ReverseError};
use std::path::Path;

/// Appends the internal entries for `root/sqs/` (if present) to `out`.
pub fn encode_tree(root: &Path, _out: &mut Entries) -> Result<(), ReverseError> {
    if root.join("sqs").exists() {
        return Err(ReverseError::Invalid {
            path: "sqs".into(),
            why: "encoding the sqs adapter back is not implemented yet".into(),
        });
    }
    Ok(())
}
