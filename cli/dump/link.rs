//! `dump` flags for the connection to the cluster and how hard the dump leans on it: TLS
//! (`--ca-cert`, `--client-cert`, `--client-key`) and the scan limits
//! (`--scan-concurrency`, `--max-inflight-bytes`, `--rate-limit`).

use clap::Args;
use elastickv_backup_live::source::limits::ScanLimits;
use elastickv_backup_live::source::tls::ClientTlsFiles;
use std::path::PathBuf;

/// TLS flags of every step that dials the cluster (`dump`, `dump begin`, `dump finish`).
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// PEM CA bundle trusted for the nodes' certificates (default: the system roots).
    /// Giving any TLS file makes addresses without a scheme TLS too; https:// seeds are
    /// always TLS, http:// never.
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub ca_cert: Option<PathBuf>,

    /// PEM client certificate chain, for clusters that require mutual TLS (with
    /// --client-key).
    #[arg(
        long,
        value_name = "FILE",
        requires = "client_key",
        help_heading = "TLS"
    )]
    pub client_cert: Option<PathBuf>,

    /// PEM private key of --client-cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "client_cert",
        help_heading = "TLS"
    )]
    pub client_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS files given.
    pub fn files(&self) -> ClientTlsFiles {
        ClientTlsFiles {
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        }
    }
}

/// TLS and limit flags of `dump`.
#[derive(Args, Debug, Clone)]
pub struct LinkArgs {
    /// How the nodes are dialled.
    #[command(flatten)]
    pub tls: TlsArgs,

    /// Group reads (RPCs) in flight at once across the cluster, plus one for the group the
    /// dump is waiting on (so groups waiting to hand over their data never hold every read
    /// it needs) [default: the number of groups, at most 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Limits")]
    pub scan_concurrency: Option<u64>,

    /// Data read from the cluster but not yet written, across groups (e.g. 64M, 1G); each
    /// group may still hold one batch beyond it.
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = crate::common::size_arg, help_heading = "Limits")]
    pub max_inflight_bytes: u64,

    /// Read at most this many bytes per second from the cluster (e.g. 50M); unlimited when
    /// not given.
    #[arg(long, value_name = "BYTES", value_parser = crate::common::size_arg, help_heading = "Limits")]
    pub rate_limit: Option<u64>,
}

impl LinkArgs {
    /// The TLS files given.
    pub fn tls(&self) -> ClientTlsFiles {
        self.tls.files()
    }

    /// The scan limits given.
    pub fn limits(&self) -> ScanLimits {
        ScanLimits {
            scan_concurrency: self
                .scan_concurrency
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            max_inflight_bytes: self.max_inflight_bytes,
            rate_limit: self.rate_limit,
        }
    }
}
