//! Snapshot files (in progress).
/// Container errors.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// placeholder
    #[error("todo")]
    Todo,
}
