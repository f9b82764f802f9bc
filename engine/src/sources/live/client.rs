//! The connection to a node: one HTTP/2 channel, clients with the 64 MiB message limit, and
//! the bearer header on every call when a token is configured (spec 50 §1.2, §2.6).

use super::error::LiveError;
use elastickv_backup_proto::{
    AdminClient, DistributionClient, RaftAdminClient, RawKvClient, MAX_MESSAGE_BYTES,
};
use std::time::Duration;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
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
    /// `host:port` as given.
    pub address: String,
    channel: Channel,
    auth: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Conn {
    /// Connects to `address` (`host:port`, or a full `http://` URI).
    pub async fn connect(address: &str, admin_token: Option<&str>) -> Result<Conn, LiveError> {
        let channel = Self::endpoint(address)?
            .connect()
            .await
            .map_err(|e| connect_error(address, format!("{e} ({e:?})")))?;
        Self::with_channel(address, channel, admin_token)
    }

    /// A connection made on first use (and re-made after a failure by the channel itself):
    /// one per node, shared by every group read from it.
    pub fn lazy(address: &str, admin_token: Option<&str>) -> Result<Conn, LiveError> {
        let channel = Self::endpoint(address)?.connect_lazy();
        Self::with_channel(address, channel, admin_token)
    }

    fn endpoint(address: &str) -> Result<Endpoint, LiveError> {
        if address.to_ascii_lowercase().starts_with("https://") {
            // Without TLS support the channel would speak plaintext to an address the
            // operator marked as TLS, bearer token included: refuse instead.
            return Err(connect_error(
                address,
                "TLS (https://) is not supported by this build yet; refusing to speak plaintext (and send the admin token) to an address marked https://. Use a plaintext listener (host:port) over a trusted network or a TLS-terminating tunnel".into(),
            ));
        }
        let uri = if address.contains("://") {
            address.to_string()
        } else {
            format!("http://{address}")
        };
        Ok(Endpoint::from_shared(uri)
            .map_err(|e| connect_error(address, e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true))
    }

    fn with_channel(
        address: &str,
        channel: Channel,
        admin_token: Option<&str>,
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
