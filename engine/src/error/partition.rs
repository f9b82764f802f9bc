//! What can go wrong in a partitioned dump, each variant naming the file, partition or pin
//! involved and the step that fixes it.

use super::Error;

/// A partitioned-dump failure.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// `--partition` / `JOB_COMPLETION_INDEX` is malformed or outside the plan.
    #[error("partition {given}: {why}")]
    BadPartition {
        /// The value as given.
        given: String,
        /// What is wrong.
        why: String,
    },
    /// The token file is missing, unreadable or not a token this build understands.
    #[error("pin token {path}: {why}")]
    BadToken {
        /// The token file.
        path: String,
        /// What is wrong and what to do.
        why: String,
    },
    /// `dump finish` found partitions without a done marker.
    #[error("dump finish {root}: partition(s) {missing} of {partitions} have not finished (no done marker in .elastickv-backup-job/); run them (`dump --join TOKEN --partition I/{partitions}`) and run `dump finish` again. Nothing was written: no MANIFEST.json, the pin is kept")]
    Unfinished {
        /// The output root.
        root: String,
        /// Missing partition indexes, comma-separated.
        missing: String,
        /// Partitions in the plan.
        partitions: u32,
    },
    /// A partition's record is damaged or belongs to another job.
    #[error(
        "{path}: {why}; the partitioned dump cannot be trusted, start a new one with `dump begin`"
    )]
    BadRecord {
        /// The record file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The pin the token names is gone (expired after its TTL, or ended).
    #[error("partition {partition}: the pin of this job (read_ts={read_ts}) is gone — it expired after its TTL ({ttl_ms} ms without a renewal) or was ended by `dump finish` or a failed partition: {cause}. Start over with `dump begin` (a longer --ttl-ms if partitions start late)")]
    PinGone {
        /// The partition index.
        partition: u32,
        /// The pinned read timestamp.
        read_ts: u64,
        /// The TTL requested at `begin`.
        ttl_ms: u64,
        /// The server's answer.
        cause: String,
    },
}

impl PartitionError {
    /// Whether it is the operator's invocation that is wrong (exit status 2).
    fn is_usage(&self) -> bool {
        matches!(self, PartitionError::BadPartition { .. })
    }
}

impl From<PartitionError> for Error {
    fn from(e: PartitionError) -> Self {
        if e.is_usage() {
            Error::Usage(e.to_string())
        } else {
            Error::Partition(e)
        }
    }
}
