//! Logs, progress and run reports shared by the commands that do long work (`decode`,
//! `dump`, `encode`, `verify`): `--quiet`, `--log-format`, `--metrics-file`,
//! `--summary-json`.
//!
//! Logs go through `tracing`; the subscriber installed here writes them through
//! [`elastickv_backup_engine::progress::LogWriter`], so on a terminal every line is printed *above* the
//! progress bar instead of on its line. The metrics file and the summary JSON are written
//! from process-wide counters ([`elastickv_backup_engine::progress`]), so the stages need no handle to them.

use super::common::{duration_arg, HEAD_OBSERVE};
use super::report::{self, Outcome, RunReport};
use crate::Failure;
use clap::Args;
use elastickv_backup_engine::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// Log line format (`--log-format`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (`elastickv-backup: warning: …`).
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, fields), for schedulers and log
    /// collectors.
    Json,
}

/// Flags for logs, progress and machine-readable reports.
#[derive(Args, Debug, Clone)]
pub struct ObserveArgs {
    /// No progress bar or progress lines and no final summary line; warnings and errors
    /// are still printed.
    #[arg(long, global = true, short = 'q', help_heading = HEAD_OBSERVE)]
    pub quiet: bool,

    /// Format of the log lines on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT",
          help_heading = HEAD_OBSERVE)]
    pub log_format: LogFormat,

    /// Write Prometheus metrics (text format) to PATH at the end of the run and every
    /// --metrics-interval while it runs, atomically (temporary file in the same directory,
    /// then rename): node_exporter's textfile-collector convention. Name it `*.prom`.
    #[arg(long, global = true, value_name = "PATH", help_heading = HEAD_OBSERVE)]
    pub metrics_file: Option<PathBuf>,

    /// How often --metrics-file is rewritten while the run goes on (e.g. 15s, 1m).
    #[arg(long, global = true, value_name = "DURATION", default_value = "15s", value_parser = duration_arg,
          help_heading = HEAD_OBSERVE)]
    pub metrics_interval: Duration,

    /// Write a JSON summary of the run to PATH when it ends, success or failure: outcome,
    /// error, counters, stage and phase times, read_ts, pin renewals, bytes and files.
    #[arg(long, global = true, value_name = "PATH", help_heading = HEAD_OBSERVE)]
    pub summary_json: Option<PathBuf>,
}

impl Default for ObserveArgs {
    fn default() -> Self {
        ObserveArgs {
            quiet: false,
            log_format: LogFormat::Text,
            metrics_file: None,
            metrics_interval: Duration::from_secs(15),
            summary_json: None,
        }
    }
}

/// Installs the process's log subscriber (once; later calls keep the first). `quiet`
/// lowers the level to warnings; `RUST_LOG` overrides the level when set.
pub fn init_logging(args: &ObserveArgs) {
    use tracing_subscriber::EnvFilter;
    let level = if args.quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    elastickv_backup_engine::progress::set_quiet(args.quiet);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(elastickv_backup_engine::progress::LogWriter)
        .with_ansi(false);
    let _ = match args.log_format {
        LogFormat::Text => builder.event_format(TextFormat).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

/// The human line format: `elastickv-backup: [warning: |error: ]message key=value…`,
/// the shape the tool's messages had before `tracing`, which operators grep for.
struct TextFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for TextFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error: ",
            tracing::Level::WARN => "warning: ",
            tracing::Level::INFO => "",
            tracing::Level::DEBUG => "debug: ",
            tracing::Level::TRACE => "trace: ",
        };
        write!(writer, "elastickv-backup: {level}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// A command's run as the reports see it: started by [`Run::start`] before the command,
/// ended by [`Run::finish`] with its result. Between the two a thread rewrites the metrics
/// file every `--metrics-interval`.
pub struct Run {
    command: &'static str,
    args: ObserveArgs,
    started: SystemTime,
    stop: Arc<AtomicBool>,
    writer: Option<JoinHandle<()>>,
}

impl Run {
    /// Starts reporting a run of `command`. Stage timing is turned on when a report was
    /// asked for (it costs a clock read per stage boundary), so the report can say where
    /// the time went.
    pub fn start(command: &'static str, args: &ObserveArgs) -> Result<Self, Error> {
        if args.metrics_file.is_some() || args.summary_json.is_some() {
            elastickv_backup_engine::progress::enable_stage_timing();
        }
        let started = SystemTime::now();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = match &args.metrics_file {
            None => None,
            Some(path) => {
                let first = RunReport::collect(command, started, None);
                report::write_atomic(path, report::render_metrics(&first).as_bytes())?;
                let (path, stop, every) = (path.clone(), stop.clone(), args.metrics_interval);
                std::thread::Builder::new()
                    .name("ekvb-metrics".into())
                    .spawn(move || loop {
                        std::thread::park_timeout(every);
                        if stop.load(Ordering::Acquire) {
                            return;
                        }
                        let r = RunReport::collect(command, started, None);
                        if let Err(e) =
                            report::write_atomic(&path, report::render_metrics(&r).as_bytes())
                        {
                            tracing::warn!("--metrics-file: {e}");
                        }
                    })
                    .ok()
            }
        };
        Ok(Run {
            command,
            args: args.clone(),
            started,
            stop,
            writer,
        })
    }

    /// Ends the run: writes the final metrics file and summary JSON with the outcome, then
    /// hands `result` back. A report that cannot be written turns a success into a failure
    /// (a scheduler reading it would otherwise see a stale file).
    pub fn finish(mut self, result: Result<(), Failure>) -> Result<(), Failure> {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.writer.take() {
            h.thread().unpark();
            let _ = h.join();
        }
        let outcome = match &result {
            Ok(()) => Outcome::Success,
            Err(e) => Outcome::Failure {
                exit_code: e.exit_code(),
                error: e.to_string(),
            },
        };
        let r = RunReport::collect(self.command, self.started, Some(outcome));
        let mut written = Ok(());
        if let Some(p) = &self.args.metrics_file {
            written = written.and(report::write_atomic(
                p,
                report::render_metrics(&r).as_bytes(),
            ));
        }
        if let Some(p) = &self.args.summary_json {
            written = written.and(report::write_atomic(p, r.to_json().as_bytes()));
        }
        result.and(written.map_err(Failure::from))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.writer.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_file_is_rewritten_while_the_run_goes_on() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("run.prom");
        let args = ObserveArgs {
            metrics_file: Some(path.clone()),
            metrics_interval: Duration::from_millis(20),
            ..ObserveArgs::default()
        };
        let run = Run::start("decode", &args).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.contains("elastickv_backup_run_in_progress{command=\"decode\"} 1"));
        // A record counted after the start shows up in a later rewrite, before the end.
        let before = elastickv_backup_engine::progress::counters()
            .snapshot()
            .records;
        elastickv_backup_engine::progress::counters()
            .records
            .fetch_add(1_000_000, Ordering::Relaxed);
        let want = before + 1_000_000;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let seen = loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let records = text
                .lines()
                .find_map(|l| l.strip_prefix("elastickv_backup_records_total{command=\"decode\"} "))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            if records >= want as f64 || std::time::Instant::now() > deadline {
                break (records, text);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(seen.0 >= want as f64, "{}", seen.1);
        assert!(seen.1.contains("run_in_progress{command=\"decode\"} 1"));
        run.finish(Ok(())).unwrap();
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("elastickv_backup_run_success{command=\"decode\"} 1"));
    }
}
