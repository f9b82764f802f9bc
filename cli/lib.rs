//! The `elastickv-backup` command line: clap definitions of every command, their flags and
//! help, and the glue from flags to the engine's jobs (decode, dump, verify, encode,
//! restore, and the `dev` tools serve, gen, bench).
//!
//! Why a crate of its own: the engine is a library of stages and jobs that knows nothing of
//! flags, terminals or exit codes; everything an operator types or reads (usage errors in
//! clap's format, logs, progress, metrics and summary files, exit codes) lives here. It is a
//! library as well as the binary's body so the end-to-end tests drive commands in-process
//! ([`run`], [`dump::run_dump_with`]); `main.rs` only parses and reports.

#![warn(missing_docs)]

pub mod failure;

pub(crate) mod bench;
pub(crate) mod bench_child;
pub(crate) mod common;
pub(crate) mod decode;
pub mod dump;
pub(crate) mod encode;
pub(crate) mod gen;
pub mod observe;
pub(crate) mod report;
pub(crate) mod restore;
pub(crate) mod serve;
pub(crate) mod verify;

use clap::{Args, CommandFactory, Parser, Subcommand};
pub use failure::Failure;

/// Examples shown at the end of `elastickv-backup --help`.
const EXAMPLES: &str = "\
Examples:
  # back up a running cluster at one point in time
  elastickv-backup dump --address 10.0.0.5:50051 --admin-token-file token -o /backups/today

  # the same from Raft snapshot files (one per group)
  elastickv-backup decode --input-snap-dir /var/lib/elastickv/fsm-snap -o /backups/today

  # check a dump before trusting it, then replay its Redis part
  elastickv-backup verify /backups/today
  elastickv-backup restore redis --input /backups/today --address redis://127.0.0.1:6379

Run `elastickv-backup help <COMMAND>` for a command's flags and examples.";

/// Parallel logical backups of elastickv clusters: a directory tree readable with cat, jq,
/// find, aws s3 sync and sha256sum -c, byte-identical to elastickv's own decoder.
///
/// A dump is complete only when MANIFEST.json and CHECKSUMS exist; a failed run never
/// writes them. Exit status: 0 success, 1 failure (the message names the file, key or
/// shard), 2 usage error.
#[derive(Parser, Debug)]
#[command(name = "elastickv-backup", version, about, long_about, after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Dump a running cluster at one pinned read timestamp (--embedded: a built-in sample
    /// cluster).
    Dump(dump::DumpArgs),
    /// Decode .fsm snapshot files (one per Raft group) into a dump tree.
    Decode(decode::DecodeArgs),
    /// Check that a dump directory or archive is complete and untampered (exit 0 only then).
    Verify(verify::VerifyArgs),
    /// Replay a dump into a running service (Redis, or elastickv's Redis adapter).
    Restore(restore::RestoreArgs),
    /// Encode a dump directory back into an .fsm snapshot payload (the reverse of decode).
    Encode(encode::EncodeArgs),
    /// Developer tools: a stand-in cluster server, synthetic data, benchmarks.
    Dev(DevArgs),
    /// Same as `dev serve` (kept for existing scripts).
    #[command(hide = true)]
    Serve(serve::ServeArgs),
    /// Same as `dev gen` (kept for existing scripts).
    #[command(hide = true)]
    Gen(gen::GenArgs),
    /// Same as `dev bench` (kept for existing scripts).
    #[command(hide = true)]
    Bench(bench::BenchArgs),
    /// Internal: a measured child run of `bench`.
    #[command(name = "__bench-child", hide = true)]
    BenchChild(bench_child::ChildArgs),
}

/// `elastickv-backup dev …`: tools for developing and measuring the engine, not for
/// backing up a cluster.
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Which tool.
    #[command(subcommand)]
    pub tool: DevCommand,
}

/// The developer tools.
#[derive(Subcommand, Debug)]
pub enum DevCommand {
    /// Serve a loopback cluster (an elastickv stand-in) over gRPC until interrupted.
    Serve(serve::ServeArgs),
    /// Generate deterministic synthetic cluster data as N .fsm shard files (decode them with
    /// --input-snap-dir, serve them with dev serve --input-snap-dir).
    Gen(gen::GenArgs),
    /// Measure decode (and live dump) throughput per stage on generated data, against
    /// ceilings measured in the same run.
    ///
    /// Beside each target ratio it prints what bounds it on this machine: the cores left
    /// idle during the run, the most the run's CPU time allows on these cores, and with
    /// --live the embedded server's CPU, which shares the cores with the dump.
    Bench(bench::BenchArgs),
}

impl Command {
    /// The subcommand's name as typed (for reports and usage lines).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Dump(_) => "dump",
            Command::Decode(_) => "decode",
            Command::Verify(_) => "verify",
            Command::Restore(_) => "restore",
            Command::Encode(_) => "encode",
            Command::Dev(_) => "dev",
            Command::Serve(_) => "serve",
            Command::Gen(_) => "gen",
            Command::Bench(_) => "bench",
            Command::BenchChild(_) => "__bench-child",
        }
    }

    /// The logging/metrics flags of commands that have them.
    pub fn observe(&self) -> Option<&observe::ObserveArgs> {
        match self {
            Command::Dump(a) => Some(&a.observe),
            Command::Decode(a) => Some(&a.observe),
            Command::Verify(a) => Some(&a.observe),
            Command::Encode(a) => Some(&a.observe),
            _ => None,
        }
    }
}

/// Runs a parsed command line; with `--metrics-file`/`--summary-json`, the reports are
/// written whatever the outcome.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let name = cli.command.name();
    match cli.command.observe().cloned() {
        None => dispatch(cli.command),
        Some(o) => {
            let run = observe::Run::start(name, &o).map_err(Failure::from)?;
            run.finish(dispatch(cli.command))
        }
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    let engine_run = match command {
        Command::Decode(a) => decode::run(a),
        Command::Verify(a) => return verify::run(a),
        Command::Dump(a) => dump::run_dump(a),
        Command::Dev(d) => match d.tool {
            DevCommand::Serve(a) => serve::run_serve(a),
            DevCommand::Gen(a) => gen::run(a),
            DevCommand::Bench(a) => bench::run(a),
        },
        Command::Serve(a) => serve::run_serve(a),
        Command::Gen(a) => gen::run(a),
        Command::Bench(a) => bench::run(a),
        Command::BenchChild(a) => return bench_child::run_child(a),
        Command::Encode(a) => return encode::run(a),
        Command::Restore(a) => return restore::run(a),
    };
    engine_run.map_err(Failure::from)
}

/// A usage error found after parsing (a combination clap cannot express), in clap's
/// format: `error: …`, the subcommand's usage line and the `--help` hint; exit status 2.
pub fn usage_error(subcommand: &str, message: &str) -> clap::Error {
    let mut root = Cli::command();
    root.build();
    let mut cmd = root.find_subcommand(subcommand).cloned().unwrap_or(root);
    cmd.error(clap::error::ErrorKind::ValueValidation, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("elastickv-backup").chain(args.iter().copied()))
    }

    #[test]
    fn bad_flags_get_clap_errors() {
        use clap::error::ErrorKind;
        let kind = |a: &[&str]| parse(a).err().map(|e| e.kind());
        assert_eq!(
            kind(&["decode", "-i", "a.fsm", "--input-snap-dir", "d", "-o", "o"]),
            Some(ErrorKind::ArgumentConflict)
        );
        assert_eq!(
            kind(&["decode", "-i", "a.fsm", "-o", "o", "-j", "0"]),
            Some(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(&[
                "decode",
                "-i",
                "a",
                "-o",
                "o",
                "--dynamodb-bundle-mode",
                "x"
            ]),
            Some(ErrorKind::InvalidValue)
        );
        assert_eq!(
            kind(&["decode", "-i", "a", "-o", "o", "--adapter", "redis,mongo"]),
            Some(ErrorKind::InvalidValue)
        );
        assert_eq!(
            kind(&["decode", "-o", "o"]),
            Some(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(kind(&["serve2"]), Some(ErrorKind::InvalidSubcommand));
    }

    #[test]
    fn short_flags_and_upstream_adapter_forms() {
        let cli = parse(&[
            "decode",
            "-q",
            "-i",
            "a.fsm",
            "-o",
            "out",
            "-j",
            "3",
            "--adapter",
            "",
        ])
        .unwrap();
        let Command::Decode(a) = cli.command else {
            panic!("decode")
        };
        assert!(a.observe.quiet);
        assert_eq!(a.flags.threads(), 3);
        assert_eq!(a.flags.options().unwrap().adapters.len(), 4);
        let cli = parse(&["decode", "-i", "a", "-o", "o", "--adapter", "redis,sqs,"]).unwrap();
        let Command::Decode(a) = cli.command else {
            panic!("decode")
        };
        assert_eq!(a.flags.options().unwrap().adapters.len(), 2);
    }

    #[test]
    fn dev_tools_live_under_dev() {
        assert!(matches!(
            parse(&["dev", "gen", "--size", "1M", "-o", "d"])
                .unwrap()
                .command,
            Command::Dev(_)
        ));
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("dev"), "{help}");
        assert!(!help.contains("  serve"), "{help}");
        assert!(!help.contains("  bench"), "{help}");
    }

    #[test]
    fn usage_errors_carry_the_usage_line() {
        let e = usage_error("decode", "--scope redis:0: adapter redis is not enabled");
        let text = e.render().to_string();
        assert!(text.contains("Usage: elastickv-backup decode"), "{text}");
        assert_eq!(e.exit_code(), 2);
    }
}
