//! Loopback server configuration: the knobs docs/format/50-live-cluster.md §5 and §9 ask to be configurable.

use std::time::Duration;

/// How the loopback cluster behaves. `Default` gives a real node's defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Number of Raft groups (≥ 1); data is spread over them by route ranges.
    pub groups: u64,
    /// Nodes (listeners); groups get two replicas each over them when there are two or more
    /// (see `super::placement::Placement::spread`).
    pub nodes: usize,
    /// Bearer token required on `/Admin/` calls; `None` = no check (`--adminInsecureNoAuth`).
    pub admin_token: Option<String>,
    /// Whether the Phase 1 backup RPCs exist (false = a node that answers `UNIMPLEMENTED`).
    pub phase1: bool,
    /// Upper bound of a pin's TTL (with the nominal 24 h).
    pub backup_max_ttl_ms: u64,
    /// Pins held at once before `RESOURCE_EXHAUSTED`.
    pub max_active_pins: usize,
    /// Catch-up fence deadline (and pin-commit budget) of `BeginBackup`.
    pub begin_backup_deadline: Duration,
    /// Catch-up poll period.
    pub catch_up_tick: Duration,
    /// Raft entries between snapshots.
    pub snapshot_every: u64,
    /// Minimum snapshot headroom for `BeginBackup`.
    pub snapshot_headroom_entries: u64,
    /// MVCC history kept below the newest timestamp.
    pub compaction_retention: Duration,
    /// Background compaction period; `None` = only on demand (test hook).
    pub compaction_interval: Option<Duration>,
    /// Pin sweeper period.
    pub sweep_interval: Duration,
    /// Attempts and backoff of a per-group renewal before it is declared failed.
    pub renew_attempts: u32,
    /// Backoff between renewal attempts.
    pub renew_backoff: Duration,
    /// Largest gRPC message sent or accepted.
    pub max_message_bytes: usize,
    /// The version `GetNodeVersion` reports.
    pub node_version: String,
    /// Serve TLS with these files (`serve --tls-cert --tls-key [--tls-client-ca]`);
    /// `None` = plaintext.
    pub tls: Option<elastickv_backup_live::source::tls::ServerTlsFiles>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            groups: 3,
            nodes: 1,
            admin_token: None,
            phase1: true,
            backup_max_ttl_ms: 3_600_000,
            max_active_pins: 4,
            begin_backup_deadline: Duration::from_secs(5),
            catch_up_tick: Duration::from_millis(500),
            snapshot_every: 10_000,
            snapshot_headroom_entries: 1000,
            compaction_retention: Duration::from_secs(30 * 60),
            compaction_interval: Some(Duration::from_secs(5 * 60)),
            sweep_interval: Duration::from_secs(1),
            renew_attempts: 3,
            renew_backoff: Duration::from_millis(500),
            max_message_bytes: elastickv_backup_proto::MAX_MESSAGE_BYTES,
            node_version: concat!("elastickv-backup-loopback/", env!("CARGO_PKG_VERSION"))
                .to_string(),
            tls: None,
        }
    }
}
