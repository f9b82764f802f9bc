//! The `elastickv-backup` command line.

pub mod bench;
pub mod common;
pub mod decode;
pub mod dump;
pub mod encode;
pub mod gen;
pub mod restore;
pub mod serve;
pub mod verify;

use crate::error::Error;
use clap::{Parser, Subcommand};

/// Parallel logical backups of elastickv clusters: a directory tree readable with cat, jq,
/// find, aws s3 sync and sha256sum -c, byte-identical to elastickv's own decoder.
///
/// A dump is complete only when MANIFEST.json and CHECKSUMS exist; a failed run never
/// writes them. Exit status: 0 success, 1 failure (the message names the file, key or
/// shard), 2 usage error.
#[derive(Parser, Debug)]
#[command(name = "elastickv-backup", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decode .fsm snapshot files (one per Raft group) into a dump tree.
    Decode(decode::DecodeArgs),
    /// Check that a dump directory or archive is complete and untampered (exit 0 only then).
    Verify(verify::VerifyArgs),
    /// Dump a running cluster at one pinned read timestamp (--embedded: a built-in sample
    /// cluster).
    Dump(dump::DumpArgs),
    /// Serve a loopback cluster (an elastickv stand-in) over gRPC until interrupted.
    Serve(serve::ServeArgs),
    /// Generate deterministic synthetic cluster data as N .fsm shard files (decode them with
    /// --input-snap-dir, serve them with serve --input-snap-dir).
    Gen(gen::GenArgs),
    /// Measure decode (and live dump) throughput per stage on generated data, against
    /// ceilings measured in the same run.
    Bench(bench::BenchArgs),
    /// Internal: a measured child run of `bench`.
    #[command(name = "__bench-child", hide = true)]
    BenchChild(crate::bench::child::ChildArgs),
    /// Replay a dump into a running service (Redis, or elastickv's Redis adapter).
    Restore(restore::RestoreArgs),
    /// Encode a dump directory back into an .fsm snapshot payload (the reverse of decode).
    Encode(encode::EncodeArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Decode(a) => decode::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Dump(a) => dump::run_dump(a),
        Command::Serve(a) => serve::run_serve(a),
        Command::Gen(a) => gen::run(a),
        Command::Bench(a) => bench::run(a),
        Command::BenchChild(a) => crate::bench::child::run_child(a),
        Command::Encode(a) => encode::run(a),
        Command::Restore(a) => restore::run(a),
    }
}

/// Process exit status for an error: 2 for usage errors, 1 otherwise.
pub fn exit_code(e: &Error) -> i32 {
    match e {
        Error::Usage(_) => 2,
        _ => 1,
    }
}
