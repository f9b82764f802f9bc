//! The live dump as a job: a pinned [`LiveSession`]'s shards written through the
//! [`pipeline`], whole ([`write()`]), adapter by adapter so a failed run can
//! be finished later ([`resume`]), or split across processes under one pin ([`partition`]).
//!
//! Why a module above `sources`: the session is a source — it pins, connects, scans and
//! checks the baseline — while these jobs decide what is written where and when a dump is
//! final (MANIFEST.json). Keeping them here lets the data path point one way:
//! `sources → pipeline → dump`.

pub mod partition;
pub mod resume;

use crate::source::LiveSession;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline::{self, DataSummary};
use elastickv_backup_engine::sinks::Sink;
use std::path::Path;
use std::sync::Arc;

/// Takes an exclusive advisory lock on `path` (created if missing) without waiting, held
/// for as long as the returned file is open: how two runs on one dump directory (a resume,
/// a partitioned job's `finish`) are kept apart. `busy` says what holds it when it is taken.
pub fn exclusive_lock(path: &Path, busy: &str) -> Result<std::fs::File, Error> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path.display(), e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| Error::Usage(busy.to_string()))?;
    Ok(f)
}

/// Scans every group of `session` at its `read_ts` into `sink` through the shared
/// pipeline, then runs the session's post-write checks (baseline, catalog, pin health).
pub fn write(
    session: &LiveSession,
    sink: Arc<dyn Sink>,
    opts: &DecodeOptions,
    threads: usize,
) -> Result<DataSummary, Error> {
    write_restricted(session, sink, opts, threads, None)
}

/// [`write()`] over only the keys under `restrict` (all keys when `None`): a resumable or
/// partitioned dump writes one adapter at a time, scanning only its key families.
pub fn write_restricted(
    session: &LiveSession,
    sink: Arc<dyn Sink>,
    opts: &DecodeOptions,
    threads: usize,
    restrict: Option<&[&'static [u8]]>,
) -> Result<DataSummary, Error> {
    session.scan(opts, restrict, |shards| {
        pipeline::write_data(shards, sink, opts, threads)
    })
}

#[cfg(test)]
mod lock_tests {
    use super::exclusive_lock;
    use elastickv_backup_engine::error::Error;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = exclusive_lock(&path, "busy one").unwrap();
        match exclusive_lock(&path, "busy two") {
            Err(Error::Usage(m)) => assert_eq!(m, "busy two"),
            other => panic!("expected a usage error, got {other:?}"),
        }
        drop(first);
        exclusive_lock(&path, "busy three").unwrap();
    }
}
