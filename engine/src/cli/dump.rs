//! `elastickv-backup dump`: a point-in-time dump of a running cluster (spec 50), or — without
//! `--address` — of an embedded loopback cluster seeded with the sample dataset.

use super::common::OutputFlags;
use crate::encode::manifest::{Manifest, PHASE_LIVE};
use crate::error::Error;
use crate::options::DecodeOptions;
use crate::pipeline;
use crate::server::{LoopbackServer, ServerConfig};
use crate::sinks::Sink;
use crate::sources::live::resume::journal::OptionsRecord;
use crate::sources::live::resume::Runner;
use crate::sources::live::{LiveConfig, LiveSession};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Dump a running cluster at one pinned read timestamp.
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// Seed node listener (host:port). Without it, an embedded loopback cluster seeded with
    /// a sample of every adapter is started and dumped over real gRPC.
    #[arg(long, value_name = "HOST:PORT")]
    pub address: Option<String>,

    /// Output directory (created if missing; must be empty unless --force), or
    /// s3://BUCKET/PREFIX/ (see --s3-endpoint).
    #[arg(
        long,
        visible_alias = "output-dir",
        value_name = "DIR",
        required_unless_present = "resume"
    )]
    pub output: Option<PathBuf>,

    /// Make the dump resumable: write it adapter by adapter with a journal in
    /// DIR/.elastickv-backup-resume/, and on a failure that a retry can repair (a group
    /// still down after --group-retry-budget, SIGINT/SIGTERM, a full disk, a lost
    /// connection) keep the pin instead of releasing it, so `--resume DIR` can finish the
    /// dump at the same read timestamp. The pin then expires by its TTL unless resumed.
    /// Needs --address and an empty output directory.
    #[arg(long, requires = "address")]
    pub resumable: bool,

    /// Finish an interrupted --resumable dump in DIR under its still-held pin: adapters it
    /// finished are kept and not read again, the others are written from scratch. Output
    /// options come from the journal; --address defaults to the recorded one; give the
    /// admin token again.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "resumable"])]
    pub resume: Option<PathBuf>,

    /// Requested pin lifetime (BeginBackup ttl_ms; renewed every ttl/3).
    #[arg(long, default_value_t = 1_800_000, value_name = "MS")]
    pub ttl_ms: u64,

    /// Catch-up deadline of BeginBackup (e.g. 5s, 500ms). Sizes the call's deadline; passed
    /// to the embedded cluster as its configuration.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub begin_backup_deadline: String,

    /// Minimum snapshot headroom (embedded cluster configuration; advisory for a remote one).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub snapshot_headroom_entries: u64,

    /// Keys per RawScanAt page (1..=1025).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub scan_page_size: usize,

    /// Bearer token for the cluster's Admin service (prefer --admin-token-file: arguments are
    /// visible to other users of the machine).
    #[arg(long, value_name = "TOKEN", conflicts_with = "admin_token_file")]
    pub admin_token: Option<String>,

    /// File holding the Admin bearer token (trailing newline ignored).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// If the cluster cannot pin a read timestamp (no Phase 1 RPCs), dump anyway at its
    /// latest committed timestamp — best effort, loudly marked in MANIFEST.json.
    #[arg(long)]
    pub allow_unpinned: bool,

    /// How long one group may keep failing (with backoff) before the dump gives up.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub group_retry_budget: String,

    /// Raft groups of the embedded cluster (only without --address).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub groups: u64,

    /// Sample size of the embedded cluster (only without --address).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub sample_scale: usize,

    /// Output-shaping flags.
    #[command(flatten)]
    pub flags: OutputFlags,
}

/// Parses `500ms`, `5s`, `2m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| Error::Usage(format!("{s}: invalid duration (use e.g. 500ms, 5s, 2m)")))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(Error::Usage(format!(
                "{s}: invalid duration unit (ms, s, m, h)"
            )))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| Error::Usage(format!("{s}: invalid duration")))
}

/// The token from `--admin-token` or `--admin-token-file`.
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
        None => Ok(None),
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
    let cfg = LiveConfig {
        address: args.address.clone().unwrap_or_default(),
        admin_token: admin_token(&args.admin_token, &args.admin_token_file)?,
        ttl_ms: args.ttl_ms,
        begin_backup_deadline: parse_duration(&args.begin_backup_deadline)?,
        page_size: args.scan_page_size,
        allow_unpinned: args.allow_unpinned,
        group_retry_budget: parse_duration(&args.group_retry_budget)?,
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
    let names =
        |v: &[crate::decode::AdapterKind]| v.iter().map(|a| a.name()).collect::<Vec<_>>().join(",");
    eprintln!(
        "elastickv-backup: live dump complete: groups={} read_ts={} output={} runs={} written={} skipped={} visible={} pin_renewals_total={} elapsed={:.2?}",
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
pub fn run_dump_with(args: DumpArgs, handle_signals: bool) -> Result<(), Error> {
    if args.resumable || args.resume.is_some() {
        return run_resumable(args, handle_signals);
    }
    let output = args
        .output
        .clone()
        .ok_or_else(|| Error::Usage("--output is required".into()))?;
    let started = Instant::now();
    let opts = args.flags.options()?;
    let token = admin_token(&args.admin_token, &args.admin_token_file)?;
    let begin_deadline = parse_duration(&args.begin_backup_deadline)?;
    let embedded = match &args.address {
        Some(_) => None,
        None => {
            let cfg = ServerConfig {
                groups: args.groups.max(1),
                admin_token: token.clone(),
                begin_backup_deadline: begin_deadline,
                snapshot_headroom_entries: args.snapshot_headroom_entries,
                ..ServerConfig::default()
            };
            let entries = crate::server::load::from_pairs(
                crate::gen::sample(args.sample_scale),
                crate::gen::EPOCH_MS << 16,
            );
            let server = LoopbackServer::start(cfg, "127.0.0.1:0", entries)?;
            eprintln!(
                "elastickv-backup: no --address: dumping an embedded {}-group loopback cluster with sample data at {}",
                args.groups.max(1),
                server.addr()
            );
            Some(server)
        }
    };
    let address = match (&args.address, &embedded) {
        (Some(a), _) => a.clone(),
        (None, Some(s)) => s.addr().to_string(),
        (None, None) => return Err(Error::Internal("no address".into())),
    };
    let session = LiveSession::begin(LiveConfig {
        address,
        admin_token: token,
        ttl_ms: args.ttl_ms,
        begin_backup_deadline: begin_deadline,
        page_size: args.scan_page_size,
        allow_unpinned: args.allow_unpinned,
        group_retry_budget: parse_duration(&args.group_retry_budget)?,
        handle_signals,
        ..LiveConfig::default()
    })?;
    let sink = args.flags.open_sink(&output)?;
    let summary = session.write(sink.clone(), &opts, args.flags.threads())?;
    pipeline::finalize(sink.as_ref() as &dyn Sink, &live_manifest(&session, &opts))?;
    let read_ts = session.read_ts;
    let groups = session.groups().len();
    let renewals = session.renewals();
    session.end();
    let c = summary.counters;
    eprintln!(
        "elastickv-backup: live dump complete: groups={groups} read_ts={read_ts} output={} visible={} dynamodb={} s3={} redis={} sqs={} internal={} unknown={} pin_renewals_total={renewals} elapsed={:.2?}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
