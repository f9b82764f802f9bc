//! `elastickv-backup encode`: dump tree → `.fsm` snapshot payload (the reverse of
//! `decode`), for restoring a cluster through its snapshot path.

use super::common::{resolve_adapters, size_arg, AdapterArg, AdapterItemParser};
use crate::failure::Failure;
use clap::Args;
use elastickv_backup_engine::error::Error;
use elastickv_backup_reverse::{self as reverse, EncodeOptions, EncodeReport, DEFAULT_SORT_BUDGET};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Encode a dump directory back into an `.fsm` snapshot payload (a bare payload stream,
/// the format `decode` reads): every record a fresh cluster needs, at generation 1,
/// stamped with the dump's last_commit_ts. Decoding the result gives the dump back.
///
/// Refused: S3 dumps written with --include-incomplete-uploads or --include-orphans (that
/// data has no record to go back to), a tree without MANIFEST.json unless
/// --last-commit-ts is given, and any file the dump format does not allow (the message
/// names it).
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  elastickv-backup encode -i /backups/today -o restore.fsm
  elastickv-backup encode -i /backups/today --adapter dynamodb,s3 -o - | gzip > part.fsm.gz")]
pub struct EncodeArgs {
    /// The dump directory, as `decode` or `dump` wrote it.
    #[arg(long, short = 'i', value_name = "DIR")]
    pub input: PathBuf,

    /// The .fsm file to write, or - for standard output. A file is written beside its
    /// final name and renamed into place only when complete.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,

    /// Adapters to encode, comma-separated (or "all"). The subtrees of the others are left
    /// out of the payload.
    #[arg(long, default_value = "all", value_name = "LIST", value_delimiter = ',',
          value_parser = AdapterItemParser)]
    pub adapter: Vec<Option<AdapterArg>>,

    /// Commit timestamp for the header and every record, instead of MANIFEST.json's
    /// last_commit_ts. Must not be lower than it: restored rows must not carry commit
    /// timestamps above the restored clock ceiling.
    #[arg(long, value_name = "TS")]
    pub last_commit_ts: Option<u64>,

    /// Memory for sorting records before they spill to the system temp dir (bytes; K/M/G
    /// suffixes accepted). Default 64M.
    #[arg(long, value_name = "BYTES", value_parser = size_arg)]
    pub sort_memory: Option<u64>,

    /// Replace an existing output file.
    #[arg(long, short = 'f')]
    pub force: bool,

    /// Logs and reports.
    #[command(flatten)]
    pub observe: super::observe::ObserveArgs,
}

/// Runs the encode command.
pub fn run(args: EncodeArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let opts = EncodeOptions {
        input: args.input.clone(),
        adapters: resolve_adapters(&args.adapter)?,
        last_commit_ts: args.last_commit_ts,
        sort_budget: match &args.sort_memory {
            Some(n) => usize::try_from(*n).unwrap_or(usize::MAX),
            None => DEFAULT_SORT_BUDGET,
        },
    };
    let report = if args.output.as_os_str() == "-" {
        let stdout = std::io::stdout().lock();
        reverse::encode(&opts, BufWriter::with_capacity(1 << 20, stdout), "-")?
    } else {
        write_file(&opts, &args.output, args.force)?
    };
    tracing::info!(
        "dump encoded: input={} output={} entries={} bytes={} last_commit_ts={} sha256={} elapsed={:.2?}",
        args.input.display(),
        args.output.display(),
        report.stats.entries,
        report.stats.bytes,
        report.last_commit_ts,
        hex::encode(report.stats.sha256),
        started.elapsed()
    );
    Ok(())
}

/// Encodes into a temporary file beside `output`, syncs it and renames it into place: a
/// failed or interrupted run leaves no partial `.fsm` under the final name.
fn write_file(opts: &EncodeOptions, output: &Path, force: bool) -> Result<EncodeReport, Failure> {
    let shown = output.display().to_string();
    match std::fs::symlink_metadata(output) {
        Ok(m) if m.is_dir() => {
            return Err(Failure::usage(format!("--output {shown}: is a directory")))
        }
        Ok(_) if !force => {
            return Err(Failure::usage(format!(
                "--output {shown}: already exists; pass --force to replace it"
            )))
        }
        _ => {}
    }
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempfile_in(&dir)
        .map_err(|e| Error::io(dir.display(), e))?;
    let report = {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let r = reverse::encode(opts, &mut w, &shown)?;
        w.flush().map_err(|e| Error::io(&shown, e))?;
        r
    };
    tmp.as_file().sync_all().map_err(|e| Error::io(&shown, e))?;
    tmp.persist(output)
        .map_err(|e| Error::io(&shown, e.error))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(report)
}
