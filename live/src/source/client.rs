//! The connection to a node: one HTTP/2 channel (TLS when asked, see [`super::tls`]),
//! clients with the 64 MiB message limit, and the bearer header on every call when a token
//! is configured (docs/format/50-live-cluster.md §1.2, §2.6).

use super::error::LiveError;
use super::tls::{self, ClientTlsFiles, Target};
use elastickv_backup_proto::{
    AdminClient, DistributionClient, RaftAdminClient, RawKvClient, MAX_MESSAGE_BYTES,
};
use std::time::Duration;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Request;

fn connect_error(address: &str, message: String) -> LiveError {
    LiveError::Connect {
        address: address.to_string(),
        message,
    }
}

/// A connected node.
#[derive(Clone)]
pub struct Conn {
    /// The address as given (`host:port` or a URI).
    pub address: String,
    channel: Channel,
    auth: Option<MetadataValue<tonic::metadata::Ascii>>,
    /// Whether the connection is TLS (for the hint when a plaintext one is refused).
    pub tls: bool,
}

/// How every node of one dump is dialled: the bearer token and the TLS settings, loaded
/// once and shared by every channel (seeds, discovered leaders, `--group-endpoint`s).
#[derive(Clone, Default)]
pub struct Dialer {
    token: Option<String>,
    tls: Option<ClientTlsConfig>,
    tls_default: bool,
}

/// The largest HTTP/2 frame the client accepts (the protocol's default is 16 KiB). A scan
/// page is megabytes: in 16 KiB frames, each page cost the server and the client a frame's
/// bookkeeping, flow-control accounting and task wake-up 64 times per MiB. Against the
/// loopback cluster (same client, alternated dumps): S3-only 1 GiB 1.445 -> 1.17 s
/// (medians of 6-8), server CPU per dump -30%; the bench mix 2.175 -> 2.10 s, server CPU
/// -10%. 1 MiB frames were no faster than 256 KiB and held ~25 MiB more. A peer that sends
/// smaller frames (grpc-go writes 16 KiB ones) is unaffected.
const MAX_FRAME_BYTES: u32 = 256 << 10;

impl Dialer {
    /// A dialer for `seeds`. TLS is used for `https://` addresses, and for addresses
    /// without a scheme when some seed is `https://` or a TLS file was given.
    ///
    /// Errors: [`LiveError::TlsConfig`] when a TLS file is unusable.
    pub fn new(
        seeds: &[String],
        token: Option<String>,
        files: &ClientTlsFiles,
    ) -> Result<Self, LiveError> {
        let tls_default = files.any() || tls::any_https(seeds);
        let tls = if tls_default {
            Some(files.load()?)
        } else {
            None
        };
        Ok(Dialer {
            token,
            tls,
            tls_default,
        })
    }

    fn endpoint(&self, address: &str) -> Result<(Endpoint, Target), LiveError> {
        let t = tls::target(address, self.tls_default)?;
        let mut ep = Endpoint::from_shared(t.uri.clone())
            .map_err(|e| connect_error(address, e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .max_frame_size(Some(MAX_FRAME_BYTES));
        if t.tls {
            let cfg = match &self.tls {
                Some(c) => c.clone(),
                // An https:// address reached without a dialer built for it.
                None => ClientTlsFiles::default().load()?,
            };
            ep = ep.tls_config(cfg).map_err(|e| LiveError::TlsConfig {
                file: "TLS configuration".into(),
                detail: tls::chain(&e),
            })?;
        }
        Ok((ep, t))
    }

    /// Connects to `address` now (`host:port`, `http://…` or `https://…`).
    ///
    /// Errors: [`LiveError::Connect`] (unreachable), [`LiveError::TlsHandshake`] (the TLS
    /// handshake failed: a plaintext listener, an untrusted certificate, a refused client
    /// certificate).
    pub async fn connect(&self, address: &str) -> Result<Conn, LiveError> {
        let (ep, t) = self.endpoint(address)?;
        let channel = ep
            .connect()
            .await
            .map_err(|e| tls::connect_failure(address, &t, &e))?;
        Conn::with_channel(address, channel, self.token.as_deref(), t.tls)
    }

    /// A connection made on first use (and re-made after a failure by the channel itself):
    /// one per node, shared by every group read from it.
    pub fn lazy(&self, address: &str) -> Result<Conn, LiveError> {
        let (ep, t) = self.endpoint(address)?;
        Conn::with_channel(address, ep.connect_lazy(), self.token.as_deref(), t.tls)
    }
}

impl Conn {
    fn with_channel(
        address: &str,
        channel: Channel,
        admin_token: Option<&str>,
        tls: bool,
    ) -> Result<Conn, LiveError> {
        let auth = match admin_token {
            Some(t) => Some(format!("Bearer {t}").parse().map_err(|_| {
                connect_error(
                    address,
                    "the admin token contains characters not allowed in a header".into(),
                )
            })?),
            None => None,
        };
        Ok(Conn {
            address: address.to_string(),
            channel,
            auth,
            tls,
        })
    }

    /// A request carrying `msg`, the bearer header and a deadline.
    pub fn req<T>(&self, msg: T, timeout: Duration) -> Request<T> {
        let mut r = Request::new(msg);
        if let Some(a) = &self.auth {
            r.metadata_mut().insert("authorization", a.clone());
        }
        r.set_timeout(timeout);
        r
    }

    /// RawKV client.
    pub fn raw(&self) -> RawKvClient<Channel> {
        RawKvClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Admin client.
    pub fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// RaftAdmin client (the listener's own group).
    pub fn raft_admin(&self) -> RaftAdminClient<Channel> {
        RaftAdminClient::new(self.channel.clone())
    }

    /// Distribution client.
    pub fn dist(&self) -> DistributionClient<Channel> {
        DistributionClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}
