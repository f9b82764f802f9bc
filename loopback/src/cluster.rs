//! The loopback cluster: groups, the route catalog, the clock, and the Phase 1 backup
//! protocol (docs/format/50-live-cluster.md §5) as plain Rust, independent of gRPC (the services in
//! [`super::service`] translate). Tests drive faults and writes through this type.

use super::config::ServerConfig;
use super::group::Group;
use super::hlc::Hlc;
use super::pins::{effective_ttl, new_pin_id, now_ms, Pin, PinId, PinToken};
use super::store::{GroupStore, Version};
use bytes::Bytes;
use elastickv_backup_engine::sources::RawEntry;
use elastickv_backup_live::source::route_key::is_explicit_group_key;
use elastickv_backup_live::source::routes::{OwnerHint, RouteTable};
use elastickv_backup_live::source::scopes::{
    declared_scope, ScopeId, ScopeTally, SCOPE_META_PREFIXES,
};
use elastickv_backup_proto::wire::{
    BeginBackupResponse, ListAdaptersAndScopesResponse, ScopeKeyCount, ShardApplied,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};
use tonic::Code;

/// A failed call: the gRPC status code and message a real node would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ServerError {
    /// Status code.
    pub code: Code,
    /// Status message.
    pub message: String,
}

impl ServerError {
    /// A status with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ServerError {
            code,
            message: message.into(),
        }
    }
}

impl From<ServerError> for tonic::Status {
    fn from(e: ServerError) -> Self {
        tonic::Status::new(e.code, e.message)
    }
}

/// Cluster-wide fault switches (per-group ones live on [`Group`]).
#[derive(Debug, Default)]
pub struct Faults {
    /// `RenewBackup` fails `UNAVAILABLE` on every group (after the server's own retries).
    pub renew_unavailable: AtomicBool,
    /// `RenewBackup` calls still to stall (each waits [`Faults::renew_stall_ms`] before it
    /// is handled — past the caller's deadline, as during a leader election).
    pub renew_stall_calls: AtomicU64,
    /// How long a stalled `RenewBackup` waits, in milliseconds.
    pub renew_stall_ms: AtomicU64,
    /// Extra latency per RawKV page, in milliseconds.
    pub scan_delay_ms: AtomicU64,
    /// Value-bearing scans skip a key that is a proper prefix of the next key in the page
    /// (upstream's value-scan hazard, §2.1), so only keys-only enumeration finds it.
    pub prefix_hazard: AtomicBool,
    /// Version gate failure message (`None` = every member is new enough).
    pub version_gate: Mutex<Option<String>>,
    /// RawKV reads touching keys under this prefix fail `FAILED_PRECONDITION` (a test's
    /// proof that a run never reads a key range, e.g. a finished adapter on resume).
    pub refuse_prefix: Mutex<Option<Vec<u8>>>,
}

impl Faults {
    /// Whether a read of `[start, end)` (empty `end` = unbounded) touches the refused
    /// prefix.
    pub fn refuses_range(&self, start: &[u8], end: &[u8]) -> bool {
        let guard = self.refuse_prefix.lock().unwrap_or_else(|e| e.into_inner());
        let Some(p) = guard.as_deref() else {
            return false;
        };
        let p_end = elastickv_backup_live::source::scan::prefix_end(p);
        let starts_before_p_ends = p_end.is_empty() || start < p_end.as_slice();
        let ends_after_p_starts = end.is_empty() || end > p;
        starts_before_p_ends && ends_after_p_starts
    }
}

/// Call counters tests assert on.
#[derive(Debug, Default)]
pub struct Stats {
    /// `BeginBackup` calls that passed authentication.
    pub begin_calls: AtomicU64,
    /// `RenewBackup` calls.
    pub renew_calls: AtomicU64,
    /// `EndBackup` calls.
    pub end_calls: AtomicU64,
    /// RawKV pages served.
    pub pages: AtomicU64,
    /// Keys returned by keys-only scans (the producer's enumeration): shows which key
    /// ranges a dump actually asked for.
    pub keys_listed: AtomicU64,
    /// The largest `RawScanAt` page served, in bytes: how much a producer asks for at once
    /// (its value batches bound its memory per group).
    pub max_page_bytes: AtomicU64,
    /// `RawScanAt`/`RawGet` calls being answered right now.
    pub reads_in_flight: AtomicU64,
    /// The most `RawScanAt`/`RawGet` calls answered at once since start (or the last
    /// reset): what `dump --scan-concurrency` bounds.
    pub max_reads_in_flight: AtomicU64,
}

impl Stats {
    /// Counts a read for as long as the returned guard lives.
    pub fn read_started(&self) -> ReadGuard<'_> {
        let now = self.reads_in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        self.max_reads_in_flight.fetch_max(now, Ordering::AcqRel);
        ReadGuard(self)
    }
}

/// One read in flight (see [`Stats::read_started`]).
pub struct ReadGuard<'a>(&'a Stats);

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        self.0.reads_in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The in-process cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Configuration.
    pub config: ServerConfig,
    /// The clock for commits and read timestamps.
    pub hlc: Hlc,
    routes: RwLock<RouteTable>,
    groups: Vec<Arc<Group>>,
    begin_lock: tokio::sync::Mutex<()>,
    /// Cluster-wide faults.
    pub faults: Faults,
    /// Counters.
    pub stats: Stats,
    /// Which node hosts and leads which group.
    pub placement: super::placement::Placement,
    phase1: AtomicBool,
    ts_counter: AtomicU64,
}

/// `key` as `Bytes`.
fn b(key: &[u8]) -> Bytes {
    Bytes::copy_from_slice(key)
}

impl Cluster {
    /// A cluster with `config.groups` groups holding `entries` (every version as given),
    /// with routes split so the data spreads over the groups.
    pub fn new(config: ServerConfig, entries: Vec<RawEntry>) -> Self {
        let groups_n = config.groups.max(1);
        let route_keys: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| elastickv_backup_live::source::route_key::route_key(&e.user_key).into_owned())
            .collect();
        let table = RouteTable::split(&RouteTable::quantiles(route_keys, groups_n), groups_n);
        let groups: Vec<Arc<Group>> = (1..=groups_n).map(|id| Arc::new(Group::new(id))).collect();
        let mut max_ts = 0;
        for e in entries {
            max_ts = max_ts.max(e.commit_ts);
            let owner = table.owner(&e.user_key).unwrap_or(1);
            if let Some(g) = groups.get(owner as usize - 1) {
                g.write().apply(
                    e.user_key,
                    Version {
                        ts: e.commit_ts,
                        tombstone: e.tombstone,
                        expire_at_ms: e.expire_at_ms,
                        value: e.value,
                    },
                );
                g.log_entry();
            }
        }
        for g in &groups {
            g.write().pack();
            g.snapshot_now();
        }
        Cluster {
            placement: super::placement::Placement::spread(groups_n, config.nodes),
            phase1: AtomicBool::new(config.phase1),
            config,
            hlc: Hlc::starting_at(max_ts),
            routes: RwLock::new(table),
            groups,
            begin_lock: tokio::sync::Mutex::new(()),
            faults: Faults::default(),
            stats: Stats::default(),
            ts_counter: AtomicU64::new(0),
        }
    }

    /// Group `id`, if the cluster has it.
    pub fn group(&self, id: u64) -> Option<&Arc<Group>> {
        self.groups.get(usize::try_from(id).ok()?.checked_sub(1)?)
    }

    /// All groups.
    pub fn groups(&self) -> &[Arc<Group>] {
        &self.groups
    }

    /// A copy of the route catalog.
    pub fn routes(&self) -> RouteTable {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the Phase 1 RPCs are served.
    pub fn phase1(&self) -> bool {
        self.phase1.load(Ordering::Acquire)
    }

    /// Turns the Phase 1 RPCs on or off (off = an upstream node of today).
    pub fn set_phase1(&self, on: bool) {
        self.phase1.store(on, Ordering::Release);
    }

    /// Fault: a catalog change (split/merge) — bumps `catalog_version`.
    pub fn bump_catalog_version(&self) {
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .version += 1;
    }

    /// `Distribution.GetTimestamp`: a per-process counter, NOT an HLC (spec §2.4).
    pub fn next_counter(&self) -> u64 {
        self.ts_counter.fetch_add(1, Ordering::AcqRel) + 1
    }

    fn commit(&self, key: &[u8], tombstone: bool, value: &[u8], expire_at_ms: u64) -> u64 {
        self.commit_many(&[(key, tombstone, value, expire_at_ms)])
    }

    /// Applies `(key, tombstone, value, expire_at_ms)` writes at one commit timestamp.
    ///
    /// The timestamp is taken while every group written is write-locked (in group-id order,
    /// so two batches never deadlock), and readers take a group's read lock: a write whose
    /// timestamp is below a `read_ts` chosen by `BeginBackup` is therefore already applied
    /// when any scan at that `read_ts` reads its group. Without this a write could get its
    /// timestamp before `read_ts` and land in the store after the scan passed its key — the
    /// point-in-time hole a real node closes with its apply fence. A batch is also atomic for
    /// readers: every key of it is visible at its timestamp or none is (a transaction).
    fn commit_many(&self, writes: &[(&[u8], bool, &[u8], u64)]) -> u64 {
        let routes = self.routes();
        let owners: Vec<u64> = writes
            .iter()
            .map(|w| routes.owner(w.0).unwrap_or(1))
            .collect();
        let mut ids = owners.clone();
        ids.sort_unstable();
        ids.dedup();
        let groups: Vec<&Arc<Group>> = ids.iter().filter_map(|id| self.group(*id)).collect();
        let mut locked: Vec<(u64, RwLockWriteGuard<'_, GroupStore>)> =
            groups.iter().map(|g| (g.id, g.write())).collect();
        let ts = self.hlc.next();
        for (w, owner) in writes.iter().zip(&owners) {
            if let Some((_, store)) = locked.iter_mut().find(|(id, _)| id == owner) {
                store.apply(
                    b(w.0),
                    Version {
                        ts,
                        tombstone: w.1,
                        expire_at_ms: w.3,
                        value: b(w.2),
                    },
                );
            }
        }
        drop(locked);
        for g in groups {
            g.log_entry();
            g.maybe_snapshot(self.config.snapshot_every);
        }
        ts
    }

    /// Commits a batch atomically at one timestamp (a transaction touching several keys,
    /// possibly in several groups): `Some(value)` puts, `None` deletes. Returns the commit
    /// timestamp. Adapters write a record's keys together (an S3 object's manifest and
    /// chunks, an SQS message's data and index rows), so load tests use this to keep every
    /// point in time a state a real cluster could be in.
    pub fn commit_batch(&self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> u64 {
        let writes: Vec<(&[u8], bool, &[u8], u64)> = batch
            .iter()
            .map(|(k, v)| match v {
                Some(v) => (k.as_slice(), false, v.as_slice(), 0),
                None => (k.as_slice(), true, &b""[..], 0),
            })
            .collect();
        self.commit_many(&writes)
    }

    /// Writes `key = value` now; returns its commit timestamp.
    pub fn put(&self, key: &[u8], value: &[u8]) -> u64 {
        self.commit(key, false, value, 0)
    }

    /// Deletes `key` now (a tombstone); returns its commit timestamp.
    pub fn delete(&self, key: &[u8]) -> u64 {
        self.commit(key, true, b"", 0)
    }

    /// The timestamp a read with `ts = 0` uses: the newest commit of any group, or
    /// `u64::MAX` ("latest") when nothing was committed.
    pub fn default_read_ts(&self) -> u64 {
        match self.latest_commit_ts() {
            0 => u64::MAX,
            ts => ts,
        }
    }

    /// `RawLatestCommitTS` with an empty key: the node-wide watermark.
    pub fn latest_commit_ts(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.read().last_commit_ts())
            .max()
            .unwrap_or(0)
    }

    /// Whether group `g` owns `key` (or `key` is exempt from route ownership), for a run
    /// of keys in order: `hint` remembers the last key's route and route key (see
    /// [`RouteTable::owner_hinted`]); one hint per run.
    pub fn owns_hinted(
        &self,
        routes: &RouteTable,
        g: u64,
        key: &[u8],
        hint: &mut OwnerHint,
    ) -> bool {
        is_explicit_group_key(key) || routes.owner_hinted(key, hint) == Some(g)
    }

    /// Per-scope baseline counts at `ts` (spec §5.7), after the ownership filter.
    pub fn count_scopes(&self, ts: u64) -> Result<BTreeMap<ScopeId, (u64, u64)>, ServerError> {
        let routes = self.routes();
        // Every key of every group is visited, and `BeginBackup` waits for it: the groups
        // are counted on all cores (a group per thread at a time).
        let count = |g: &Arc<Group>| -> Result<_, ServerError> {
            let applied = g.applied_index();
            let mut tally = ScopeTally::default();
            let mut hint = OwnerHint::default();
            g.read()
                .for_each_visible(b"", ts, |k, _| {
                    if self.owns_hinted(&routes, g.id, k, &mut hint) {
                        tally.add(k);
                    }
                })
                .map_err(compacted)?;
            Ok((applied, tally.finish()))
        };
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(self.groups.len())
            .max(1);
        let per_group: Vec<_> = std::thread::scope(|sc| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    sc.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::AcqRel);
                            let Some(g) = self.groups.get(i) else { break };
                            done.push(count(g));
                        }
                        done
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| {
                    w.join().unwrap_or_else(|_| {
                        vec![Err(ServerError::new(
                            Code::Internal,
                            "counting a group's keys panicked".to_string(),
                        ))]
                    })
                })
                .collect()
        });
        let mut out: BTreeMap<ScopeId, (u64, u64)> = BTreeMap::new();
        for r in per_group {
            let (applied, counts) = r?;
            for (s, n) in counts {
                let e = out.entry(s).or_default();
                e.0 += n;
                e.1 = e.1.max(applied);
            }
        }
        Ok(out)
    }

    /// Scopes declared by metadata keys visible at `ts` (plus Redis db 0).
    pub fn declared_scopes(&self, ts: u64) -> Result<BTreeSet<ScopeId>, ServerError> {
        let routes = self.routes();
        let mut out = BTreeSet::new();
        for g in &self.groups {
            let mut hint = OwnerHint::default();
            for p in SCOPE_META_PREFIXES {
                g.read()
                    .for_each_visible(p, ts, |k, _| {
                        if self.owns_hinted(&routes, g.id, k, &mut hint) {
                            if let Some(s) = declared_scope(k) {
                                out.insert(s);
                            }
                        }
                    })
                    .map_err(compacted)?;
            }
        }
        Ok(out)
    }

    /// Distinct pins held on any group.
    pub fn active_pins(&self) -> usize {
        let mut ids: BTreeSet<PinId> = BTreeSet::new();
        for g in &self.groups {
            ids.extend(g.pins().keys().copied());
        }
        ids.len()
    }

    /// Pins past their deadline are dropped on every replica (the per-second sweeper).
    pub fn sweep(&self) -> usize {
        let now = now_ms();
        let mut n = 0;
        for g in &self.groups {
            for id in g.sweep(now) {
                eprintln!(
                    "loopback: backup_pin_expired group={} pin={}",
                    g.id,
                    hex::encode(id)
                );
                n += 1;
            }
        }
        n
    }

    /// Compacts every group up to `now − retention`, but never past a pin held on that
    /// group. Returns the versions removed.
    pub fn compact(&self, retention_ms: u64) -> usize {
        let horizon = self.hlc.current().saturating_sub(retention_ms << 16);
        self.groups
            .iter()
            .map(|g| {
                let safe = g.oldest_pin().map_or(horizon, |p| p.min(horizon));
                g.write().compact(safe)
            })
            .sum()
    }

    /// Fault: compaction up to `ts` on group `g`, ignoring pins (a replica that lost them).
    pub fn force_compact_group(&self, g: u64, ts: u64) {
        if let Some(g) = self.group(g) {
            g.write().compact(ts);
        }
    }

    /// Fault: a snapshot install on group `g` — its replica forgets every pin.
    pub fn drop_pins(&self, g: u64) {
        if let Some(g) = self.group(g) {
            g.pins().clear();
            g.snapshot_now();
        }
    }

    /// `BeginBackup` (§5.4 steps 2–9; authentication is the service's job).
    pub async fn begin_backup(&self, ttl_ms: u64) -> Result<BeginBackupResponse, ServerError> {
        self.require_phase1()?;
        self.stats.begin_calls.fetch_add(1, Ordering::AcqRel);
        let ttl = effective_ttl(ttl_ms, self.config.backup_max_ttl_ms)
            .map_err(|e| ServerError::new(Code::InvalidArgument, e.to_string()))?;
        let _serial = self.begin_lock.lock().await;
        self.sweep();
        if self.active_pins() >= self.config.max_active_pins {
            return Err(ServerError::new(
                Code::ResourceExhausted,
                format!(
                    "too many active backup pins (max_active_backup_pins = {})",
                    self.config.max_active_pins
                ),
            ));
        }
        let gate = self
            .faults
            .version_gate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(msg) = gate {
            return Err(ServerError::new(Code::FailedPrecondition, msg));
        }
        for g in &self.groups {
            let used = g.applied_index() - g.last_snapshot_index().min(g.applied_index());
            let remaining = self.config.snapshot_every.saturating_sub(used);
            if remaining < self.config.snapshot_headroom_entries {
                return Err(ServerError::new(
                    Code::FailedPrecondition,
                    format!(
                        "group {}: snapshot headroom {remaining} entries is below {}; retry after the next snapshot",
                        g.id, self.config.snapshot_headroom_entries
                    ),
                ));
            }
        }
        let read_ts = self.hlc.next();
        let fence: Vec<(Arc<Group>, u64)> = self
            .groups
            .iter()
            .map(|g| (g.clone(), g.commit_index()))
            .collect();
        let deadline = tokio::time::Instant::now() + self.config.begin_backup_deadline;
        loop {
            let behind: Vec<u64> = fence
                .iter()
                .filter(|(g, c)| g.applied_index() < *c)
                .map(|(g, _)| g.id)
                .collect();
            if behind.is_empty() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServerError::new(
                    Code::FailedPrecondition,
                    format!("shard catch-up timed out: groups {behind:?} have not applied up to read_ts"),
                ));
            }
            tokio::time::sleep(self.config.catch_up_tick).await;
        }
        let counts = self.count_scopes(read_ts)?;
        let pin_id = new_pin_id();
        let pin = Pin {
            read_ts,
            deadline_ms: now_ms() + ttl,
        };
        let mut committed: Vec<&Arc<Group>> = Vec::new();
        for g in &self.groups {
            if g.pin_commit_fails.load(Ordering::Acquire) {
                for c in &committed {
                    c.pins().remove(&pin_id);
                    c.log_entry();
                }
                return Err(ServerError::new(
                    Code::Unavailable,
                    format!("group {}: backup pin could not be committed", g.id),
                ));
            }
            g.pins().insert(pin_id, pin);
            g.log_entry();
            committed.push(g);
        }
        let token = PinToken {
            pin_id,
            groups: self.groups.iter().map(|g| g.id).collect(),
        };
        Ok(BeginBackupResponse {
            read_ts,
            pin_token: token.encode(),
            ttl_ms_effective: ttl,
            shards: fence
                .iter()
                .map(|(g, _)| ShardApplied {
                    group_id: g.id.to_string(),
                    applied_index: g.applied_index(),
                })
                .collect(),
            expected_keys: counts
                .into_iter()
                .map(|(s, (n, applied))| ScopeKeyCount {
                    scope_id: s.wire(),
                    key_count: n,
                    applied_index_at_count: applied,
                })
                .collect(),
        })
    }

    fn require_phase1(&self) -> Result<(), ServerError> {
        if self.phase1() {
            Ok(())
        } else {
            Err(ServerError::new(Code::Unimplemented, "unknown method"))
        }
    }

    /// The pin a token names and its groups, if any replica still holds it.
    fn lookup(&self, token: &[u8]) -> Result<(PinToken, Pin), ServerError> {
        let not_found = || ServerError::new(Code::NotFound, "backup pin not found or expired");
        let t = PinToken::decode(token).ok_or_else(not_found)?;
        let now = now_ms();
        let pin = t
            .groups
            .iter()
            .filter_map(|id| self.group(*id))
            .find_map(|g| g.pins().get(&t.pin_id).copied())
            .filter(|p| p.deadline_ms > now)
            .ok_or_else(not_found)?;
        Ok((t, pin))
    }

    /// `RenewBackup`: extends the pin on every group of the token.
    pub async fn renew_backup(&self, token: &[u8], ttl_ms: u64) -> Result<u64, ServerError> {
        self.require_phase1()?;
        self.stats.renew_calls.fetch_add(1, Ordering::AcqRel);
        let stall = self
            .faults
            .renew_stall_calls
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if stall {
            let ms = self.faults.renew_stall_ms.load(Ordering::Acquire);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let ttl = effective_ttl(ttl_ms, self.config.backup_max_ttl_ms)
            .map_err(|e| ServerError::new(Code::InvalidArgument, e.to_string()))?;
        let (t, _) = self.lookup(token)?;
        let deadline_ms = now_ms() + ttl;
        for id in &t.groups {
            let Some(g) = self.group(*id) else { continue };
            let mut attempt = 0;
            while self.faults.renew_unavailable.load(Ordering::Acquire) {
                attempt += 1;
                if attempt >= self.config.renew_attempts {
                    return Err(ServerError::new(
                        Code::Unavailable,
                        format!(
                            "group {}: backup pin extension could not be committed",
                            g.id
                        ),
                    ));
                }
                tokio::time::sleep(self.config.renew_backoff).await;
            }
            if let Some(p) = g.pins().get_mut(&t.pin_id) {
                p.deadline_ms = deadline_ms;
            }
            g.log_entry();
        }
        Ok(ttl)
    }

    /// `EndBackup`: releases the pin everywhere; unknown or expired pins are a no-op.
    pub fn end_backup(&self, token: &[u8]) -> Result<(), ServerError> {
        self.require_phase1()?;
        self.stats.end_calls.fetch_add(1, Ordering::AcqRel);
        if let Some(t) = PinToken::decode(token) {
            for g in t.groups.iter().filter_map(|id| self.group(*id)) {
                if g.pins().remove(&t.pin_id).is_some() {
                    g.log_entry();
                }
            }
        }
        Ok(())
    }

    /// `ListAdaptersAndScopes` at the pin's `read_ts`.
    pub fn list_scopes(&self, token: &[u8]) -> Result<ListAdaptersAndScopesResponse, ServerError> {
        self.require_phase1()?;
        let (_, pin) = self.lookup(token)?;
        let mut resp = ListAdaptersAndScopesResponse {
            redis_databases: vec![0],
            ..Default::default()
        };
        for s in self.declared_scopes(pin.read_ts)? {
            let name = String::from_utf8_lossy(&s.name).into_owned();
            match s.adapter {
                elastickv_backup_engine::decode::AdapterKind::DynamoDb => {
                    resp.dynamodb_tables.push(name)
                }
                elastickv_backup_engine::decode::AdapterKind::S3 => resp.s3_buckets.push(name),
                elastickv_backup_engine::decode::AdapterKind::Sqs => resp.sqs_queues.push(name),
                elastickv_backup_engine::decode::AdapterKind::Redis => {}
            }
        }
        Ok(resp)
    }
}

/// The status a compacted read gets.
pub fn compacted(_: super::store::Compacted) -> ServerError {
    ServerError::new(
        Code::FailedPrecondition,
        "read timestamp has been compacted",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::decode::Family;
    use elastickv_backup_format::keys::ddb;
    use std::time::Duration;

    fn entry(k: &[u8], ts: u64) -> RawEntry {
        RawEntry {
            user_key: b(k),
            commit_ts: ts,
            expire_at_ms: 0,
            tombstone: false,
            value: Bytes::from_static(b"v"),
        }
    }

    /// A Redis string's key.
    fn str_key(name: &str) -> Vec<u8> {
        [Family::RedisString.prefix(), name.as_bytes()].concat()
    }

    fn cluster(cfg: ServerConfig) -> Cluster {
        let item = ddb::item_prefix(b"dDE", 1);
        let entries = (0..50u32)
            .map(|i| {
                entry(
                    &[item.as_slice(), format!("k{i:03}").as_bytes()].concat(),
                    10,
                )
            })
            .chain((0..50u32).map(|i| entry(&str_key(&format!("k{i:03}")), 10)))
            .chain([entry(&ddb::table_meta(b"dDE"), 10)])
            .collect();
        Cluster::new(cfg, entries)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn data_spreads_and_begin_counts_scopes() {
        let c = cluster(ServerConfig::default());
        let sizes: Vec<usize> = c.groups().iter().map(|g| g.read().key_count()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 101);
        assert!(sizes.iter().filter(|&&n| n > 0).count() >= 2, "{sizes:?}");
        let resp = rt().block_on(c.begin_backup(0)).unwrap();
        assert!(resp.read_ts > 10);
        assert_eq!(resp.ttl_ms_effective, 1_800_000);
        let counts: Vec<(String, u64)> = resp
            .expected_keys
            .iter()
            .map(|s| (s.scope_id.clone(), s.key_count))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("dynamodb/t1".to_string(), 50),
                ("redis/db_0".to_string(), 50)
            ]
        );
        assert_eq!(c.active_pins(), 1);
        let scopes = c.list_scopes(&resp.pin_token).unwrap();
        assert_eq!(scopes.dynamodb_tables, vec!["t1".to_string()]);
        c.end_backup(&resp.pin_token).unwrap();
        c.end_backup(&resp.pin_token).unwrap();
        assert_eq!(c.active_pins(), 0);
        assert_eq!(
            c.list_scopes(&resp.pin_token).unwrap_err().code,
            Code::NotFound
        );
    }

    #[test]
    fn pin_cap_ttl_and_commit_failure() {
        let c = cluster(ServerConfig::default());
        let rt = rt();
        assert_eq!(
            rt.block_on(c.begin_backup(59_999)).unwrap_err().code,
            Code::InvalidArgument
        );
        let tokens: Vec<Vec<u8>> = (0..4)
            .map(|_| rt.block_on(c.begin_backup(0)).unwrap().pin_token)
            .collect();
        assert_eq!(
            rt.block_on(c.begin_backup(0)).unwrap_err().code,
            Code::ResourceExhausted
        );
        c.end_backup(&tokens[0]).unwrap();
        let t = rt.block_on(c.begin_backup(0)).unwrap().pin_token;
        for t in tokens.iter().skip(1).chain([&t]) {
            c.end_backup(t).unwrap();
        }
        c.group(2)
            .unwrap()
            .pin_commit_fails
            .store(true, Ordering::Release);
        assert_eq!(
            rt.block_on(c.begin_backup(0)).unwrap_err().code,
            Code::Unavailable
        );
        assert_eq!(c.active_pins(), 0);
    }

    #[test]
    fn lagging_group_fails_the_fence() {
        let cfg = ServerConfig {
            begin_backup_deadline: Duration::from_millis(50),
            catch_up_tick: Duration::from_millis(10),
            ..ServerConfig::default()
        };
        let c = cluster(cfg);
        c.group(3).unwrap().set_lagging(true);
        let e = rt().block_on(c.begin_backup(0)).unwrap_err();
        assert_eq!(e.code, Code::FailedPrecondition);
        assert!(e.message.contains("[3]"), "{}", e.message);
        assert_eq!(c.active_pins(), 0);
    }

    #[test]
    fn compaction_respects_pins_and_writes_after_read_ts_are_invisible() {
        let c = cluster(ServerConfig::default());
        let rt = rt();
        let resp = rt.block_on(c.begin_backup(0)).unwrap();
        c.put(&str_key("k000"), b"new");
        c.delete(&str_key("k001"));
        assert_eq!(c.compact(0), 0, "the pin holds history");
        let counts = c.count_scopes(resp.read_ts).unwrap();
        assert_eq!(
            counts[&elastickv_backup_live::source::scopes::redis_db0()].0,
            50
        );
        c.end_backup(&resp.pin_token).unwrap();
        assert!(c.compact(0) > 0);
        assert!(c.count_scopes(resp.read_ts).is_err());
    }

    #[test]
    fn headroom_and_version_gate_refuse_before_pinning() {
        let cfg = ServerConfig {
            snapshot_every: 100,
            snapshot_headroom_entries: 60,
            ..ServerConfig::default()
        };
        let c = cluster(cfg);
        let rt = rt();
        // 50 entries since the last snapshot leave 50 < 60 of headroom.
        for _ in 0..50 {
            c.group(1).unwrap().log_entry();
        }
        let e = rt.block_on(c.begin_backup(0)).unwrap_err();
        assert_eq!(e.code, Code::FailedPrecondition);
        assert!(
            e.message.contains("group 1") && e.message.contains("headroom"),
            "{}",
            e.message
        );
        // A freshly snapshotted group passes.
        c.group(1).unwrap().snapshot_now();
        *c.faults.version_gate.lock().unwrap() = Some("node n2: no response".into());
        let e = rt.block_on(c.begin_backup(0)).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (Code::FailedPrecondition, "node n2: no response")
        );
        *c.faults.version_gate.lock().unwrap() = None;
        let t = rt.block_on(c.begin_backup(0)).unwrap().pin_token;
        c.end_backup(&t).unwrap();
        assert_eq!(c.active_pins(), 0);
    }

    #[test]
    fn a_write_never_gets_a_timestamp_below_a_read_ts_chosen_while_it_waits() {
        // A scan holds the group's read lock; a write to that group is in flight; a
        // read_ts is chosen. The write must not commit below that read_ts (it would land
        // behind the scan's back), so it takes its timestamp only once it holds the lock.
        let c = Arc::new(cluster(ServerConfig::default()));
        let key = str_key("k007");
        let g = c.group(c.routes().owner(&key).unwrap()).unwrap().clone();
        let scan = g.read();
        let writer = {
            let (c, key) = (c.clone(), key.clone());
            std::thread::spawn(move || c.put(&key, b"new"))
        };
        std::thread::sleep(Duration::from_millis(50));
        let read_ts = c.hlc.next();
        let seen = scan.get(&key, read_ts).unwrap();
        drop(scan);
        let ts = writer.join().unwrap();
        assert!(
            ts > read_ts,
            "write committed at {ts} below read_ts {read_ts}"
        );
        assert_eq!(g.read().get(&key, read_ts).unwrap(), seen);
    }

    #[test]
    fn batches_are_atomic_across_groups() {
        let c = cluster(ServerConfig::default());
        let keys: Vec<Vec<u8>> = (0..50u32).map(|i| str_key(&format!("k{i:03}"))).collect();
        let owners: BTreeSet<u64> = keys.iter().filter_map(|k| c.routes().owner(k)).collect();
        assert!(owners.len() > 1, "the batch should span groups");
        let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), (i % 2 == 0).then(|| b"v2".to_vec())))
            .collect();
        let ts = c.commit_batch(&batch);
        for (i, k) in keys.iter().enumerate() {
            let g = c.group(c.routes().owner(k).unwrap()).unwrap();
            let now = g.read().get(k, ts).unwrap();
            assert_eq!(now.as_deref(), (i % 2 == 0).then_some(&b"v2"[..]));
            assert_eq!(g.read().get(k, ts - 1).unwrap().as_deref(), Some(&b"v"[..]));
        }
    }

    #[test]
    fn renew_extends_and_fails_when_told() {
        let cfg = ServerConfig {
            renew_backoff: Duration::from_millis(1),
            ..ServerConfig::default()
        };
        let c = cluster(cfg);
        let rt = rt();
        let resp = rt.block_on(c.begin_backup(60_000)).unwrap();
        assert_eq!(
            rt.block_on(c.renew_backup(&resp.pin_token, 120_000)),
            Ok(120_000)
        );
        c.faults.renew_unavailable.store(true, Ordering::Release);
        let e = rt.block_on(c.renew_backup(&resp.pin_token, 0)).unwrap_err();
        assert_eq!(e.code, Code::Unavailable);
        assert_eq!(
            rt.block_on(c.renew_backup(b"junk", 0)).unwrap_err().code,
            Code::NotFound
        );
        c.end_backup(&resp.pin_token).unwrap();
    }
}
