//! The hidden `__bench-child` command: `bench` runs each measured command line in a child
//! process of the same binary, so the child's peak RSS and stage counters are its own
//! (`crate::bench::child` spawns it and reads the counters it writes).

use clap::Args;
use elastickv_backup_engine::error::Error;
use std::path::PathBuf;
use std::time::Instant;

/// Hidden: run a command with stage timing and write its counters (used by `bench`).
#[derive(Args, Debug)]
pub struct ChildArgs {
    /// Where to write the counters (JSON).
    #[arg(long, value_name = "FILE")]
    pub stats: PathBuf,

    /// The command line to run (e.g. `decode --input-snap-dir ...`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// Runs the hidden child command (in the child process).
pub fn run_child(args: ChildArgs) -> Result<(), crate::Failure> {
    use clap::Parser;
    elastickv_backup_engine::progress::enable_stage_timing();
    let argv = std::iter::once("elastickv-backup".to_string()).chain(args.command);
    let cli =
        super::Cli::try_parse_from(argv).map_err(|e| Error::Usage(format!("bench child: {e}")))?;
    let started = Instant::now();
    super::run(cli)?;
    let stats = crate::bench::child::collect(started.elapsed());
    let json = serde_json::to_vec(&stats).map_err(|e| Error::Internal(e.to_string()))?;
    std::fs::write(&args.stats, json).map_err(|e| Error::io(args.stats.display(), e))?;
    Ok(())
}
