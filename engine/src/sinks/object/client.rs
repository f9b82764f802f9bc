//! The S3 client behind the object sink and `verify s3://`: the official AWS SDK for Rust
//! on a small runtime of its own, with blocking entry points for the engine's threads.
//!
//! Why the SDK (and not `object_store`): see README "Back up to S3"; in short, the SDK
//! reads the whole standard credential/region chain (environment, `~/.aws/config` and
//! `credentials` profiles, SSO, web identity, ECS/IMDS), `object_store` only the
//! environment and instance metadata; the two measured alike for build time and loopback
//! throughput, and the restore commands need the SDK for DynamoDB/SQS anyway.
//!
//! The engine's threads (decode thread, write workers) are plain threads, and a live dump
//! runs its own gRPC runtime; so every call is spawned on this client's runtime and waited
//! for over a channel, which works from any thread, inside another runtime or not.

use super::error::{chain, ObjectError};
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use std::future::Future;
use std::time::Duration;

/// How to reach the store: `--s3-endpoint`, else the SDK's default for the region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint URL of an S3-compatible store (MinIO, Ceph, moto…); path-style addressing
    /// is used with it, since such stores rarely resolve bucket subdomains.
    pub endpoint: Option<String>,
}

/// Region used when the standard chain names none and an endpoint is given: S3-compatible
/// stores accept any region, but the SDK will not sign without one.
const FALLBACK_REGION: &str = "us-east-1";

/// Runtime threads for network I/O. Requests are mostly waiting on the network; two
/// threads keep the TLS/HTTP work off the pipeline's cores without competing for them.
const RUNTIME_THREADS: usize = 2;

/// A connected client and the runtime it runs on.
pub struct Store {
    rt: Option<tokio::runtime::Runtime>,
    client: aws_sdk_s3::Client,
    endpoint: String,
}

impl Store {
    /// Loads the standard AWS configuration (environment, profiles, …) and builds a client.
    /// Nothing is sent yet: a wrong endpoint or missing credentials show up at the first
    /// request, with that request's object named.
    pub fn connect(cfg: &S3Config) -> Result<Self, ObjectError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("s3-client")
            .enable_all()
            .build()
            .map_err(|e| ObjectError::Runtime(e.to_string()))?;
        let endpoint = cfg.endpoint.clone();
        let client = rt.block_on(async move {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(crate::aws_http::https_client());
            if let Some(e) = &endpoint {
                loader = loader.endpoint_url(e);
            }
            let shared = loader.load().await;
            let mut b = aws_sdk_s3::config::Builder::from(&shared)
                // Our own SHA-256 covers every byte; the SDK's extra CRC trailers are not
                // understood by every S3-compatible store.
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
                .timeout_config(
                    aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .build(),
                );
            if endpoint.is_some() {
                b = b.force_path_style(true);
                if shared.region().is_none() {
                    b = b.region(aws_sdk_s3::config::Region::new(FALLBACK_REGION));
                }
            }
            aws_sdk_s3::Client::from_conf(b.build())
        });
        Ok(Store {
            rt: Some(rt),
            client,
            endpoint: cfg
                .endpoint
                .clone()
                .unwrap_or_else(|| "the default AWS endpoint".into()),
        })
    }

    /// The endpoint, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The SDK client (cheap to clone into a spawned request).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// Runs `f` on the client's runtime and waits for it, from any thread.
    pub fn run<F>(&self, f: F) -> Result<F::Output, ObjectError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rx = self.spawn(f)?;
        rx.recv()
            .map_err(|_| ObjectError::Runtime("a request task stopped without answering".into()))
    }

    /// Starts `f` on the client's runtime; its result arrives on the returned channel.
    pub fn spawn<F>(&self, f: F) -> Result<std::sync::mpsc::Receiver<F::Output>, ObjectError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| ObjectError::Runtime("the client was shut down".into()))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        Ok(rx)
    }

    /// The typed error for a failed request on `url`.
    pub fn request_error(
        &self,
        url: impl std::fmt::Display,
        op: &'static str,
        e: &(dyn std::error::Error + 'static),
    ) -> ObjectError {
        ObjectError::Request {
            url: url.to_string(),
            op,
            endpoint: self.endpoint.clone(),
            detail: chain(e),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Dropping a runtime blocks on its tasks and panics inside another runtime; the
        // sink may be dropped anywhere, and no request it cares about is still running.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
