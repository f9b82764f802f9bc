//! Decode: the visible key/value stream → logical records, one module per adapter.
//!
//! The [`Dispatcher`] routes each visible entry by key prefix ([`routes`]) to the adapter
//! that owns it. Adapters see entries in ascending user-key order across all shards
//! (sources are merged before they get here), so a record whose keys span two shards is
//! assembled without any special handling. An adapter that needs a family *before* the
//! main pass (S3 manifests sort after their chunks; DynamoDB schemas after their items)
//! names it in [`Adapter::index_families`] and receives it in an index pass first.

pub mod dynamodb;
pub mod redis;
pub mod s3;
pub mod sqs;

/// The prefix route table, kept where decode's adapters have always found it; it lives in
/// the format crate with the rest of the storage layout.
pub use elastickv_backup_format::keyspace as routes;
pub use elastickv_backup_format::keyspace::{route, AdapterKind, Family, Route};

use crate::encode::Emitter;
use crate::error::Error;
use crate::sources::SkipFamilies;
use elastickv_backup_format::Entry;

/// One adapter's decoder: consumes the entries routed to it, emits files.
///
/// Calls come from one thread, in key order: optionally `index` for every entry of
/// [`Adapter::index_families`], then `handle` for every routed entry (index families
/// included), then `finish` once. Heavy encoding should be handed to the worker pool
/// through [`Emitter::file_with`].
pub trait Adapter: Send {
    /// Which adapter this is.
    fn kind(&self) -> AdapterKind;

    /// Families this adapter wants to see in an index pass before the main pass.
    fn index_families(&self) -> &'static [Family] {
        &[]
    }

    /// One entry of an index family, during the index pass.
    fn index(&mut self, _family: Family, _key: &[u8], _entry: &Entry) -> Result<(), Error> {
        Ok(())
    }

    /// One routed entry during the main pass. `key` is the user key with the family's
    /// prefix removed; `entry.user_key` is the whole key.
    fn handle(
        &mut self,
        family: Family,
        key: &[u8],
        entry: &Entry,
        out: &Emitter,
    ) -> Result<(), Error>;

    /// Families whose entries this adapter, with its options, ignores entirely: `handle`
    /// would neither write, check nor remember anything for them (not even where they fall
    /// in key order). The scanners may drop them before the merge ([`SkipFamilies`]).
    fn skipped_families(&self) -> &'static [Family] {
        &[]
    }

    /// End of input: flush whatever is buffered.
    fn finish(&mut self, out: &Emitter) -> Result<(), Error>;
}

/// Per-class entry counts, as upstream's final log line reports them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Entries routed to each adapter (by [`AdapterKind`] order).
    pub adapter: [u64; 4],
    /// Routed to a disabled adapter or to an internal family.
    pub internal: u64,
    /// Matching no route.
    pub unknown: u64,
}

/// Routes entries to the enabled adapters.
pub struct Dispatcher {
    adapters: [Option<Box<dyn Adapter>>; 4],
    /// Per adapter not finished yet: the first key past every key its families can hold
    /// ([`key_space_end`]); `None` once it has finished, or when no key can be past them.
    ends: [Option<Vec<u8>>; 4],
    /// The smallest of [`Dispatcher::ends`]: the one compare every entry pays.
    next_end: Option<Vec<u8>>,
    /// Results of the adapters finished during the main pass, kept for [`Dispatcher::finish`].
    early: [Option<Result<(), Error>>; 4],
    /// Counts so far.
    pub counters: Counters,
}

/// The first key past every key that starts with one of `kind`'s family prefixes: once
/// the main pass (in ascending key order) reaches it, the adapter has seen all its entries
/// and can finish while the rest of the input is decoded. `None` when no key is past them.
fn key_space_end(kind: AdapterKind) -> Option<Vec<u8>> {
    let successor = |prefix: &[u8]| {
        // The first byte string above every string that starts with `prefix`.
        let mut s = prefix.to_vec();
        while s.last() == Some(&u8::MAX) {
            s.pop();
        }
        let last = s.last_mut()?;
        *last += 1;
        Some(s)
    };
    let mut end: Option<Vec<u8>> = None;
    for r in routes::ROUTES.iter().filter(|r| r.adapter == Some(kind)) {
        let s = successor(r.prefix)?;
        if end.as_ref().is_none_or(|e| s > *e) {
            end = Some(s);
        }
    }
    end
}

impl Dispatcher {
    /// A dispatcher over the given (enabled) adapters.
    pub fn new(adapters: Vec<Box<dyn Adapter>>) -> Self {
        let mut slots: [Option<Box<dyn Adapter>>; 4] = [None, None, None, None];
        for a in adapters {
            let i = a.kind().index();
            slots[i] = Some(a);
        }
        let ends: [Option<Vec<u8>>; 4] = std::array::from_fn(|i| {
            let kind = slots[i].as_ref()?.kind();
            key_space_end(kind)
        });
        let mut d = Dispatcher {
            adapters: slots,
            ends,
            next_end: None,
            early: [None, None, None, None],
            counters: Counters::default(),
        };
        d.next_end = d.smallest_end();
        d
    }

    fn smallest_end(&self) -> Option<Vec<u8>> {
        self.ends.iter().flatten().min().cloned()
    }

    /// Finishes, now, every adapter whose key space `key` is past. Its result is kept for
    /// [`Dispatcher::finish`], which reports errors in upstream's order as if every
    /// adapter had finished at the end. What an adapter finishes (SQS's message streams,
    /// DynamoDB's last bundle parts) is handed to the pool while this thread decodes the
    /// keys that follow (the Redis families after `!sqs|`), instead of after all of them.
    fn finish_passed(&mut self, key: &[u8], out: &Emitter) {
        if self.next_end.as_deref().is_none_or(|e| key < e) {
            return;
        }
        for i in 0..self.ends.len() {
            let passed = self.ends[i].as_deref().is_some_and(|e| key >= e);
            if !passed {
                continue;
            }
            self.ends[i] = None;
            if let Some(Some(a)) = self.adapters.get_mut(i) {
                self.early[i] = Some(a.finish(out));
            }
        }
        self.next_end = self.smallest_end();
    }

    /// The families whose entries [`Dispatcher::dispatch`] would drop unread: internal
    /// families, those of disabled adapters, and those an enabled adapter ignores
    /// ([`Adapter::skipped_families`]). A source may leave them out of the main pass;
    /// they are then not counted in [`Counters`].
    pub fn skip_families(&self) -> SkipFamilies {
        let mut skip = SkipFamilies::default();
        for r in routes::ROUTES.iter() {
            let read = r
                .adapter
                .is_some_and(|k| self.adapters[k.index()].is_some());
            if !read {
                skip = skip.with(r.family);
            }
        }
        for a in self.adapters.iter().flatten() {
            for &f in a.skipped_families() {
                skip = skip.with(f);
            }
        }
        skip
    }

    /// Key prefixes wanted by some adapter's index pass (empty: no index pass needed).
    pub fn index_prefixes(&self) -> Vec<&'static [u8]> {
        let mut v: Vec<&'static [u8]> = self
            .adapters
            .iter()
            .flatten()
            .flat_map(|a| a.index_families().iter().map(|f| f.prefix()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Index pass: hands an entry to the adapters that asked for its family.
    pub fn index(&mut self, entry: &Entry) -> Result<(), Error> {
        let Some(r) = route(&entry.user_key) else {
            return Ok(());
        };
        let Some(kind) = r.adapter else { return Ok(()) };
        if let Some(a) = self.adapters[kind.index()].as_mut() {
            if a.index_families().contains(&r.family) {
                a.index(r.family, &entry.user_key[r.prefix.len()..], entry)?;
            }
        }
        Ok(())
    }

    /// Main pass: routes one visible entry.
    pub fn dispatch(&mut self, entry: &Entry, out: &Emitter) -> Result<(), Error> {
        self.finish_passed(&entry.user_key, out);
        let Some(r) = route(&entry.user_key) else {
            self.counters.unknown += 1;
            return Ok(());
        };
        let Some(kind) = r.adapter else {
            self.counters.internal += 1;
            return Ok(());
        };
        match self.adapters[kind.index()].as_mut() {
            Some(a) => {
                self.counters.adapter[kind.index()] += 1;
                a.handle(r.family, &entry.user_key[r.prefix.len()..], entry, out)
            }
            None => {
                self.counters.internal += 1;
                Ok(())
            }
        }
    }

    /// Finishes every adapter not finished during the main pass; each runs even if
    /// another one failed, and the first error in upstream's order is returned, whether it
    /// came from an adapter finished early or now. SQS finishes first: it hands its merged
    /// message streams to the pool, which writes them while this thread finishes the
    /// others.
    pub fn finish(&mut self, out: &Emitter) -> Result<(), Error> {
        let mut results: [Result<(), Error>; 4] = [Ok(()), Ok(()), Ok(()), Ok(())];
        let sqs = AdapterKind::Sqs.index();
        let order = std::iter::once(sqs).chain((0..self.adapters.len()).filter(|&i| i != sqs));
        for i in order {
            let early = self.early.get_mut(i).and_then(Option::take);
            if let (Some(Some(a)), Some(r)) = (self.adapters.get_mut(i), results.get_mut(i)) {
                *r = match early {
                    Some(done) => done,
                    None => a.finish(out),
                };
            }
        }
        self.ends = [None, None, None, None];
        self.next_end = None;
        results.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::emitter::FailState;
    use crate::encode::WorkerPool;
    use crate::options::DecodeOptions;
    use crate::sinks::{NullSink, Sink};
    use std::sync::{Arc, Mutex};

    /// An adapter that records when it finished and fails its finish when told to.
    struct Finisher {
        kind: AdapterKind,
        fails: bool,
        log: Log,
    }

    impl Adapter for Finisher {
        fn kind(&self) -> AdapterKind {
            self.kind
        }
        fn handle(&mut self, _: Family, _: &[u8], _: &Entry, _: &Emitter) -> Result<(), Error> {
            Ok(())
        }
        fn finish(&mut self, _: &Emitter) -> Result<(), Error> {
            self.log.lock().unwrap().push(self.kind);
            if self.fails {
                return Err(Error::Internal(format!("{:?} failed", self.kind)));
            }
            Ok(())
        }
    }

    type Log = Arc<Mutex<Vec<AdapterKind>>>;

    /// Every adapter, logging its finish into the returned log; S3's and SQS's finish fail
    /// (S3's error comes first in upstream's order). With a pool and an emitter to run on.
    fn finishers() -> (Dispatcher, Log, WorkerPool, Emitter) {
        let log = Log::default();
        let adapters = AdapterKind::ALL
            .iter()
            .map(|&kind| {
                Box::new(Finisher {
                    kind,
                    fails: matches!(kind, AdapterKind::S3 | AdapterKind::Sqs),
                    log: log.clone(),
                }) as Box<dyn Adapter>
            })
            .collect();
        let sink: Arc<dyn Sink> = Arc::new(NullSink::new());
        let fail = Arc::new(FailState::default());
        let pool = WorkerPool::start(2, sink.clone(), fail.clone());
        let out = Emitter::new(sink, &pool, fail, Arc::new(DecodeOptions::default())).unwrap();
        (Dispatcher::new(adapters), log, pool, out)
    }

    /// What the scanners may drop is exactly what dispatch would drop unread: internal
    /// families, disabled adapters' families, DynamoDB's GSI rows, and SQS's side records
    /// unless they are asked for.
    #[test]
    fn skipped_families_follow_the_enabled_adapters_and_their_options() {
        let skip_with = |adapters: &[AdapterKind], side: bool| {
            let opts = DecodeOptions {
                adapters: adapters.to_vec(),
                include_sqs_side_records: side,
                ..DecodeOptions::default()
            };
            Dispatcher::new(crate::pipeline::build_adapters(&opts)).skip_families()
        };
        use AdapterKind::*;
        let all = skip_with(&AdapterKind::ALL, false);
        for f in [Family::Txn, Family::Dist, Family::S3Route, Family::DdbGsi] {
            assert!(all.contains(f), "{f:?} kept");
        }
        for f in [Family::SqsMsgVis, Family::SqsMsgByAge, Family::SqsQueueSeq] {
            assert!(all.contains(f), "{f:?} kept without side records");
        }
        for f in [
            Family::DdbItem,
            Family::DdbTableMeta,
            Family::DdbTableGen,
            Family::S3ObjHead,
            Family::S3UploadPart,
            Family::RedisListMetaDelta,
            Family::SqsMsgData,
            Family::SqsQueueGen,
        ] {
            assert!(!all.contains(f), "{f:?} skipped");
        }
        let with_side = skip_with(&AdapterKind::ALL, true);
        assert!(!with_side.contains(Family::SqsMsgVis));
        assert!(with_side.contains(Family::DdbGsi));
        let redis_only = skip_with(&[Redis], false);
        for f in [Family::DdbItem, Family::S3Blob, Family::SqsMsgData] {
            assert!(redis_only.contains(f), "{f:?} of a disabled adapter kept");
        }
        assert!(!redis_only.contains(Family::RedisZsetMember));
        // Every family routed to an enabled adapter is kept, but for the ignored ones.
        for r in routes::ROUTES.iter().filter(|r| r.adapter == Some(Redis)) {
            assert!(!all.contains(r.family), "{:?}", r.family);
        }
    }

    /// Finishes `d`, whose first error in upstream's order is S3's, and stops the pool.
    fn finish_with_s3s_error(d: &mut Dispatcher, out: Emitter, pool: WorkerPool) {
        let e = d.finish(&out).unwrap_err();
        assert!(e.to_string().contains("S3 failed"), "{e}");
        drop(out);
        pool.join().unwrap();
    }

    #[test]
    fn sqs_finishes_first_and_errors_keep_upstreams_order() {
        let (mut d, log, pool, out) = finishers();
        finish_with_s3s_error(&mut d, out, pool);
        use AdapterKind::*;
        assert_eq!(*log.lock().unwrap(), [Sqs, DynamoDb, S3, Redis]);
    }

    #[test]
    fn adapters_finish_once_the_keys_pass_their_key_space() {
        let (mut d, log, pool, out) = finishers();
        let entry = |k: &[u8]| Entry {
            user_key: bytes::Bytes::copy_from_slice(k),
            commit_ts: 1,
            expire_at_ms: 0,
            tombstone: false,
            value: bytes::Bytes::new(),
        };
        use AdapterKind::*;
        let mut after = |k: &[u8]| {
            d.dispatch(&entry(k), &out).unwrap();
            log.lock().unwrap().clone()
        };
        assert_eq!(after(b"!ddb|item|t|1"), []);
        assert_eq!(after(b"!ddb|meta|table|t"), []);
        // Past every `!ddb|` family (an internal key): DynamoDB is done.
        assert_eq!(after(b"!dist|route|1"), [DynamoDb]);
        assert_eq!(after(b"!hs|meta|h"), [DynamoDb]);
        // `!s3route|` sorts before every `!s3|` key ('r' < '|').
        assert_eq!(after(b"!s3route|x"), [DynamoDb]);
        assert_eq!(after(b"!s3|upload|part|b"), [DynamoDb]);
        // The first SQS key is past S3's: S3 finishes (and fails; the error is kept).
        assert_eq!(after(b"!sqs|msg|data|q"), [DynamoDb, S3]);
        assert_eq!(after(b"!sqs|queue|tombstone|q"), [DynamoDb, S3]);
        // Redis keys after SQS's: SQS finishes while they are decoded.
        assert_eq!(after(b"!st|meta|s"), [DynamoDb, S3, Sqs]);
        assert_eq!(after(b"!zs|scr|z"), [DynamoDb, S3, Sqs]);
        // Redis has keys up to the end of the key space: it finishes at the end, and the
        // error reported is still the first in upstream's order (S3's).
        finish_with_s3s_error(&mut d, out, pool);
        assert_eq!(*log.lock().unwrap(), [DynamoDb, S3, Sqs, Redis]);
    }

    #[test]
    fn key_space_ends_are_past_every_family_prefix() {
        for kind in AdapterKind::ALL {
            let end = key_space_end(kind).unwrap();
            for r in routes::ROUTES.iter().filter(|r| r.adapter == Some(kind)) {
                let mut longest = r.prefix.to_vec();
                longest.extend_from_slice(&[u8::MAX; 64]);
                assert!(end > longest, "{kind:?}: {:?}", r.prefix);
            }
        }
        // The successor of its greatest prefix: `!sqs|zzz`, which no SQS family holds,
        // is past SQS's keys.
        assert_eq!(
            key_space_end(AdapterKind::Sqs).unwrap(),
            b"!sqs|queue|tombstone}"
        );
    }
}
