//! What `restore dynamodb|s3|sqs` share: the SDK configuration (standard credential and
//! region chain, `--endpoint` for S3-compatible stores and emulators), the async runtime
//! the SDK calls run on, the error type, and the summary printed on success *and* on
//! failure, so nothing created is left unreported.
//!
//! The SDK's HTTPS client is built with rustls on `ring` rather than the SDK's default
//! `aws-lc-rs`: same protocol support, a much cheaper build (no C/assembly library of its
//! own to compile on CI's two cores).

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use elastickv_backup_reverse::manifest::{self, InputManifest};
use elastickv_backup_reverse::ReverseError;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// Region used when neither `--region` nor the environment/profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// `--endpoint`: the service URL (moto, MinIO, LocalStack, elastickv's adapters);
    /// `None` uses the SDK's endpoint for the region.
    pub endpoint: Option<String>,
    /// `--region`; `None` uses the standard chain, then [`DEFAULT_REGION`].
    pub region: Option<String>,
    /// Time allowed for one attempt of one API call.
    pub timeout: Duration,
    /// Attempts per API call (the SDK's standard retry with backoff on throttling and
    /// transient errors).
    pub max_attempts: u32,
}

impl Target {
    /// A target at `endpoint` with the defaults (60 s per attempt, 4 attempts).
    pub fn new(endpoint: Option<String>) -> Self {
        Target {
            endpoint,
            region: None,
            timeout: Duration::from_secs(60),
            max_attempts: 4,
        }
    }

    /// The endpoint as shown in messages.
    pub fn shown(&self) -> &str {
        self.endpoint
            .as_deref()
            .unwrap_or("the AWS endpoint of the region")
    }
}

pub use crate::error::aws::AwsRestoreError;

/// The runtime the SDK calls run on (two workers: the calls are network-bound).
pub fn runtime() -> Result<tokio::runtime::Runtime, AwsRestoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(AwsRestoreError::Runtime)
}

/// Loads the SDK configuration for `t`: credentials and region from the standard
/// environment/profile chain, `--region`/`--endpoint` on top. Public so the tests read
/// back through the same client setup.
pub fn load_config(rt: &tokio::runtime::Runtime, t: &Target) -> SdkConfig {
    rt.block_on(async {
        let http = elastickv_backup_engine::aws_http::https_client();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10).min(t.timeout))
                    .operation_attempt_timeout(t.timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(t.max_attempts.max(1)));
        if let Some(e) = &t.endpoint {
            loader = loader.endpoint_url(e);
        }
        // Without --region the loader's own chain (environment, profile, instance
        // metadata) runs with the client above; nothing found means DEFAULT_REGION.
        if let Some(r) = &t.region {
            loader = loader.region(Region::new(r.clone()));
        }
        let conf = loader.load().await;
        if conf.region().is_some() {
            return conf;
        }
        conf.to_builder()
            .region(Region::new(DEFAULT_REGION))
            .build()
    })
}

/// Reads the dump's manifest: restoring needs a complete dump (one with MANIFEST.json).
pub(crate) fn dump_manifest(root: &Path) -> Result<InputManifest, AwsRestoreError> {
    if !root.is_dir() {
        return Err(
            ReverseError::invalid(root.display().to_string(), "no such dump directory").into(),
        );
    }
    manifest::read(root)?.ok_or_else(|| {
        ReverseError::Manifest {
            why: "missing: the dump is incomplete (a failed run) or not a dump; restore only from a dump that `elastickv-backup verify` accepts".into(),
        }
        .into()
    })
}

/// One table, bucket or queue in the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// Created by this run (false: it existed and `--use-existing` was given).
    pub created: bool,
    /// Items, objects or messages written into it.
    pub written: u64,
    /// Bytes written (S3 object bodies; 0 elsewhere).
    pub bytes: u64,
}

/// What a restore created and wrote, printed whether it succeeded or not.
#[derive(Debug, Clone)]
pub struct Summary {
    service: &'static str,
    container: &'static str,
    unit: &'static str,
    /// Tables, buckets or queues in the order they were reached.
    pub entries: Vec<Entry>,
    /// Things restored only in part, or left out on purpose (one line each).
    pub warnings: Vec<String>,
}

impl Summary {
    /// An empty summary for `service`, counting `unit`s in `container`s.
    pub(crate) fn new(service: &'static str, container: &'static str, unit: &'static str) -> Self {
        Summary {
            service,
            container,
            unit,
            entries: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Starts the entry for `name`.
    pub(crate) fn begin(&mut self, name: impl Into<String>, created: bool) {
        self.entries.push(Entry {
            name: name.into(),
            created,
            written: 0,
            bytes: 0,
        });
    }

    /// Counts `n` units (and `bytes`) written into the entry named `name`.
    pub(crate) fn add(&mut self, name: &str, n: u64, bytes: u64) {
        if let Some(e) = self.entries.iter_mut().rev().find(|e| e.name == name) {
            e.written += n;
            e.bytes += bytes;
        }
    }

    /// Units written in all entries.
    pub fn written_total(&self) -> u64 {
        self.entries.iter().map(|e| e.written).sum()
    }

    /// Entries created by this run.
    pub fn created_total(&self) -> usize {
        self.entries.iter().filter(|e| e.created).count()
    }

    /// The text printed after the run.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "restore {}: {} {}s ({} created), {} {}s written",
            self.service,
            self.entries.len(),
            self.container,
            self.created_total(),
            self.written_total(),
            self.unit
        );
        for e in &self.entries {
            let how = if e.created { "created" } else { "existing" };
            let _ = write!(
                s,
                "  {} {}: {how}, {} {}s",
                self.container, e.name, e.written, self.unit
            );
            if e.bytes > 0 {
                let _ = write!(s, ", {} bytes", e.bytes);
            }
            s.push('\n');
        }
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_renders_every_entry() {
        let mut s = Summary::new("sqs", "queue", "message");
        s.begin("a", true);
        s.add("a", 2, 0);
        s.begin("b.fifo", false);
        s.add("b.fifo", 1, 10);
        s.add("missing", 5, 0);
        s.warnings.push("redrive policy of a not restored".into());
        assert_eq!((s.written_total(), s.created_total()), (3, 1));
        assert_eq!(
            s.render(),
            "restore sqs: 2 queues (1 created), 3 messages written\n  queue a: created, 2 messages\n  queue b.fifo: existing, 1 messages, 10 bytes\n  warning: redrive policy of a not restored\n"
        );
    }

    #[test]
    fn a_tree_without_manifest_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let e = dump_manifest(d.path()).unwrap_err();
        assert!(e.to_string().contains("MANIFEST.json: missing"), "{e}");
        let e = dump_manifest(&d.path().join("nope")).unwrap_err();
        assert!(e.to_string().contains("no such dump directory"), "{e}");
    }
}
