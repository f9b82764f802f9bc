//! Why a DynamoDB, S3 or SQS restore (`restore::aws`) stopped.

use elastickv_backup_reverse::ReverseError;

/// Why a DynamoDB, S3 or SQS restore stopped.
#[derive(Debug, thiserror::Error)]
pub enum AwsRestoreError {
    /// The dump tree is wrong (names the file and what is wrong with it).
    #[error("{0}")]
    Dump(#[from] ReverseError),
    /// An API call failed after the SDK's retries.
    #[error("{service} {call} {target}: {why}")]
    Call {
        /// `dynamodb`, `s3` or `sqs`.
        service: &'static str,
        /// The API operation.
        call: &'static str,
        /// The table, bucket/key or queue it was about.
        target: String,
        /// The SDK's error with its causes, and what to check.
        why: String,
    },
    /// A table, bucket or queue of the dump already exists on the server.
    #[error("{service}: {what} already exists on the server; restore into an empty target, delete it, or pass --use-existing to write into it")]
    Exists {
        /// `dynamodb`, `s3` or `sqs`.
        service: &'static str,
        /// Which one.
        what: String,
    },
    /// The server kept part of a request unprocessed through every retry.
    #[error("{service} {what}: still unprocessed after {attempts} attempts with backoff; lower --max-writes-per-second or raise the table's capacity, then restore again with --use-existing")]
    Unprocessed {
        /// `dynamodb`.
        service: &'static str,
        /// What was left (table and item count).
        what: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The async runtime the SDK needs could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl AwsRestoreError {
    /// A failed call, with the SDK error's whole cause chain.
    pub(crate) fn call<E>(service: &'static str, call: &'static str, target: &str, e: E) -> Self
    where
        E: std::error::Error,
    {
        let mut why = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
        if why.contains("dispatch failure") || why.contains("Connection refused") {
            why.push_str(" (is the server at --endpoint running and reachable?)");
        }
        AwsRestoreError::Call {
            service,
            call,
            target: target.to_string(),
            why,
        }
    }
}
