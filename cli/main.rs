//! `elastickv-backup` binary entry point.

use clap::Parser;
use elastickv_backup_cli as cli;

fn main() {
    // Before any thread exists (see `prepare_process`).
    elastickv_backup_engine::sinks::fd_budget::prepare_process();
    let parsed = cli::Cli::parse();
    let name = parsed.command.name();
    cli::observe::init_logging(&parsed.command.observe().cloned().unwrap_or_default());
    match cli::run(parsed) {
        Ok(()) => {}
        Err(e) => {
            if let Some(m) = e.usage_message() {
                cli::usage_error(name, m).exit();
            }
            tracing::error!("{e}");
            std::process::exit(e.exit_code());
        }
    }
}
