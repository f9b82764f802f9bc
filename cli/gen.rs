//! `elastickv-backup gen`: deterministic synthetic cluster data as N `.fsm` shard files, for
//! benchmarks, restore drills and tests at any size (decode them with `decode
//! --input-snap-dir`, or serve them with `dev serve --input-snap-dir`).

use super::common::size_arg;
use clap::Args;
use elastickv_backup_engine::error::Error;
use elastickv_backup_gen::plan::{generate, GenConfig, Mix};
use std::path::PathBuf;

/// Generate synthetic cluster data: N snapshot shards covering contiguous key ranges.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Directory for the shard files (created if missing; must hold no .fsm file).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,

    /// Number of shard files (Raft groups); each a contiguous key range of about the same
    /// size.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub shards: usize,

    /// Approximate total size of the shard files (e.g. 256MiB, 256M, 1G).
    #[arg(long, value_name = "BYTES", value_parser = size_arg)]
    pub size: u64,

    /// Seed; the same seed, size and mix always give the same bytes.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,

    /// Share of each adapter's bytes, e.g. dynamodb=30,s3=40,redis=20,sqs=10 (the default).
    #[arg(long, value_name = "ADAPTER=WEIGHT,...")]
    pub mix: Option<String>,
}

impl GenArgs {
    /// The generator configuration these flags describe.
    pub fn config(&self) -> Result<GenConfig, Error> {
        if self.shards == 0 || self.shards > 10_000 {
            return Err(Error::Usage(format!(
                "--shards {}: expected 1 to 10000",
                self.shards
            )));
        }
        Ok(GenConfig {
            size: self.size,
            shards: self.shards,
            seed: self.seed,
            mix: match &self.mix {
                Some(m) => Mix::parse(m)?,
                None => Mix::default(),
            },
        })
    }
}

/// Runs the gen command.
pub fn run(args: GenArgs) -> Result<(), Error> {
    let cfg = args.config()?;
    let report = generate(&cfg, &args.output)?;
    eprintln!(
        "elastickv-backup: generated {} (seed {}):\n{}",
        args.output.display(),
        cfg.seed,
        report.describe()
    );
    Ok(())
}
