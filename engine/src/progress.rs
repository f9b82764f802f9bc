//! Progress for long runs: a one-line bar on a terminal, a plain log line every few seconds
//! otherwise (cron, CI, `kubectl logs`), and a final summary.
//!
//! Stages bump process-wide atomic counters (no locks on the hot path); one reporter
//! thread reads them.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Process-wide counters the stages update.
#[derive(Default)]
pub struct Counters {
    /// Input bytes consumed (keys + values of scanned entries).
    pub input_bytes: AtomicU64,
    /// Visible records dispatched.
    pub records: AtomicU64,
    /// Output files completed.
    pub files: AtomicU64,
    /// Output bytes written.
    pub output_bytes: AtomicU64,
}

static COUNTERS: Counters = Counters {
    input_bytes: AtomicU64::new(0),
    records: AtomicU64::new(0),
    files: AtomicU64::new(0),
    output_bytes: AtomicU64::new(0),
};

/// The process-wide counters.
pub fn counters() -> &'static Counters {
    &COUNTERS
}

/// Records one completed output file of `len` bytes.
pub fn file_written(len: u64) {
    COUNTERS.files.fetch_add(1, Ordering::Relaxed);
    COUNTERS.output_bytes.fetch_add(len, Ordering::Relaxed);
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// See [`Counters`].
    pub input_bytes: u64,
    /// See [`Counters`].
    pub records: u64,
    /// See [`Counters`].
    pub files: u64,
    /// See [`Counters`].
    pub output_bytes: u64,
}

impl Counters {
    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            input_bytes: self.input_bytes.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            files: self.files.load(Ordering::Relaxed),
            output_bytes: self.output_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Per-stage busy time, for `bench`: how many items and bytes each pipeline stage handled
/// and how long it was busy doing so (summed over the threads that run it). Off by default
/// (one relaxed load per stage boundary); `bench` turns it on in the process it measures,
/// so the stage that limits a run can be named from one run's numbers.
#[derive(Default)]
pub struct StageCounter {
    /// Items handled (entries, files, writes).
    pub items: AtomicU64,
    /// Bytes handled.
    pub bytes: AtomicU64,
    /// Nanoseconds busy.
    pub busy_ns: AtomicU64,
}

impl StageCounter {
    const fn new() -> Self {
        StageCounter {
            items: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
        }
    }

    /// Reads the counter.
    pub fn snapshot(&self) -> StageSnapshot {
        StageSnapshot {
            items: self.items.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            busy_ns: self.busy_ns.load(Ordering::Relaxed),
        }
    }
}

/// A [`StageCounter`] reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageSnapshot {
    /// See [`StageCounter`].
    pub items: u64,
    /// See [`StageCounter`].
    pub bytes: u64,
    /// See [`StageCounter`].
    pub busy_ns: u64,
}

/// The stage boundaries the pipeline times. Stages on the decode thread (scan, decode,
/// send_wait, stream_*) are sequential; the others are summed over the worker threads.
pub struct Stages {
    /// Decode thread waiting for the next visible entry: merge, visibility and any wait
    /// for the shard readers.
    pub scan: StageCounter,
    /// Decode thread inside the adapters (dispatch and finish), including the time counted
    /// in `send_wait`, `stream_hash` and `stream_write`.
    pub decode: StageCounter,
    /// Decode thread handing files to the workers: queueing them or, when the queue is
    /// full (or there are no workers), rendering and writing them itself.
    pub send_wait: StageCounter,
    /// Workers rendering file bytes.
    pub encode: StageCounter,
    /// Workers inside `Sink::write_file` (hashing and writing, whatever the sink).
    pub sink: StageCounter,
    /// SHA-256 of whole files (directory sink).
    pub file_hash: StageCounter,
    /// Creating and writing whole files (directory sink).
    pub file_write: StageCounter,
    /// SHA-256 of streamed files (decode thread).
    pub stream_hash: StageCounter,
    /// Writing streamed files to disk (directory sink).
    pub stream_write: StageCounter,
}

static STAGES: Stages = Stages {
    scan: StageCounter::new(),
    decode: StageCounter::new(),
    send_wait: StageCounter::new(),
    encode: StageCounter::new(),
    sink: StageCounter::new(),
    file_hash: StageCounter::new(),
    file_write: StageCounter::new(),
    stream_hash: StageCounter::new(),
    stream_write: StageCounter::new(),
};

static STAGE_TIMING: AtomicBool = AtomicBool::new(false);

/// The process-wide stage counters.
pub fn stages() -> &'static Stages {
    &STAGES
}

/// Turns stage timing on for this process (bench only).
pub fn enable_stage_timing() {
    STAGE_TIMING.store(true, Ordering::Relaxed);
}

/// The start of a timed stage section: `None` (no clock read) unless timing is on.
#[inline]
pub fn stage_start() -> Option<Instant> {
    if STAGE_TIMING.load(Ordering::Relaxed) {
        Some(Instant::now())
    } else {
        None
    }
}

/// Ends a section started by [`stage_start`], adding `items`, `bytes` and the elapsed time.
#[inline]
pub fn stage_end(stage: &StageCounter, start: Option<Instant>, items: u64, bytes: u64) {
    if let Some(t) = start {
        stage
            .busy_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        stage.items.fetch_add(items, Ordering::Relaxed);
        stage.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Human-readable byte count.
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Reporter settings.
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    /// Label at the start of each line (`decode`, `dump`).
    pub label: &'static str,
    /// Expected input bytes (for percent and ETA); 0 = unknown.
    pub total_input: u64,
    /// Interval between log lines when stderr is not a terminal.
    pub log_every: Duration,
}

static LEASE_DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);

/// Tells the reporter when the live dump's pin lease runs out (updated on each renewal),
/// so it can show the remaining lease and warn when the ETA exceeds it.
pub fn set_lease_deadline(deadline: Option<Instant>) {
    if let Ok(mut g) = LEASE_DEADLINE.lock() {
        *g = deadline;
    }
}

/// A running reporter; stops (and prints the final summary) on [`Reporter::finish`].
pub struct Reporter {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    started: Instant,
    base: Snapshot,
    tty: bool,
}

fn line(cfg: &ReporterConfig, base: Snapshot, started: Instant, tty: bool) -> String {
    let now = counters().snapshot();
    let inb = now.input_bytes - base.input_bytes;
    let el = started.elapsed();
    let rate = inb as f64 / el.as_secs_f64().max(0.001);
    let mut s = String::new();
    if cfg.total_input > 0 {
        let frac = (inb as f64 / cfg.total_input as f64).min(1.0);
        if tty {
            let w = 24;
            let filled = (frac * w as f64) as usize;
            s.push('[');
            s.push_str(&"=".repeat(filled));
            s.push_str(&" ".repeat(w - filled));
            s.push_str("] ");
        }
        s.push_str(&format!("{:5.1}% ", frac * 100.0));
    }
    s.push_str(&format!(
        "{} records, {} in, {} files, {} out, {}/s, elapsed {}",
        now.records - base.records,
        human_bytes(inb),
        now.files - base.files,
        human_bytes(now.output_bytes - base.output_bytes),
        human_bytes(rate as u64),
        hms(el)
    ));
    let mut eta = None;
    if cfg.total_input > 0 && inb > 0 && rate > 0.0 {
        let left = cfg.total_input.saturating_sub(inb) as f64 / rate;
        let d = Duration::from_secs_f64(left);
        eta = Some(d);
        s.push_str(&format!(", ETA {}", hms(d)));
    }
    if let Ok(g) = LEASE_DEADLINE.lock() {
        if let Some(deadline) = *g {
            let left = deadline.saturating_duration_since(Instant::now());
            s.push_str(&format!(", pin lease {}", hms(left)));
            if eta.is_some_and(|e| e > left) {
                s.push_str(" (WARNING: ETA exceeds the pin lease; renewals must keep up)");
            }
        }
    }
    s
}

impl Reporter {
    /// Starts reporting to stderr.
    pub fn start(cfg: ReporterConfig) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let base = counters().snapshot();
        let tty = std::io::stderr().is_terminal();
        let handle = {
            let stop = stop.clone();
            let cfg = cfg.clone();
            std::thread::Builder::new()
                .name("ekvb-progress".into())
                .spawn(move || {
                    let tick = if tty {
                        Duration::from_millis(250)
                    } else {
                        Duration::from_millis(200)
                    };
                    let mut last_log = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(tick);
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if tty {
                            let l = line(&cfg, base, started, true);
                            let _ = write!(std::io::stderr(), "\r\x1b[2K{}: {l}", cfg.label);
                        } else if last_log.elapsed() >= cfg.log_every {
                            last_log = Instant::now();
                            eprintln!(
                                "elastickv-backup: {}: {}",
                                cfg.label,
                                line(&cfg, base, started, false)
                            );
                        }
                    }
                })
                .ok()
        };
        Reporter {
            stop,
            handle,
            started,
            base,
            tty,
        }
    }

    /// Stops the reporter and returns the counters since it started.
    pub fn finish(mut self) -> (Snapshot, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
        if self.tty {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
        let now = counters().snapshot();
        (
            Snapshot {
                input_bytes: now.input_bytes - self.base.input_bytes,
                records: now.records - self.base.records,
                files: now.files - self.base.files,
                output_bytes: now.output_bytes - self.base.output_bytes,
            },
            self.started.elapsed(),
        )
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(hms(Duration::from_secs(3725)), "1:02:05");
    }
}
