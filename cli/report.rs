//! Machine-readable reports of a run: the Prometheus textfile (`--metrics-file`) and the
//! summary JSON (`--summary-json`), both built from one [`RunReport`] and both written
//! atomically, so a scraper or a scheduler never reads half a file.

use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::progress::{self, Snapshot, StageSnapshot};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0: the dump is complete (MANIFEST.json and CHECKSUMS written).
    Success,
    /// Non-zero exit: no complete dump.
    Failure {
        /// The process exit status (1 failure, 2 usage error).
        exit_code: i32,
        /// The error message, as printed.
        error: String,
    },
}

/// Everything the reports say about a run, read from the process-wide counters.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The subcommand (`decode`, `dump`, …).
    pub command: &'static str,
    /// When the run started.
    pub started: SystemTime,
    /// Time since the start.
    pub elapsed: Duration,
    /// `None` while the run goes on.
    pub outcome: Option<Outcome>,
    /// Records, bytes and files so far.
    pub counters: Snapshot,
    /// The dump's read timestamp (HLC), once MANIFEST.json is being written.
    pub read_ts: Option<u64>,
    /// Successful pin renewals of a live dump.
    pub pin_renewals: u64,
    /// Busy time per pipeline stage (summed over threads).
    pub stages: Vec<(&'static str, StageSnapshot)>,
    /// Wall time of each finished phase, in order.
    pub phases: Vec<(&'static str, Duration)>,
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The physical (wall-clock) part of an elastickv HLC timestamp, in seconds since the
/// epoch: the upper 48 bits are milliseconds, the lower 16 a logical counter.
pub fn hlc_wall_seconds(ts: u64) -> f64 {
    (ts >> 16) as f64 / 1000.0
}

impl RunReport {
    /// Reads the counters now.
    pub fn collect(command: &'static str, started: SystemTime, outcome: Option<Outcome>) -> Self {
        let info = progress::run_info();
        RunReport {
            command,
            started,
            elapsed: started.elapsed().unwrap_or_default(),
            outcome,
            counters: progress::counters().snapshot(),
            read_ts: info.read_ts,
            pin_renewals: info.pin_renewals,
            stages: progress::stages()
                .named()
                .into_iter()
                .map(|(n, s)| (n, s.snapshot()))
                .collect(),
            phases: info.phases,
        }
    }

    /// The summary JSON (one object, pretty-printed, trailing newline).
    pub fn to_json(&self) -> String {
        use serde_json::{json, Map, Value};
        let (outcome, exit_code, error) = match &self.outcome {
            None => ("running", Value::Null, Value::Null),
            Some(Outcome::Success) => ("success", json!(0), Value::Null),
            Some(Outcome::Failure { exit_code, error }) => {
                ("failure", json!(exit_code), json!(error))
            }
        };
        let mut stages = Map::new();
        for (name, s) in &self.stages {
            stages.insert(
                (*name).to_string(),
                json!({"busy_seconds": s.busy_ns as f64 / 1e9, "items": s.items, "bytes": s.bytes}),
            );
        }
        let mut phases = Map::new();
        for (name, d) in &self.phases {
            phases.insert((*name).to_string(), json!(d.as_secs_f64()));
        }
        let finished = self.started + self.elapsed;
        let rfc3339 = |t: SystemTime| {
            time::OffsetDateTime::from(t)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let v = json!({
            "command": self.command,
            "outcome": outcome,
            "exit_code": exit_code,
            "error": error,
            "started_at": rfc3339(self.started),
            "finished_at": if self.outcome.is_some() { json!(rfc3339(finished)) } else { Value::Null },
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "read_ts": self.read_ts,
            "read_ts_wall_seconds": self.read_ts.map(hlc_wall_seconds),
            "pin_renewals": self.pin_renewals,
            "records": self.counters.records,
            "input_bytes": self.counters.input_bytes,
            "output_bytes": self.counters.output_bytes,
            "files": self.counters.files,
            "stages": stages,
            "phases": phases,
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// One metric family of the textfile.
struct Family<'a> {
    out: &'a mut String,
    command: &'a str,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP elastickv_backup_{name} {help}");
        let _ = writeln!(self.out, "# TYPE elastickv_backup_{name} {kind}");
    }

    fn sample(&mut self, name: &str, extra: Option<(&str, &str)>, v: f64) {
        let _ = write!(
            self.out,
            "elastickv_backup_{name}{{command=\"{}\"",
            self.command
        );
        if let Some((k, val)) = extra {
            let _ = write!(self.out, ",{k}=\"{val}\"");
        }
        let _ = writeln!(self.out, "}} {v}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, v: f64) {
        self.head(name, kind, help);
        self.sample(name, None, v);
    }
}

/// The Prometheus text exposition of `r` (every sample labelled `command`).
pub fn render_metrics(r: &RunReport) -> String {
    let mut out = String::new();
    let mut f = Family {
        out: &mut out,
        command: r.command,
    };
    let finished = r.outcome.is_some();
    f.one(
        "run_in_progress",
        "gauge",
        "1 while the run goes on, 0 once it has ended.",
        if finished { 0.0 } else { 1.0 },
    );
    f.one(
        "run_start_timestamp_seconds",
        "gauge",
        "When the run started (Unix time).",
        unix_secs(r.started),
    );
    f.one(
        "run_duration_seconds",
        "gauge",
        "Wall time of the run so far (the whole run once it has ended).",
        r.elapsed.as_secs_f64(),
    );
    if let Some(o) = &r.outcome {
        f.one(
            "run_success",
            "gauge",
            "1 if the run wrote a complete dump (exit status 0), else 0.",
            if *o == Outcome::Success { 1.0 } else { 0.0 },
        );
        let code = match o {
            Outcome::Success => 0,
            Outcome::Failure { exit_code, .. } => *exit_code,
        };
        f.one(
            "run_exit_code",
            "gauge",
            "Exit status of the run (0 success, 1 failure, 2 usage error).",
            f64::from(code),
        );
        f.one(
            "run_end_timestamp_seconds",
            "gauge",
            "When the run ended (Unix time).",
            unix_secs(r.started + r.elapsed),
        );
    }
    let c = r.counters;
    f.one(
        "records_total",
        "counter",
        "Visible records dispatched to the adapters.",
        c.records as f64,
    );
    f.one(
        "input_bytes_total",
        "counter",
        "Input bytes read (keys and values of scanned entries).",
        c.input_bytes as f64,
    );
    f.one(
        "output_files_total",
        "counter",
        "Data files written.",
        c.files as f64,
    );
    f.one(
        "output_bytes_total",
        "counter",
        "Data bytes written.",
        c.output_bytes as f64,
    );
    f.one(
        "pin_renewals_total",
        "counter",
        "Successful RenewBackup calls of a live dump.",
        r.pin_renewals as f64,
    );
    if let Some(ts) = r.read_ts {
        f.one(
            "read_timestamp_seconds",
            "gauge",
            "Wall-clock part of the dump's read timestamp (Unix time): the point in time the dump shows.",
            hlc_wall_seconds(ts),
        );
    }
    f.head(
        "stage_busy_seconds",
        "counter",
        "Busy time per pipeline stage, summed over the threads that run it.",
    );
    for (name, s) in &r.stages {
        f.sample(
            "stage_busy_seconds",
            Some(("stage", name)),
            s.busy_ns as f64 / 1e9,
        );
    }
    if !r.phases.is_empty() {
        f.head(
            "phase_duration_seconds",
            "gauge",
            "Wall time of each finished phase of the run.",
        );
        for (name, d) in &r.phases {
            f.sample(
                "phase_duration_seconds",
                Some(("phase", name)),
                d.as_secs_f64(),
            );
        }
    }
    out
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// mode 0644 (node_exporter usually runs as another user).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let shown = path.display().to_string();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir.display(), e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(&shown, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(&shown, e))?;
    tmp.persist(path).map_err(|e| Error::io(&shown, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(outcome: Option<Outcome>) -> RunReport {
        RunReport {
            command: "decode",
            started: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            elapsed: Duration::from_millis(1500),
            outcome,
            counters: Snapshot {
                input_bytes: 10,
                records: 3,
                files: 2,
                output_bytes: 7,
            },
            read_ts: Some((1_700_000_000_000 << 16) | 5),
            pin_renewals: 4,
            stages: vec![(
                "scan",
                StageSnapshot {
                    items: 3,
                    bytes: 0,
                    busy_ns: 250_000_000,
                },
            )],
            phases: vec![("write", Duration::from_secs(1))],
        }
    }

    #[test]
    fn metrics_parse_as_prometheus_text() {
        use prometheus_parse::{Scrape, Value};
        for outcome in [
            None,
            Some(Outcome::Success),
            Some(Outcome::Failure {
                exit_code: 1,
                error: "boom".into(),
            }),
        ] {
            let text = render_metrics(&sample(outcome.clone()));
            let lines = text.lines().map(|l| Ok(l.to_string()));
            let scrape = Scrape::parse(lines).expect("valid exposition");
            let get = |name: &str| {
                scrape
                    .samples
                    .iter()
                    .find(|s| s.metric == name)
                    .map(|s| match s.value {
                        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                        _ => f64::NAN,
                    })
            };
            assert_eq!(get("elastickv_backup_records_total"), Some(3.0));
            assert_eq!(get("elastickv_backup_pin_renewals_total"), Some(4.0));
            assert_eq!(
                get("elastickv_backup_read_timestamp_seconds"),
                Some(1_700_000_000.0)
            );
            assert_eq!(
                get("elastickv_backup_run_success"),
                outcome
                    .as_ref()
                    .map(|o| f64::from(u8::from(*o == Outcome::Success)))
            );
            assert_eq!(
                get("elastickv_backup_run_in_progress"),
                Some(if outcome.is_none() { 1.0 } else { 0.0 })
            );
            let busy = scrape
                .samples
                .iter()
                .find(|s| s.metric == "elastickv_backup_stage_busy_seconds")
                .expect("stage sample");
            assert_eq!(busy.labels.get("stage"), Some("scan"));
            assert_eq!(busy.labels.get("command"), Some("decode"));
        }
    }

    #[test]
    fn summary_json_names_the_outcome() {
        let failed = sample(Some(Outcome::Failure {
            exit_code: 2,
            error: "bad \"flag\"".into(),
        }));
        let v: serde_json::Value = serde_json::from_str(&failed.to_json()).unwrap();
        assert_eq!(v["outcome"], "failure");
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["error"], "bad \"flag\"");
        assert_eq!(v["read_ts"], (1_700_000_000_000u64 << 16) | 5);
        assert_eq!(v["stages"]["scan"]["busy_seconds"], 0.25);
        assert_eq!(v["phases"]["write"], 1.0);
        let running: serde_json::Value = serde_json::from_str(&sample(None).to_json()).unwrap();
        assert_eq!(running["outcome"], "running");
        assert!(running["finished_at"].is_null());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.prom");
        write_atomic(&p, b"a 1\n").unwrap();
        write_atomic(&p, b"a 2\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"a 2\n");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}
