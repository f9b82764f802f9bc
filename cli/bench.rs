//! `elastickv-backup bench`: generate data in a scratch directory, decode it (and optionally
//! dump it live) in measured child processes, and print per-stage tables, same-run
//! ceilings and ratios. Speed claims of this project come from here (and from the
//! criterion benches), never from tests.

pub(crate) mod ceilings;
pub(crate) mod child;
pub(crate) mod cpu;
pub(crate) mod report;
mod runner;
mod upstream;

use crate::common::size_arg;
use clap::Args;
use elastickv_backup_engine::error::Error;
use elastickv_backup_gen::plan::Mix;
use runner::{BenchConfig, Layout};
use std::path::PathBuf;

/// Measure decode throughput on generated data, per stage, against same-run ceilings.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Size of the generated dataset (e.g. 256MiB, 256M, 1G).
    #[arg(long, default_value = "256MiB", value_name = "BYTES", value_parser = size_arg)]
    pub size: u64,

    /// Shard files of the dataset.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub shards: usize,

    /// DynamoDB layout of the measured runs: per-item or jsonl.
    #[arg(long, default_value = "per-item", value_name = "MODE", value_parser = ["per-item", "jsonl"])]
    pub layout: String,

    /// Worker threads of the measured runs (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N", value_parser = crate::common::parse_threads)]
    pub threads: Option<usize>,

    /// Measure archive output instead of a directory: tar or tar.zst.
    #[arg(long, value_name = "FORMAT", value_parser = ["tar", "tar.zst"])]
    pub archive: Option<String>,

    /// Generator seed.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,

    /// Adapter mix of the dataset (see `gen --mix`).
    #[arg(long, value_name = "ADAPTER=WEIGHT,...")]
    pub mix: Option<String>,

    /// Also run with this many threads and print the speed-up.
    #[arg(long, value_name = "N")]
    pub vs_threads: Option<usize>,

    /// Also run on the same data split into this many shards.
    #[arg(long, value_name = "N")]
    pub vs_shards: Option<usize>,

    /// Also run on a dataset of this size and compare peak RSS.
    #[arg(long, value_name = "BYTES", value_parser = size_arg)]
    pub vs_size: Option<u64>,

    /// Also dump the same data live from the embedded loopback cluster.
    #[arg(long)]
    pub live: bool,

    /// Also decode with `--checksums blake3` and print its speed-up over SHA-256.
    #[arg(long)]
    pub vs_blake3: bool,

    /// Also time upstream's own decoder (an `elastickv-snapshot-decode` binary you built)
    /// against ours, alternated, on one snapshot of the same data with a single version per
    /// key (upstream refuses history and takes one input), and check that both write the
    /// same tree. Always the per-item layout: upstream refuses the bundle layout.
    #[arg(long, value_name = "PATH")]
    pub vs_upstream: Option<PathBuf>,

    /// Skip the ceiling measurements.
    #[arg(long)]
    pub no_ceilings: bool,

    /// Measure every variant (and ceiling) this many times, interleaved; tables and
    /// ratios use the fastest of each (the machine's other load is not controlled).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,

    /// Parent of the scratch directory (default: the system temp directory). Put it on
    /// the disk you care about: ceilings and runs are measured there.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Keep the scratch directory (generated data) instead of removing it.
    #[arg(long)]
    pub keep: bool,
}

impl BenchArgs {
    /// The benchmark these flags describe.
    pub fn config(&self) -> Result<BenchConfig, Error> {
        let threads = self
            .threads
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        if self.shards == 0 || self.vs_shards == Some(0) || self.vs_threads == Some(0) {
            return Err(Error::Usage(
                "--shards, --vs-shards and --vs-threads must be at least 1".into(),
            ));
        }
        if let Some(p) = &self.vs_upstream {
            check_program(p)?;
        }
        Ok(BenchConfig {
            size: self.size,
            shards: self.shards,
            seed: self.seed,
            mix: match &self.mix {
                Some(m) => Mix::parse(m)?,
                None => Mix::default(),
            },
            layout: if self.layout == "jsonl" {
                Layout::Jsonl
            } else {
                Layout::PerItem
            },
            threads,
            archive: self.archive.clone(),
            work_dir: self.work_dir.clone(),
            keep: self.keep,
            ceilings: !self.no_ceilings,
            repeat: self.repeat.max(1),
            vs_threads: self.vs_threads,
            vs_shards: self.vs_shards,
            vs_size: self.vs_size,
            live: self.live,
            vs_blake3: self.vs_blake3,
            vs_upstream: self.vs_upstream.clone(),
        })
    }
}

/// Refuses a `--vs-upstream` path that cannot be run, before minutes of measuring: the
/// comparison runs last.
fn check_program(p: &std::path::Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(p).map_err(|e| {
        Error::Usage(format!(
            "--vs-upstream {}: {e} (give the path of an elastickv-snapshot-decode binary)",
            p.display()
        ))
    })?;
    if !md.is_file() || md.permissions().mode() & 0o111 == 0 {
        return Err(Error::Usage(format!(
            "--vs-upstream {}: not an executable file (give the path of an elastickv-snapshot-decode binary)",
            p.display()
        )));
    }
    Ok(())
}

/// Runs the bench command (tables on standard output).
pub fn run(args: BenchArgs) -> Result<(), Error> {
    let cfg = args.config()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    runner::run(&cfg, &mut out)
}
