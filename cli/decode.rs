//! `elastickv-backup decode`: snapshot files → dump tree.

use super::common::{OutputFlags, HEAD_OUTPUT};
use super::observe::ObserveArgs;
use clap::Args;
use elastickv_backup_engine::encode::manifest::{InputInfo, Manifest, PHASE_SNAPSHOT};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::Sink;
use elastickv_backup_engine::sources::snapshot::ContainerFormat;
use elastickv_backup_engine::sources::snapshot::SnapshotShard;
use elastickv_backup_engine::sources::Shard;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Examples shown at the end of `decode --help`.
const EXAMPLES: &str = "\
Examples:
  # every group's snapshot of one cluster, into a directory
  elastickv-backup decode -i g1.fsm -i g2.fsm -i g3.fsm -o /backups/today

  # every *.fsm file of a directory, DynamoDB items bundled, one compressed archive
  elastickv-backup decode --input-snap-dir fsm-snap/ --dynamodb-bundle-mode jsonl \\
      --archive tar.zst -o today.tar.zst

  # only the Redis database 0, quietly, with metrics for node_exporter
  elastickv-backup decode -q -i g1.fsm --adapter redis --scope redis:0 -o out/ \\
      --metrics-file /var/lib/node_exporter/textfile/elastickv_backup.prom";

/// `--input`'s help: built here rather than written as its doc comment so that the
/// payload magic it names comes from the format crate.
fn input_help() -> String {
    format!(
        "A snapshot file: a bare {} payload, or a runtime fsm-snap/*.fsm file (HLC header + \
         CRC32C footer, verified before anything is written). Repeat for each shard; shards \
         may be given in any order and may split the keyspace anywhere",
        ContainerFormat::Bare.name()
    )
}

/// Decode `.fsm` snapshot files (one per Raft group) into a logical dump tree.
///
/// The output is the tree elastickv's own decoder writes (byte for byte), plus
/// MANIFEST.json and CHECKSUMS, which are written last: a failed run leaves neither.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct DecodeArgs {
    /// A snapshot file: a bare payload, or a runtime fsm-snap/*.fsm file. Its help text
    /// (built by `input_help`) names the payload's magic.
    #[arg(
        help = input_help(),
        long,
        short = 'i',
        value_name = "FILE",
        required_unless_present = "input_snap_dir",
        conflicts_with = "input_snap_dir",
        help_heading = "Input"
    )]
    pub input: Vec<String>,

    /// A directory whose every `*.fsm` file is one shard.
    #[arg(long, value_name = "DIR", help_heading = "Input")]
    pub input_snap_dir: Option<PathBuf>,

    /// Output directory (created if missing; must be empty unless --force). With
    /// --archive: the archive file (must not exist unless --force), or - for standard output.
    /// s3://BUCKET/PREFIX/ writes the tree to object storage (s3://BUCKET/KEY with
    /// --archive); see --s3-endpoint.
    #[arg(long, short = 'o', value_name = "DIR|FILE", help_heading = HEAD_OUTPUT)]
    pub output: PathBuf,

    /// Output-shaping flags.
    #[command(flatten)]
    pub flags: OutputFlags,

    /// Logs, progress and metrics.
    #[command(flatten)]
    pub observe: ObserveArgs,
}

/// Collects `--input` and `--input-snap-dir` files.
pub fn input_files(input: &[String], dir: Option<&PathBuf>) -> Result<Vec<String>, Error> {
    let mut files = input.to_vec();
    if let Some(d) = dir {
        let mut found: Vec<String> = std::fs::read_dir(d)
            .map_err(|e| Error::io(d.display(), e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "fsm") && p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "--input-snap-dir {}: no *.fsm files there",
                d.display()
            )));
        }
        files.extend(found);
    }
    if files.is_empty() {
        return Err(Error::Usage(
            "--input is required (or --input-snap-dir)".into(),
        ));
    }
    Ok(files)
}

/// Opens (and verifies the runtime footers of) every shard before anything is written, as
/// a parallel map on a pool of `threads` (not one thread per file: 1,000 shard files would
/// otherwise CRC at once). The first error in input order is returned.
pub fn open_shards(files: &[String], threads: usize) -> Result<Vec<SnapshotShard>, Error> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.clamp(1, files.len().max(1)))
        .thread_name(|i| format!("ekvb-open-{i}"))
        .build()
        .map_err(|e| Error::Internal(format!("starting the shard-open pool: {e}")))?;
    pool.install(|| files.par_iter().map(|f| SnapshotShard::open(f)).collect())
}

/// Runs the decode command.
pub fn run(args: DecodeArgs) -> Result<(), Error> {
    let started = Instant::now();
    let opts = args.flags.options()?;
    args.flags.archive()?; // flag errors before any input is read
    let files = input_files(&args.input, args.input_snap_dir.as_ref())?;
    let shards = open_shards(&files, args.flags.threads())?;
    let inputs: Vec<InputInfo> = shards
        .iter()
        .map(|s| InputInfo {
            name: s.path.clone(),
            format: s.format().name().to_string(),
            read_ts: s.last_commit_ts(),
            snapshot_index: s.snapshot_index(),
        })
        .collect();
    let last_commit_ts = shards.iter().map(|s| s.last_commit_ts()).max().unwrap_or(0);
    let snapshot_index = if shards.len() == 1 {
        shards[0].snapshot_index().unwrap_or(0)
    } else {
        0
    };
    let sink: Arc<dyn Sink> = args.flags.open_sink(&args.output)?;
    let dyn_shards: Vec<Arc<dyn Shard>> = shards
        .into_iter()
        .map(|s| Arc::new(s) as Arc<dyn Shard>)
        .collect();
    let summary = pipeline::write_data(dyn_shards, sink.clone(), &opts, args.flags.threads())
        .map_err(|e| with_input(e, &files))?;
    let manifest = Manifest {
        phase: PHASE_SNAPSHOT,
        elastickv_version: "dev".into(),
        cluster_id: opts.cluster_id.clone(),
        snapshot_index,
        last_commit_ts,
        wall_time: time::OffsetDateTime::now_utc(),
        fsm_path: Some(files.join(",")),
        live: None,
        adapters: opts.adapters.clone(),
        opts: opts.clone(),
        consistency: None,
        inputs: if files.len() > 1 { inputs } else { vec![] },
    };
    pipeline::finalize(sink.as_ref(), &manifest)?;
    let c = summary.counters;
    tracing::info!(
        "snapshot decoded: inputs={} output={} visible={} dynamodb={} s3={} redis={} sqs={} internal={} unknown={} hidden(future={} shadowed={} deleted={} expired={}) skipped={} last_commit_ts={} elapsed={:.2?}",
        files.len(),
        args.output.display(),
        summary.visible,
        c.adapter[0],
        c.adapter[1],
        c.adapter[2],
        c.adapter[3],
        c.internal,
        c.unknown,
        summary.hidden.future,
        summary.hidden.shadowed,
        summary.hidden.deleted,
        summary.hidden.expired,
        elastickv_backup_engine::progress::counters()
            .skipped
            .load(std::sync::atomic::Ordering::Relaxed),
        last_commit_ts,
        started.elapsed()
    );
    Ok(())
}

/// Adapter errors get upstream's `decode <input>: ` prefix (snapshot errors carry their
/// own file name already).
fn with_input(e: Error, files: &[String]) -> Error {
    match e {
        Error::DynamoDb(_) | Error::S3(_) | Error::Redis(_) | Error::Sqs(_) => Error::Decode {
            input: files.join(","),
            source: Box::new(e),
        },
        e => e,
    }
}
