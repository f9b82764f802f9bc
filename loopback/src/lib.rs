//! The loopback cluster: an in-process imitation of an elastickv node (docs/format/50-live-cluster.md §9).
//!
//! It serves the same package-less gRPC surface as a real node (RawKV, Distribution,
//! RaftAdmin, Admin with the Phase 1 backup RPCs) over a multi-group MVCC store, so the live
//! producer can be exercised end to end — and `dump` without `--address` uses it to dump a
//! sample dataset. Tests provoke faults through [`LoopbackServer::cluster`] (a Rust API only;
//! none of it is reachable from the command line).
//!
//! Simplification (documented in §9's terms): one listener per node serves every group the
//! node hosts (`ServerConfig::nodes`, groups spread over them by
//! `placement::Placement`); `RaftAdmin` answers for the node's lowest hosted group.
//!
//! Why a crate of its own: it is the other end of the wire — a server — and nothing in the
//! engine may depend on it (the live source must work against a real node through the
//! protocol only). It uses the engine's keyspace and live-protocol helpers (route keys,
//! scopes, TLS files) so both ends agree by construction; the CLI (`dev serve`, `dump
//! --embedded`, `dev bench`) and the end-to-end tests start it.

#![warn(missing_docs)]

pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod export;
pub(crate) mod group;
pub(crate) mod hlc;
pub mod load;
pub(crate) mod pins;
pub(crate) mod placement;
pub(crate) mod service;
pub mod store;

pub use cluster::Cluster;
pub use config::ServerConfig;

use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sources::RawEntry;
use elastickv_backup_proto::{AdminServer, DistributionServer, RaftAdminServer, RawKvServer};
use service::admin::AdminService;
use service::auth::AdminAuth;
use service::distribution::DistributionService;
use service::raft_admin::RaftAdminService;
use service::raw_kv::RawKvService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A running loopback server; dropping it stops the server.
pub struct LoopbackServer {
    cluster: Arc<Cluster>,
    nodes: Vec<Node>,
    /// Cluster-wide background work (pin sweeper, compactor).
    rt: Option<tokio::runtime::Runtime>,
}

/// One listener ("node") with its own runtime, so stopping it drops every connection and
/// in-flight call at once — what a client sees when a node process is SIGKILLed.
struct Node {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    rt: Option<tokio::runtime::Runtime>,
}

fn runtime(name: &str) -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}

impl Node {
    /// Binds `listen` and serves the cluster's gRPC surface on it.
    fn start(cluster: &Arc<Cluster>, listen: &str, node: usize) -> Result<Node, Error> {
        // Read the TLS files before binding: a bad file is reported by name, nothing served.
        let tls = match &cluster.config.tls {
            Some(files) => Some(files.load()?),
            None => None,
        };
        let rt = runtime("loopback-node")?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(|e| Error::io(format!("listen {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("listen {listen}"), e))?;
        cluster.placement.set_addr(node, addr.to_string());
        let (stop, stopped) = oneshot::channel::<()>();
        let max = cluster.config.max_message_bytes;
        let raw = RawKvServer::new(RawKvService {
            cluster: cluster.clone(),
            node,
        })
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
        let dist = DistributionServer::new(DistributionService {
            cluster: cluster.clone(),
        });
        let raft = RaftAdminServer::new(RaftAdminService {
            cluster: cluster.clone(),
            node,
        });
        let admin = tonic::service::interceptor::InterceptedService::new(
            AdminServer::new(AdminService {
                cluster: cluster.clone(),
                node,
            }),
            AdminAuth {
                token: cluster.config.admin_token.clone(),
            },
        );
        // TCP_NODELAY on every accepted connection, as Go's net package (so a real
        // elastickv node) does by default: without it each response's last small write
        // waits for the client's delayed ACK (~40 ms per RPC, most of a live dump's time).
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |conn| {
                if let Ok(c) = &conn {
                    let _ = c.set_nodelay(true);
                }
                conn
            },
        );
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).map_err(|e| {
                elastickv_backup_live::source::LiveError::TlsConfig {
                    file: cluster
                        .config
                        .tls
                        .as_ref()
                        .map_or_else(String::new, |f| f.describe()),
                    detail: elastickv_backup_live::source::tls::chain(&e),
                }
            })?;
        }
        rt.spawn(async move {
            let served = builder
                .add_service(raw)
                .add_service(dist)
                .add_service(raft)
                .add_service(admin)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                eprintln!("loopback: server stopped: {e}");
            }
        });
        Ok(Node {
            addr,
            stop: Some(stop),
            rt: Some(rt),
        })
    }

    /// Graceful stop: waits briefly for in-flight calls.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }

    /// Abrupt stop: every connection and call is dropped where it stands.
    fn kill(&mut self) {
        self.stop.take();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }

    fn running(&self) -> bool {
        self.rt.is_some()
    }
}

/// Node `i`'s listen address: port 0 stays 0 (a free port each), port *p* becomes *p + i*.
fn next_listen(listen: &str, i: usize) -> Result<String, Error> {
    let bad = || Error::Usage(format!("--listen {listen}: expected HOST:PORT"));
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Ok(listen.to_string());
    }
    let p = usize::from(port) + i;
    let p = u16::try_from(p).map_err(|_| bad())?;
    Ok(format!("{host}:{p}"))
}

impl LoopbackServer {
    /// Loads `entries` into a cluster configured by `config` and serves it on `listen`
    /// (`127.0.0.1:0` picks a free port; see [`LoopbackServer::addr`]).
    pub fn start(
        config: ServerConfig,
        listen: &str,
        entries: Vec<RawEntry>,
    ) -> Result<Self, Error> {
        let rt = runtime("loopback")?;
        let cluster = Arc::new(Cluster::new(config, entries));
        let mut nodes = vec![Node::start(&cluster, listen, 0)?];
        for i in 1..cluster.config.nodes.max(1) {
            nodes.push(Node::start(&cluster, &next_listen(listen, i)?, i)?);
        }
        let c = cluster.clone();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(c.config.sweep_interval);
            loop {
                tick.tick().await;
                c.sweep();
            }
        });
        if let Some(every) = cluster.config.compaction_interval {
            let c = cluster.clone();
            rt.spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    c.compact(c.config.compaction_retention.as_millis() as u64);
                }
            });
        }
        Ok(LoopbackServer {
            cluster,
            nodes,
            rt: Some(rt),
        })
    }

    /// The bound address (of the first node).
    pub fn addr(&self) -> SocketAddr {
        self.nodes[0].addr
    }

    /// Every node's address, in node order.
    pub fn node_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    /// Fault: stops node `i` abruptly, as SIGKILL would — open connections are reset, calls
    /// in flight get no answer, new connections are refused. The cluster's state (data,
    /// pins) is kept, as the other replicas of a real cluster keep it.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.kill();
        }
    }

    /// Restarts a killed node on the same address. Errors when the port cannot be bound
    /// again.
    pub fn restart_node(&mut self, i: usize) -> Result<(), Error> {
        let cluster = self.cluster.clone();
        let Some(n) = self.nodes.get_mut(i) else {
            return Err(Error::Usage(format!("no node {i}")));
        };
        if n.running() {
            return Ok(());
        }
        *n = Node::start(&cluster, &n.addr.to_string(), i)?;
        Ok(())
    }

    /// The cluster: writes, faults, counters (test API).
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Blocks until SIGINT/SIGTERM (the `serve` command).
    pub fn wait_for_signal(&self) {
        if let Some(rt) = &self.rt {
            rt.block_on(elastickv_backup_live::source::signals::wait_for_signal());
        }
    }

    /// Blocks until SIGINT/SIGTERM (`true`) or for `d` (`false`).
    pub fn wait_for_signal_or(&self, d: Duration) -> bool {
        let Some(rt) = &self.rt else { return true };
        rt.block_on(async {
            tokio::select! {
                _ = elastickv_backup_live::source::signals::wait_for_signal() => true,
                _ = tokio::time::sleep(d) => false,
            }
        })
    }

    /// Stops serving and waits briefly for in-flight calls.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        for n in &mut self.nodes {
            n.stop();
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}
