//! `elastickv-backup dump`: a point-in-time dump of a running cluster (docs/format/50-live-cluster.md), or — with
//! `--embedded` — of an embedded loopback cluster seeded with the sample dataset.

pub(crate) mod link;
pub(crate) mod partition;

use super::common::OutputFlags;
use clap::Args;
use elastickv_backup_engine::encode::manifest::{Manifest, PHASE_LIVE};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::preflight;
use elastickv_backup_engine::sinks::{DirSink, Sink};
use elastickv_backup_live::dump::resume::journal::OptionsRecord;
use elastickv_backup_live::dump::resume::Runner;
use elastickv_backup_live::source::{LiveConfig, LiveSession};
use elastickv_backup_loopback::{LoopbackServer, ServerConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Dump a running cluster at one pinned read timestamp.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DumpArgs {
    /// A step of a partitioned dump (`begin`, `finish`); none = a dump or a partition.
    #[command(subcommand)]
    pub step: Option<Box<partition::DumpStep>>,

    /// `--join TOKEN --partition I/N`: one partition of a partitioned dump.
    /// (Boxed: keeps `Command`'s variants of similar size.)
    #[command(flatten)]
    pub part: Box<partition::JoinArgs>,

    /// Seed node listener (host:port) of the cluster to dump; repeat it or give a comma
    /// list for several seeds (cluster-wide calls fail over between them, and each group is
    /// read from a seed that hosts it). Required unless --embedded.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Cluster")]
    pub address: Vec<String>,

    /// Read group GROUP from the listener HOST:PORT (repeatable; upstream's --raftGroups
    /// shape): for groups no seed hosts. Its leader is asked for and read directly.
    #[arg(long, value_name = "GROUP=HOST:PORT", help_heading = "Cluster")]
    pub group_endpoint: Vec<String>,

    /// Dump a built-in sample cluster instead of a real one: an embedded loopback cluster
    /// (--groups, --sample-scale) seeded with sample data of every adapter, dumped over
    /// real gRPC. For trying the tool; MANIFEST.json records it.
    #[arg(long, conflicts_with_all = ["address", "resumable", "resume", "ca_cert", "client_cert", "client_key"], help_heading = "Embedded sample cluster")]
    pub embedded: bool,

    /// Skip flushing the dump to stable storage before MANIFEST.json is written (faster,
    /// for benchmarks; a power loss can then leave a dump whose MANIFEST.json promises files
    /// that were never stored).
    #[arg(long, help_heading = "Output")]
    pub no_sync: bool,

    /// Output directory (created if missing; must be empty unless --force), or
    /// s3://BUCKET/PREFIX/ (see --s3-endpoint).
    #[arg(
        long,
        short = 'o',
        visible_alias = "output-dir",
        value_name = "DIR",
        required_unless_present_any = ["resume", "join"],
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,

    /// Make the dump resumable: write it adapter by adapter with a journal in
    /// DIR/.elastickv-backup-resume/, and on a failure that a retry can repair (a group
    /// still down after --group-retry-budget, SIGINT/SIGTERM, a full disk, a lost
    /// connection) keep the pin instead of releasing it, so `--resume DIR` can finish the
    /// dump at the same read timestamp. The pin then expires by its TTL unless resumed.
    /// Needs --address and an empty output directory.
    #[arg(long, requires = "address", help_heading = "Resume")]
    pub resumable: bool,

    /// Finish an interrupted --resumable dump in DIR under its still-held pin: adapters it
    /// finished are kept and not read again, the others are written from scratch. Output
    /// options come from the journal; --address defaults to the recorded one; give the
    /// admin token again.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "resumable"], help_heading = "Resume")]
    pub resume: Option<PathBuf>,

    /// Requested pin lifetime (BeginBackup ttl_ms; renewed every ttl/3).
    #[arg(
        long,
        default_value_t = 1_800_000,
        value_name = "MS",
        help_heading = "Pin"
    )]
    pub ttl_ms: u64,

    /// Catch-up deadline of BeginBackup (e.g. 5s, 500ms). Sizes the call's deadline; passed
    /// to the embedded cluster as its configuration.
    #[arg(
        long,
        default_value = "5s",
        value_name = "DURATION",
        value_parser = super::common::duration_arg,
        help_heading = "Pin"
    )]
    pub begin_backup_deadline: Duration,

    /// Minimum snapshot headroom (embedded cluster configuration; advisory for a remote one).
    #[arg(long, default_value_t = 1000, value_name = "N", help_heading = "Pin")]
    pub snapshot_headroom_entries: u64,

    /// Keys per RawScanAt page (1..=1025).
    #[arg(long, default_value_t = 1024, value_name = "N", help_heading = "Scan")]
    pub scan_page_size: usize,

    /// Bearer token for the cluster's Admin service (prefer --admin-token-file: arguments are
    /// visible to other users of the machine).
    #[arg(
        long,
        value_name = "TOKEN",
        conflicts_with = "admin_token_file",
        help_heading = "Cluster"
    )]
    pub admin_token: Option<String>,

    /// File holding the Admin bearer token (trailing newline ignored). Without either flag
    /// the token is read from $ELASTICKV_ADMIN_TOKEN, if set.
    #[arg(long, value_name = "FILE", help_heading = "Cluster")]
    pub admin_token_file: Option<PathBuf>,

    /// TLS and scan limits (boxed: keeps the command enum small).
    #[command(flatten)]
    pub link: Box<link::LinkArgs>,

    /// If the cluster cannot pin a read timestamp (no Phase 1 RPCs), dump anyway at its
    /// latest committed timestamp — best effort, loudly marked in MANIFEST.json.
    #[arg(long, help_heading = "Pin")]
    pub allow_unpinned: bool,

    /// How long one group may keep failing (with backoff) before the dump gives up.
    #[arg(
        long,
        default_value = "60s",
        value_name = "DURATION",
        value_parser = super::common::duration_arg,
        help_heading = "Scan"
    )]
    pub group_retry_budget: Duration,

    /// Raft groups of the embedded cluster (only with --embedded).
    #[arg(
        long,
        default_value_t = 3,
        value_name = "N",
        help_heading = "Embedded sample cluster"
    )]
    pub groups: u64,

    /// Sample size of the embedded cluster (only with --embedded).
    #[arg(
        long,
        default_value_t = 1,
        value_name = "N",
        help_heading = "Embedded sample cluster"
    )]
    pub sample_scale: usize,

    /// Output-shaping flags.
    #[command(flatten, next_help_heading = "Output")]
    pub flags: OutputFlags,
    /// Logs, progress and metrics.
    #[command(flatten)]
    pub observe: super::observe::ObserveArgs,
}

/// `--group-endpoint` values as a map (usage error when malformed).
fn group_endpoints(values: &[String]) -> Result<std::collections::BTreeMap<u64, String>, Error> {
    elastickv_backup_live::source::topology::parse_group_endpoints(values).map_err(Error::Usage)
}

/// Environment variable holding the Admin bearer token when neither `--admin-token` nor
/// `--admin-token-file` is given (keeps the token off command lines, which other users of
/// the machine can read).
pub const ADMIN_TOKEN_ENV: &str = "ELASTICKV_ADMIN_TOKEN";

/// The token from `--admin-token`, `--admin-token-file` or `$ELASTICKV_ADMIN_TOKEN`, in that
/// order.
pub fn admin_token(
    token: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, Error> {
    if let Some(t) = token {
        return Ok(Some(t.clone()));
    }
    match file {
        Some(f) => {
            let raw = std::fs::read_to_string(f).map_err(|e| Error::io(f.display(), e))?;
            Ok(Some(raw.trim_end_matches(['\r', '\n']).to_string()))
        }
        None => Ok(std::env::var(ADMIN_TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())),
    }
}

/// Runs the dump command.
pub fn run_dump(args: DumpArgs) -> Result<(), Error> {
    run_dump_with(args, true)
}

/// MANIFEST.json of a finished live dump.
pub fn live_manifest(session: &LiveSession, opts: &DecodeOptions) -> Manifest {
    Manifest {
        phase: PHASE_LIVE,
        elastickv_version: "dev".into(),
        cluster_id: opts.cluster_id.clone(),
        snapshot_index: 0,
        last_commit_ts: session.read_ts,
        wall_time: time::OffsetDateTime::now_utc(),
        fsm_path: None,
        live: Some(session.live_info()),
        adapters: opts.adapters.clone(),
        opts: opts.clone(),
        consistency: session.consistency(),
        inputs: session.inputs(),
    }
}

/// Cluster id an `--embedded` dump records when none was given.
pub const EMBEDDED_CLUSTER_ID: &str = "embedded-sample-cluster";

/// Marks MANIFEST.json of an `--embedded` dump as such: the cluster id (unless the operator
/// chose one) and every input name say it is the built-in sample cluster, so such a dump is
/// never mistaken for a backup of real data.
fn mark_embedded(m: &mut Manifest) {
    if m.cluster_id.is_empty() {
        m.cluster_id = EMBEDDED_CLUSTER_ID.to_string();
    }
    for i in &mut m.inputs {
        i.name = format!("embedded sample cluster: {}", i.name);
    }
}

/// `--resumable` and `--resume DIR`.
fn run_resumable(args: DumpArgs, handle_signals: bool) -> Result<(), Error> {
    let started = Instant::now();
    let opts = args.flags.options()?;
    if args.flags.force {
        return Err(Error::Usage(
            "--force cannot be combined with --resumable/--resume: a resumable dump writes only into an empty directory".into(),
        ));
    }
    if let Some(out) = &args.output {
        if args.flags.s3_output(out)?.is_some() {
            return Err(Error::Usage(
                "--resumable writes into a local directory: dump to a directory, or drop --resumable to write to s3:// directly".into(),
            ));
        }
    }
    if args.flags.archive.is_some() {
        return Err(Error::Usage(
            "--archive cannot be combined with --resumable/--resume: a streamed archive cannot be resumed; dump to a directory (it can be archived afterwards)".into(),
        ));
    }
    let (tls, limits) = (args.link.tls(), args.link.limits());
    let cfg = LiveConfig {
        tls,
        limits,
        address: args.address.join(","),
        group_endpoints: group_endpoints(&args.group_endpoint)?,
        admin_token: admin_token(&args.admin_token, &args.admin_token_file)?,
        ttl_ms: args.ttl_ms,
        begin_backup_deadline: args.begin_backup_deadline,
        page_size: args.scan_page_size,
        allow_unpinned: args.allow_unpinned,
        group_retry_budget: args.group_retry_budget,
        handle_signals,
        ..LiveConfig::default()
    };
    let (root, done) = match (&args.resume, &args.output) {
        (Some(dir), _) => {
            let runner = Runner {
                root: dir,
                threads: args.flags.threads(),
                manifest: &live_manifest,
            };
            let defaults = OptionsRecord::from_options(&DecodeOptions::default());
            let given = (OptionsRecord::from_options(&opts) != defaults).then_some(&opts);
            (dir, runner.resume(cfg, given)?)
        }
        (None, Some(out)) => {
            let runner = Runner {
                root: out,
                threads: args.flags.threads(),
                manifest: &live_manifest,
            };
            (out, runner.start(cfg, &opts)?)
        }
        (None, None) => return Err(Error::Usage("--output is required".into())),
    };
    let names = |v: &[elastickv_backup_engine::decode::AdapterKind]| {
        v.iter().map(|a| a.name()).collect::<Vec<_>>().join(",")
    };
    tracing::info!(
        "live dump complete: groups={} read_ts={} output={} runs={} written={} skipped={} visible={} pin_renewals_total={} elapsed={:.2?}",
        done.groups,
        done.read_ts,
        root.display(),
        done.attempts,
        names(&done.written),
        names(&done.skipped),
        done.visible,
        done.renewals,
        started.elapsed()
    );
    Ok(())
}

/// The dump command; `handle_signals` = false for in-process callers (tests).
pub fn run_dump_with(mut args: DumpArgs, handle_signals: bool) -> Result<(), Error> {
    if let Some(step) = args.step.take() {
        return partition::run_step(*step, handle_signals);
    }
    if args.part.join.is_some() {
        return partition::run_join(args, handle_signals);
    }
    if args.resumable || args.resume.is_some() {
        return run_resumable(args, handle_signals);
    }
    let output = args
        .output
        .clone()
        .ok_or_else(|| Error::Usage("--output is required".into()))?;
    if args.address.is_empty() && !args.embedded {
        return Err(Error::Usage(
            "dump needs --address HOST:PORT (a node of the cluster to back up); to dump the built-in sample cluster instead, pass --embedded".into(),
        ));
    }
    let started = Instant::now();
    let opts = args.flags.options()?;
    let token = admin_token(&args.admin_token, &args.admin_token_file)?;
    let begin_deadline = args.begin_backup_deadline;
    let archive = args.flags.archive()?.is_some();
    // Output checks before anything is pinned: a bad path costs the cluster nothing.
    if archive {
        preflight::check_file(&output, args.flags.force)?;
    } else {
        preflight::check_dir(&output, args.flags.force)?;
    }
    let embedded = match args.embedded {
        false => None,
        true => {
            let cfg = ServerConfig {
                groups: args.groups.max(1),
                admin_token: token.clone(),
                begin_backup_deadline: begin_deadline,
                snapshot_headroom_entries: args.snapshot_headroom_entries,
                ..ServerConfig::default()
            };
            let entries = elastickv_backup_loopback::load::from_pairs(
                elastickv_backup_gen::sample(args.sample_scale),
                elastickv_backup_gen::EPOCH_MS << 16,
            );
            let server = LoopbackServer::start(cfg, "127.0.0.1:0", entries)?;
            tracing::warn!(
                "--embedded: dumping a built-in {}-group loopback cluster with sample data at {} (not a real cluster)",
                args.groups.max(1),
                server.addr()
            );
            Some(server)
        }
    };
    let address = match &embedded {
        Some(s) => s.addr().to_string(),
        None => args.address.join(","),
    };
    let (tls, limits) = (args.link.tls(), args.link.limits());
    let session = LiveSession::begin(LiveConfig {
        tls,
        limits,
        address,
        group_endpoints: group_endpoints(&args.group_endpoint)?,
        admin_token: token,
        ttl_ms: args.ttl_ms,
        begin_backup_deadline: begin_deadline,
        page_size: args.scan_page_size,
        allow_unpinned: args.allow_unpinned,
        group_retry_budget: args.group_retry_budget,
        handle_signals,
        ..LiveConfig::default()
    })?;
    let sink: Arc<dyn Sink> = if archive {
        args.flags.open_sink(&output)?
    } else {
        if args.flags.force {
            preflight::clear_dump_tree(&output)?;
        }
        Arc::new(
            DirSink::create(&output, args.flags.force)?
                .with_sync(!args.no_sync)
                .with_digest(args.flags.checksums.kind()),
        )
    };
    let summary =
        elastickv_backup_live::dump::write(&session, sink.clone(), &opts, args.flags.threads())?;
    let mut manifest = live_manifest(&session, &opts);
    if embedded.is_some() {
        mark_embedded(&mut manifest);
    }
    pipeline::finalize(sink.as_ref() as &dyn Sink, &manifest)?;
    let read_ts = session.read_ts;
    let groups = session.groups().len();
    let renewals = session.renewals();
    session.end();
    let c = summary.counters;
    tracing::info!(
        "live dump complete: groups={groups} read_ts={read_ts} output={} visible={} dynamodb={} s3={} redis={} sqs={} internal={} unknown={} pin_renewals_total={renewals} elapsed={:.2?}",
        output.display(),
        summary.visible,
        c.adapter[0],
        c.adapter[1],
        c.adapter[2],
        c.adapter[3],
        c.internal,
        c.unknown,
        started.elapsed()
    );
    drop(embedded);
    Ok(())
}
