//! `elastickv-backup verify DIR|ARCHIVE`: checks a dump before it is trusted (after a copy,
//! before a restore) and says exactly what is wrong with it.

use crate::failure::Failure;
use clap::Args;
use elastickv_backup_engine::sinks::object::{S3Config, S3Url};
use elastickv_backup_verify::{self as verify, VerifyError};
use std::io::Write;
use std::path::PathBuf;

/// Verify a dump: MANIFEST.json (format version, phase rules, required fields), every
/// CHECKSUMS entry (in parallel on all cores), files present but not listed and listed but
/// missing, path safety (no symlinks, special files, `..` or absolute names) and the layout
/// of each adapter's tree. Works on a dump directory and on a tar or tar.zst archive
/// (detected by content; `-` reads an archive from standard input).
///
/// Prints one line per problem (ERROR or WARNING, with the file it concerns) and a summary.
/// Exit status: 0 only for a complete, untampered dump (warnings allowed, e.g. an unpinned
/// live dump); 1 otherwise.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  elastickv-backup verify /backups/today
  elastickv-backup verify today.tar.zst
  aws s3 cp s3://backups/today.tar.zst - | elastickv-backup verify -")]
pub struct VerifyArgs {
    /// Dump directory, .tar / .tar.zst archive, - for an archive on standard input, or a dump
    /// in object storage: s3://BUCKET/PREFIX/ (objects fetched and hashed as they stream in)
    /// or s3://BUCKET/KEY (one archive object, streamed).
    #[arg(value_name = "DIR|ARCHIVE|s3://…")]
    pub path: PathBuf,

    /// Hashing threads (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::common::parse_threads)]
    pub threads: Option<usize>,

    /// Endpoint URL of the S3-compatible store holding an s3:// dump (credentials and
    /// region from the standard AWS chain, as for the dump).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Logs and reports.
    #[command(flatten)]
    pub observe: super::observe::ObserveArgs,
}

/// Runs the verify command: prints the report on standard output; fails if it has errors.
pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let threads = args.threads.unwrap_or_else(super::common::default_threads);
    let arg = args.path.to_string_lossy();
    let report = if S3Url::is_s3(&arg) {
        let cfg = S3Config {
            endpoint: args.s3_endpoint.clone(),
        };
        verify::verify_s3(
            &S3Url::parse(&arg).map_err(VerifyError::from)?,
            &cfg,
            threads,
        )?
    } else if args.s3_endpoint.is_some() {
        return Err(Failure::usage("--s3-endpoint needs an s3:// dump"));
    } else {
        verify::verify(&args.path, threads)?
    };
    let target = args.path.display().to_string();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(report.render(&target).as_bytes());
    let _ = out.flush();
    if report.ok() {
        Ok(())
    } else {
        Err(VerifyError::Failed {
            target,
            errors: report.errors(),
        }
        .into())
    }
}
