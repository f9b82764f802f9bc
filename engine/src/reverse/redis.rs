//! redis subtree → internal entries (not yet implemented).

use super::{Entries, ReverseError};
use std::path::Path;

/// Appends the internal entries for `root/redis/` (if present) to `out`.
pub fn encode_tree(root: &Path, _out: &mut Entries) -> Result<(), ReverseError> {
    if root.join("redis").exists() {
        return Err(ReverseError::Invalid {
            path: "redis".into(),
            why: "encoding the redis adapter back is not implemented yet".into(),
        });
    }
    Ok(())
}
