//! The bridge between the sequential decode stage and the parallel encode/write workers.
//!
//! Adapters decode on one thread (cheap: key parsing, small state), and hand each file to
//! the [`WorkerPool`] as a closure that renders its bytes; workers render, write and hash
//! in parallel. The job queue is bounded, so memory is bounded by its capacity whatever
//! the dataset size. Ordered outputs (JSONL) are streamed from the decode thread itself,
//! their segments rendered on the pool; while the decode thread waits for a segment it
//! runs queued jobs instead of sleeping ([`Emitter::wait`]).
//!
//! `--threads N` means N busy threads, the decode thread included: the pool has N - 1
//! workers, and when their queue is full the decode thread runs the batch itself instead
//! of sleeping ("caller runs"). So `--threads 1` is one thread doing everything (no
//! hand-off, no context switches), and on N cores nothing is oversubscribed whichever
//! stage is the heavy one: the decode thread helps with files when decoding is cheap and
//! leaves them to the workers when it is not.

use crate::error::Error;
use crate::options::DecodeOptions;
use crate::sinks::{RelPath, Sink, StreamFile};
use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Renders a file's bytes into the worker's reusable buffer.
pub type EncodeFn = Box<dyn FnOnce(&mut Vec<u8>) -> Result<(), Error> + Send>;

/// Work for the pool.
enum Job {
    /// Render a file's bytes and write them; `held` = bytes the job holds until it runs
    /// (see [`QUEUE_BYTES`]).
    File {
        path: RelPath,
        encode: EncodeFn,
        held: usize,
    },
    /// Write a body whose bytes are already at hand, in pieces (slices of the snapshot
    /// mapping or of fetched pages), without copying them together first.
    Body {
        path: RelPath,
        pieces: Vec<Bytes>,
        held: Held,
        release: fn(&Bytes),
    },
    /// Compute something whose result goes back through a [`Pending`] (a segment of an
    /// ordered output rendered off the decode thread).
    Task(Box<dyn FnOnce() + Send>),
    /// Write whole outputs straight into the sink (an adapter's last streams, handed
    /// over at its finish); a failure fails the run like a file job's.
    Run(RunFn),
}

/// Where a body's pieces live ([`Emitter::body`]), which decides the bound they are held
/// against while queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceMemory {
    /// Allocated: fetched pages of a live dump, rendered bytes.
    Heap,
    /// Pages of a snapshot file's read-only mapping: nothing allocated while they wait.
    Mapped,
}

/// Writes outputs into the sink on a worker (see [`Emitter::run`]).
pub type RunFn = Box<dyn FnOnce(&dyn Sink) -> Result<(), Error> + Send>;

impl Job {
    /// The directory a file job writes into (tasks have none).
    fn dir(&self) -> Option<&str> {
        match self {
            Job::File { path, .. } | Job::Body { path, .. } => Some(path.parent_str()),
            Job::Task(_) | Job::Run(_) => None,
        }
    }

    /// Bytes the job holds until it has run (see [`QUEUE_BYTES`]).
    fn held(&self) -> Held {
        match self {
            Job::File { held, .. } => Held {
                heap: *held,
                mapped: 0,
            },
            Job::Body { held, .. } => *held,
            Job::Task(_) | Job::Run(_) => Held::default(),
        }
    }
}

/// Bytes that jobs keep alive until they have run, by where they live: allocated on the
/// heap (rendered bodies, fetched pages), or pages of a snapshot file's mapping, which cost
/// no allocation while they wait (see [`QUEUE_MAPPED_BYTES`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Held {
    heap: usize,
    mapped: usize,
}

impl std::ops::Add for Held {
    type Output = Held;
    fn add(self, o: Held) -> Held {
        Held {
            heap: self.heap + o.heap,
            mapped: self.mapped + o.mapped,
        }
    }
}

/// What the handed-over jobs hold, shared by the emitter (which adds) and whoever runs a
/// job (which subtracts once the job's bytes are gone).
#[derive(Debug, Default)]
struct Queued {
    heap: AtomicUsize,
    mapped: AtomicUsize,
}

impl Queued {
    fn add(&self, h: Held) {
        self.heap.fetch_add(h.heap, Ordering::Relaxed);
        self.mapped.fetch_add(h.mapped, Ordering::Relaxed);
    }

    fn sub(&self, h: Held) {
        self.heap.fetch_sub(h.heap, Ordering::Relaxed);
        self.mapped.fetch_sub(h.mapped, Ordering::Relaxed);
    }

    /// Whether `h` may be handed over now: each kind within its bound, or nothing of that
    /// kind in the workers' hands (one job bigger than the bound still goes to a worker).
    fn room(&self, h: Held) -> bool {
        let fits = |want: usize, now: &AtomicUsize, max: usize| {
            let now = now.load(Ordering::Relaxed);
            want == 0 || now == 0 || now + want <= max
        };
        fits(h.heap, &self.heap, QUEUE_BYTES) && fits(h.mapped, &self.mapped, QUEUE_MAPPED_BYTES)
    }

    #[cfg(test)]
    fn now(&self) -> Held {
        Held {
            heap: self.heap.load(Ordering::SeqCst),
            mapped: self.mapped.load(Ordering::SeqCst),
        }
    }
}

/// The result of a [`Emitter::submit`]ted task, taken in submission order by whoever
/// appends an ordered output.
pub struct Pending<T>(Receiver<T>);

impl<T> Pending<T> {
    /// The result if the task has run (or an error if it was dropped unrun because the
    /// run is failing); `None` while it is still queued or running.
    pub fn try_take(&self) -> Option<Result<T, Error>> {
        match self.0.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => Some(Err(dropped())),
        }
    }

    /// Waits for the result, doing nothing else meanwhile (see [`Emitter::wait`] for the
    /// wait that runs queued jobs).
    pub fn wait(self) -> Result<T, Error> {
        self.0.recv().map_err(|_| dropped())
    }
}

/// Submitted tasks whose results are appended to one ordered output in submission order,
/// with at most `max` in flight: how a huge table or collection is rendered by segments
/// on the pool without holding more than a few segments in memory.
pub struct InOrder<T> {
    queue: VecDeque<Pending<T>>,
    max: usize,
}

impl<T> InOrder<T> {
    /// A queue that waits for its oldest task once more than `max` are in flight.
    pub fn new(max: usize) -> Self {
        InOrder {
            queue: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// Queues a submitted task's result.
    pub fn push(&mut self, p: Pending<T>) {
        self.queue.push_back(p);
    }

    /// The oldest result if it is ready — waiting for it when more than `max` are in
    /// flight, or when `all` (the output is being finished). `None` when there is nothing
    /// to append now. While it waits, this thread runs jobs queued on `out`'s pool (see
    /// [`Emitter::wait`]).
    pub fn next(&mut self, all: bool, out: &Emitter) -> Option<Result<T, Error>> {
        if all || self.queue.len() > self.max {
            return self.queue.pop_front().map(|p| out.wait(p));
        }
        let r = self.queue.front().and_then(Pending::try_take)?;
        self.queue.pop_front();
        Some(r)
    }
}

fn dropped() -> Error {
    Error::Cancelled("a queued task was dropped: the run is failing".into())
}

/// The first failure of any stage, shared so every stage can stop early.
#[derive(Default)]
pub struct FailState {
    failed: AtomicBool,
    first: Mutex<Option<Error>>,
}

impl FailState {
    /// Records `e` unless an error is already recorded.
    pub fn fail(&self, e: Error) {
        if let Ok(mut g) = self.first.lock() {
            if g.is_none() {
                *g = Some(e);
            }
        }
        self.failed.store(true, Ordering::SeqCst);
    }

    /// Whether some stage failed.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Takes the recorded error.
    pub fn take(&self) -> Option<Error> {
        self.first.lock().ok().and_then(|mut g| g.take())
    }
}

/// Encode/write workers fed by a bounded queue.
pub struct WorkerPool {
    tx: Option<Sender<Vec<Job>>>,
    /// The workers' queue, for the decode thread to take batches from while it waits.
    rx: Receiver<Vec<Job>>,
    /// Bytes held by handed-over jobs that have not finished (see [`QUEUE_BYTES`]).
    queued: Arc<Queued>,
    /// Worker threads (the decode thread is the pool's other thread).
    workers: usize,
    handles: Vec<JoinHandle<()>>,
    fail: Arc<FailState>,
}

/// Jobs handed to a worker at once: one channel operation (and at most one wake-up of a
/// sleeping worker) per batch instead of per file. Measured with `bench` on tmpfs (per-item
/// layout, 200k files): per-file sends cost ~0.3 context switches per file, which on this
/// virtualised machine is a tenth of the run's CPU.
///
/// A batch also ends where the directory changes once it holds [`MIN_BATCH`] jobs, so two
/// threads seldom create files in the same directory at once: file creation takes the
/// directory's lock, and the threads would spin on it (`rwsem_spin_on_owner` in a
/// profile of 2 threads on tmpfs).
const BATCH: usize = 64;

/// See [`BATCH`].
const MIN_BATCH: usize = 8;

/// Batches queued per worker before the decode thread runs batches itself (× [`BATCH`] =
/// at most 128 jobs per worker in flight, the bound memory is sized by).
const QUEUE_PER_WORKER: usize = 8;

/// Bytes that handed-over jobs may hold until they have run (file bodies handed over
/// ready-made: Redis strings, S3 objects) before the decode thread runs batches itself.
/// The queue is bounded by count for the many small files and by bytes for the few big
/// ones, so its memory stays bounded whatever the mix. One job bigger than this (an S3
/// body collected by the decode stage, up to its own limit) is still handed over when
/// nothing else is held, so a big body is hashed on a worker while the decode thread goes
/// on, and at most one such body is in the workers' hands at a time.
const QUEUE_BYTES: usize = 16 << 20;

/// The same bound for bodies whose pieces are pages of a snapshot mapping (S3 bodies
/// decoded from `.fsm` files). Waiting in the queue they allocate nothing: the scanner has
/// already dropped them from the resident set, and the worker faults them back in from the
/// file, writes them, and drops them again. Bodies of 12–48 MiB held to the heap's 16 MiB
/// left the worker idle while the decode thread wrote the next one itself: on an S3-only
/// dataset (1 GiB, `gen --mix s3=1`, tmpfs), `--threads 2` went 0.945 -> 0.875 s with this
/// bound at 48 MiB, peak RSS +4 MiB; 96 MiB measured no better.
const QUEUE_MAPPED_BYTES: usize = 48 << 20;

/// What became of a batch offered to the workers (`Emitter::try_hand_over`).
enum Handed {
    /// Queued for a worker.
    Yes,
    /// Over the byte bound, or no workers: back for this thread to run.
    NoRoom(Vec<Job>),
    /// The queue is full: back for this thread to run.
    QueueFull(Vec<Job>),
}

/// Bytes held by a batch from which the decode thread, finding the workers' queue full,
/// runs queued batches first and hands this one over once there is room (see
/// `Emitter::hand_over`): about a millisecond of hashing and writing.
const BIG_BATCH_BYTES: usize = 1 << 20;

/// Runs one job with `buf` as its render buffer (on a worker or, when the queue is full, on
/// the decode thread). Batches run their file jobs in groups instead ([`run_files`]).
fn run_job(job: Job, buf: &mut Vec<u8>, sink: &dyn Sink) -> Result<(), Error> {
    let st = crate::progress::stages();
    let (path, encode) = match job {
        Job::File { path, encode, .. } => (path, encode),
        Job::Body {
            path,
            pieces,
            release,
            ..
        } => {
            let r = write_body(&path, &pieces, buf, sink);
            pieces.iter().for_each(release);
            return r;
        }
        Job::Task(task) => {
            let t = crate::progress::stage_start();
            task();
            crate::progress::stage_end(&st.encode, t, 0, 0);
            return Ok(());
        }
        Job::Run(f) => return f(sink),
    };
    run_file(&path, encode, buf, sink)
}

/// Renders one file into `buf` and writes it.
fn run_file(
    path: &RelPath,
    encode: EncodeFn,
    buf: &mut Vec<u8>,
    sink: &dyn Sink,
) -> Result<(), Error> {
    let st = crate::progress::stages();
    buf.clear();
    let t = crate::progress::stage_start_sampled();
    let r = encode(buf);
    let n = buf.len() as u64;
    crate::progress::stage_end(&st.encode, t, 1, n);
    let t = crate::progress::stage_start_sampled();
    let r = r.and_then(|()| sink.write_file(path, buf));
    crate::progress::stage_end(&st.sink, t, 1, n);
    shrink(buf);
    r
}

/// Gives back a buffer a huge file grew, so a worker does not keep it for the rest of the run.
fn shrink(buf: &mut Vec<u8>) {
    if buf.capacity() > 16 << 20 {
        *buf = Vec::with_capacity(1 << 16);
    }
}

/// Rendered files a thread writes and hashes together at most (see [`Buffers`]).
const GROUP_FILES: usize = 16;

/// Rendered bytes after which a group is written without waiting for more files, so a
/// thread holds little more than one big file's bytes at a time.
const GROUP_BYTES: usize = 256 << 10;

/// A thread's render buffers: one per file of a group, so that the small files rendered
/// one after the other are written and hashed together ([`Sink::write_files`]): SHA-256 of
/// two messages at once is ~1.6× faster than one after the other (`sinks::sha_pair`).
#[derive(Default)]
struct Buffers {
    files: Vec<Vec<u8>>,
}

impl Buffers {
    /// The `i`th buffer, cleared.
    fn get(&mut self, i: usize) -> &mut Vec<u8> {
        if self.files.len() <= i {
            self.files
                .resize_with(i + 1, || Vec::with_capacity(1 << 16));
        }
        let b = &mut self.files[i];
        b.clear();
        b
    }
}

/// Runs a batch in order on this thread; a run of file jobs is rendered as a group (up to
/// [`GROUP_FILES`] files or [`GROUP_BYTES`]) and written with one [`Sink::write_files`].
/// After a failure (this batch's or another thread's) the rest is dropped unrun; the first
/// failure of the batch goes to `fail`. `done` is told what each job held once it has run
/// or been dropped. Returns whether a job of this batch failed.
fn run_batch(
    batch: Vec<Job>,
    bufs: &mut Buffers,
    sink: &dyn Sink,
    fail: &FailState,
    done: &dyn Fn(Held),
) -> bool {
    let mut failed = false;
    let mut jobs = batch.into_iter();
    // A job read past the end of a group, run next.
    let mut carry: Option<Job> = None;
    while let Some(job) = carry.take().or_else(|| jobs.next()) {
        if failed || fail.failed() {
            done(job.held());
            continue;
        }
        let (held, r) = match job {
            Job::File { path, encode, held } => {
                let (h, carried, r) = run_files((path, encode, held), &mut jobs, bufs, sink);
                carry = carried;
                (Held { heap: h, mapped: 0 }, r)
            }
            job => (job.held(), run_job(job, bufs.get(0), sink)),
        };
        if let Err(e) = r {
            fail.fail(e);
            failed = true;
        }
        done(held);
    }
    failed
}

/// Renders `first` and the file jobs that follow it in `jobs` (a group, see
/// [`run_batch`]), each into its own buffer, and writes them with one
/// [`Sink::write_files`]. Returns the bytes the group's jobs held, the job that ended the
/// group if it was not a file, and the result.
fn run_files(
    first: (RelPath, EncodeFn, usize),
    jobs: &mut std::vec::IntoIter<Job>,
    bufs: &mut Buffers,
    sink: &dyn Sink,
) -> (usize, Option<Job>, Result<(), Error>) {
    let st = crate::progress::stages();
    let t = crate::progress::stage_start_sampled();
    let (path, encode, mut held) = first;
    let mut r = encode(bufs.get(0));
    let mut bytes = bufs.files[0].len();
    let mut paths = Vec::with_capacity(GROUP_FILES);
    paths.push(path);
    let mut carry = None;
    while r.is_ok() && paths.len() < GROUP_FILES && bytes < GROUP_BYTES {
        match jobs.next() {
            Some(Job::File {
                path,
                encode,
                held: h,
            }) => {
                let buf = bufs.get(paths.len());
                r = encode(buf);
                bytes += buf.len();
                held += h;
                paths.push(path);
            }
            Some(other) => {
                carry = Some(other);
                break;
            }
            None => break,
        }
    }
    let n = paths.len() as u64;
    crate::progress::stage_end(&st.encode, t, n, bytes as u64);
    let t = crate::progress::stage_start_sampled();
    let r = r.and_then(|()| {
        let files: Vec<(&RelPath, &[u8])> = paths
            .iter()
            .zip(&bufs.files)
            .map(|(p, b)| (p, b.as_slice()))
            .collect();
        sink.write_files(&files)
    });
    crate::progress::stage_end(&st.sink, t, n, bytes as u64);
    bufs.files.iter_mut().for_each(shrink);
    (held, carry, r)
}

/// Bodies up to this size are written with one `write` (their pieces copied together into
/// the worker's buffer when there are several); bigger ones are streamed piece by piece.
const ONE_WRITE: usize = 1 << 20;

/// Writes a body held in pieces (see [`Job::Body`]).
fn write_body(
    path: &RelPath,
    pieces: &[Bytes],
    buf: &mut Vec<u8>,
    sink: &dyn Sink,
) -> Result<(), Error> {
    let st = crate::progress::stages();
    let total: usize = pieces.iter().map(Bytes::len).sum();
    if let [one] = pieces {
        let t = crate::progress::stage_start();
        let r = sink.write_file(path, one);
        crate::progress::stage_end(&st.sink, t, 1, total as u64);
        return r;
    }
    if total <= ONE_WRITE {
        buf.clear();
        for p in pieces {
            buf.extend_from_slice(p);
        }
        let t = crate::progress::stage_start();
        let r = sink.write_file(path, buf);
        crate::progress::stage_end(&st.sink, t, 1, total as u64);
        return r;
    }
    let mut f = sink.open_stream(path)?;
    for p in pieces {
        f.write_all(p)?;
    }
    f.finish()
}

impl WorkerPool {
    /// Starts a pool of `threads` busy threads (at least one) writing into `sink`: the
    /// decode thread and `threads - 1` workers.
    pub fn start(threads: usize, sink: Arc<dyn Sink>, fail: Arc<FailState>) -> Self {
        let threads = threads.max(1);
        let (tx, rx): (Sender<Vec<Job>>, Receiver<Vec<Job>>) =
            bounded((threads - 1) * QUEUE_PER_WORKER);
        let queued = Arc::new(Queued::default());
        let handles = (1..threads)
            .map(|i| {
                let rx = rx.clone();
                let sink = sink.clone();
                let fail = fail.clone();
                let queued = queued.clone();
                std::thread::Builder::new()
                    .name(format!("ekvb-write-{i}"))
                    .spawn(move || {
                        let mut bufs = Buffers::default();
                        // A failing run drains the queue without working; what a job held
                        // is released once its bytes are gone (written or dropped).
                        for batch in rx {
                            run_batch(batch, &mut bufs, sink.as_ref(), &fail, &|h| queued.sub(h));
                        }
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        WorkerPool {
            tx: Some(tx),
            rx,
            queued,
            workers: threads - 1,
            handles,
            fail,
        }
    }

    /// Waits for every queued job; returns the first worker error.
    pub fn join(mut self) -> Result<(), Error> {
        self.tx = None;
        for h in self.handles.drain(..) {
            if h.join().is_err() {
                self.fail
                    .fail(Error::Internal("a write worker panicked".into()));
            }
        }
        match self.fail.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What adapters use to produce output.
pub struct Emitter {
    sink: Arc<dyn Sink>,
    tx: Sender<Vec<Job>>,
    /// The same queue's receiving end: batches this thread runs while it waits.
    help: Receiver<Vec<Job>>,
    queued: Arc<Queued>,
    fail: Arc<FailState>,
    opts: Arc<DecodeOptions>,
    /// Jobs not yet handed to the workers (at most [`BATCH`]); flushed when full and on
    /// drop.
    pending: RefCell<Vec<Job>>,
    /// Whether the pool has workers (else every job runs here).
    has_workers: bool,
    /// The decode thread's render buffers for the jobs it runs itself.
    bufs: RefCell<Buffers>,
}

impl Emitter {
    /// An emitter feeding `pool` and streaming into `sink`.
    pub fn new(
        sink: Arc<dyn Sink>,
        pool: &WorkerPool,
        fail: Arc<FailState>,
        opts: Arc<DecodeOptions>,
    ) -> Result<Self, Error> {
        let tx = pool
            .tx
            .clone()
            .ok_or_else(|| Error::Internal("worker pool already joined".into()))?;
        Ok(Emitter {
            sink,
            tx,
            help: pool.rx.clone(),
            queued: pool.queued.clone(),
            fail,
            opts,
            pending: RefCell::new(Vec::with_capacity(BATCH)),
            has_workers: pool.workers > 0,
            bufs: RefCell::new(Buffers::default()),
        })
    }

    /// The decode options.
    pub fn options(&self) -> &DecodeOptions {
        &self.opts
    }

    fn check(&self) -> Result<(), Error> {
        if self.fail.failed() {
            return Err(Error::Cancelled("a write worker failed".into()));
        }
        Ok(())
    }

    /// Queues a file whose bytes the worker renders with `encode` (which holds little:
    /// a decoded record, not a body; see [`Emitter::file_holding`]).
    pub fn file_with<F>(&self, path: RelPath, encode: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Vec<u8>) -> Result<(), Error> + Send + 'static,
    {
        self.file_holding(path, 0, encode)
    }

    /// Queues a file whose `encode` holds `held` bytes until it runs (a ready body), so the
    /// queue's bytes stay bounded (`QUEUE_BYTES`).
    pub fn file_holding<F>(&self, path: RelPath, held: usize, encode: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Vec<u8>) -> Result<(), Error> + Send + 'static,
    {
        self.queue(Job::File {
            path,
            encode: Box::new(encode),
            held,
        })
    }

    /// Adds a file job to the pending batch; a batch is handed over when full, and before
    /// a job of another directory once it holds [`MIN_BATCH`] jobs.
    fn queue(&self, job: Job) -> Result<(), Error> {
        self.check()?;
        let new_dir = {
            let p = self.pending.borrow();
            p.len() >= MIN_BATCH && p.last().is_some_and(|j| j.dir() != job.dir())
        };
        if new_dir {
            self.flush()?;
        }
        let full = {
            let mut p = self.pending.borrow_mut();
            p.push(job);
            p.len() >= BATCH
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Runs `task` on the pool — or here, when the workers are behind or there are none —
    /// and hands its result back through the returned [`Pending`]. This is how an ordered
    /// output (a JSONL bundle part) has its bytes rendered in parallel by segments while
    /// the decode thread appends the segments in order. The task is handed over at once
    /// (with any batched file jobs), so waiting on the result cannot deadlock.
    pub fn submit<T, F>(&self, task: F) -> Result<Pending<T>, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.check()?;
        let (tx, rx) = bounded(1);
        self.pending.borrow_mut().push(Job::Task(Box::new(move || {
            let _ = tx.send(task());
        })));
        self.flush()?;
        Ok(Pending(rx))
    }

    /// Hands `f` to the pool at once, to write whole outputs into the sink while this
    /// thread goes on (with the other adapters' ends): an SQS dump's merged message
    /// streams, written at its finish, kept one core busy while the other had nothing
    /// left to do. A failure fails the run, as a file job's does (the pool's join
    /// returns it).
    pub fn run<F>(&self, f: F) -> Result<(), Error>
    where
        F: FnOnce(&dyn Sink) -> Result<(), Error> + Send + 'static,
    {
        self.check()?;
        self.pending.borrow_mut().push(Job::Run(Box::new(f)));
        self.flush()
    }

    /// Hands the pending jobs to the workers, or runs them here when the workers' queue
    /// is full (or there are none).
    fn flush(&self) -> Result<(), Error> {
        let batch = std::mem::replace(&mut *self.pending.borrow_mut(), Vec::with_capacity(BATCH));
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        let t = crate::progress::stage_start();
        let r = self.hand_over(batch);
        crate::progress::stage_end(&crate::progress::stages().send_wait, t, n, 0);
        r
    }

    fn hand_over(&self, batch: Vec<Job>) -> Result<(), Error> {
        let held = batch
            .iter()
            .map(Job::held)
            .fold(Held::default(), |a, b| a + b);
        let batch = match self.try_hand_over(batch, held)? {
            Handed::Yes => return Ok(()),
            Handed::NoRoom(b) => b,
            Handed::QueueFull(mut b) => {
                // A batch holding a big body (an S3 object: tens of milliseconds of
                // hashing) is left for the worker while the queue holds other batches:
                // this thread runs those instead, one at a time, until there is a place
                // for it. Run here, it stopped the decode stage feeding the workers, and
                // the worker, once it had drained the queue, sat idle until the body was
                // written (`perf` timeline of a 2-thread per-item decode: ~20 ms of an
                // idle core per such body). Over the byte bound it is written here at
                // once, as before: the workers already hold a big body of their own.
                if held.heap + held.mapped >= BIG_BATCH_BYTES {
                    while let Ok(queued) = self.help.try_recv() {
                        self.run_taken(queued)?;
                        b = match self.try_hand_over(b, held)? {
                            Handed::Yes => return Ok(()),
                            Handed::NoRoom(b) | Handed::QueueFull(b) => b,
                        };
                    }
                }
                b
            }
        };
        let mut bufs = self.bufs.borrow_mut();
        // Not counted in `queued`: nothing to release.
        if run_batch(batch, &mut bufs, self.sink.as_ref(), &self.fail, &|_| {}) {
            return Err(Error::Cancelled("a file write failed".into()));
        }
        Ok(())
    }

    /// Hands `batch` (holding `held`) to the workers if their byte bound and queue have
    /// room; gives it back, saying which had none, when they do not (or there are no
    /// workers: "no room").
    fn try_hand_over(&self, batch: Vec<Job>, held: Held) -> Result<Handed, Error> {
        if !(self.has_workers && self.queued.room(held)) {
            return Ok(Handed::NoRoom(batch));
        }
        // Counted before the send, so a worker never subtracts what was not added.
        self.queued.add(held);
        match self.tx.try_send(batch) {
            Ok(()) => Ok(Handed::Yes),
            Err(TrySendError::Full(b)) => {
                self.queued.sub(held);
                Ok(Handed::QueueFull(b))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.queued.sub(held);
                Err(Error::Cancelled("write workers stopped".into()))
            }
        }
    }

    /// Waits for a submitted task's result, running queued batches here meanwhile: the
    /// decode thread would otherwise sleep while the workers render the segments of an
    /// ordered output it appends (an SQS queue's messages at the end of its keys, a huge
    /// Redis collection), with the work it could share sitting in the queue. A batch taken
    /// here may hold the awaited task itself; it then runs here.
    pub fn wait<T>(&self, p: Pending<T>) -> Result<T, Error> {
        loop {
            if let Some(r) = p.try_take() {
                return r;
            }
            crossbeam_channel::select! {
                recv(p.0) -> r => return r.map_err(|_| dropped()),
                recv(self.help) -> batch => match batch {
                    Ok(batch) => self.run_taken(batch)?,
                    // Not while this emitter holds a sender; kept correct anyway.
                    Err(_) => return p.wait(),
                },
            }
        }
    }

    /// Runs the batches still queued for the workers here, until the queue is empty: at
    /// the end of the data the decode thread shares the last batches instead of waiting
    /// for one worker to write them all.
    pub fn drain_queue(&self) -> Result<(), Error> {
        self.flush()?;
        while let Ok(batch) = self.help.try_recv() {
            self.run_taken(batch)?;
        }
        Ok(())
    }

    /// Runs a batch taken from the workers' queue on this thread, releasing its held
    /// bytes as a worker would.
    fn run_taken(&self, batch: Vec<Job>) -> Result<(), Error> {
        let mut bufs = self.bufs.borrow_mut();
        let queued = &self.queued;
        let failed = run_batch(batch, &mut bufs, self.sink.as_ref(), &self.fail, &|h| {
            queued.sub(h)
        });
        if failed {
            return Err(Error::Cancelled("a file write failed".into()));
        }
        Ok(())
    }

    /// Queues a file with ready bytes.
    pub fn file(&self, path: RelPath, bytes: Vec<u8>) -> Result<(), Error> {
        self.file_holding(path, bytes.len(), move |buf| {
            buf.extend_from_slice(&bytes);
            Ok(())
        })
    }

    /// Queues a body whose bytes are at hand in `pieces` (zero-copy slices): a worker
    /// writes and hashes them while this thread goes on, then calls `release` on each
    /// piece (a snapshot source drops the pages it faulted back in). Held against the
    /// pool's byte bound for `memory` (16 MiB of heap, 48 MiB of mapped pages); when the
    /// workers already hold that much, this thread writes it.
    pub fn body(
        &self,
        path: RelPath,
        pieces: Vec<Bytes>,
        memory: PieceMemory,
        release: fn(&Bytes),
    ) -> Result<(), Error> {
        let bytes: usize = pieces.iter().map(Bytes::len).sum();
        let held = match memory {
            PieceMemory::Heap => Held {
                heap: bytes,
                mapped: 0,
            },
            PieceMemory::Mapped => Held {
                heap: 0,
                mapped: bytes,
            },
        };
        self.queue(Job::Body {
            path,
            pieces,
            held,
            release,
        })?;
        if bytes > ONE_WRITE {
            // Not left in the pending batch (up to BATCH jobs, not yet counted as held).
            self.flush()?;
        }
        Ok(())
    }

    /// Opens a sequentially written file (JSONL sidecars, large bodies) on this thread.
    pub fn stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
        self.check()?;
        self.sink.open_stream(path)
    }

    /// Creates a directory that must exist even when empty (e.g. a DynamoDB `items/`).
    pub fn dir(&self, path: &RelPath) -> Result<(), Error> {
        self.check()?;
        self.sink.create_dir(path)
    }

    /// Reports a non-fatal oddity (upstream logs these as "encoder warning").
    pub fn warn(&self, event: &str, detail: &str) {
        tracing::warn!("{event}: {detail}");
    }
}

impl Drop for Emitter {
    /// Hands over the last partial batch, so dropping the emitter before joining the pool
    /// (as every caller does) still writes every queued file.
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            if !self.fail.failed() {
                self.fail.fail(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::{FileDigest, StreamFile};
    use std::sync::mpsc;
    use std::thread::ThreadId;

    /// The `Sink` methods of a test sink that only takes whole files.
    macro_rules! no_streams_or_controls {
        () => {
            fn open_stream(&self, _: &RelPath) -> Result<StreamFile, Error> {
                Err(Error::Internal("not in this test".into()))
            }
            fn write_control(&self, _: &str, _: &[u8]) -> Result<(), Error> {
                Ok(())
            }
            fn digests(&self) -> Result<Vec<FileDigest>, Error> {
                Ok(Vec::new())
            }
        };
    }

    /// Records which thread wrote each file; the first write on a worker waits until the
    /// test lets it go, so the queue fills up behind it.
    struct Gate {
        writes: Mutex<Vec<(String, ThreadId)>>,
        main: ThreadId,
        release: Mutex<Option<mpsc::Receiver<()>>>,
    }

    impl Sink for Gate {
        fn write_file(&self, path: &RelPath, _data: &[u8]) -> Result<(), Error> {
            let me = std::thread::current().id();
            if me != self.main {
                if let Some(rx) = self.release.lock().unwrap().take() {
                    rx.recv().unwrap();
                }
            }
            self.writes.lock().unwrap().push((path.to_string(), me));
            Ok(())
        }
        no_streams_or_controls!();
    }

    /// A pool of `threads` writing into `sink`, and an emitter feeding it.
    fn pool_over<S: Sink + 'static>(sink: &Arc<S>, threads: usize) -> (WorkerPool, Emitter) {
        let fail = Arc::new(FailState::default());
        let pool = WorkerPool::start(threads, sink.clone(), fail.clone());
        let opts = Arc::new(DecodeOptions::default());
        let out = Emitter::new(sink.clone(), &pool, fail, opts).unwrap();
        (pool, out)
    }

    fn gate() -> (Arc<Gate>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        let g = Gate {
            writes: Mutex::new(Vec::new()),
            main: std::thread::current().id(),
            release: Mutex::new(Some(rx)),
        };
        (Arc::new(g), tx)
    }

    #[test]
    fn mapped_bodies_are_held_against_their_own_bound() {
        let (sink, release) = gate();
        let (pool, out) = pool_over(&sink, 2);
        let put = |name: &str, mib: usize, memory| {
            let body = vec![Bytes::from(vec![0u8; mib << 20])];
            (out.body(RelPath::parse(name).unwrap(), body, memory, |_| {})).unwrap();
        };
        // The worker stops at its first write; what it holds stays counted meanwhile.
        put("s3/heap-a", 10, PieceMemory::Heap);
        // No mapped bytes in the workers' hands: handed over although over the heap's bound.
        put("s3/mapped-a", 40, PieceMemory::Mapped);
        // 48 MiB of mapped pages: still within their bound.
        put("s3/mapped-b", 8, PieceMemory::Mapped);
        // Over each bound: written here.
        put("s3/mapped-c", 2, PieceMemory::Mapped);
        put("s3/heap-b", 10, PieceMemory::Heap);
        let here = |sink: &Gate| -> Vec<String> {
            let w = sink.writes.lock().unwrap();
            (w.iter().filter(|(_, t)| *t == sink.main))
                .map(|(p, _)| p.clone())
                .collect()
        };
        assert_eq!(here(&sink), ["s3/mapped-c", "s3/heap-b"]);
        let held = Held {
            heap: 10 << 20,
            mapped: 48 << 20,
        };
        assert_eq!(out.queued.now(), held);
        release.send(()).unwrap();
        drop(out);
        pool.join().unwrap();
        let mut all: Vec<String> = (sink.writes.lock().unwrap().iter())
            .map(|(p, _)| p.clone())
            .collect();
        all.sort();
        let want = ["heap-a", "heap-b", "mapped-a", "mapped-b", "mapped-c"];
        assert_eq!(all, want.map(|n| format!("s3/{n}")));
        assert_eq!(
            here(&sink).len(),
            2,
            "the other three were written by the worker"
        );
    }

    /// Emits `files` files of `size` bytes, one directory each, through a pool of
    /// `threads`; returns (written by the calling thread before the worker was let go,
    /// written in all, written by the calling thread in all).
    fn run(files: usize, size: usize, threads: usize) -> (usize, usize, usize) {
        let (sink, release) = gate();
        let (pool, out) = pool_over(&sink, threads);
        for i in 0..files {
            let path = RelPath::parse(&format!("d{i}/f")).unwrap();
            out.file(path, vec![0u8; size]).unwrap();
        }
        let inline = |sink: &Gate| {
            let w = sink.writes.lock().unwrap();
            w.iter().filter(|(_, t)| *t == sink.main).count()
        };
        let before_release = inline(&sink);
        let _ = release.send(());
        drop(out);
        pool.join().unwrap();
        let total = sink.writes.lock().unwrap().len();
        (before_release, total, inline(&sink))
    }

    #[test]
    fn queue_is_bounded_by_bytes_then_the_decode_thread_writes() {
        // 1 MiB bodies, the worker stuck on its first: at most QUEUE_BYTES of them wait
        // in the queue, the rest are written by the calling thread at once.
        let files = 3 * (QUEUE_BYTES >> 20);
        let (inline, total, _) = run(files, 1 << 20, 2);
        assert_eq!(total, files);
        // Not inline: the worker's batch, up to QUEUE_BYTES queued, the unflushed batch.
        // (The count bound alone would queue all of them: (1 + QUEUE_PER_WORKER) batches.)
        assert!((1 + QUEUE_PER_WORKER) * MIN_BATCH > files);
        assert!(
            inline >= files - (QUEUE_BYTES >> 20) - 2 * MIN_BATCH,
            "only {inline} of {files} written inline"
        );
    }

    #[test]
    fn small_files_queue_by_count_and_one_thread_writes_everything_itself() {
        // Tiny files: the queue's count bound (not bytes) makes the caller write.
        let (inline, total, _) = run(100, 10, 2);
        assert_eq!(total, 100);
        assert!(
            inline >= 100 - (QUEUE_PER_WORKER + 2) * MIN_BATCH,
            "{inline}"
        );
        assert!(inline > 0);
        // --threads 1: no workers, every file on the calling thread.
        let (_, total, inline) = run(20, 1, 1);
        assert_eq!((total, inline), (20, 20));
    }

    #[test]
    fn in_order_hands_results_back_in_submission_order() {
        for threads in [1, 2] {
            let (sink, release) = gate();
            let _ = release.send(()); // nothing here waits on the gate
            let (pool, out) = pool_over(&sink, threads);
            let mut q = InOrder::new(3);
            let mut got = Vec::new();
            for i in 0..50u64 {
                q.push(
                    out.submit(move || {
                        // Later tasks finish first.
                        std::thread::sleep(std::time::Duration::from_micros(50 * (50 - i)));
                        i
                    })
                    .unwrap(),
                );
                while let Some(r) = q.next(false, &out) {
                    got.push(r.unwrap());
                }
                assert!(q.queue.len() <= 3);
            }
            while let Some(r) = q.next(true, &out) {
                got.push(r.unwrap());
            }
            assert_eq!(got, (0..50).collect::<Vec<_>>());
            drop(out);
            pool.join().unwrap();
        }
    }

    /// Starts a 2-thread pool over a gate whose worker is stuck on its first file, with
    /// that file handed over. Returns the gate, its release, the pool and the emitter.
    fn stuck_worker() -> (Arc<Gate>, mpsc::Sender<()>, WorkerPool, Emitter) {
        let (sink, release) = gate();
        let (pool, out) = pool_over(&sink, 2);
        out.file(RelPath::parse("stuck/f").unwrap(), vec![1])
            .unwrap();
        out.flush().unwrap();
        // The worker has taken its batch once the queue is empty again.
        while !out.help.is_empty() {
            std::thread::yield_now();
        }
        (sink, release, pool, out)
    }

    /// Lets a stuck worker go after a while if the test's thread is stuck too, so a
    /// broken helper fails the test instead of hanging it.
    fn watchdog(release: mpsc::Sender<()>, done: Arc<AtomicBool>) -> JoinHandle<()> {
        std::thread::spawn(move || {
            for _ in 0..300 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            let _ = release.send(());
        })
    }

    #[test]
    fn waiting_for_a_task_runs_the_queued_jobs_here() {
        let (sink, release, pool, out) = stuck_worker();
        // Files, then the awaited task, queued behind the stuck worker.
        for i in 0..3 {
            out.file(RelPath::parse(&format!("q/f{i}")).unwrap(), vec![2])
                .unwrap();
        }
        let p = out.submit(|| std::thread::current().id()).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let dog = watchdog(release, done.clone());
        let ran_on = out.wait(p).unwrap();
        // Still stuck: everything queued ran on this thread, the task included.
        let stuck = !done.swap(true, Ordering::SeqCst) && sink.writes.lock().unwrap().len() == 3;
        assert!(stuck, "the wait returned only once the worker was let go");
        assert_eq!(ran_on, sink.main);
        assert!(sink
            .writes
            .lock()
            .unwrap()
            .iter()
            .all(|(_, t)| *t == sink.main));
        dog.join().unwrap();
        drop(out);
        pool.join().unwrap();
        assert_eq!(sink.writes.lock().unwrap().len(), 4);
    }

    #[test]
    fn the_last_queued_batches_are_drained_here() {
        let (sink, release, pool, out) = stuck_worker();
        for i in 0..3 * BATCH {
            out.file(
                RelPath::parse(&format!("q{}/f{i}", i / BATCH)).unwrap(),
                vec![3],
            )
            .unwrap();
        }
        let done = Arc::new(AtomicBool::new(false));
        let dog = watchdog(release, done.clone());
        out.drain_queue().unwrap();
        done.store(true, Ordering::SeqCst);
        {
            let w = sink.writes.lock().unwrap();
            assert_eq!(w.len(), 3 * BATCH, "every queued file written here");
            assert!(w.iter().all(|(_, t)| *t == sink.main));
        }
        // Only the stuck worker's byte is still held: the drained jobs released theirs.
        assert_eq!(out.queued.now(), Held { heap: 1, mapped: 0 });
        dog.join().unwrap();
        drop(out);
        pool.join().unwrap();
        assert_eq!(sink.writes.lock().unwrap().len(), 3 * BATCH + 1);
    }

    #[test]
    fn a_failing_run_job_fails_the_run() {
        let (sink, release) = gate();
        let _ = release.send(());
        let (pool, out) = pool_over(&sink, 2);
        out.run(|_| Err(Error::Internal("stream broke".into())))
            .unwrap();
        drop(out);
        let e = pool.join().unwrap_err();
        assert!(e.to_string().contains("stream broke"), "{e}");
    }

    /// Files written: path, writing thread, bytes.
    type Written = Arc<Mutex<Vec<(String, ThreadId, Vec<u8>)>>>;

    /// Records who wrote which bytes; streams work. The first open or write on a worker
    /// waits until the test lets it go.
    struct Recorder {
        files: Written,
        gate: Arc<Gate>,
    }

    /// A stream's bytes, recorded when it is dropped (after `finish`).
    struct Collect(String, ThreadId, Vec<u8>, Written);

    impl std::io::Write for Collect {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.2.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Collect {
        fn drop(&mut self) {
            let c = std::mem::take(&mut self.2);
            self.3.lock().unwrap().push((self.0.clone(), self.1, c));
        }
    }

    impl Sink for Recorder {
        fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error> {
            self.gate.write_file(path, data)?;
            let me = std::thread::current().id();
            self.files
                .lock()
                .unwrap()
                .push((path.to_string(), me, data.to_vec()));
            Ok(())
        }
        fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
            self.gate.write_file(path, &[])?;
            let me = std::thread::current().id();
            let w = Collect(path.to_string(), me, Vec::new(), self.files.clone());
            Ok(StreamFile::new(
                path.clone(),
                Box::new(w),
                crate::sinks::DigestLog::default(),
            ))
        }
        fn write_control(&self, _: &str, _: &[u8]) -> Result<(), Error> {
            Ok(())
        }
        fn digests(&self) -> Result<Vec<FileDigest>, Error> {
            Ok(Vec::new())
        }
    }

    /// A [`Recorder`] behind a pool of one worker (held at its gate until `release` is sent)
    /// and an emitter feeding it.
    fn recording_pool() -> (Arc<Recorder>, mpsc::Sender<()>, WorkerPool, Emitter) {
        let (gate, release) = gate();
        let sink = Arc::new(Recorder {
            files: Arc::new(Mutex::new(Vec::new())),
            gate,
        });
        let (pool, out) = pool_over(&sink, 2);
        (sink, release, pool, out)
    }

    #[test]
    fn a_big_body_waits_for_room_while_queued_batches_run_here() {
        let (sink, release, pool, out) = recording_pool();
        let batch = |b: usize| {
            for i in 0..MIN_BATCH {
                let path = RelPath::parse(&format!("d{b}/f{i}")).unwrap();
                out.file(path, vec![b as u8; 10]).unwrap();
            }
            out.flush().unwrap();
        };
        // The worker takes the first batch and stops at its gate.
        batch(0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !out.help.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the worker never took a batch"
            );
            std::thread::yield_now();
        }
        // Then the queue fills up.
        for b in 1..=QUEUE_PER_WORKER {
            batch(b);
        }
        assert_eq!(out.help.len(), QUEUE_PER_WORKER);
        let written_here = |sink: &Recorder| {
            let f = sink.files.lock().unwrap();
            f.iter().filter(|(_, t, _)| *t == sink.gate.main).count()
        };
        assert_eq!(written_here(&sink), 0);
        // A body over BIG_BATCH_BYTES finds no room: this thread runs one queued batch,
        // which makes room, and the body goes to the worker.
        let body = vec![
            Bytes::from(vec![7u8; BIG_BATCH_BYTES]),
            Bytes::from_static(b"end"),
        ];
        out.body(
            RelPath::parse("s3/big").unwrap(),
            body,
            PieceMemory::Heap,
            |_| {},
        )
        .unwrap();
        let big = |sink: &Recorder| {
            let f = sink.files.lock().unwrap();
            f.iter()
                .find(|(p, ..)| p == "s3/big")
                .map(|(_, t, b)| (*t == sink.gate.main, b.len()))
        };
        assert_eq!(big(&sink), None, "the body waits for the worker");
        assert_eq!(written_here(&sink), MIN_BATCH, "one queued batch ran here");
        let _ = release.send(());
        drop(out);
        pool.join().unwrap();
        assert_eq!(big(&sink), Some((false, BIG_BATCH_BYTES + 3)));
        assert_eq!(
            sink.files.lock().unwrap().len(),
            (QUEUE_PER_WORKER + 1) * MIN_BATCH + 1
        );
    }

    /// Records which files were written together.
    #[derive(Default)]
    struct Groups {
        groups: Mutex<Vec<Vec<String>>>,
    }

    impl Sink for Groups {
        fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error> {
            self.write_files(&[(path, data)])
        }
        fn write_files(&self, files: &[(&RelPath, &[u8])]) -> Result<(), Error> {
            for (p, d) in files {
                assert!(d.starts_with(p.as_str().as_bytes()), "{p}: its own bytes");
            }
            let names = files.iter().map(|(p, _)| p.to_string()).collect();
            self.groups.lock().unwrap().push(names);
            Ok(())
        }
        no_streams_or_controls!();
    }

    #[test]
    fn rendered_files_next_to_each_other_are_written_together() {
        let sink = Arc::new(Groups::default());
        let (pool, out) = pool_over(&sink, 1);
        // Each file's bytes begin with its path (the sink checks that every file got its
        // own buffer); "big/…" files are a quarter of GROUP_BYTES each.
        let file = |name: String| {
            let p = RelPath::parse(&name).unwrap();
            let len = if name.starts_with("big/") {
                GROUP_BYTES / 4
            } else {
                name.len()
            };
            out.file_with(p, move |buf| {
                buf.extend_from_slice(name.as_bytes());
                buf.resize(len, b'x');
                Ok(())
            })
            .unwrap();
        };
        for i in 0..3 {
            file(format!("d/{i}"));
        }
        // A task between files: no group spans it.
        let p = out.submit(|| 1).unwrap();
        assert_eq!(out.wait(p).unwrap(), 1);
        for i in 0..GROUP_FILES + 2 {
            file(format!("e/{i:02}"));
        }
        out.flush().unwrap();
        for i in 0..5 {
            file(format!("big/{i}"));
        }
        drop(out);
        pool.join().unwrap();
        let groups = sink.groups.lock().unwrap();
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        // 3 files; a full group and the rest; big files: a group ends once it holds
        // GROUP_BYTES.
        assert_eq!(sizes, [3, GROUP_FILES, 2, 4, 1]);
        let all: Vec<String> = groups.iter().flatten().cloned().collect();
        let want: Vec<String> = (0..3)
            .map(|i| format!("d/{i}"))
            .chain((0..GROUP_FILES + 2).map(|i| format!("e/{i:02}")))
            .chain((0..5).map(|i| format!("big/{i}")))
            .collect();
        assert_eq!(all, want, "every file once, in the order emitted");
    }

    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn one_body_over_the_byte_bound_goes_to_a_worker_the_next_is_written_here() {
        let (sink, release, pool, out) = recording_pool();
        // Pieces of 1 MiB, each body over QUEUE_BYTES; then a small body of two pieces.
        let body = |seed: u8, n: usize, len: usize| -> Vec<Bytes> {
            (0..n)
                .map(|i| Bytes::from(vec![seed + i as u8; len]))
                .collect()
        };
        let (a, b, c) = (
            body(1, 20, 1 << 20),
            body(100, 20, 1 << 20),
            body(200, 2, 10),
        );
        let joined = |v: &[Bytes]| v.iter().flat_map(|p| p.to_vec()).collect::<Vec<u8>>();
        let want = [
            ("s3/a", joined(&a)),
            ("s3/b", joined(&b)),
            ("s3/c", joined(&c)),
        ];
        let note = |_: &Bytes| {
            RELEASED.fetch_add(1, Ordering::Relaxed);
        };
        out.body(RelPath::parse("s3/a").unwrap(), a, PieceMemory::Heap, note)
            .unwrap();
        out.body(RelPath::parse("s3/b").unwrap(), b, PieceMemory::Heap, note)
            .unwrap();
        // `a` waits on the worker's gate, so `b` was written here, at once.
        let here = |name: &str| {
            let f = sink.files.lock().unwrap();
            f.iter()
                .find(|(p, ..)| p == name)
                .map(|(_, t, _)| *t == sink.gate.main)
        };
        assert_eq!(here("s3/b"), Some(true));
        assert_eq!(here("s3/a"), None);
        out.body(RelPath::parse("s3/c").unwrap(), c, PieceMemory::Heap, note)
            .unwrap();
        let _ = release.send(());
        drop(out);
        pool.join().unwrap();
        assert_eq!(here("s3/a"), Some(false), "written by the worker");
        let files = sink.files.lock().unwrap();
        for (name, bytes) in want {
            let got = files.iter().find(|(p, ..)| p == name).map(|(.., b)| b);
            assert!(got == Some(&bytes), "{name}: wrong bytes");
        }
        assert_eq!(
            RELEASED.load(Ordering::Relaxed),
            42,
            "every piece released once"
        );
    }
}
