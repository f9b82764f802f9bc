//! `elastickv-backup serve`: the loopback cluster as a standalone process — a stand-in for an
//! elastickv node that speaks the same gRPC surface (RawKV, Distribution, RaftAdmin, Admin with
//! the Phase 1 backup RPCs), for trying `dump` and for integration tests of other tools.

pub(crate) mod faults;

use super::common::duration_arg;
use super::dump::admin_token;
use clap::Args;
use elastickv_backup_engine::error::Error;
use elastickv_backup_live::source::tls::ServerTlsFiles;
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Serve a multi-group loopback cluster over gRPC until SIGINT/SIGTERM.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Listen address; port 0 picks a free port (the chosen address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "HOST:PORT")]
    pub listen: String,

    /// Load the cluster from these snapshot files (every version, as stored).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input_snap_dir", "generate"])]
    pub input: Vec<String>,

    /// Load every `*.fsm` file of this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "generate")]
    pub input_snap_dir: Option<String>,

    /// Serve the deterministic sample dataset at this scale (default when no input is given).
    #[arg(long, value_name = "SCALE", num_args = 0..=1, default_missing_value = "1")]
    pub generate: Option<usize>,

    /// Raft groups; the data is split over them by route ranges.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub groups: u64,

    /// Nodes, each its own listener (ports --listen, +1, … or free ports with port 0; one
    /// address per line on stdout); with two or more every group has two replicas, and a
    /// node answers reads only for the groups it hosts.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub nodes: usize,

    /// Require `authorization: Bearer <T>` on Admin calls (prefer --admin-token-file or
    /// $ELASTICKV_ADMIN_TOKEN: arguments are visible to other users of the machine).
    #[arg(long, value_name = "T", conflicts_with = "admin_token_file")]
    pub admin_token: Option<String>,

    /// File holding the Admin token. Without either flag the token is read from
    /// $ELASTICKV_ADMIN_TOKEN, if set.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Serve TLS with this PEM certificate chain (with --tls-key); clients dial https://.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by this PEM CA bundle (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Behave like a node without the Phase 1 backup RPCs (they answer UNIMPLEMENTED).
    #[arg(long)]
    pub no_backup_rpcs: bool,

    /// Largest pin TTL granted (backup_max_ttl_ms).
    #[arg(long, default_value_t = 3_600_000, value_name = "MS")]
    pub backup_max_ttl_ms: u64,

    /// Pins held at once before RESOURCE_EXHAUSTED (max_active_backup_pins).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_active_pins: usize,

    /// BeginBackup catch-up deadline.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = duration_arg)]
    pub begin_backup_deadline: Duration,

    /// Raft entries between snapshots.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub snapshot_every: u64,

    /// Minimum snapshot headroom for BeginBackup.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub snapshot_headroom_entries: u64,

    /// Schedule a failure AT after start (repeatable): kill-node:N, restart-node:N,
    /// move-leader:G|all, stall-renewals:MS:COUNT, drop-pins, compact, scan-delay:MS — e.g.
    /// `--fault 2s=kill-node:1 --fault 3s=restart-node:1`.
    #[arg(long, value_name = "AT=ACTION")]
    pub fault: Vec<String>,

    /// MVCC history kept by the compactor.
    #[arg(long, default_value = "30m", value_name = "DURATION", value_parser = duration_arg)]
    pub compaction_retention: Duration,
}

/// Runs the serve command.
pub fn run_serve(args: ServeArgs) -> Result<(), Error> {
    let entries = if !args.input.is_empty() {
        load::from_snapshots(&args.input)?
    } else if let Some(dir) = &args.input_snap_dir {
        load::from_snapshots(&load::snapshot_dir_files(dir)?)?
    } else {
        load::from_pairs(
            elastickv_backup_gen::sample(args.generate.unwrap_or(1)),
            elastickv_backup_gen::EPOCH_MS << 16,
        )
    };
    let cfg = ServerConfig {
        groups: args.groups.max(1),
        nodes: args.nodes.max(1),
        admin_token: admin_token(&args.admin_token, &args.admin_token_file)?,
        phase1: !args.no_backup_rpcs,
        backup_max_ttl_ms: args.backup_max_ttl_ms,
        max_active_pins: args.max_active_pins,
        begin_backup_deadline: args.begin_backup_deadline,
        snapshot_every: args.snapshot_every,
        snapshot_headroom_entries: args.snapshot_headroom_entries,
        compaction_retention: args.compaction_retention,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(ServerTlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            }),
            _ => None,
        },
        ..ServerConfig::default()
    };
    let mut schedule = args
        .fault
        .iter()
        .map(|f| faults::parse(f))
        .collect::<Result<Vec<_>, Error>>()?;
    schedule.sort_by_key(|f| f.at);
    let n = entries.len();
    let mut server = LoopbackServer::start(cfg, &args.listen, entries)?;
    let started = std::time::Instant::now();
    for a in server.node_addrs() {
        println!("{a}");
    }
    let _ = std::io::stdout().flush();
    eprintln!(
        "elastickv-backup: serving {n} entries in {} group(s) on {} (Ctrl-C to stop)",
        args.groups.max(1),
        server.addr()
    );
    for f in &schedule {
        let wait = f.at.saturating_sub(started.elapsed());
        if server.wait_for_signal_or(wait) {
            server.shutdown();
            return Ok(());
        }
        faults::apply(&mut server, &f.action)?;
    }
    server.wait_for_signal();
    server.shutdown();
    Ok(())
}
