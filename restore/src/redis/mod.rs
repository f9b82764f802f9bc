//! `elastickv-backup restore redis`: replays a dump's `redis/db_<n>/` tree into a Redis
//! server (or elastickv's Redis adapter) over plain RESP2 with pipelined writes.
//!
//! Per type: strings `SET` (+ sidecar TTL), HLLs `PFADD` of elastickv's member set or `SET`
//! of an opaque body, hashes `HSET`, lists `RPUSH`, sets `SADD`, zsets `ZADD`, streams
//! `XADD` with their IDs (then `XSETID` when the last ID is past the last entry). Expiries
//! go out as `PEXPIREAT` (or `PEXPIRE` relative to now where the server lacks PEXPIREAT,
//! as elastickv does). Only commands elastickv's adapter implements are required.
//!
//! ## Why not the `redis` crate (decided by measurement, redis 1.8.2)
//!
//! Probed against a local `redis-server` with a pipeline whose second of three commands
//! fails (WRONGTYPE): the crate reports `Pipeline failure: [(Index 1, …)]` and the third
//! command is applied, so per-key error attribution would survive a switch. 200 000
//! pipelined 100-byte SETs (1000 per batch) took 0.48 s through it — the server, not the
//! client, bounds both. Its build added 35 s of CPU (release, 39 crates). What it cannot do
//! is what [`Client::send_from`] does: stream a large string or stream value from the dump
//! file to the socket without holding it in memory (each `Cmd::arg` is an in-memory
//! buffer), which the bounded-memory test (`tests/redis_memory.rs`) relies on. No clear
//! gain, one loss: the hand-written client stays.

mod client;
mod collection;
mod commands;
use crate::error::redis as error;
mod hll;
mod json;
mod kind;
mod pipeline;
pub(crate) mod ratelimit;
mod replay;
mod resp;
mod source;
mod stream;
mod summary;
mod url;
mod value;

pub use client::Client;
pub use error::RestoreError;
pub use kind::Kind;
pub use replay::TtlMode;
pub use resp::Reply;
pub use summary::Summary;
pub use url::{parse as parse_address, AddressError, Target};

use client::is_unknown_command;
use elastickv_backup_dumptree::redis::names::Listing;
use elastickv_backup_engine::progress::{Reporter, ReporterConfig};
use pipeline::Pipe;
use ratelimit::TokenBucket;
use replay::Replayer;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to do with keys that already exist on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Delete each key, then write the dump's value: the key ends up exactly as dumped.
    Replace,
    /// Write into what is there: hash fields, set and zset members are added (the dump's
    /// values win), list items appended, strings overwritten, stream entries appended
    /// (refused by the server when not past the existing last ID).
    Merge,
    /// Leave keys that exist alone (checked with EXISTS just before writing; not atomic).
    SkipExisting,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "replace" => Ok(Mode::Replace),
            "merge" => Ok(Mode::Merge),
            "skip-existing" => Ok(Mode::SkipExisting),
            _ => Err(format!(
                "unknown mode {s:?}: expected replace, merge or skip-existing"
            )),
        }
    }
}

impl Mode {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Replace => "replace",
            Mode::Merge => "merge",
            Mode::SkipExisting => "skip-existing",
        }
    }
}

/// Everything `restore redis` needs.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The dump root (holding `redis/`).
    pub input: PathBuf,
    /// The server.
    pub target: Target,
    /// Restore only `redis/db_<n>/` (default: every database in the dump).
    pub source_db: Option<u32>,
    /// Database to write into (default: the URL's, else the dump's own number).
    pub target_db: Option<u32>,
    /// Existing keys.
    pub mode: Mode,
    /// Send expiries even when already past (the key is then removed by the server at once).
    pub preserve_ttl: bool,
    /// Commands per second at most.
    pub rate_limit: Option<u64>,
    /// Connect and per-reply timeout.
    pub timeout: Duration,
    /// In-memory budget of each name/TTL/KEYMAP sort (bytes; spilled to temp files beyond).
    pub sort_budget: usize,
    /// Show progress on stderr.
    pub progress: bool,
}

impl RestoreOptions {
    /// Defaults for everything but the input and the server.
    pub fn new(input: PathBuf, target: Target) -> Self {
        RestoreOptions {
            input,
            target,
            source_db: None,
            target_db: None,
            mode: Mode::Replace,
            preserve_ttl: false,
            rate_limit: None,
            timeout: Duration::from_secs(60),
            sort_budget: 16 << 20,
            progress: false,
        }
    }
}

/// `(number, directory)` of each `redis/db_<n>` to restore.
type Databases = Vec<(u32, PathBuf)>;

/// The `redis/db_<n>` directories of a dump, by number, and notes about other entries.
fn databases(input: &Path, only: Option<u32>) -> Result<(Databases, Vec<String>), RestoreError> {
    let root = input.join("redis");
    let meta = std::fs::symlink_metadata(&root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            RestoreError::Input(format!(
                "{}: no redis/ directory: the dump holds no Redis data",
                input.display()
            ))
        } else {
            RestoreError::io(&root, e)
        }
    })?;
    if !meta.is_dir() {
        return Err(RestoreError::Input(format!(
            "{}: not a directory (a symlink or a file)",
            root.display()
        )));
    }
    let mut dbs = Vec::new();
    let mut notes = Vec::new();
    for e in std::fs::read_dir(&root).map_err(|e| RestoreError::io(&root, e))? {
        let e = e.map_err(|e| RestoreError::io(&root, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let n = name
            .strip_prefix("db_")
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok());
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        match n {
            Some(n) if is_dir => {
                if only.is_none_or(|o| o == n) {
                    dbs.push((n, e.path()));
                }
            }
            _ => notes.push(format!(
                "{}: not a redis/db_<n> directory; ignored",
                e.path().display()
            )),
        }
    }
    dbs.sort();
    if dbs.is_empty() {
        return Err(RestoreError::Input(match only {
            Some(n) => format!("{}: no redis/db_{n}/ directory", input.display()),
            None => format!("{}: no redis/db_<n>/ directory", input.display()),
        }));
    }
    Ok((dbs, notes))
}

/// Asks the server whether it has PEXPIREAT (elastickv does not), with a key nobody uses.
fn probe_ttl_mode(client: &mut Client) -> Result<TtlMode, RestoreError> {
    let probe = format!(
        "elastickv-backup:restore-probe:{}:{}",
        std::process::id(),
        replay::now_ms()
    );
    let reply = client.call(&[b"PEXPIREAT", probe.as_bytes(), b"1"])?;
    Ok(match reply.as_error() {
        Some(e) if is_unknown_command(e) => TtlMode::Relative,
        _ => TtlMode::Absolute,
    })
}

/// Restores the dump into the server; the summary says what was written, skipped and
/// refused. Returns an error only when the run could not go on (no Redis data, the
/// server unreachable or refusing AUTH/SELECT); per-key failures are in the summary.
pub fn restore(opts: &RestoreOptions) -> Result<Summary, RestoreError> {
    let started = Instant::now();
    let (dbs, mut notes) = databases(&opts.input, opts.source_db)?;
    let fixed_target = opts.target_db.or(opts.target.db);
    if fixed_target.is_some() && dbs.len() > 1 {
        return Err(RestoreError::Input(format!(
            "the dump holds databases {}; writing them all into one database would merge them — choose one with --source-db",
            dbs.iter().map(|d| d.0.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    if !opts.input.join("MANIFEST.json").is_file() {
        notes.push(format!(
            "{}: no MANIFEST.json — the dump may be incomplete (check it with `elastickv-backup verify`)",
            opts.input.display()
        ));
    }
    let mut client = Client::connect(&opts.target, opts.timeout)?;
    let ttl_mode = probe_ttl_mode(&mut client)?;
    let limiter = opts.rate_limit.map(TokenBucket::new);
    let mut rp = Replayer::new(
        Pipe::new(client, limiter),
        opts.mode,
        opts.preserve_ttl,
        ttl_mode,
    );
    for n in notes {
        rp.warn(n);
    }
    let reporter = opts.progress.then(|| {
        Reporter::start(ReporterConfig {
            label: "restore",
            total_input: 0,
            log_every: Duration::from_secs(10),
        })
    });
    let mut databases_done = Vec::new();
    let run = (|| -> Result<(), RestoreError> {
        for (n, dir) in &dbs {
            let target = fixed_target.unwrap_or(*n);
            rp.finish()?;
            rp.pipe().client().select(target)?;
            for kind in Kind::ALL {
                let shown = dir.display().to_string();
                let Some(mut listing) =
                    Listing::open(dir, &shown, kind.layout(), opts.sort_budget)?
                else {
                    continue;
                };
                for ig in std::mem::take(&mut listing.ignored) {
                    rp.warn(format!("{}: {}; ignored", ig.path.display(), ig.why));
                }
                while let Some(file) = listing.next_file()? {
                    if file.regular {
                        rp.restore(kind, &file)?;
                    } else {
                        rp.warn(format!(
                            "{}: not a regular file (symlink, directory or special file); ignored",
                            file.path.display()
                        ));
                    }
                }
            }
            rp.finish()?;
            databases_done.push((*n, target));
        }
        Ok(())
    })();
    if let Some(r) = reporter {
        r.finish();
    }
    run?;
    let warning_count = rp.warning_count;
    let skips = rp.skips.clone();
    let warnings = std::mem::take(&mut rp.warnings);
    let pipe = rp.pipe();
    Ok(Summary {
        address: opts.target.address.clone(),
        databases: databases_done,
        mode: opts.mode,
        preserve_ttl: opts.preserve_ttl,
        ttl_mode,
        outcome: pipe.outcome.clone(),
        skips,
        warnings,
        warning_count,
        sent_bytes: pipe.client().sent_bytes(),
        elapsed: started.elapsed(),
    })
}
