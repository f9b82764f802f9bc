//! Wires the stages: shards → merge → visibility → dispatcher/adapters → worker pool →
//! sink; then MANIFEST.json and CHECKSUMS, only on success.
//!
//! `decode` (snapshot files) and `dump` (live cluster) share everything here; they differ
//! only in the shards they pass in and the manifest they finish with.

use crate::decode::{
    dynamodb::DdbAdapter, redis::RedisAdapter, s3::S3Adapter, sqs::SqsAdapter, Adapter,
    AdapterKind, Counters, Dispatcher,
};
use crate::encode::emitter::FailState;
use crate::encode::manifest::Manifest;
use crate::encode::{checksums, Emitter, WorkerPool};
use crate::error::Error;
use crate::options::DecodeOptions;
use crate::progress::{Reporter, ReporterConfig, Snapshot};
use crate::sinks::Sink;
use crate::sources::merge::Merged;
use crate::sources::visibility::{Hidden, Visible};
use crate::sources::{Entry, Shard, SkipFamilies};
use std::sync::Arc;
use std::time::Duration;

/// What a run did, for the final log line.
#[derive(Debug, Default, Clone)]
pub struct DataSummary {
    /// Visible entries dispatched.
    pub visible: u64,
    /// Per-class counts.
    pub counters: Counters,
    /// What visibility hid.
    pub hidden: Hidden,
    /// Records, bytes and files of the run.
    pub progress: Snapshot,
    /// Wall time of the data phase.
    pub elapsed: Duration,
}

/// The enabled adapters, in upstream's order.
pub fn build_adapters(opts: &DecodeOptions) -> Vec<Box<dyn Adapter>> {
    let mut v: Vec<Box<dyn Adapter>> = Vec::new();
    for kind in AdapterKind::ALL {
        if !opts.enabled(kind) {
            continue;
        }
        v.push(match kind {
            AdapterKind::DynamoDb => Box::new(DdbAdapter::new(opts)),
            AdapterKind::S3 => Box::new(S3Adapter::new(opts)),
            AdapterKind::Redis => Box::new(RedisAdapter::new(opts)),
            AdapterKind::Sqs => Box::new(SqsAdapter::new(opts)),
        });
    }
    v
}

/// Which entries a pass over the shards reads.
#[derive(Debug, Clone, Copy)]
pub enum Pass<'a> {
    /// Only keys under these prefixes (an index pass).
    Index(&'a [&'static [u8]]),
    /// Every key, except that a source may leave out these families (the main pass).
    Main(SkipFamilies),
}

/// The merged, visibility-filtered stream over `shards` for one `pass`.
pub fn visible_stream(
    shards: &[Arc<dyn Shard>],
    pass: Pass<'_>,
    include_expired: bool,
    count_progress: bool,
) -> Result<Visible<Merged>, Error> {
    let mut streams = Vec::with_capacity(shards.len());
    let mut read_ts = Vec::with_capacity(shards.len());
    for s in shards {
        streams.push(match pass {
            Pass::Index(prefixes) => s.scan(prefixes)?,
            Pass::Main(skip) => s.scan_skipping(skip)?,
        });
        read_ts.push(s.read_ts());
    }
    let mut merged = Merged::new(streams, read_ts);
    if count_progress {
        merged = merged.with_progress();
    }
    Ok(Visible::new(merged, include_expired))
}

/// Prefers a real failure over the "cancelled" it caused elsewhere.
fn first_real(errors: impl IntoIterator<Item = Result<(), Error>>) -> Result<(), Error> {
    let mut cancelled = None;
    for r in errors {
        match r {
            Ok(()) => {}
            Err(Error::Cancelled(m)) => {
                cancelled.get_or_insert(Error::Cancelled(m));
            }
            Err(e) => return Err(e),
        }
    }
    cancelled.map_or(Ok(()), Err)
}

/// Decodes every shard into data files in `sink` (everything but MANIFEST/CHECKSUMS).
pub fn write_data(
    shards: Vec<Arc<dyn Shard>>,
    sink: Arc<dyn Sink>,
    opts: &DecodeOptions,
    threads: usize,
) -> Result<DataSummary, Error> {
    let mut disp = Dispatcher::new(build_adapters(opts));
    let prefixes = disp.index_prefixes();
    if !prefixes.is_empty() {
        for e in visible_stream(&shards, Pass::Index(&prefixes), opts.include_expired, false)? {
            disp.index(&e?)?;
        }
    }
    let write_started = std::time::Instant::now();
    let reporter = Reporter::start(ReporterConfig {
        label: "progress",
        total_input: shards.iter().map(|s| s.size_hint()).sum(),
        log_every: Duration::from_secs(10),
    });
    let fail = Arc::new(FailState::default());
    let pool = WorkerPool::start(threads, sink.clone(), fail.clone());
    let emitter = Emitter::new(sink, &pool, fail, Arc::new(opts.clone()))?;
    let mut summary = DataSummary::default();
    let main = (|| -> Result<(), Error> {
        let skip = disp.skip_families();
        let mut stream = visible_stream(&shards, Pass::Main(skip), opts.include_expired, true)?;
        let st = crate::progress::stages();
        loop {
            let t = crate::progress::stage_start_sampled();
            let Some(e) = stream.next() else { break };
            crate::progress::stage_end(&st.scan, t, 1, 0);
            let e: Entry = e?;
            summary.visible += 1;
            crate::progress::counters()
                .records
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let t = crate::progress::stage_start_sampled();
            disp.dispatch(&e, &emitter)?;
            let n = (e.user_key.len() + e.value.len()) as u64;
            crate::progress::stage_end(&st.decode, t, 1, n);
        }
        summary.hidden = stream.hidden;
        let t = crate::progress::stage_start();
        let r = disp.finish(&emitter);
        crate::progress::stage_end(&st.decode, t, 0, 0);
        r?;
        // The last queued batches are shared instead of left to one worker.
        emitter.drain_queue()
    })();
    drop(emitter);
    let joined = pool.join();
    let (done, elapsed) = reporter.finish();
    summary.progress = done;
    summary.elapsed = elapsed;
    crate::progress::record_phase("write", write_started.elapsed());
    first_real([main, joined])?;
    summary.counters = disp.counters;
    Ok(summary)
}

/// Writes MANIFEST.json, then the checksum file (`CHECKSUMS`, or `CHECKSUMS.b3` for a
/// BLAKE3 dump) over every file including the manifest.
pub fn finalize(sink: &dyn Sink, manifest: &Manifest) -> Result<(), Error> {
    let started = std::time::Instant::now();
    if sink.digest_kind() != manifest.opts.checksums {
        return Err(Error::Internal(format!(
            "the sink hashed with {:?} but MANIFEST.json would say {:?}",
            sink.digest_kind(),
            manifest.opts.checksums
        )));
    }
    crate::progress::record_read_ts(manifest.last_commit_ts);
    sink.write_control("MANIFEST.json", &manifest.render())?;
    let listed = sink.write_control_with(sink.digest_kind().file_name(), &mut |w| {
        checksums::write_overlapped(w, sink.digest_kind(), &|f| sink.for_each_digest(f))
    });
    if let Err(e) = listed {
        // Not a dump without its checksum list: the manifest goes too (and the partial list).
        for name in ["MANIFEST.json", sink.digest_kind().file_name()] {
            if let Err(r) = sink.retract_control(name) {
                tracing::warn!("after the checksum list failed, {name} could not be removed: {r}");
            }
        }
        return Err(e);
    }
    crate::progress::record_phase("finalize", started.elapsed());
    Ok(())
}
