//! What can go wrong in a live dump, each variant naming the group, scope or RPC involved and
//! what the operator can do about it. The variant, not the message, decides whether
//! `dump --resume` can finish the dump ([`LiveError::is_resumable`]).

use tonic::Code;

/// A live-dump failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    /// A scope read fewer keys than the server counted at `read_ts` (docs/format/50-live-cluster.md §5.7).
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
    /// A TLS file (`--ca-cert`, `--client-cert`, `--client-key`, `serve --tls-*`) could not
    /// be read or is not usable PEM.
    #[error("TLS: {file}: {detail}")]
    TlsConfig {
        /// The file as given.
        file: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The TLS handshake with a node failed: it does not speak TLS, its certificate is not
    /// signed by the trusted CA or does not name the host, or it refused our client
    /// certificate.
    #[error("{endpoint}: TLS handshake failed: {detail}; check that the node listens with TLS, that --ca-cert names the CA that signed its certificate (which must name the host dialled), and --client-cert/--client-key if it requires client certificates")]
    TlsHandshake {
        /// The address dialled.
        endpoint: String,
        /// The TLS or transport error.
        detail: String,
    },
    /// A plaintext (`http://` or bare `host:port`) connection was answered by something
    /// that is not plaintext gRPC — typically a TLS listener.
    #[error("{endpoint}: the node did not answer plaintext gRPC ({detail}); if it listens with TLS, dial https://{host} (with --ca-cert if its CA is not a system root)")]
    NotPlaintext {
        /// The address dialled.
        endpoint: String,
        /// `host:port` of the endpoint, for the hint.
        host: String,
        /// The transport error.
        detail: String,
    },
    /// The resume journal or a file it vouches for is unreadable or inconsistent.
    #[error("{0}")]
    Journal(String),
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

    /// Whether `dump --resume` can finish the dump under the same pin after this failure:
    /// unreachable nodes, dropped connections, refused credentials and TLS settings the
    /// operator can fix heal by themselves or by a corrected command line; lost data
    /// (compaction), a lost pin, a changed catalog, a cluster that cannot pin and a damaged
    /// journal cannot — a resume would fail the same way or be inconsistent.
    pub fn is_resumable(&self) -> bool {
        match self {
            LiveError::Connect { .. }
            | LiveError::Rpc { .. }
            | LiveError::NoReadTs
            | LiveError::GroupUnavailable { .. }
            | LiveError::NoHost { .. }
            | LiveError::TlsConfig { .. }
            | LiveError::TlsHandshake { .. }
            | LiveError::NotPlaintext { .. } => true,
            LiveError::PinUnsupported(_)
            | LiveError::CompactionDuringDump { .. }
            | LiveError::ReadTsCompacted { .. }
            | LiveError::CatalogChanged { .. }
            | LiveError::PinLost(_)
            | LiveError::Journal(_) => false,
        }
    }
}
