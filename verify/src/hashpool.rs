//! Hashing workers for archive input (both digests of every file, SHA-256 and BLAKE3:
//! which one the dump lists is known only at its checksum file, the archive's last entry): the archive is read (and decompressed) on one
//! thread, in order, while files are hashed on the others. A small file goes over whole;
//! a large one as a job that receives its content in chunks, so no file is ever held in
//! memory. Both queues are bounded, so memory stays at a few MiB per worker.
//!
//! Not rayon (which `verify` uses for a directory, a plain parallel map over known files):
//! here the files arrive one by one from a single sequential reader, and the bounded
//! queue is what keeps the reader from buffering the archive in memory ahead of the
//! hashers; a rayon `scope` + `spawn` per file would queue without bound.

use super::digest::Algo;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Files up to this size are sent whole; larger ones in chunks of this size.
pub const CHUNK: usize = 1 << 20;

enum Job {
    Whole(Vec<u8>, Vec<u8>),
    Chunks(Vec<u8>, Receiver<Vec<u8>>),
}

/// Digests computed: (path, [SHA-256, BLAKE3]).
pub type Results = Vec<(Vec<u8>, [[u8; 32]; 2])>;

/// SHA-256 and BLAKE3 of `data`, in [`Results`] order.
pub fn both(data: &[u8]) -> [[u8; 32]; 2] {
    [Algo::Sha256.digest(data), Algo::Blake3.digest(data)]
}

/// Hashing threads fed by a bounded queue.
pub struct HashPool {
    tx: Option<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
    results: Arc<Mutex<Results>>,
    sent: usize,
}

impl HashPool {
    /// Starts `threads` workers (at least one).
    pub fn start(threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = bounded::<Job>(threads * 2);
        let results = Arc::new(Mutex::new(Vec::new()));
        let handles = (0..threads)
            .filter_map(|i| {
                let rx = rx.clone();
                let results = results.clone();
                std::thread::Builder::new()
                    .name(format!("ekvb-verify-{i}"))
                    .spawn(move || {
                        for job in rx {
                            let (path, digest) = match job {
                                Job::Whole(path, data) => (path, both(&data)),
                                Job::Chunks(path, chunks) => {
                                    let mut s = Algo::Sha256.hasher();
                                    let mut b = Algo::Blake3.hasher();
                                    for c in chunks {
                                        s.update(&c);
                                        b.update(&c);
                                    }
                                    (path, [s.finalize(), b.finalize()])
                                }
                            };
                            if let Ok(mut v) = results.lock() {
                                v.push((path, digest));
                            }
                        }
                    })
                    .ok()
            })
            .collect();
        HashPool {
            tx: Some(tx),
            handles,
            results,
            sent: 0,
        }
    }

    fn send(&mut self, job: Job) {
        if let Some(tx) = &self.tx {
            if tx.send(job).is_ok() {
                self.sent += 1;
            }
        }
    }

    /// Hashes a whole small file.
    pub fn whole(&mut self, path: Vec<u8>, data: Vec<u8>) {
        self.send(Job::Whole(path, data));
    }

    /// Starts hashing a large file; send its content in order through the returned sender
    /// and drop it at the end.
    pub fn chunks(&mut self, path: Vec<u8>) -> Sender<Vec<u8>> {
        let (tx, rx) = bounded(4);
        self.send(Job::Chunks(path, rx));
        tx
    }

    /// Waits for every job; returns the digests and whether every job sent was hashed
    /// (false only if a worker could not start or died).
    pub fn finish(mut self) -> (Results, bool) {
        self.tx = None;
        let started = !self.handles.is_empty();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        let v = self
            .results
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let complete = started && v.len() == self.sent;
        (v, complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_whole_and_chunked() {
        let mut p = HashPool::start(2);
        p.whole(b"a".to_vec(), b"hello\n".to_vec());
        let tx = p.chunks(b"b".to_vec());
        tx.send(b"hel".to_vec()).unwrap();
        tx.send(b"lo\n".to_vec()).unwrap();
        drop(tx);
        let (mut v, complete) = p.finish();
        assert!(complete);
        v.sort();
        let want = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(hex::encode(v[0].1[0]), want);
        assert_eq!(hex::encode(v[1].1[0]), want);
        assert_eq!(v[0].1[1], Algo::Blake3.digest(b"hello\n"));
        assert_eq!(v[1].1[1], v[0].1[1]);
    }
}
