//! `elastickv-backup` binary entry point.

use clap::Parser;
use elastickv_backup_cli as cli;
use elastickv_backup_engine::Error;

fn main() {
    let parsed = cli::Cli::parse();
    let name = parsed.command.name();
    cli::observe::init_logging(&parsed.command.observe().cloned().unwrap_or_default());
    match cli::run(parsed) {
        Ok(()) => {}
        Err(Error::Usage(m)) => cli::usage_error(name, &m).exit(),
        Err(e) => {
            tracing::error!("{e}");
            std::process::exit(cli::exit_code(&e));
        }
    }
}
