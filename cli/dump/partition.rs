//! `dump begin`, `dump --join TOKEN --partition I/N` and `dump finish`: one live dump
//! written by several processes (hosts, pods of a Kubernetes Indexed Job) under one pin.
//! The logic is in `elastickv_backup_live::dump::partition`; this module maps flags and the
//! Indexed Job's environment onto it and prints what each step did.

use super::link::TlsArgs;
use super::{admin_token, group_endpoints, DumpArgs};
use crate::common::OutputFlags;
use clap::{Args, Subcommand};
use elastickv_backup_engine::encode::manifest::{InputInfo, LiveInfo, Manifest, PHASE_LIVE};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::preflight;
use elastickv_backup_live::dump::partition::join::{Join, Outcome};
use elastickv_backup_live::dump::partition::merge::{self, PartRecord};
use elastickv_backup_live::dump::partition::plan::{PartitionIndex, Plan};
use elastickv_backup_live::dump::partition::token::{Token, TOKEN_FILE};
use elastickv_backup_live::dump::partition::{job_dir, JOB_DIR};
use elastickv_backup_live::dump::resume::journal::OptionsRecord;
use elastickv_backup_live::dump::resume::sums::FinalSink;
use elastickv_backup_live::source::client::Dialer;
use elastickv_backup_live::source::pin;
use elastickv_backup_live::source::tls::ClientTlsFiles;
use elastickv_backup_live::source::topology::parse_seeds;
use elastickv_backup_live::source::{LiveConfig, LiveSession};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Kubernetes Indexed Job: this pod's index (set by Kubernetes).
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// The job's completion count (not set by Kubernetes: the manifest sets it, so a mismatch
/// with the plan is caught).
pub const COUNT_ENV: &str = "JOB_COMPLETIONS";

/// Default pin TTL of `dump begin`: 1 h, the largest a default-configured cluster grants
/// (`backup_max_ttl_ms`). The pin must outlive the gap between `begin` and the start of the
/// last partition (scheduling, image pulls, volume attach); while a partition runs it
/// renews the pin every ttl/3.
pub const BEGIN_TTL_MS: u64 = 3_600_000;

/// The steps of a partitioned dump that are not a partition.
#[derive(Subcommand, Debug)]
pub enum DumpStep {
    /// Partitioned dump, step 1: pin a read timestamp, plan the partitions and write the
    /// pin token DIR/.elastickv-backup-job/token.json (its path is printed on stdout).
    /// Then run `dump --join TOKEN --partition I/N` for every I (on any hosts sharing DIR),
    /// then `dump finish --output DIR`.
    Begin(Box<BeginArgs>),
    /// Partitioned dump, last step: check every partition finished, merge their digests
    /// into CHECKSUMS, write MANIFEST.json, end the pin and remove the job directory.
    Finish(FinishArgs),
}

/// `dump --join`: run one partition of a job started by `dump begin`.
#[derive(Args, Debug, Default)]
pub struct JoinArgs {
    /// Run one partition of a partitioned dump: TOKEN_FILE is the pin token `dump begin`
    /// wrote (DIR/.elastickv-backup-job/token.json); the share is written into DIR (the
    /// token's grandparent unless --output). Output options come from the token.
    #[arg(long, value_name = "TOKEN_FILE", conflicts_with_all = ["embedded", "resumable", "resume"], help_heading = "Partitioned dump")]
    pub join: Option<PathBuf>,

    /// Which partition: I/N, I from 0 (default: $JOB_COMPLETION_INDEX of a Kubernetes
    /// Indexed Job, N from $JOB_COMPLETIONS or the token's plan).
    #[arg(long, value_name = "I/N", requires = "join", value_parser = parse_partition, help_heading = "Partitioned dump")]
    pub partition: Option<PartitionIndex>,
}

fn parse_partition(s: &str) -> Result<PartitionIndex, String> {
    PartitionIndex::parse(s).map_err(|e| e.to_string())
}

/// `dump begin`.
#[derive(Args, Debug)]
pub struct BeginArgs {
    /// Seed node listener (host:port); repeat it or give a comma list for several seeds.
    /// Recorded in the token: partitions and `finish` use it unless given --address.
    #[arg(long, value_name = "HOST:PORT", required = true)]
    pub address: Vec<String>,

    /// Read group GROUP from HOST:PORT (repeatable; recorded in the token).
    #[arg(long, value_name = "GROUP=HOST:PORT")]
    pub group_endpoint: Vec<String>,

    /// The shared output directory (absent or empty; every partition writes into it).
    #[arg(long, short = 'o', visible_alias = "output-dir", value_name = "DIR")]
    pub output: PathBuf,

    /// Partitions that will join (N of --partition I/N; completions of the Indexed Job).
    /// The unit is the adapter, so at most 4 partitions have work.
    #[arg(long, value_name = "N")]
    pub partitions: u32,

    /// Pin lifetime. It must cover the gap until the last partition starts (each renews
    /// it every ttl/3 while it runs); the default 1 h is a default cluster's maximum.
    #[arg(long, default_value_t = BEGIN_TTL_MS, value_name = "MS")]
    pub ttl_ms: u64,

    /// Catch-up deadline of BeginBackup (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = crate::common::duration_arg)]
    pub begin_backup_deadline: std::time::Duration,

    /// How the nodes are dialled (give every partition and `finish` the same TLS files).
    #[command(flatten)]
    pub tls: TlsArgs,

    /// Bearer token for the Admin service (prefer --admin-token-file or
    /// $ELASTICKV_ADMIN_TOKEN).
    #[arg(long, value_name = "TOKEN", conflicts_with = "admin_token_file")]
    pub admin_token: Option<String>,

    /// File holding the Admin bearer token.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// What to dump and how (recorded in the token for every partition).
    #[command(flatten, next_help_heading = "Output")]
    pub flags: OutputFlags,
}

/// `dump finish`.
#[derive(Args, Debug)]
pub struct FinishArgs {
    /// The shared output directory given to `dump begin`.
    #[arg(long, short = 'o', visible_alias = "output-dir", value_name = "DIR")]
    pub output: PathBuf,

    /// Leave the pin held (it expires by its TTL) instead of ending it.
    #[arg(long)]
    pub keep_pin: bool,

    /// Seeds to end the pin through (default: the token's).
    #[arg(long, value_name = "HOST:PORT")]
    pub address: Vec<String>,

    /// Bearer token for the Admin service.
    #[arg(long, value_name = "TOKEN", conflicts_with = "admin_token_file")]
    pub admin_token: Option<String>,

    /// File holding the Admin bearer token.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// How the nodes are dialled (the TLS files given to `dump begin`).
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `dump begin` or `dump finish`.
pub fn run_step(step: DumpStep, handle_signals: bool) -> Result<(), Error> {
    match step {
        DumpStep::Begin(a) => run_begin(*a, handle_signals),
        DumpStep::Finish(a) => run_finish(a),
    }
}

/// Refuses outputs a partitioned dump cannot write: archives and object storage need one
/// writer, and `--force` would mix a partition's files with older ones.
fn directory_only(flags: &OutputFlags, output: &Path, step: &str) -> Result<(), Error> {
    if flags.archive.is_some() {
        return Err(Error::Usage(format!(
            "{step}: --archive cannot be combined with a partitioned dump: partitions write into one shared directory (archive it after `dump finish`)"
        )));
    }
    if flags.s3_output(output)?.is_some() {
        return Err(Error::Usage(format!(
            "{step}: a partitioned dump writes into a shared directory, not s3:// (copy it after `dump finish`, or dump to s3:// with a single process)"
        )));
    }
    if flags.force {
        return Err(Error::Usage(format!(
            "{step}: --force cannot be combined with a partitioned dump: it writes only into an empty directory"
        )));
    }
    Ok(())
}

fn run_begin(a: BeginArgs, handle_signals: bool) -> Result<(), Error> {
    let opts = a.flags.options()?;
    directory_only(&a.flags, &a.output, "dump begin")?;
    preflight::check_dir(&a.output, false)?;
    // The plan's size is checked before anything is pinned.
    Plan::balance(&[], &opts, a.partitions)?;
    let address = a.address.join(",");
    let endpoints = group_endpoints(&a.group_endpoint)?;
    let mut session = LiveSession::begin(LiveConfig {
        address: address.clone(),
        group_endpoints: endpoints.clone(),
        admin_token: admin_token(&a.admin_token, &a.admin_token_file)?,
        ttl_ms: a.ttl_ms,
        begin_backup_deadline: a.begin_backup_deadline,
        tls: a.tls.files(),
        handle_signals,
        ..LiveConfig::default()
    })?;
    let Some(held) = session.held_pin() else {
        return Err(Error::Usage(
            "dump begin needs a pinned read timestamp, and this cluster cannot pin one (no Phase 1 backup RPCs); dump it with a single process".into(),
        ));
    };
    let plan = Plan::balance(&held.expected, &opts, a.partitions)?;
    let token = Token::new(&address, endpoints, a.ttl_ms, &held, &opts, plan);
    let jdir = job_dir(&a.output);
    std::fs::create_dir_all(&a.output).map_err(|e| Error::io(a.output.display(), e))?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&jdir)
        .map_err(|e| Error::io(jdir.display(), e))?;
    token.save(&jdir)?;
    // Only now may the pin outlive this process: the token names it.
    session.keep_pin_on_drop(true);
    drop(session);
    for (i, s) in token.plan.shares.iter().enumerate() {
        tracing::info!(
            "partition {i}/{}: {} ({} baseline keys)",
            token.plan.partitions,
            if s.adapters.is_empty() {
                "nothing (more partitions than adapters: the unit is the adapter)".to_string()
            } else {
                s.adapters.join(", ")
            },
            s.keys
        );
    }
    let path = jdir.join(TOKEN_FILE);
    tracing::info!(
        "pinned read_ts={} for {} partition(s) (ttl {} ms: start every partition before it lapses); token {}",
        token.read_ts,
        token.plan.partitions,
        token.ttl_ms,
        path.display()
    );
    println!("{}", path.display());
    Ok(())
}

/// The partition from `--partition` or the Indexed Job's environment.
fn partition_of(flag: Option<PartitionIndex>, plan: &Plan) -> Result<PartitionIndex, Error> {
    if let Some(p) = flag {
        return Ok(p);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let Some(index) = env(INDEX_ENV) else {
        return Err(Error::Usage(format!(
            "--join needs --partition I/N (or ${INDEX_ENV}, which a Kubernetes Indexed Job sets)"
        )));
    };
    let count = env(COUNT_ENV).unwrap_or_else(|| plan.partitions.to_string());
    Ok(PartitionIndex::parse(&format!(
        "{}/{}",
        index.trim(),
        count.trim()
    ))?)
}

/// The output root of a join: `--output`, else the token's grandparent when the token is
/// in its job directory.
fn join_root(output: Option<&Path>, token_path: &Path) -> Result<PathBuf, Error> {
    if let Some(o) = output {
        return Ok(o.to_path_buf());
    }
    let parent = token_path.parent().filter(|p| p.ends_with(JOB_DIR));
    match parent.and_then(Path::parent) {
        Some(root) if root.as_os_str().is_empty() => Ok(PathBuf::from(".")),
        Some(root) => Ok(root.to_path_buf()),
        None => Err(Error::Usage(format!(
            "{}: not inside a {JOB_DIR} directory; give --output DIR (the directory of `dump begin`)",
            token_path.display()
        ))),
    }
}

/// `dump --join TOKEN [--partition I/N]`.
pub fn run_join(args: DumpArgs, handle_signals: bool) -> Result<(), Error> {
    let started = Instant::now();
    let Some(token_path) = args.part.join.clone() else {
        return Err(Error::Internal("run_join without --join".into()));
    };
    let root = join_root(args.output.as_deref(), &token_path)?;
    directory_only(&args.flags, &root, "dump --join")?;
    let given = args.flags.options()?;
    let token = Token::load(&token_path)?;
    let p = partition_of(args.part.partition, &token.plan)?;
    token.plan.share(p)?;
    if OptionsRecord::from_options(&given) != OptionsRecord::from_options(&DecodeOptions::default())
        && OptionsRecord::from_options(&given) != token.options
    {
        return Err(Error::Usage(format!(
            "dump --join: the output options given differ from the ones `dump begin` recorded ({:?}); omit them",
            token.options
        )));
    }
    let cfg = LiveConfig {
        address: if args.address.is_empty() {
            token.address.clone()
        } else {
            args.address.join(",")
        },
        group_endpoints: if args.group_endpoint.is_empty() {
            token.group_endpoints.clone()
        } else {
            group_endpoints(&args.group_endpoint)?
        },
        admin_token: admin_token(&args.admin_token, &args.admin_token_file)?,
        page_size: args.scan_page_size,
        group_retry_budget: args.group_retry_budget,
        tls: args.link.tls(),
        limits: args.link.limits(),
        handle_signals,
        ..LiveConfig::default()
    };
    let jdir = job_dir(&root);
    let join = Join {
        root: &root,
        job_dir: &jdir,
        token: &token,
        partition: p,
        threads: args.flags.threads(),
        sync: !args.no_sync,
    };
    match join.run(cfg)? {
        Outcome::AlreadyDone(r) => tracing::info!(
            "partition {p} had already finished ({} files: {}); nothing to do",
            r.files,
            r.adapters.join(", ")
        ),
        Outcome::Dumped { record, renewals } => tracing::info!(
            "partition {p} complete: read_ts={} adapters={} files={} visible={} output={} pin_renewals_total={renewals} elapsed={:.2?}",
            token.read_ts,
            if record.adapters.is_empty() { "none".into() } else { record.adapters.join(",") },
            record.files,
            record.visible,
            root.display(),
            started.elapsed()
        ),
    }
    Ok(())
}

/// MANIFEST.json of a partitioned dump: what a single-process dump at the same pin writes
/// (see `live_manifest`), with the groups as the first partition saw them.
fn manifest(token: &Token, opts: &DecodeOptions, first: &PartRecord) -> Manifest {
    Manifest {
        phase: PHASE_LIVE,
        elastickv_version: "dev".into(),
        cluster_id: opts.cluster_id.clone(),
        snapshot_index: 0,
        last_commit_ts: token.read_ts,
        wall_time: time::OffsetDateTime::now_utc(),
        fsm_path: None,
        live: Some(LiveInfo {
            read_ts: token.read_ts,
            pin_token_sha256: Some(token.backup_id.clone()),
            pinned: None,
        }),
        adapters: opts.adapters.clone(),
        opts: opts.clone(),
        consistency: None,
        inputs: first
            .inputs
            .iter()
            .map(|i| InputInfo {
                name: i.name.clone(),
                format: "grpc".into(),
                read_ts: i.read_ts,
                snapshot_index: None,
            })
            .collect(),
    }
}

/// Ends the job's pin through the first seed that answers (failure is a warning: the pin
/// expires by its TTL).
fn end_pin(
    seeds: &[String],
    admin: Option<&str>,
    tls: &ClientTlsFiles,
    pin_token: &[u8],
) -> Result<bool, Error> {
    let dialer = Dialer::new(seeds, admin.map(str::to_string), tls)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    Ok(rt.block_on(async {
        for seed in seeds {
            match dialer.connect(seed).await {
                Ok(c) => {
                    if pin::end(&c, pin_token).await {
                        return true;
                    }
                }
                Err(e) => tracing::warn!("seed {seed}: {e}"),
            }
        }
        false
    }))
}

fn run_finish(a: FinishArgs) -> Result<(), Error> {
    let root = a.output.as_path();
    let jdir = job_dir(root);
    let token = Token::load(&jdir.join(TOKEN_FILE))?;
    let _lock = finish_lock(&jdir)?;
    let opts = token.options()?;
    let parts = merge::finished_parts(root, &jdir, &token)?;
    let digests = merge::merged_digests(&jdir, &parts)?;
    let Some(first) = parts.first() else {
        return Err(Error::Internal("a plan without partitions".into()));
    };
    let files = digests.len();
    let sink = FinalSink::new(root, digests, opts.checksums)?;
    pipeline::finalize(&sink, &manifest(&token, &opts, first))?;
    let ended = if a.keep_pin {
        false
    } else {
        let seeds = if a.address.is_empty() {
            parse_seeds(std::slice::from_ref(&token.address))
        } else {
            parse_seeds(&a.address)
        };
        let admin = admin_token(&a.admin_token, &a.admin_token_file)?;
        end_pin(
            &seeds,
            admin.as_deref(),
            &a.tls.files(),
            &token.pin_token_bytes()?,
        )?
    };
    if let Err(e) = std::fs::remove_dir_all(&jdir) {
        tracing::warn!(
            "the dump is complete but its job directory {} could not be removed: {e}",
            jdir.display()
        );
    }
    tracing::info!(
        "partitioned dump complete: read_ts={} partitions={} files={} output={} pin={}",
        token.read_ts,
        token.plan.partitions,
        files,
        root.display(),
        match (a.keep_pin, ended) {
            (true, _) => "kept (expires by its TTL)",
            (false, true) => "ended",
            (false, false) => "not ended (expires by its TTL)",
        }
    );
    Ok(())
}

/// One `finish` at a time per job.
fn finish_lock(jdir: &Path) -> Result<std::fs::File, Error> {
    let busy = format!(
        "{}: another `dump finish` is running on this output",
        jdir.display()
    );
    elastickv_backup_live::dump::exclusive_lock(&jdir.join("finish.lock"), &busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_root_is_the_tokens_grandparent_or_output() {
        let t = Path::new("/data/dump/.elastickv-backup-job/token.json");
        assert_eq!(join_root(None, t).unwrap(), Path::new("/data/dump"));
        assert_eq!(
            join_root(Some(Path::new("/x")), t).unwrap(),
            Path::new("/x")
        );
        assert!(join_root(None, Path::new("/tmp/token.json")).is_err());
        assert_eq!(
            join_root(None, Path::new(".elastickv-backup-job/token.json")).unwrap(),
            Path::new(".")
        );
    }
}
