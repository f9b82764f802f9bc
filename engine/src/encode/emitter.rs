//! The bridge between the sequential decode stage and the parallel encode/write workers.
//!
//! Adapters decode on one thread (cheap: key parsing, small state), and hand each file to
//! the [`WorkerPool`] as a closure that renders its bytes; workers render, write and hash
//! in parallel. The job queue is bounded, so memory is bounded by its capacity whatever
//! the dataset size. Ordered outputs (JSONL) are streamed from the decode thread itself.

use crate::error::Error;
use crate::options::DecodeOptions;
use crate::sinks::{RelPath, Sink, StreamFile};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Renders a file's bytes into the worker's reusable buffer.
pub type EncodeFn = Box<dyn FnOnce(&mut Vec<u8>) -> Result<(), Error> + Send>;

struct Job {
    path: RelPath,
    encode: EncodeFn,
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
    handles: Vec<JoinHandle<()>>,
    fail: Arc<FailState>,
}

/// Jobs handed to a worker at once: one channel operation (and at most one wake-up of a
/// sleeping worker) per batch instead of per file. Measured with `bench` on tmpfs (per-item
/// layout, 200k files): per-file sends cost ~0.3 context switches per file, which on this
/// virtualised machine is a tenth of the run's CPU.
const BATCH: usize = 16;

/// Batches queued per worker before the decode stage blocks (× [`BATCH`] = 64 jobs per
/// worker in flight, the bound memory is sized by).
const QUEUE_PER_WORKER: usize = 4;

impl WorkerPool {
    /// Starts `threads` workers (at least one) writing into `sink`.
    pub fn start(threads: usize, sink: Arc<dyn Sink>, fail: Arc<FailState>) -> Self {
        let threads = threads.max(1);
        let (tx, rx): (Sender<Vec<Job>>, Receiver<Vec<Job>>) = bounded(threads * QUEUE_PER_WORKER);
        let handles = (0..threads)
            .map(|i| {
                let rx = rx.clone();
                let sink = sink.clone();
                let fail = fail.clone();
                std::thread::Builder::new()
                    .name(format!("ekvb-write-{i}"))
                    .spawn(move || {
                        let mut buf = Vec::with_capacity(1 << 16);
                        for job in rx.into_iter().flatten() {
                            if fail.failed() {
                                continue; // drain without work
                            }
                            buf.clear();
                            let st = crate::progress::stages();
                            let t = crate::progress::stage_start();
                            let r = (job.encode)(&mut buf);
                            let n = buf.len() as u64;
                            crate::progress::stage_end(&st.encode, t, 1, n);
                            let t = crate::progress::stage_start();
                            let r = r.and_then(|()| sink.write_file(&job.path, &buf));
                            crate::progress::stage_end(&st.sink, t, 1, n);
                            if let Err(e) = r {
                                fail.fail(e);
                            }
                            if buf.capacity() > 16 << 20 {
                                buf = Vec::with_capacity(1 << 16);
                            }
                        }
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        WorkerPool {
            tx: Some(tx),
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
    fail: Arc<FailState>,
    opts: Arc<DecodeOptions>,
    /// Jobs not yet handed to the workers (at most [`BATCH`]); flushed when full and on
    /// drop.
    pending: RefCell<Vec<Job>>,
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
            fail,
            opts,
            pending: RefCell::new(Vec::with_capacity(BATCH)),
        })
    }

    /// The decode options.
    pub fn options(&self) -> &DecodeOptions {
        &self.opts
    }

    /// The sink (for adapters that need direct access, e.g. large bodies).
    pub fn sink(&self) -> &Arc<dyn Sink> {
        &self.sink
    }

    fn check(&self) -> Result<(), Error> {
        if self.fail.failed() {
            return Err(Error::Cancelled("a write worker failed".into()));
        }
        Ok(())
    }

    /// Queues a file whose bytes the worker renders with `encode`.
    pub fn file_with<F>(&self, path: RelPath, encode: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Vec<u8>) -> Result<(), Error> + Send + 'static,
    {
        self.check()?;
        let full = {
            let mut p = self.pending.borrow_mut();
            p.push(Job {
                path,
                encode: Box::new(encode),
            });
            p.len() >= BATCH
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the pending jobs to the workers (blocking while their queue is full).
    fn flush(&self) -> Result<(), Error> {
        let batch = std::mem::replace(&mut *self.pending.borrow_mut(), Vec::with_capacity(BATCH));
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        let t = crate::progress::stage_start();
        let r = self
            .tx
            .send(batch)
            .map_err(|_| Error::Cancelled("write workers stopped".into()));
        crate::progress::stage_end(&crate::progress::stages().send_wait, t, n, 0);
        r
    }

    /// Queues a file with ready bytes.
    pub fn file(&self, path: RelPath, bytes: Vec<u8>) -> Result<(), Error> {
        self.file_with(path, move |buf| {
            buf.extend_from_slice(&bytes);
            Ok(())
        })
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
        eprintln!("elastickv-backup: warning: {event}: {detail}");
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
