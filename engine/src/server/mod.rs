//! The loopback cluster: an in-process imitation of an elastickv node (docs/format/50-live-cluster.md §9).
//!
//! It serves the same package-less gRPC surface as a real node (RawKV, Distribution,
//! RaftAdmin, Admin with the Phase 1 backup RPCs) over a multi-group MVCC store, so the live
//! producer can be exercised end to end — and `dump` without `--address` uses it to dump a
//! sample dataset. Tests provoke faults through [`LoopbackServer::cluster`] (a Rust API only;
//! none of it is reachable from the command line).
//!
//! Simplification (documented in §9's terms): one listener serves every group; `RaftAdmin`
//! answers for group 1.

pub mod cluster;
pub mod config;
pub mod export;
pub mod group;
pub mod hlc;
pub mod load;
pub mod pins;
pub mod service;
pub mod store;

pub use cluster::Cluster;
pub use config::ServerConfig;

use crate::error::Error;
use crate::sources::RawEntry;
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
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl LoopbackServer {
    /// Loads `entries` into a cluster configured by `config` and serves it on `listen`
    /// (`127.0.0.1:0` picks a free port; see [`LoopbackServer::addr`]).
    pub fn start(
        config: ServerConfig,
        listen: &str,
        entries: Vec<RawEntry>,
    ) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("loopback")
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let cluster = Arc::new(Cluster::new(config, entries));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(|e| Error::io(format!("listen {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("listen {listen}"), e))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let max = cluster.config.max_message_bytes;
        let raw = RawKvServer::new(RawKvService {
            cluster: cluster.clone(),
        })
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
        let dist = DistributionServer::new(DistributionService {
            cluster: cluster.clone(),
        });
        let raft = RaftAdminServer::new(RaftAdminService {
            cluster: cluster.clone(),
            group: 1,
            address: addr.to_string(),
        });
        let admin = tonic::service::interceptor::InterceptedService::new(
            AdminServer::new(AdminService {
                cluster: cluster.clone(),
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
        rt.spawn(async move {
            let served = tonic::transport::Server::builder()
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
            addr,
            stop: Some(stop),
            rt: Some(rt),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The cluster: writes, faults, counters (test API).
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Blocks until SIGINT/SIGTERM (the `serve` command).
    pub fn wait_for_signal(&self) {
        if let Some(rt) = &self.rt {
            rt.block_on(crate::sources::live::signals::wait_for_signal());
        }
    }

    /// Stops serving and waits briefly for in-flight calls.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
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
