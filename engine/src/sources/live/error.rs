//! What can go wrong in a live dump, each variant naming the group, scope or RPC involved and
//! what the operator can do about it.

use tonic::Code;

/// A live-dump failure.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The seed address could not be reached.
    #[error("connect {address}: {message}")]
    Connect {
        /// `--address`.
        address: String,
        /// Transport error text.
        message: String,
    },
    /// An RPC failed with a status the producer does not retry.
    #[error("{rpc}: {code:?}: {message}")]
    Rpc {
        /// Method (and group, for scans).
        rpc: String,
        /// gRPC status code.
        code: Code,
        /// Status message as the server sent it.
        message: String,
    },
    /// The cluster has no Phase 1 backup RPCs and `--allow-unpinned` was not given.
    #[error("the cluster cannot pin a read timestamp (BeginBackup: {0}); a consistent dump is impossible. Pass --allow-unpinned for a best-effort dump without a compaction pin or cross-shard fence")]
    PinUnsupported(String),
    /// Fallback mode found no committed timestamp to read at.
    #[error("RawLatestCommitTS returned 0: the cluster reports no committed data, refusing to pick a read timestamp")]
    NoReadTs,
    /// A scope read fewer keys than the server counted at `read_ts` (spec 50 §5.7).
    #[error("ErrCompactionDuringDump: scope {scope}: read {actual} keys, baseline {baseline}, threshold {threshold:.1} (keys were lost under the dump, e.g. a replica installed a snapshot and dropped its pin); no MANIFEST written, retry the dump")]
    CompactionDuringDump {
        /// `dynamodb/<table>` etc.
        scope: String,
        /// Keys read.
        actual: u64,
        /// Keys the server counted.
        baseline: u64,
        /// Smallest passing count.
        threshold: f64,
    },
    /// A read hit the compacted range.
    #[error("ErrCompactionDuringDump: group {group}: read timestamp has been compacted (the pin was lost or expired); no MANIFEST written, retry the dump")]
    ReadTsCompacted {
        /// The group that refused.
        group: u64,
    },
    /// A group stayed unreachable through the whole retry budget.
    #[error("group {group}: still failing after {attempts} attempts over {secs:.1}s (last: {code:?}: {message}); giving up")]
    GroupUnavailable {
        /// Group id.
        group: u64,
        /// Attempts made.
        attempts: u32,
        /// Time spent retrying.
        secs: f64,
        /// Last status code.
        code: Code,
        /// Last status message.
        message: String,
    },
    /// No reachable node hosts a group the catalog lists.
    #[error("group {group}: no reachable node hosts it ({tried}); pass a seed on a node that hosts it (--address, repeatable) or --group-endpoint {group}=HOST:PORT")]
    NoHost {
        /// The group.
        group: u64,
        /// What each candidate answered.
        tried: String,
    },
    /// The route catalog changed during the dump.
    #[error("route catalog changed during the dump (catalog_version {before} → {after}); a split or migration moved keys, retry the dump")]
    CatalogChanged {
        /// Version at start.
        before: u64,
        /// Version at the end.
        after: u64,
    },
    /// The pin could not be kept alive.
    #[error("backup pin lost: {0}; scans stopped, no MANIFEST written")]
    PinLost(String),
}

impl LiveError {
    /// A non-retried RPC failure.
    pub fn rpc(rpc: impl Into<String>, s: &tonic::Status) -> Self {
        LiveError::Rpc {
            rpc: rpc.into(),
            code: s.code(),
            message: s.message().to_string(),
        }
    }
}

impl From<LiveError> for crate::error::Error {
    fn from(e: LiveError) -> Self {
        crate::error::Error::Live(e.to_string())
    }
}
