//! The engine's error type: every failure names what failed (file and byte offset, key,
//! path, shard) and, where it helps, what to do about it.
//!
//! Every component's error enum lives in a submodule here and is re-exported where the
//! component is (`decode::sqs::SqsError`, `sinks::PathError`, …). Why: [`Error`] wraps
//! them all, and every stage returns it; were they defined in their components, this
//! module and each component would depend on each other. Here, `error` depends on nothing
//! else in the engine, and every module may depend on it.

pub mod ddb;
pub mod live;
pub mod object;
pub mod partition;
pub mod path;
pub mod preflight;
pub mod redis;
pub mod s3;
pub mod sort;
pub mod sqs;

use elastickv_backup_format::container::ContainerError;
use std::fmt::Display;

/// Any failure of a dump or decode run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A snapshot file could not be read or is malformed.
    #[error("decode {file}: {source}")]
    Snapshot {
        /// The `--input` path as given.
        file: String,
        /// What is wrong and where.
        #[source]
        source: ContainerError,
    },
    /// An operating-system error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// Path (relative to the output root for output files).
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The output directory already holds files.
    #[error("output directory {path} is not empty (it holds {example:?}); choose an empty directory or pass --force to write into it")]
    OutputNotEmpty {
        /// The output root.
        path: String,
        /// One entry found there.
        example: String,
    },
    /// A write was refused to keep the dump inside its root and intact.
    #[error("refusing to write {path}: it {why}")]
    UnsafeOutput {
        /// Relative path.
        path: String,
        /// Why.
        why: &'static str,
    },
    /// A name derived from data cannot be a path segment.
    #[error("unsafe output path: {0}")]
    Path(#[from] path::PathError),
    /// DynamoDB adapter error (message as upstream's where upstream has one).
    #[error("{0}")]
    DynamoDb(#[from] ddb::DdbError),
    /// S3 adapter error.
    #[error("{0}")]
    S3(#[from] s3::S3Error),
    /// Redis adapter error.
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    /// SQS adapter error.
    #[error("{0}")]
    Sqs(#[from] sqs::SqsError),
    /// S3-compatible object storage (output or `verify s3://`) failed.
    #[error(transparent)]
    Object(#[from] object::ObjectError),
    /// An external sort (digests, DynamoDB migration) failed.
    #[error(transparent)]
    Sort(#[from] sort::SortError),
    /// An adapter error, with the input it came from (upstream's `decode <input>: ` form).
    #[error("decode {input}: {source}")]
    Decode {
        /// The `--input` path(s).
        input: String,
        /// The adapter error.
        #[source]
        source: Box<Error>,
    },
    /// Invalid command-line usage.
    #[error("{0}")]
    Usage(String),
    /// The run was cancelled (signal or a failing sibling stage).
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// A live-cluster failure (RPC, pin, baseline, TLS, resume journal).
    #[error(transparent)]
    Live(#[from] live::LiveError),
    /// A step of a partitioned dump (`dump begin`, `--join`, `finish`) failed: names the
    /// partition, token or record and the step that fixes it.
    #[error(transparent)]
    Partition(partition::PartitionError),
    /// The output location failed a check made before anything is pinned.
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    /// A broken internal invariant; a bug, please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}
