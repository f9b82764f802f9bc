//! Progress for long runs: an `indicatif` bar on a terminal (log lines print above it,
//! through [`LogWriter`]), a plain log line every few seconds otherwise (cron, CI,
//! `kubectl logs`), nothing with `--quiet`.
//!
//! Stages bump atomic counters (no locks on the hot path); one reporter thread reads them,
//! and so do the run reports (`--metrics-file`, `--summary-json`). The counters bumped per
//! file or per entry live in a block per thread (`Local`), summed when read: two writer
//! threads adding to one shared counter would pass its cache line back and forth on every
//! file.

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
    /// Versions a scanner dropped before the merge because no enabled adapter reads their
    /// family (the scanners' skip set); their bytes count as consumed input.
    pub skipped: AtomicU64,
}

static COUNTERS: Counters = Counters {
    input_bytes: AtomicU64::new(0),
    records: AtomicU64::new(0),
    files: AtomicU64::new(0),
    output_bytes: AtomicU64::new(0),
    skipped: AtomicU64::new(0),
};

/// The process-wide counters.
pub fn counters() -> &'static Counters {
    &COUNTERS
}

/// Records one completed output file of `len` bytes.
pub fn file_written(len: u64) {
    let counted = LOCAL.try_with(|l| {
        l.add(FILES, 1);
        l.add(OUTPUT_BYTES, len);
    });
    if counted.is_err() {
        // This thread's block is gone (a file finished while the thread exits).
        COUNTERS.files.fetch_add(1, Ordering::Relaxed);
        COUNTERS.output_bytes.fetch_add(len, Ordering::Relaxed);
    }
}

/// Cells of a [`Local`] block: three per stage (items, bytes, busy ns), then the file
/// counters.
const STAGE_COUNT: usize = 9;
const FILES: usize = STAGE_COUNT * 3;
const OUTPUT_BYTES: usize = FILES + 1;
const CELLS: usize = OUTPUT_BYTES + 1;

/// One thread's counters. Only the owning thread writes them (a plain load and store, no
/// locked add); readers on other threads sum every block.
struct Local {
    cells: [AtomicU64; CELLS],
}

impl Local {
    #[inline]
    fn add(&self, cell: usize, v: u64) {
        if let Some(c) = self.cells.get(cell) {
            // Single writer: a read-modify-write without the lock prefix loses nothing.
            c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
        }
    }
}

/// Every thread's block, kept after the thread ends so its counts still add up.
static BLOCKS: Mutex<Vec<Arc<Local>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Local> = {
        let block = Arc::new(Local {
            cells: [const { AtomicU64::new(0) }; CELLS],
        });
        if let Ok(mut all) = BLOCKS.lock() {
            all.push(block.clone());
        }
        block
    };
}

/// The sum of one cell over every thread's block.
fn local_sum(cell: usize) -> u64 {
    BLOCKS.lock().map_or(0, |all| {
        all.iter()
            .filter_map(|b| b.cells.get(cell))
            .map(|c| c.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    })
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
            files: self.files.load(Ordering::Relaxed) + local_sum(FILES),
            output_bytes: self.output_bytes.load(Ordering::Relaxed) + local_sum(OUTPUT_BYTES),
        }
    }
}

/// Per-stage busy time, for `bench`: how many items and bytes each pipeline stage handled
/// and how long it was busy doing so (summed over the threads that run it). Off by default
/// (one relaxed load per stage boundary); `bench` turns it on in the process it measures,
/// so the stage that limits a run can be named from one run's numbers.
/// (Counted per thread: items, bytes and nanoseconds busy, summed when read.)
pub struct StageCounter {
    /// The stage's first cell in every thread's block.
    cell: usize,
}

impl StageCounter {
    const fn new(stage: usize) -> Self {
        StageCounter { cell: stage * 3 }
    }

    /// Reads the counter (summed over the threads).
    pub fn snapshot(&self) -> StageSnapshot {
        StageSnapshot {
            items: local_sum(self.cell),
            bytes: local_sum(self.cell + 1),
            busy_ns: local_sum(self.cell + 2),
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
    scan: StageCounter::new(0),
    decode: StageCounter::new(1),
    send_wait: StageCounter::new(2),
    encode: StageCounter::new(3),
    sink: StageCounter::new(4),
    file_hash: StageCounter::new(5),
    file_write: StageCounter::new(6),
    stream_hash: StageCounter::new(7),
    stream_write: StageCounter::new(8),
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

/// Where a timed stage section started ([`stage_start`], [`stage_start_sampled`]).
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// When the section started; `None` for a section a sampled start left untimed.
    at: Option<Instant>,
    /// How many sections this one's time stands for.
    scale: u64,
}

/// One in this many per-entry and per-file sections is timed ([`stage_start_sampled`]).
pub const SAMPLE: u64 = 16;

/// The start of a timed stage section: `None` (no clock read) unless timing is on.
#[inline]
pub fn stage_start() -> Option<Stamp> {
    if STAGE_TIMING.load(Ordering::Relaxed) {
        Some(Stamp {
            at: Some(Instant::now()),
            scale: 1,
        })
    } else {
        None
    }
}

/// [`stage_start`] for the sections run once per entry or per file. Two clock reads per
/// section there cost more than a few percent of a run (millions of reads), so about one
/// section in [`SAMPLE`], picked at random per thread, is timed and counts for `SAMPLE`;
/// items and bytes are still counted for every section. With hundreds of thousands of
/// sections the busy time is within a percent or so; rare sections use [`stage_start`].
#[inline]
pub fn stage_start_sampled() -> Option<Stamp> {
    if !STAGE_TIMING.load(Ordering::Relaxed) {
        return None;
    }
    let timed = roll_for_sample();
    Some(Stamp {
        at: timed.then(Instant::now),
        scale: if timed { SAMPLE } else { 0 },
    })
}

/// Whether this section is the one in [`SAMPLE`] to time: a per-thread xorshift32, cheap,
/// and no pattern of the pipeline's calls lines up with it.
fn roll_for_sample() -> bool {
    thread_local! {
        static DICE: std::cell::Cell<u32> = const { std::cell::Cell::new(0x9e37_79b9) };
    }
    let roll = DICE
        .try_with(|d| {
            let mut x = d.get();
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            d.set(x);
            x
        })
        .unwrap_or(0);
    u64::from(roll) % SAMPLE == 0
}

/// Ends a section started by [`stage_start`] or [`stage_start_sampled`], adding `items`,
/// `bytes` and the (possibly scaled) elapsed time.
#[inline]
pub fn stage_end(stage: &StageCounter, start: Option<Stamp>, items: u64, bytes: u64) {
    if let Some(s) = start {
        let ns = s.at.map_or(0, |t| t.elapsed().as_nanos() as u64 * s.scale);
        // Timing only: a thread past its thread-local teardown goes uncounted.
        let _ = LOCAL.try_with(|l| {
            l.add(stage.cell, items);
            l.add(stage.cell + 1, bytes);
            l.add(stage.cell + 2, ns);
        });
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

impl Stages {
    /// Every stage with its name, in pipeline order (for reports).
    pub fn named(&self) -> [(&'static str, &StageCounter); 9] {
        [
            ("scan", &self.scan),
            ("decode", &self.decode),
            ("send_wait", &self.send_wait),
            ("encode", &self.encode),
            ("sink", &self.sink),
            ("file_hash", &self.file_hash),
            ("file_write", &self.file_write),
            ("stream_hash", &self.stream_hash),
            ("stream_write", &self.stream_write),
        ]
    }
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no bar and no progress lines for the rest of the process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// What the run reports (metrics file, summary JSON) know beyond the counters.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The dump's read timestamp, once known.
    pub read_ts: Option<u64>,
    /// Successful pin renewals.
    pub pin_renewals: u64,
    /// Finished phases and their wall time, in order.
    pub phases: Vec<(&'static str, Duration)>,
}

static RUN_INFO: Mutex<RunInfo> = Mutex::new(RunInfo {
    read_ts: None,
    pin_renewals: 0,
    phases: Vec::new(),
});

fn with_run_info(f: impl FnOnce(&mut RunInfo)) {
    if let Ok(mut g) = RUN_INFO.lock() {
        f(&mut g);
    }
}

/// A copy of the run information recorded so far.
pub fn run_info() -> RunInfo {
    RUN_INFO.lock().map(|g| g.clone()).unwrap_or_default()
}

/// Records the read timestamp of the dump being written.
pub fn record_read_ts(ts: u64) {
    with_run_info(|i| i.read_ts = Some(ts));
}

/// Records that a phase (`write`, `finalize`, …) took `took`.
pub fn record_phase(name: &'static str, took: Duration) {
    with_run_info(|i| i.phases.push((name, took)));
}

static LEASE_DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);

/// A live dump's pin was renewed until `deadline`: counted for the reports, and shown on
/// the bar (remaining lease, with a warning when the ETA runs past it).
pub fn pin_renewed(deadline: Instant) {
    with_run_info(|i| i.pin_renewals += 1);
    set_lease_deadline(Some(deadline));
}

/// Tells the reporter when the live dump's pin lease runs out (`None`: no pin).
fn set_lease_deadline(deadline: Option<Instant>) {
    if let Ok(mut g) = LEASE_DEADLINE.lock() {
        *g = deadline;
    }
}

/// The bar being drawn, if any: log lines are printed above it (see [`LogWriter`]).
static ACTIVE_BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Writes `bytes` (whole log lines) to stderr; with a bar on screen, the bar is cleared,
/// the lines printed, and the bar redrawn below them.
pub fn print_above_bar(bytes: &[u8]) {
    let bar = ACTIVE_BAR.lock().ok().and_then(|g| g.clone());
    let write = || {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(bytes);
        let _ = e.flush();
    };
    match bar {
        Some(b) if !b.is_finished() => b.suspend(write),
        _ => write(),
    }
}

/// A `tracing` writer (`MakeWriter`) that prints each event through [`print_above_bar`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

/// One event's bytes, printed when dropped.
#[derive(Debug, Default)]
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            print_above_bar(&self.0);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine::default()
    }
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

/// A running reporter; stops on [`Reporter::finish`] (or when dropped).
pub struct Reporter {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    started: Instant,
    base: Snapshot,
    bar: Option<indicatif::ProgressBar>,
}

/// The counters since `base`, as the progress message: records, files, output, pin lease.
fn message(base: Snapshot, eta: Option<Duration>) -> String {
    let now = counters().snapshot();
    let mut s = format!(
        "{} records, {} files, {} out",
        now.records - base.records,
        now.files - base.files,
        human_bytes(now.output_bytes - base.output_bytes),
    );
    if let Some(deadline) = LEASE_DEADLINE.lock().ok().and_then(|g| *g) {
        let left = deadline.saturating_duration_since(Instant::now());
        s.push_str(&format!(", pin lease {}", hms(left)));
        if eta.is_some_and(|e| e > left) {
            s.push_str(" (ETA exceeds the pin lease: renewals must keep up)");
        }
    }
    s
}

/// The plain line logged every `log_every` when stderr is not a terminal.
fn log_line(cfg: &ReporterConfig, base: Snapshot, started: Instant) -> String {
    let now = counters().snapshot();
    let inb = now.input_bytes - base.input_bytes;
    let el = started.elapsed();
    let rate = inb as f64 / el.as_secs_f64().max(0.001);
    let mut s = String::new();
    let mut eta = None;
    if cfg.total_input > 0 {
        let frac = (inb as f64 / cfg.total_input as f64).min(1.0);
        s.push_str(&format!("{:.1}% ", frac * 100.0));
        if inb > 0 && rate > 0.0 {
            eta = Some(Duration::from_secs_f64(
                cfg.total_input.saturating_sub(inb) as f64 / rate,
            ));
        }
    }
    s.push_str(&format!(
        "{} in, {}/s, elapsed {}",
        human_bytes(inb),
        human_bytes(rate as u64),
        hms(el)
    ));
    if let Some(d) = eta {
        s.push_str(&format!(", ETA {}", hms(d)));
    }
    s.push_str(", ");
    s.push_str(&message(base, eta));
    s
}

fn new_bar(cfg: &ReporterConfig) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let (bar, template) = if cfg.total_input > 0 {
        (
            ProgressBar::with_draw_target(
                Some(cfg.total_input),
                ProgressDrawTarget::stderr_with_hz(4),
            ),
            "{prefix}: [{elapsed_precise}] [{bar:24}] {percent:>3}% {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}, ETA {eta} {wide_msg}",
        )
    } else {
        (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4)),
            "{prefix}: {spinner} [{elapsed_precise}] {binary_bytes} in, {binary_bytes_per_sec} {wide_msg}",
        )
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(cfg.label);
    bar
}

impl Reporter {
    /// Starts reporting to stderr: an indicatif bar on a terminal, a log line every
    /// `log_every` otherwise, nothing with `--quiet`.
    pub fn start(cfg: ReporterConfig) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let base = counters().snapshot();
        let quiet = QUIET.load(Ordering::Relaxed);
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| new_bar(&cfg));
        if let (Some(b), Ok(mut g)) = (&bar, ACTIVE_BAR.lock()) {
            *g = Some(b.clone());
        }
        let handle = (!quiet)
            .then(|| {
                let stop = stop.clone();
                let cfg = cfg.clone();
                let bar = bar.clone();
                std::thread::Builder::new()
                    .name("ekvb-progress".into())
                    .spawn(move || {
                        let mut last_log = Instant::now();
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::park_timeout(Duration::from_millis(250));
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            if let Some(b) = &bar {
                                let inb = counters().snapshot().input_bytes - base.input_bytes;
                                b.set_position(inb);
                                let eta = (cfg.total_input > 0).then(|| b.eta());
                                b.set_message(message(base, eta));
                            } else if last_log.elapsed() >= cfg.log_every {
                                last_log = Instant::now();
                                tracing::info!("{}: {}", cfg.label, log_line(&cfg, base, started));
                            }
                        }
                    })
                    .ok()
            })
            .flatten();
        Reporter {
            stop,
            handle,
            started,
            base,
            bar,
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
            if let Ok(mut g) = ACTIVE_BAR.lock() {
                *g = None;
            }
        }
    }

    /// Stops the reporter and returns the counters since it started.
    pub fn finish(mut self) -> (Snapshot, Duration) {
        self.stop();
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
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// About one section in `SAMPLE` is timed, each standing for `SAMPLE`; an untimed one
    /// still counts its items and bytes.
    #[test]
    fn sampled_sections_count_everything_and_time_a_sixteenth() {
        let hits = std::thread::spawn(|| (0..16_000).filter(|_| roll_for_sample()).count())
            .join()
            .unwrap();
        assert!((800..1200).contains(&hits), "{hits} of 16000 timed");
        let stage = &stages().stream_hash;
        let before = stage.snapshot();
        let untimed = Stamp { at: None, scale: 0 };
        stage_end(stage, Some(untimed), 1, 5);
        let after = stage.snapshot();
        assert_eq!(
            (after.items - before.items, after.bytes - before.bytes),
            (1, 5)
        );
        assert_eq!(after.busy_ns, before.busy_ns);
        let started = Instant::now() - Duration::from_millis(2);
        let timed = Stamp {
            at: Some(started),
            scale: SAMPLE,
        };
        stage_end(stage, Some(timed), 1, 5);
        let timed_ns = stage.snapshot().busy_ns - after.busy_ns;
        assert!(timed_ns >= SAMPLE * 2_000_000, "{timed_ns} ns");
    }

    /// Counts made on several threads, including threads that have ended, all add up when
    /// read. (No other test of this crate times a stage, so the difference is exact; files
    /// are written by other tests concurrently, so that count is checked as a lower bound.)
    #[test]
    fn per_thread_counts_add_up_after_the_threads_end() {
        let stage = &stages().stream_write;
        let before = stage.snapshot();
        let files_before = counters().snapshot();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let t = Stamp {
                            at: Some(Instant::now()),
                            scale: 1,
                        };
                        stage_end(stage, Some(t), 1, 10);
                        file_written(7);
                    }
                });
            }
        });
        let after = stage.snapshot();
        assert_eq!(after.items - before.items, 3000);
        assert_eq!(after.bytes - before.bytes, 30_000);
        let files_after = counters().snapshot();
        assert!(files_after.files - files_before.files >= 3000);
        assert!(files_after.output_bytes - files_before.output_bytes >= 21_000);
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(hms(Duration::from_secs(3725)), "1:02:05");
    }
}
