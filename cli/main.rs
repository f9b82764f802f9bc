//! `elastickv-backup` binary entry point.

use clap::Parser;
use elastickv_backup::cli;

fn main() {
    let parsed = cli::Cli::parse();
    if let Err(e) = cli::run(parsed) {
        eprintln!("elastickv-backup: {e}");
        std::process::exit(cli::exit_code(&e));
    }
}
