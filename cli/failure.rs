//! Why a command failed: an engine failure (decode, dump, the dev tools), an encode, verify
//! or restore failure. Why a type of its own: the reverse, verify and restore crates own
//! their errors, and the engine knows nothing of them, so the one place they meet is the
//! command line, which turns each into a message and an exit status.

use elastickv_backup_engine::error::Error;
use elastickv_backup_restore::error::{aws::AwsRestoreError, redis::RestoreError};
use elastickv_backup_reverse::ReverseError;
use elastickv_backup_verify::VerifyError;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The engine's error (names the file, key, shard or flag).
    #[error(transparent)]
    Engine(#[from] Error),
    /// `encode` could not turn the dump tree back into a snapshot (names the file or key).
    #[error("encode: {0}")]
    Encode(#[from] ReverseError),
    /// `verify` could not read the dump, or found it incomplete, altered or unsafe (its
    /// report lists each problem).
    #[error("{0}")]
    Verify(#[from] VerifyError),
    /// `restore redis` could not run or finished with keys not restored.
    #[error("{0}")]
    RestoreRedis(#[from] RestoreError),
    /// `restore dynamodb|s3|sqs` stopped (names the dump file or the API call).
    #[error("{0}")]
    RestoreAws(#[from] AwsRestoreError),
}

impl Failure {
    /// A usage error found after parsing (printed in clap's format, exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Engine(Error::Usage(message.into()))
    }

    /// The message of a usage error, if this is one.
    pub fn usage_message(&self) -> Option<&str> {
        match self {
            Failure::Engine(Error::Usage(m)) => Some(m),
            _ => None,
        }
    }

    /// Process exit status: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.usage_message().is_some() {
            2
        } else {
            1
        }
    }
}
