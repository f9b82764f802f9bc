//! `elastickv-backup decode`: snapshot files → dump tree.

use super::common::OutputFlags;
use crate::encode::manifest::{InputInfo, Manifest, PHASE_SNAPSHOT};
use crate::error::Error;
use crate::pipeline;
use crate::sinks::Sink;
use crate::sources::snapshot::SnapshotShard;
use crate::sources::Shard;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Decode `.fsm` snapshot files (one per Raft group) into a logical dump tree.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// A snapshot file: a bare EKVPBBL1 payload, or a runtime fsm-snap/*.fsm file (HLC
    /// header + CRC32C footer, verified before anything is written). Repeat for each shard;
    /// shards may be given in any order and may split the keyspace anywhere.
    #[arg(long, value_name = "FILE")]
    pub input: Vec<String>,

    /// A directory whose every `*.fsm` file is one shard.
    #[arg(long, value_name = "DIR")]
    pub input_snap_dir: Option<PathBuf>,

    /// Output directory (created if missing; must be empty unless --force). With
    /// --archive: the archive file (must not exist unless --force), or - for standard output.
    /// s3://BUCKET/PREFIX/ writes the tree to object storage (s3://BUCKET/KEY with
    /// --archive); see --s3-endpoint.
    #[arg(long, value_name = "DIR|FILE")]
    pub output: PathBuf,

    /// Output-shaping flags.
    #[command(flatten)]
    pub flags: OutputFlags,
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

/// Runs the decode command.
pub fn run(args: DecodeArgs) -> Result<(), Error> {
    let started = Instant::now();
    let opts = args.flags.options()?;
    args.flags.archive()?; // flag errors before any input is read
    let files = input_files(&args.input, args.input_snap_dir.as_ref())?;
    // Open (and verify runtime footers of) every shard in parallel before writing anything.
    let opened: Vec<Result<SnapshotShard, Error>> = std::thread::scope(|s| {
        let hs: Vec<_> = files
            .iter()
            .map(|f| s.spawn(move || SnapshotShard::open(f)))
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("shard open panicked".into())))
            })
            .collect()
    });
    let shards: Vec<SnapshotShard> = opened.into_iter().collect::<Result<_, _>>()?;
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
    eprintln!(
        "elastickv-backup: snapshot decoded: inputs={} output={} visible={} dynamodb={} s3={} redis={} sqs={} internal={} unknown={} hidden(future={} shadowed={} deleted={} expired={}) last_commit_ts={} elapsed={:.2?}",
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
