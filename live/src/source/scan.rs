//! The per-group scanner (docs/format/50-live-cluster.md §3.5): keys-only pages are the authoritative enumeration;
//! values come from value-bearing scans over each page's key span (halved on
//! `RESOURCE_EXHAUSTED`) with a `RawGet` backfill for any key the value scan skipped; keys the
//! group does not own are dropped; transient failures are retried with exponential backoff
//! (100 ms doubling to 2 s) until the group's retry budget is spent.

use super::abort::Abort;
use super::client::Conn;
use super::error::LiveError;
use super::limits::{BytePermit, Starving, Throttle};
use super::reorder::Reorder;
use super::retry;
use super::route_key::is_explicit_group_key;
use super::routes::{OwnerHint, RouteTable};
use super::scopes::{ScopeId, ScopeTally};
use super::topology::GroupRoute;
use bytes::Bytes;
use elastickv_backup_engine::decode::Family;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sources::RawEntry;
use elastickv_backup_proto::wire::{RawGetRequest, RawScanAtRequest};
use futures_util::stream::{FuturesOrdered, StreamExt};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tonic::{Code, Status};

/// Value-scan batch for families whose values are up to 1 MiB (S3 chunks): 4 values stay
/// well under the default 32 MiB value-page budget, and a response of a few MiB still
/// outweighs a round trip many times over. 16 held more bytes per group in flight for no
/// gain: live peak RSS 118 -> 100 MiB with 4 on the bench data, 110 -> 97 MiB on an
/// S3-only set (walls within noise; docs/PERFORMANCE.md, fifteenth pass).
const BLOB_VALUE_BATCH: usize = 4;
const BLOB_FAMILIES: [&[u8]; 2] = [Family::S3Blob.prefix(), Family::S3ChunkBlob.prefix()];
/// Keys-only pages a group enumerates ahead of its value fetches.
const KEY_PAGES_AHEAD: usize = 2;
/// Value fetches (one chunk of a keys page each) a group has in flight at once.
pub(super) const VALUE_FETCHES_IN_FLIGHT: usize = 2;
/// A chunk whose pairs came to more than this keeps the group at one value fetch in
/// flight until a smaller one comes back: a page of large values (up to the 64 MiB message
/// limit) is never fetched twice over, so a group holds at most what it held with one
/// fetch at a time (two blob chunks of 4 MiB stay well below it).
const LARGE_CHUNK_BYTES: usize = 32 << 20;
/// How long past a call's deadline the client waits for any answer before treating the
/// peer as gone.
const CLIENT_GRACE: Duration = Duration::from_secs(1);

/// What every scan of one group shares.
pub struct ScanParams {
    /// The node to ask (explicit `group_id` on every call), re-resolved when it fails.
    pub route: Arc<GroupRoute>,
    /// Raft group id.
    pub group: u64,
    /// The pinned read timestamp (never 0).
    pub read_ts: u64,
    /// Keys per keys-only page (1..=1025).
    pub page_size: usize,
    /// The catalog snapshot taken at dump start (ownership filter).
    pub routes: Arc<RouteTable>,
    /// How long one group may keep failing before the dump gives up.
    pub retry_budget: Duration,
    /// Deadline of one RPC.
    pub call_timeout: Duration,
    /// The dump-wide stop signal.
    pub abort: Abort,
    /// The dump-wide read, memory and rate limits.
    pub throttle: Arc<Throttle>,
    /// Bytes this group's batches hold in the byte budget right now.
    pub held: Arc<AtomicU64>,
    /// Set while the ordered merge is blocked waiting for this group's next batch.
    pub starving: Arc<Starving>,
}

/// One message from a scanner task to its stream.
pub enum Msg {
    /// Entries in encoded-key order, and their share of the byte budget (given back when
    /// the consumer is done with them).
    Batch(Vec<RawEntry>, Option<BytePermit>),
    /// The scan ended; per-scope counts of the keys read (ownership-filtered).
    Done(BTreeMap<ScopeId, u64>),
    /// The scan failed.
    Fail(Error),
}

fn is_blob(key: &[u8]) -> bool {
    BLOB_FAMILIES.iter().any(|f| key.starts_with(f))
}

/// A keys page as the value fetches it needs, in order: runs of blob-family keys (values up
/// to 1 MiB) in chunks of [`BLOB_VALUE_BATCH`], every other run as one chunk. Pages without
/// blobs — nearly all — stay one chunk without a copy.
fn value_chunks(keys: Vec<Bytes>) -> Vec<Vec<Bytes>> {
    if !keys.iter().any(|k| is_blob(k)) {
        return vec![keys];
    }
    let mut out: Vec<Vec<Bytes>> = Vec::new();
    let mut cur: Vec<Bytes> = Vec::new();
    let mut cur_blob = false;
    for k in keys {
        let blob = is_blob(&k);
        if !cur.is_empty() && (blob != cur_blob || (blob && cur.len() == BLOB_VALUE_BATCH)) {
            out.push(std::mem::take(&mut cur));
        }
        cur_blob = blob;
        cur.push(k);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One message from a group's key enumeration to its value side.
enum KeysMsg {
    /// The next owned keys, ascending (never empty).
    Page(Vec<Bytes>),
    /// Every range was enumerated.
    End,
    /// The enumeration failed.
    Fail(Error),
}

/// Aborts the task when dropped, so an enumeration never outlives its scan.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum CallFail {
    /// A status that is not retried here (the caller decides).
    Status(Status),
    /// The dump stopped, or the group ran out of retries.
    Fatal(Error),
}

/// `key ‖ 0x00`: the smallest key above `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

/// The exclusive end of the range of keys starting with `prefix` (empty = unbounded).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    Vec::new()
}

/// Disjoint ascending `[start, end)` ranges covering `prefixes` (everything when empty).
pub fn prefix_ranges(prefixes: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
    if prefixes.is_empty() || prefixes.iter().any(|p| p.is_empty()) {
        return vec![(Vec::new(), Vec::new())];
    }
    let mut ps: Vec<&[u8]> = prefixes.to_vec();
    ps.sort();
    ps.dedup();
    let mut kept: Vec<&[u8]> = Vec::new();
    for p in ps {
        if !kept.last().is_some_and(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    kept.into_iter()
        .map(|p| (p.to_vec(), prefix_end(p)))
        .collect()
}

impl ScanParams {
    fn owns(&self, key: &[u8], hint: &mut OwnerHint) -> bool {
        is_explicit_group_key(key) || self.routes.owner_hinted(key, hint) == Some(self.group)
    }

    fn status_error(&self, rpc: &str, s: Status) -> Error {
        if s.code() == Code::FailedPrecondition && s.message().contains("compacted") {
            return LiveError::ReadTsCompacted { group: self.group }.into();
        }
        LiveError::rpc(format!("{rpc} group {}", self.group), &s).into()
    }

    /// Runs `f` until it succeeds, fails with a non-retryable status, the dump stops, or the
    /// retry budget is spent.
    async fn call<T, F, Fut>(&self, mut f: F) -> Result<T, CallFail>
    where
        F: FnMut(Conn) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        let mut attempts = 0u32;
        let mut unresolved: Option<LiveError> = None;
        loop {
            attempts += 1;
            let conn = self.route.current();
            // The client-side bound covers a peer that stops answering without closing the
            // connection (the request's own deadline is only a header the peer may ignore).
            let bound = self.call_timeout + CLIENT_GRACE;
            let read = async {
                let _slot = self.throttle.read_slot_or_lane(&self.starving).await;
                tokio::time::timeout(bound, f(conn.clone())).await
            };
            let res = tokio::select! {
                r = read => {
                    r.unwrap_or_else(|_| Err(retry::no_answer(&format!("group {}", self.group), bound)))
                }
                reason = self.abort.wait() => return Err(CallFail::Fatal(reason.to_error())),
            };
            let s = match res {
                Ok(v) => return Ok(v),
                Err(s) if retry::is_transient(&s) => s,
                Err(s) => return Err(CallFail::Status(s)),
            };
            if started.elapsed() + backoff > self.retry_budget {
                return Err(CallFail::Fatal(
                    LiveError::GroupUnavailable {
                        group: self.group,
                        attempts,
                        secs: started.elapsed().as_secs_f64(),
                        code: s.code(),
                        message: match &unresolved {
                            Some(e) => format!("{} (then: {e})", s.message()),
                            None => s.message().to_string(),
                        },
                    }
                    .into(),
                ));
            }
            tracing::warn!(
                "group {} via {}: {:?} {} — retrying in {:?}",
                self.group,
                conn.address,
                s.code(),
                s.message(),
                backoff
            );
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                reason = self.abort.wait() => return Err(CallFail::Fatal(reason.to_error())),
            }
            if retry::classify(&s).is_some_and(|t| t.reresolve()) {
                let found = tokio::select! {
                    r = self.route.reresolve(&conn.address) => r,
                    reason = self.abort.wait() => return Err(CallFail::Fatal(reason.to_error())),
                };
                unresolved = found.err();
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn scan_page(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        keys_only: bool,
    ) -> Result<Vec<(Bytes, Bytes)>, CallFail> {
        let msg = RawScanAtRequest {
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            limit: limit as i64,
            ts: self.read_ts,
            reverse: false,
            group_id: self.group,
            keys_only,
        };
        let resp = self
            .call(|conn| {
                let mut c = conn.raw();
                let r = conn.req(msg.clone(), self.call_timeout);
                async move { c.raw_scan_at(r).await }
            })
            .await?;
        Ok(resp
            .into_inner()
            .kv
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect())
    }

    async fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        let msg = RawGetRequest {
            key: key.to_vec(),
            ts: self.read_ts,
            group_id: self.group,
        };
        let resp = self
            .call(|conn| {
                let mut c = conn.raw();
                let r = conn.req(msg.clone(), self.call_timeout);
                async move { c.raw_get(r).await }
            })
            .await
            .map_err(|f| match f {
                CallFail::Status(s) => self.status_error("RawGet", s),
                CallFail::Fatal(e) => e,
            })?
            .into_inner();
        // Old nodes may leave `exists` unset: a non-empty value counts as found.
        Ok((resp.exists || !resp.value.is_empty()).then(|| Bytes::from(resp.value)))
    }

    /// The pairs of `keys` (ascending) at `read_ts`; `None` = resolved away since enumeration.
    /// Keys and values are slices of the value pages (no copy), so the keys-only page's
    /// buffer is freed as soon as this returns.
    async fn values(
        &self,
        keys: &[Bytes],
        batch: &mut usize,
    ) -> Result<Vec<Option<(Bytes, Bytes)>>, Error> {
        let mut out: Vec<Option<(Bytes, Bytes)>> = Vec::with_capacity(keys.len());
        let mut i = 0;
        while i < keys.len() {
            let n = (*batch).clamp(1, keys.len() - i);
            let chunk = &keys[i..i + n];
            let first = &chunk[0];
            let end = successor(&chunk[n - 1]);
            match self.scan_page(first, &end, n, false).await {
                Ok(page) => {
                    let mut it = page.into_iter().peekable();
                    for k in chunk {
                        // The page answers the keys asked, in order: one equality check
                        // per key, the ordered skip only past keys nobody asked for.
                        if it.peek().is_some_and(|(pk, _)| pk == k) {
                            out.push(it.next());
                            continue;
                        }
                        while it.peek().is_some_and(|(pk, _)| pk < k) {
                            it.next();
                        }
                        match it.peek() {
                            Some((pk, _)) if pk == k => out.push(it.next()),
                            _ => out.push(self.get(k).await?.map(|v| (k.clone(), v))),
                        }
                    }
                    i += n;
                    *batch = (*batch * 2).min(self.page_size);
                }
                Err(CallFail::Status(s)) if s.code() == Code::ResourceExhausted => {
                    if n == 1 {
                        out.push(self.get(first).await?.map(|v| (first.clone(), v)));
                        i += 1;
                    } else {
                        *batch = n / 2;
                    }
                }
                Err(CallFail::Status(s)) => return Err(self.status_error("RawScanAt", s)),
                Err(CallFail::Fatal(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Enumerates the keys of `ranges` page by page (keys-only scans, ownership-filtered)
    /// into `tx`, ahead of the value fetches; ends with [`KeysMsg::End`] or the failure.
    async fn key_pages(
        self: Arc<Self>,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        tx: mpsc::Sender<KeysMsg>,
    ) {
        let mut hint = OwnerHint::default();
        for (start, end) in ranges {
            let mut cursor = start;
            loop {
                let keys: Vec<Bytes> =
                    match self.scan_page(&cursor, &end, self.page_size, true).await {
                        Ok(page) => page.into_iter().map(|(k, _)| k).collect(),
                        Err(CallFail::Status(s)) => {
                            let _ = tx
                                .send(KeysMsg::Fail(self.status_error("RawScanAt", s)))
                                .await;
                            return;
                        }
                        Err(CallFail::Fatal(e)) => {
                            let _ = tx.send(KeysMsg::Fail(e)).await;
                            return;
                        }
                    };
                let Some(last) = keys.last() else { break };
                cursor = successor(last);
                let keys: Vec<Bytes> = keys
                    .into_iter()
                    .filter(|k| self.owns(k, &mut hint))
                    .collect();
                if !keys.is_empty() && tx.send(KeysMsg::Page(keys)).await.is_err() {
                    return; // the value side stopped
                }
            }
        }
        let _ = tx.send(KeysMsg::End).await;
    }

    /// The values of one chunk of a keys page (see [`value_chunks`]). A chunk of blobs is
    /// at most [`BLOB_VALUE_BATCH`] keys; any other chunk starts from value batches of
    /// `batch` keys and also returns the batch size it ended with (halved on
    /// `RESOURCE_EXHAUSTED`, grown back on success), for the group's next chunk.
    async fn chunk_values(
        &self,
        keys: Vec<Bytes>,
        batch: usize,
    ) -> Result<(Vec<Option<(Bytes, Bytes)>>, Option<usize>), Error> {
        let blob = is_blob(&keys[0]);
        let mut vb = if blob { BLOB_VALUE_BATCH } else { batch };
        let values = self.values(&keys, &mut vb).await?;
        Ok((values, (!blob).then_some(vb.max(1))))
    }

    /// Scans `ranges` in order, sending batches to `tx`. Returns per-scope key counts.
    ///
    /// Three things overlap per group (§3.5): the keys-only enumeration runs ahead in its
    /// own task ([`KEY_PAGES_AHEAD`] pages), up to [`VALUE_FETCHES_IN_FLIGHT`] chunks fetch
    /// their values at once (one after a chunk over [`LARGE_CHUNK_BYTES`]), and each chunk
    /// is delivered as soon as it and every chunk before it are in, strictly in key order. One round trip after another left the
    /// pipeline idle whenever the merge reached a group whose few buffered batches ran out
    /// (the live profile's stall at the S3 blobs); a page of blobs fetched whole held up to
    /// 1,024 values of 1 MiB before the first was delivered.
    async fn run(
        self: &Arc<Self>,
        ranges: Vec<(Vec<u8>, Vec<u8>)>,
        tx: &mpsc::Sender<Msg>,
    ) -> Result<BTreeMap<ScopeId, u64>, Error> {
        let mut counts = ScopeTally::default();
        let mut reorder = Reorder::default();
        let mut batch_size = self.page_size;
        let (ktx, mut krx) = mpsc::channel(KEY_PAGES_AHEAD);
        let _enumerator = AbortOnDrop(tokio::spawn(self.clone().key_pages(ranges, ktx)));
        let mut fetching = FuturesOrdered::new();
        let mut chunks: VecDeque<Vec<Bytes>> = VecDeque::new();
        let mut keys_done = false;
        let mut in_flight = VALUE_FETCHES_IN_FLIGHT;
        // Batches fetched and waiting for room in the channel (and in the byte budget).
        let mut ready: VecDeque<Vec<RawEntry>> = VecDeque::new();
        loop {
            // New fetches start only while nothing waits to be delivered, and the loop
            // never blocks outside this `select!`: every read under way, and every read
            // queued for a permit, is polled while the group waits for room. A read left
            // unpolled keeps the permit it holds *or is handed* (the semaphores are fair:
            // a permit goes to the oldest queued waiter whether or not anyone polls it),
            // and with every permit parked in groups waiting on a full channel, the group
            // the merge needs could never read again.
            if ready.is_empty() {
                while fetching.len() < in_flight {
                    let Some(chunk) = chunks.pop_front() else {
                        break;
                    };
                    fetching.push_back(self.chunk_values(chunk, batch_size));
                }
            }
            let front_bytes = ready.front().map_or(0, |b| batch_bytes(b));
            tokio::select! {
                biased;
                room = self.room(front_bytes, tx), if !ready.is_empty() => {
                    let Some((bytes, send)) = room? else {
                        return Ok(counts.finish()); // the consumer went away
                    };
                    if let Some(batch) = ready.pop_front() {
                        send.send(Msg::Batch(batch, Some(bytes)));
                    }
                }
                Some(fetched) = fetching.next(), if !fetching.is_empty() => {
                    let (values, vb): (Vec<Option<(Bytes, Bytes)>>, Option<usize>) = fetched?;
                    batch_size = vb.unwrap_or(batch_size);
                    let mut out = Vec::with_capacity(values.len());
                    let mut bytes = 0usize;
                    for (k, v) in values.into_iter().flatten() {
                        bytes += k.len() + v.len();
                        counts.add(&k);
                        reorder.push(
                            RawEntry {
                                user_key: k,
                                commit_ts: self.read_ts,
                                expire_at_ms: 0,
                                tombstone: false,
                                value: v,
                            },
                            &mut out,
                        );
                    }
                    in_flight = if bytes > LARGE_CHUNK_BYTES {
                        1
                    } else {
                        VALUE_FETCHES_IN_FLIGHT
                    };
                    if !out.is_empty() {
                        self.throttle.pace(batch_bytes(&out)).await;
                        ready.push_back(out);
                    }
                }
                msg = krx.recv(), if !keys_done && chunks.is_empty() => {
                    match msg {
                        Some(KeysMsg::Page(keys)) => chunks.extend(value_chunks(keys)),
                        Some(KeysMsg::End) => keys_done = true,
                        Some(KeysMsg::Fail(e)) => return Err(e),
                        None => {
                            return Err(Error::Internal(format!(
                                "the key enumeration of group {} stopped without finishing",
                                self.group
                            )))
                        }
                    }
                }
                else => break,
            }
        }
        let mut rest = Vec::new();
        reorder.finish(&mut rest);
        if !rest.is_empty() {
            self.deliver(rest, tx).await?;
        }
        Ok(counts.finish())
    }

    /// Waits until a batch of `bytes` fits the byte budget and the channel has room;
    /// `None` when the consumer went away. Cancel-safe: dropped early, it holds nothing.
    async fn room<'a>(
        &self,
        bytes: u64,
        tx: &'a mpsc::Sender<Msg>,
    ) -> Result<Option<(BytePermit, mpsc::Permit<'a, Msg>)>, Error> {
        tokio::select! {
            (permit, slot) = async {
                let permit = self.throttle.buffer(&self.held, bytes).await;
                (permit, tx.reserve().await)
            } => Ok(slot.ok().map(|s| (permit, s))),
            reason = self.abort.wait() => Err(reason.to_error()),
        }
    }

    /// Paces `batch` by the rate limit, takes its bytes from the budget and sends it;
    /// `false` when the consumer went away.
    async fn deliver(&self, batch: Vec<RawEntry>, tx: &mpsc::Sender<Msg>) -> Result<bool, Error> {
        let bytes = batch_bytes(&batch);
        let permit = tokio::select! {
            p = async {
                self.throttle.pace(bytes).await;
                self.throttle.buffer(&self.held, bytes).await
            } => p,
            reason = self.abort.wait() => return Err(reason.to_error()),
        };
        Ok(tx.send(Msg::Batch(batch, Some(permit))).await.is_ok())
    }
}

/// Key and value bytes of a batch, as the byte budget and the rate limit count them.
fn batch_bytes(batch: &[RawEntry]) -> u64 {
    batch
        .iter()
        .map(|e| (e.user_key.len() + e.value.len()) as u64)
        .sum()
}

/// The task body: scans and reports the outcome as the last message.
pub async fn scan_task(p: Arc<ScanParams>, ranges: Vec<(Vec<u8>, Vec<u8>)>, tx: mpsc::Sender<Msg>) {
    let last = match p.run(ranges, &tx).await {
        Ok(counts) => Msg::Done(counts),
        Err(e) => Msg::Fail(e),
    };
    let _ = tx.send(last).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_from_prefixes() {
        assert_eq!(prefix_end(b"ab"), b"ac".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), Vec::<u8>::new());
        assert_eq!(prefix_ranges(&[]), vec![(vec![], vec![])]);
        use elastickv_backup_format::keys::ns;
        // A prefix and everything under it collapse into one range, ending where the
        // prefix's closing `|` becomes `}`.
        let r = prefix_ranges(&[ns::S3, Family::DdbTableMeta.prefix(), ns::DDB, ns::S3]);
        let past = |p: &[u8]| [&p[..p.len() - 1], b"}"].concat();
        assert_eq!(
            r,
            vec![
                (ns::DDB.to_vec(), past(ns::DDB)),
                (ns::S3.to_vec(), past(ns::S3))
            ]
        );
    }

    #[test]
    fn value_chunks_split_blob_runs_and_keep_order() {
        let key = |p: &[u8], i: usize| Bytes::from([p, format!("{i:05}").as_bytes()].concat());
        let blob = Family::S3ChunkBlob.prefix();
        let head = Family::S3ObjHead.prefix();
        // No blob: one chunk, the page itself.
        let page: Vec<Bytes> = (0..1024).map(|i| key(head, i)).collect();
        assert_eq!(value_chunks(page.clone()), vec![page]);
        // 3 heads, a run of blobs, 2 heads: runs split where the family changes, blobs by
        // BLOB_VALUE_BATCH, the last blob chunk shorter.
        let blobs = 2 * BLOB_VALUE_BATCH + BLOB_VALUE_BATCH / 2;
        let mut page: Vec<Bytes> = (0..3).map(|i| key(head, i)).collect();
        page.extend((0..blobs).map(|i| key(blob, i)));
        page.extend((3..5).map(|i| key(head, i)));
        let chunks = value_chunks(page.clone());
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let b = BLOB_VALUE_BATCH;
        assert_eq!(sizes, vec![3, b, b, b / 2, 2]);
        assert!(chunks
            .iter()
            .all(|c| c.iter().all(|k| is_blob(k) == is_blob(&c[0]))));
        assert_eq!(chunks.concat(), page);
    }
}
