//! Errors of the SQS adapter (`decode::sqs`); messages end with upstream's error text.

/// Errors of the SQS adapter. Messages end with upstream's error text.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// A key cannot be attributed to a queue, or a generation value is not a number.
    #[error("{what} in key {key}: backup: malformed SQS key")]
    MalformedKey {
        /// The whole user key, escaped.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// A queue-meta value lacks its magic or its JSON does not decode.
    #[error("queue {queue} (key {key}): {what}: backup: invalid !sqs|queue|meta value")]
    InvalidQueueMeta {
        /// Queue name (or encoded segment).
        queue: String,
        /// The whole user key, escaped.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// A message value lacks its magic or its JSON does not decode.
    #[error("queue {queue} (key {key}): {what}: backup: invalid !sqs|msg|data value")]
    InvalidMessage {
        /// Queue name (or encoded segment).
        queue: String,
        /// The whole user key, escaped.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// Two meta keys whose segments decode to the same name would write the same files.
    #[error("queue meta segments {first} and {second} both decode to queue {name}; refusing to write one over the other")]
    QueueNameCollision {
        /// First encoded segment.
        first: String,
        /// Second encoded segment.
        second: String,
        /// The shared name.
        name: String,
    },
    /// The sort scratch space failed.
    #[error("sqs sort scratch {path}: {source}")]
    Scratch {
        /// Scratch file or directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// One record exceeds what a sort run can frame (4 GiB).
    #[error("sqs record of {bytes} bytes is too large to sort")]
    RecordTooLarge {
        /// Size of key plus payload.
        bytes: usize,
    },
    /// A broken internal invariant.
    #[error("sqs adapter internal error: {0}")]
    Internal(String),
}

impl From<super::sort::SortError> for SqsError {
    /// The shared sorter's failures in the SQS adapter's own words.
    fn from(e: super::sort::SortError) -> Self {
        use super::sort::SortError as S;
        match e {
            S::Scratch { path, source, .. } => SqsError::Scratch { path, source },
            S::RecordTooLarge { bytes, .. } => SqsError::RecordTooLarge { bytes },
            S::Internal { detail, .. } => SqsError::Internal(detail),
        }
    }
}
