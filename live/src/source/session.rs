//! One live dump from BeginBackup to EndBackup (docs/format/50-live-cluster.md §5.5), or the unpinned fallback of
//! §8. The session owns the pin: dropping it — on success, error, panic or cancellation —
//! releases the pin, so no exit path leaves one behind.

use super::abort::{Abort, AbortReason};
use super::client::{Conn, Dialer};
use super::error::LiveError;
use super::limits::{ScanLimits, Throttle};
use super::narrow;
use super::pin;
use super::routes::RouteTable;
use super::scan::{prefix_ranges, ScanParams};
use super::scopes::{baseline_threshold, is_shortfall, parse_wire, redis_db0, ScopeId};
use super::shard::LiveShard;
use super::tls::{self, ClientTlsFiles};
use super::topology::{parse_seeds, GroupRoute, Topology};
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::encode::manifest::{InputInfo, LiveInfo};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::sources::Shard;
use elastickv_backup_proto::wire::{
    ListAdaptersAndScopesRequest, ListAdaptersAndScopesResponse, ListRoutesRequest,
    RawLatestCommitTsRequest, RenewBackupRequest, ScopeKeyCount,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;

/// Producer settings (the `dump` flags that concern the cluster).
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Seed nodes: `host:port`, several separated by commas (cluster-wide calls fail over
    /// between them; each group is read from a seed that hosts it).
    pub address: String,
    /// `--group-endpoint`: explicit listeners for some groups.
    pub group_endpoints: BTreeMap<u64, String>,
    /// Bearer token for `/Admin/` calls.
    pub admin_token: Option<String>,
    /// Requested pin TTL (0 = server default).
    pub ttl_ms: u64,
    /// `--begin-backup-deadline` (sizes the BeginBackup call deadline).
    pub begin_backup_deadline: Duration,
    /// Keys per page (1..=1025).
    pub page_size: usize,
    /// Dump without a pin when the cluster lacks the Phase 1 RPCs.
    pub allow_unpinned: bool,
    /// How long one group may keep failing before the dump gives up.
    pub group_retry_budget: Duration,
    /// Deadline of one scan/get RPC.
    pub call_timeout: Duration,
    /// Turn SIGINT/SIGTERM into a clean cancellation (the CLI; not in-process tests).
    pub handle_signals: bool,
    /// `--ca-cert`, `--client-cert`, `--client-key`.
    pub tls: ClientTlsFiles,
    /// `--scan-concurrency`, `--max-inflight-bytes`, `--rate-limit`.
    pub limits: ScanLimits,
}

/// A pin held by an interrupted dump, to attach to instead of calling `BeginBackup`
/// (`dump --resume`).
#[derive(Debug, Clone)]
pub struct HeldPin {
    /// The opaque token `BeginBackup` returned.
    pub token: Vec<u8>,
    /// The pinned read timestamp.
    pub read_ts: u64,
    /// The baseline `BeginBackup` returned (kept: it cannot be asked for again).
    pub expected: Vec<ScopeKeyCount>,
    /// `ListRoutes.catalog_version` when the dump started; a change aborts the resume.
    pub catalog_version: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            address: String::new(),
            group_endpoints: BTreeMap::new(),
            admin_token: None,
            ttl_ms: 1_800_000,
            begin_backup_deadline: Duration::from_secs(5),
            page_size: 1024,
            allow_unpinned: false,
            group_retry_budget: Duration::from_secs(60),
            call_timeout: Duration::from_secs(30),
            handle_signals: false,
            tls: ClientTlsFiles::default(),
            limits: ScanLimits::default(),
        }
    }
}

struct PinState {
    token: Vec<u8>,
    expected: Vec<ScopeKeyCount>,
    scopes: ListAdaptersAndScopesResponse,
    renewal: Option<tokio::task::JoinHandle<()>>,
    released: bool,
    /// Dropping the session (a failed run) stops renewing but leaves the pin to its TTL
    /// instead of calling `EndBackup`, so `dump --resume` can attach to it.
    keep_on_drop: bool,
}

/// A dump in progress.
pub struct LiveSession {
    rt: tokio::runtime::Runtime,
    conn: Conn,
    seeds: Vec<Conn>,
    group_routes: BTreeMap<u64, Arc<GroupRoute>>,
    routes: Arc<RouteTable>,
    cfg: LiveConfig,
    /// The read timestamp every request carries.
    pub read_ts: u64,
    pin: Option<PinState>,
    abort: Abort,
    renewals: Arc<AtomicU64>,
    started: Instant,
    groups: Vec<u64>,
}

/// The dump's network runtime: one worker thread. Every group's scan tasks and the HTTP/2
/// connections they share then wake each other on the same thread; with two workers each
/// page crossed threads (a live dump of the 256 MiB bench set: voluntary context switches
/// 7,900 -> 4,600, involuntary 2,400 -> 1,100, client CPU -3%). One thread decodes pages far
/// faster than the single decode thread consumes them, so it is not the bound.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("live-dump")
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}

const UNPINNED_WARNING: &str = "unpinned best-effort dump: no compaction pin, no cross-shard fence; groups are read at the same timestamp but cross-group atomicity is not guaranteed, and compaction may abort the dump after its retention window";

struct Connected {
    rt: tokio::runtime::Runtime,
    abort: Abort,
    /// The first seed that answered: catalog and pin calls go there first.
    conn: Conn,
    /// Every seed (the first answering one first), for the pin calls to fail over to.
    seeds: Vec<Conn>,
    routes: Arc<RouteTable>,
    group_routes: BTreeMap<u64, Arc<GroupRoute>>,
}

fn check_page_size(cfg: &LiveConfig) -> Result<(), Error> {
    if !(1..=1025).contains(&cfg.page_size) {
        return Err(Error::Usage(format!(
            "--scan-page-size {}: must be within 1..=1025 (a node refuses larger pages)",
            cfg.page_size
        )));
    }
    Ok(())
}

/// The error of the first call on a fresh connection. A broken transport there means the
/// two ends do not speak the same protocol: on a plaintext connection the node most likely
/// serves TLS ([`LiveError::NotPlaintext`]); on a TLS one the node refused us after the
/// handshake, e.g. for a missing client certificate ([`LiveError::TlsHandshake`]).
fn first_call_error(conn: &Conn, rpc: &str, s: &tonic::Status) -> LiveError {
    if tls::broken_transport(s) {
        let detail = format!("{rpc}: {}", tls::status_detail(s));
        if conn.tls {
            return LiveError::TlsHandshake {
                endpoint: conn.address.clone(),
                detail,
            };
        }
        let host = tls::target(&conn.address, false)
            .map(|t| t.host)
            .unwrap_or_else(|_| conn.address.clone());
        return LiveError::NotPlaintext {
            endpoint: conn.address.clone(),
            host,
            detail,
        };
    }
    LiveError::rpc(rpc, s)
}

/// The runtime, the stop signal (wired to SIGINT/SIGTERM when asked), the connection and
/// the catalog snapshot every dump starts with.
fn connect(cfg: &LiveConfig) -> Result<Connected, Error> {
    let rt = runtime()?;
    // Lazy channels are made here too; they need the runtime's context.
    let _context = rt.enter();
    let abort = Abort::default();
    if cfg.handle_signals {
        let a = abort.clone();
        rt.spawn(async move {
            super::signals::wait_for_signal().await;
            tracing::warn!("signal received, stopping the dump");
            a.trigger(AbortReason::Cancelled(
                "interrupted by signal; no MANIFEST written".into(),
            ));
        });
    }
    let seeds = parse_seeds(std::slice::from_ref(&cfg.address));
    if seeds.is_empty() {
        return Err(Error::Usage(
            "no seed address: give --address HOST:PORT (repeatable, or comma-separated)".into(),
        ));
    }
    let dialer = Dialer::new(&seeds, cfg.admin_token.clone(), &cfg.tls)?;
    let topo = Arc::new(Topology::new(
        seeds.clone(),
        cfg.group_endpoints.clone(),
        dialer.clone(),
    ));
    let mut first_err = None;
    let mut conn = None;
    for seed in &seeds {
        match rt.block_on(dialer.connect(seed)) {
            Ok(c) => {
                topo.adopt(c.clone());
                conn = Some(c);
                break;
            }
            Err(e) => {
                tracing::warn!("seed {seed}: {e}");
                first_err.get_or_insert(e);
            }
        }
    }
    let conn = match (conn, first_err) {
        (Some(c), _) => c,
        (None, Some(e)) => return Err(e.into()),
        (None, None) => return Err(Error::Internal("no seed tried".into())),
    };
    let routes = rt
        .block_on(async {
            conn.dist()
                .list_routes(conn.req(ListRoutesRequest {}, cfg.call_timeout))
                .await
        })
        .map_err(|s| first_call_error(&conn, "ListRoutes", &s))?
        .into_inner();
    let routes = Arc::new(RouteTable::from_wire(&routes));
    // Every group must have a reachable host before anything is pinned.
    let mut group_routes = BTreeMap::new();
    for g in routes.groups() {
        let c = rt.block_on(topo.resolve(g, None))?;
        group_routes.insert(g, Arc::new(GroupRoute::new(g, topo.clone(), c)));
    }
    let mut seed_conns = vec![conn.clone()];
    seed_conns.extend(
        topo.seed_conns()?
            .into_iter()
            .filter(|c| c.address != conn.address),
    );
    Ok(Connected {
        rt,
        abort,
        conn,
        seeds: seed_conns,
        routes,
        group_routes,
    })
}

impl LiveSession {
    /// Connects, reads the catalog, pins a read timestamp and lists the scopes. Nothing is
    /// written; on error no pin stays behind.
    pub fn begin(cfg: LiveConfig) -> Result<Self, Error> {
        check_page_size(&cfg)?;
        let Connected {
            rt,
            abort,
            conn,
            seeds,
            routes,
            group_routes,
        } = connect(&cfg)?;
        let groups = routes.groups();
        let begun = rt.block_on(async {
            tokio::select! {
                r = pin::begin(&conn, cfg.ttl_ms, cfg.begin_backup_deadline) => Ok(r),
                reason = abort.wait() => Err(reason.to_error()),
            }
        })?;
        let mut session = LiveSession {
            rt,
            conn,
            seeds,
            group_routes,
            routes,
            read_ts: 0,
            pin: None,
            abort,
            renewals: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
            groups,
            cfg,
        };
        match begun {
            Ok(resp) => {
                session.read_ts = resp.read_ts;
                session.pin = Some(PinState {
                    token: resp.pin_token.clone(),
                    expected: resp.expected_keys,
                    scopes: ListAdaptersAndScopesResponse::default(),
                    renewal: None,
                    released: false,
                    keep_on_drop: false,
                });
                if resp.read_ts == 0 {
                    return Err(LiveError::Rpc {
                        rpc: "BeginBackup".into(),
                        code: Code::Internal,
                        message: "server returned read_ts 0".into(),
                    }
                    .into());
                }
                let renewal = session.rt.spawn(pin::renewal_loop(
                    session.seeds.clone(),
                    resp.pin_token.clone(),
                    resp.ttl_ms_effective,
                    session.abort.clone(),
                    session.renewals.clone(),
                ));
                let scopes = session
                    .rt
                    .block_on(async {
                        let c = &session.conn;
                        c.admin()
                            .list_adapters_and_scopes(c.req(
                                ListAdaptersAndScopesRequest {
                                    pin_token: resp.pin_token.clone(),
                                },
                                session.cfg.call_timeout,
                            ))
                            .await
                    })
                    .map_err(|s| match s.code() {
                        // The pin vanished between BeginBackup and the listing (expired, or
                        // dropped by the cluster): the same failure as losing it mid-scan.
                        Code::NotFound => LiveError::PinLost(format!(
                            "ListAdaptersAndScopes: {:?}: {}",
                            s.code(),
                            s.message()
                        )),
                        _ => LiveError::rpc("ListAdaptersAndScopes", &s),
                    });
                if let Some(p) = session.pin.as_mut() {
                    p.renewal = Some(renewal);
                }
                let scopes = scopes?.into_inner();
                if let Some(p) = session.pin.as_mut() {
                    p.scopes = scopes;
                }
                tracing::info!(
                    "pinned read_ts={} (ttl {} ms) on {} group(s) via {}",
                    session.read_ts,
                    resp.ttl_ms_effective,
                    session.groups.len(),
                    session.conn.address
                );
            }
            Err(s) if s.code() == Code::Unimplemented && session.cfg.allow_unpinned => {
                tracing::warn!("{UNPINNED_WARNING}");
                let ts = session
                    .rt
                    .block_on(async {
                        let c = &session.conn;
                        c.raw()
                            .raw_latest_commit_ts(c.req(
                                RawLatestCommitTsRequest { key: Vec::new() },
                                session.cfg.call_timeout,
                            ))
                            .await
                    })
                    .map_err(|s| LiveError::rpc("RawLatestCommitTS", &s))?
                    .into_inner()
                    .ts;
                if ts == 0 {
                    return Err(LiveError::NoReadTs.into());
                }
                session.read_ts = ts;
            }
            Err(s) if s.code() == Code::Unimplemented => {
                return Err(
                    LiveError::PinUnsupported(format!("{:?}: {}", s.code(), s.message())).into(),
                )
            }
            Err(s) => return Err(LiveError::rpc("BeginBackup", &s).into()),
        }
        Ok(session)
    }

    /// Attaches to a pin an interrupted dump left held (`dump --resume`) instead of taking a
    /// new one: checks that the catalog is unchanged, that the server still knows the pin
    /// (`ListAdaptersAndScopes`, evaluated at the pin's `read_ts`), renews it at once and
    /// keeps renewing. The session keeps the pin when dropped (see
    /// [`LiveSession::keep_pin_on_drop`]); [`LiveSession::end`] releases it.
    ///
    /// Errors: a changed catalog releases the pin (the dump cannot be completed
    /// consistently) and reports [`LiveError::CatalogChanged`]; an unknown or expired pin
    /// reports [`LiveError::PinLost`].
    pub fn attach(cfg: LiveConfig, held: HeldPin) -> Result<Self, Error> {
        check_page_size(&cfg)?;
        let Connected {
            rt,
            abort,
            conn,
            seeds,
            routes,
            group_routes,
        } = connect(&cfg)?;
        if routes.version != held.catalog_version {
            rt.block_on(pin::end(&conn, &held.token));
            return Err(LiveError::CatalogChanged {
                before: held.catalog_version,
                after: routes.version,
            }
            .into());
        }
        let lost = |rpc: &str, s: tonic::Status| -> Error {
            if s.code() == Code::NotFound {
                LiveError::PinLost(format!(
                    "{rpc}: {:?}: {} (the interrupted dump's pin expired after its TTL or was released; start a new dump)",
                    s.code(),
                    s.message()
                ))
                .into()
            } else {
                LiveError::rpc(rpc, &s).into()
            }
        };
        let scopes = rt
            .block_on(async {
                conn.admin()
                    .list_adapters_and_scopes(conn.req(
                        ListAdaptersAndScopesRequest {
                            pin_token: held.token.clone(),
                        },
                        cfg.call_timeout,
                    ))
                    .await
            })
            .map_err(|s| lost("ListAdaptersAndScopes", s))?
            .into_inner();
        let ttl_eff = rt
            .block_on(async {
                conn.admin()
                    .renew_backup(conn.req(
                        RenewBackupRequest {
                            pin_token: held.token.clone(),
                            ttl_ms: cfg.ttl_ms,
                        },
                        cfg.call_timeout,
                    ))
                    .await
            })
            .map_err(|s| lost("RenewBackup", s))?
            .into_inner()
            .ttl_ms_effective;
        let renewals = Arc::new(AtomicU64::new(1));
        let renewal = rt.spawn(pin::renewal_loop(
            seeds.clone(),
            held.token.clone(),
            ttl_eff,
            abort.clone(),
            renewals.clone(),
        ));
        let groups = routes.groups();
        tracing::info!(
            "attached to the held pin read_ts={} (renewed, ttl {} ms) on {} group(s) via {}",
            held.read_ts,
            ttl_eff,
            groups.len(),
            conn.address
        );
        Ok(LiveSession {
            rt,
            conn,
            seeds,
            group_routes,
            routes,
            read_ts: held.read_ts,
            pin: Some(PinState {
                token: held.token,
                expected: held.expected,
                scopes,
                renewal: Some(renewal),
                released: false,
                keep_on_drop: true,
            }),
            abort,
            renewals,
            started: Instant::now(),
            groups,
            cfg,
        })
    }

    /// What `dump --resume` needs to attach to this session's pin later (`None` unpinned).
    pub fn held_pin(&self) -> Option<HeldPin> {
        self.pin.as_ref().map(|p| HeldPin {
            token: p.token.clone(),
            read_ts: self.read_ts,
            expected: p.expected.clone(),
            catalog_version: self.routes.version,
        })
    }

    /// Chooses what dropping the session does with the pin: `true` = stop renewing and
    /// leave it to expire by its TTL (a resumable failure: the journal names it); `false`
    /// (the default after `begin`) = release it with `EndBackup`.
    pub fn keep_pin_on_drop(&mut self, keep: bool) {
        if let Some(p) = self.pin.as_mut() {
            p.keep_on_drop = keep;
        }
    }

    /// Whether a pin protects this dump.
    pub fn pinned(&self) -> bool {
        self.pin.is_some()
    }

    /// The groups being dumped.
    pub fn groups(&self) -> &[u64] {
        &self.groups
    }

    /// Renewals made so far (`pin_renewals_total`).
    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Acquire)
    }

    /// The stop signal (tests cancel through it).
    pub fn abort_handle(&self) -> Abort {
        self.abort.clone()
    }

    /// Scans every group at `read_ts`: `write` gets one shard per group (the caller runs
    /// them through the pipeline into its sink), then the baseline, the catalog version and
    /// the pin's health are checked. Only the keys under `restrict` are read (all keys when
    /// `None`; a resumable or partitioned dump writes one adapter at a time), and either way
    /// only the key ranges of the adapters and scopes `opts` selects (`narrow`); the
    /// baseline check covers the scopes `opts` selects, all of whose counted keys lie in
    /// those ranges.
    ///
    /// Why a callback: the session is the source; writing is the pipeline's job, a layer
    /// above it. The session still owns what must happen after the data is written.
    pub fn scan<T>(
        &self,
        opts: &DecodeOptions,
        restrict: Option<&[&'static [u8]]>,
        write: impl FnOnce(Vec<Arc<dyn Shard>>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut narrowed = narrow::scan_ranges(opts);
        if let Some(r) = restrict {
            let r = prefix_ranges(r);
            narrowed = Some(match narrowed {
                Some(n) => narrow::intersect(&n, &r),
                None => r,
            });
        }
        let throttle = Arc::new(Throttle::new(&self.cfg.limits, self.groups.len()));
        let shards: Vec<Arc<LiveShard>> = self
            .groups
            .iter()
            .map(|&g| {
                let route = match self.group_routes.get(&g) {
                    Some(r) => r.clone(),
                    None => {
                        return Err(Error::Internal(format!(
                            "group {g}: no route resolved at connect"
                        )))
                    }
                };
                Ok(Arc::new(LiveShard::new(
                    ScanParams {
                        route,
                        group: g,
                        read_ts: self.read_ts,
                        page_size: self.cfg.page_size,
                        routes: self.routes.clone(),
                        retry_budget: self.cfg.group_retry_budget,
                        call_timeout: self.cfg.call_timeout,
                        abort: self.abort.clone(),
                        throttle: throttle.clone(),
                        held: Arc::new(AtomicU64::new(0)),
                        starving: Arc::default(),
                    },
                    self.rt.handle().clone(),
                    narrowed.clone(),
                )))
            })
            .collect::<Result<_, Error>>()?;
        let dyn_shards: Vec<Arc<dyn Shard>> =
            shards.iter().map(|s| s.clone() as Arc<dyn Shard>).collect();
        let written = write(dyn_shards);
        if let Some(reason) = self.abort.reason() {
            return Err(reason.to_error());
        }
        let summary = written?;
        if self.pin.is_some() {
            self.check_baseline(&shards, opts)?;
        }
        self.check_catalog()?;
        if let Some(reason) = self.abort.reason() {
            return Err(reason.to_error());
        }
        if !self.pinned() && self.started.elapsed() > Duration::from_secs(20 * 60) {
            tracing::warn!("the unpinned dump took over 20 minutes; compaction may have removed versions it needed");
        }
        Ok(summary)
    }

    fn check_baseline(&self, shards: &[Arc<LiveShard>], opts: &DecodeOptions) -> Result<(), Error> {
        let Some(pin) = &self.pin else { return Ok(()) };
        let mut actual: BTreeMap<String, u64> = BTreeMap::new();
        for s in shards {
            let counts = s.full_counts().ok_or_else(|| {
                Error::Internal(format!(
                    "group {}: full scan did not report its counts",
                    s.group()
                ))
            })?;
            for (scope, n) in counts {
                *actual.entry(scope.wire()).or_default() += n;
            }
        }
        let listed = listed_scopes(&pin.scopes);
        let selected =
            |s: &ScopeId| opts.enabled(s.adapter) && opts.scope_allows(s.adapter, &s.name);
        let mut checked = BTreeSet::new();
        for e in &pin.expected {
            let Some(scope) = parse_wire(&e.scope_id) else {
                tracing::warn!("baseline scope {:?} not understood; skipped", e.scope_id);
                continue;
            };
            if !selected(&scope) {
                continue;
            }
            checked.insert(e.scope_id.clone());
            let a = actual.get(&e.scope_id).copied().unwrap_or(0);
            if is_shortfall(a, e.key_count) {
                return Err(LiveError::CompactionDuringDump {
                    scope: e.scope_id.clone(),
                    actual: a,
                    baseline: e.key_count,
                    threshold: baseline_threshold(e.key_count),
                }
                .into());
            }
        }
        for s in listed.iter().filter(|s| selected(s)) {
            if !checked.contains(&s.wire()) && actual.contains_key(&s.wire()) {
                tracing::warn!(
                    "scope {} has no baseline; dumped without a count check",
                    s.wire()
                );
            }
        }
        Ok(())
    }

    fn check_catalog(&self) -> Result<(), Error> {
        let now = self
            .rt
            .block_on(async {
                self.conn
                    .dist()
                    .list_routes(self.conn.req(ListRoutesRequest {}, self.cfg.call_timeout))
                    .await
            })
            .map_err(|s| LiveError::rpc("ListRoutes", &s))?
            .into_inner();
        if now.catalog_version != self.routes.version {
            return Err(LiveError::CatalogChanged {
                before: self.routes.version,
                after: now.catalog_version,
            }
            .into());
        }
        Ok(())
    }

    /// The manifest's `live` object.
    pub fn live_info(&self) -> LiveInfo {
        match &self.pin {
            Some(p) => LiveInfo {
                read_ts: self.read_ts,
                pin_token_sha256: Some(hex::encode(Sha256::digest(&p.token))),
                pinned: None,
            },
            None => LiveInfo {
                read_ts: self.read_ts,
                pin_token_sha256: None,
                pinned: Some(false),
            },
        }
    }

    /// The manifest's top-level `consistency` marker (unpinned dumps only).
    pub fn consistency(&self) -> Option<String> {
        (!self.pinned()).then(|| "unpinned-best-effort".to_string())
    }

    /// One `producer.inputs` row per group.
    pub fn inputs(&self) -> Vec<InputInfo> {
        self.groups
            .iter()
            .map(|g| InputInfo {
                name: format!(
                    "group {g} via {}",
                    self.group_routes
                        .get(g)
                        .map_or_else(|| self.conn.address.clone(), |r| r.current().address)
                ),
                format: "grpc".into(),
                read_ts: self.read_ts,
                snapshot_index: None,
            })
            .collect()
    }

    /// Stops the renewal task and releases the pin (also done on drop, unless
    /// [`LiveSession::keep_pin_on_drop`]).
    pub fn end(mut self) {
        self.keep_pin_on_drop(false);
        self.release();
        if !self.pinned() {
            tracing::warn!("{UNPINNED_WARNING}");
        }
    }

    fn release(&mut self) {
        let Some(p) = self.pin.as_mut() else { return };
        if p.released {
            return;
        }
        p.released = true;
        if let Some(h) = p.renewal.take() {
            h.abort();
        }
        if p.keep_on_drop {
            tracing::info!(
                "keeping the backup pin (read_ts={}) held for the steps to come (`dump --resume`, or the other partitions and `dump finish`); it expires by its TTL unless renewed",
                self.read_ts
            );
            return;
        }
        let conns = self.seeds.clone();
        let token = p.token.clone();
        let work = async move {
            for conn in &conns {
                if pin::end(conn, &token).await {
                    return;
                }
            }
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Dropped inside some runtime: release from a plain thread to avoid nesting.
            let handle = self.rt.handle().clone();
            let _ = std::thread::spawn(move || handle.block_on(work)).join();
        } else {
            self.rt.block_on(work);
        }
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        self.release();
    }
}

fn listed_scopes(r: &ListAdaptersAndScopesResponse) -> BTreeSet<ScopeId> {
    let mut out = BTreeSet::new();
    let mut add = |adapter, names: &[String]| {
        for n in names {
            out.insert(ScopeId {
                adapter,
                name: n.as_bytes().to_vec(),
            });
        }
    };
    add(AdapterKind::DynamoDb, &r.dynamodb_tables);
    add(AdapterKind::S3, &r.s3_buckets);
    add(AdapterKind::Sqs, &r.sqs_queues);
    if r.redis_databases.contains(&0) {
        out.insert(redis_db0());
    }
    out
}
