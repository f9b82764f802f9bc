//! `elastickv-backup restore redis`: replays a dump into a running server.

use crate::error::Error;
use crate::restore::redis::{self, Mode, RestoreError, RestoreOptions};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Replay a dump into a running service through its own protocol.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Which service.
    #[command(subcommand)]
    pub target: RestoreTarget,
}

/// Services `restore` can write to.
#[derive(Subcommand, Debug)]
pub enum RestoreTarget {
    /// Replay `redis/db_<n>/` into Redis or elastickv's Redis adapter over RESP, with
    /// pipelined writes: strings (SET), HLLs (PFADD of elastickv's member set, else SET of
    /// the raw body), hashes (HSET), lists (RPUSH), sets (SADD), zsets (ZADD), streams
    /// (XADD with their IDs, XSETID for a last ID past the last entry), then each key's
    /// expiry (PEXPIREAT; PEXPIRE relative to now on servers without it, e.g. elastickv).
    ///
    /// Keys whose expiry has passed are skipped unless --preserve-ttl. Prints a summary
    /// (keys per type: restored, failed, expired, existing, empty). Exit status: 0 when
    /// every key was restored or skipped on purpose, 1 otherwise.
    Redis(RedisArgs),
}

/// `restore redis` flags.
#[derive(Args, Debug)]
pub struct RedisArgs {
    /// The dump directory (the one holding MANIFEST.json and redis/). Unpack an archive
    /// first; run `elastickv-backup verify` on it before restoring.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,

    /// The server: redis://[[user]:password@]host[:port][/db], or host:port.
    #[arg(long, value_name = "URL")]
    pub address: String,

    /// Database to write into (SELECT). Default: the URL's /db, else the number of the
    /// dump's redis/db_<n>/ directory.
    #[arg(long, value_name = "N")]
    pub db: Option<u32>,

    /// Restore only redis/db_<N>/ of the dump (default: every database in it).
    #[arg(long, value_name = "N")]
    pub source_db: Option<u32>,

    /// Existing keys: replace (delete, then write the dumped value), merge (write into
    /// what is there: fields/members added, list items appended, strings overwritten),
    /// skip-existing (leave keys that exist alone).
    #[arg(long, default_value = "replace", value_name = "MODE",
          value_parser = ["replace", "merge", "skip-existing"])]
    pub mode: String,

    /// Also restore keys whose expiry has already passed, sending that expiry as it is:
    /// the server then removes them at once (and, with --mode replace, the key already
    /// there is deleted too). Without it such keys are skipped and counted as expired.
    #[arg(long)]
    pub preserve_ttl: bool,

    /// At most this many commands per second (a token bucket; bursts up to a tenth of
    /// a second's worth).
    #[arg(long, value_name = "OPS")]
    pub rate_limit: Option<u64>,

    /// Seconds to wait for the connection and for each batch of replies.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,

    /// No progress on stderr (a live line on a terminal, else a log line every 10 s).
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `restore`.
pub fn run(args: RestoreArgs) -> Result<(), Error> {
    match args.target {
        RestoreTarget::Redis(a) => run_redis(a),
    }
}

fn run_redis(a: RedisArgs) -> Result<(), Error> {
    let target = redis::parse_address(&a.address).map_err(|e| Error::Usage(e.to_string()))?;
    let mode: Mode = a.mode.parse().map_err(Error::Usage)?;
    if a.rate_limit == Some(0) {
        return Err(Error::Usage("--rate-limit must be at least 1".into()));
    }
    let mut opts = RestoreOptions::new(a.input, target);
    opts.source_db = a.source_db;
    opts.target_db = a.db;
    opts.mode = mode;
    opts.preserve_ttl = a.preserve_ttl;
    opts.rate_limit = a.rate_limit;
    opts.timeout = Duration::from_secs(a.timeout.max(1));
    opts.progress = !a.quiet;
    let summary = redis::restore(&opts)?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(summary.render().as_bytes());
    let _ = out.flush();
    match summary.failed_total() {
        0 => Ok(()),
        failed => Err(RestoreError::Incomplete { failed }.into()),
    }
}
