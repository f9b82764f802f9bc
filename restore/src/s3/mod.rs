//! `restore s3`: replays `s3/<bucket>/` into S3 or an S3-compatible store (elastickv's
//! S3 adapter, moto, MinIO) through the AWS SDK.
//!
//! The tree is read by the same walker as `encode` ([`elastickv_backup_reverse::s3::walk`]): object
//! keys come back from the bucket's rename log (`KEYMAP.jsonl`, including this project's
//! `_escaped_keys/`), sidecars and control files are not uploaded, and each body's length
//! is checked against its sidecar before it is sent. Per bucket: `CreateBucket` (in the
//! client's region), then every object with its content type, encoding, cache control,
//! disposition and user metadata from the sidecar — `PutObject` up to
//! `multipart_threshold` bytes (up to `concurrency` in flight), a multipart upload in
//! `part_size` parts above it (aborted if any part fails). ETags of multipart objects and
//! `last_modified` cannot be restored: the server assigns them.

mod upload;

use crate::aws::{self, AwsRestoreError, Summary, Target};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_s3::Client;
use elastickv_backup_reverse::s3::objects::{BucketVisitor, ObjectFile};
use elastickv_backup_reverse::s3::values::BucketFile;
use elastickv_backup_reverse::ReverseError;
use std::path::PathBuf;
use tokio::task::JoinSet;
use upload::Headers;

/// Smallest part S3 accepts in a multipart upload (all parts but the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// What to restore, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The dump directory (holding MANIFEST.json and s3/).
    pub input: PathBuf,
    /// The server.
    pub target: Target,
    /// Write into buckets that already exist (objects with the same key are replaced).
    pub use_existing: bool,
    /// Objects larger than this go up as multipart uploads.
    pub multipart_threshold: u64,
    /// Part size of multipart uploads (at least [`MIN_PART_SIZE`]).
    pub part_size: u64,
    /// `PutObject` requests in flight at once.
    pub concurrency: usize,
}

impl Options {
    /// Defaults: refuse existing buckets, multipart above 16 MiB in 8 MiB parts, 4 puts
    /// in flight.
    pub fn new(input: PathBuf, target: Target) -> Self {
        Options {
            input,
            target,
            use_existing: false,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            concurrency: 4,
        }
    }
}

/// Restores every bucket of the dump. The summary lists what was created and written,
/// also when the run stopped with an error.
pub fn restore(opts: &Options) -> (Summary, Result<(), AwsRestoreError>) {
    let mut summary = Summary::new("s3", "bucket", "object");
    let r = run(opts, &mut summary);
    (summary, r)
}

fn run(opts: &Options, summary: &mut Summary) -> Result<(), AwsRestoreError> {
    let manifest = aws::dump_manifest(&opts.input)?;
    if manifest.include_incomplete_uploads || manifest.include_orphans {
        summary.warnings.push(
            "the dump holds _incomplete_uploads/ or _orphans/ payload: not restored (it is not an object of any bucket)"
                .into(),
        );
    }
    let rt = aws::runtime()?;
    let client = client(&aws::load_config(&rt, &opts.target), &opts.target);
    let mut r = Restorer {
        rt: &rt,
        client,
        opts,
        summary,
        bucket: String::new(),
        inflight: JoinSet::new(),
    };
    let walked = elastickv_backup_reverse::s3::walk(&opts.input, &mut r);
    let drained = r.drain();
    walked.and(drained)
}

/// The S3 client for `t`: path-style addressing when an endpoint is given (S3-compatible
/// stores and emulators on an IP address or `localhost` have no per-bucket host names).
pub fn client(sdk: &aws_config::SdkConfig, t: &Target) -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(t.endpoint.is_some())
            .build(),
    )
}

/// The walk's visitor: creates buckets, uploads objects.
struct Restorer<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: Client,
    opts: &'a Options,
    summary: &'a mut Summary,
    bucket: String,
    inflight: JoinSet<upload::Outcome>,
}

impl Restorer<'_> {
    fn join_one(&mut self) -> Result<(), AwsRestoreError> {
        let Some(done) = self.rt.block_on(self.inflight.join_next()) else {
            return Ok(());
        };
        let out =
            done.map_err(|e| AwsRestoreError::Runtime(std::io::Error::other(e.to_string())))?;
        if out.result.is_ok() {
            self.summary.add(&out.bucket, 1, out.bytes);
        }
        out.result
    }

    fn drain(&mut self) -> Result<(), AwsRestoreError> {
        let mut first = Ok(());
        while !self.inflight.is_empty() {
            if let Err(e) = self.join_one() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    /// Whether the bucket exists (`HeadBucket`).
    fn exists(&self, bucket: &str) -> Result<bool, AwsRestoreError> {
        match self
            .rt
            .block_on(self.client.head_bucket().bucket(bucket).send())
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(AwsRestoreError::call("s3", "HeadBucket", bucket, e)),
        }
    }

    fn create(&mut self, bucket: &str) -> Result<(), AwsRestoreError> {
        let created = if self.exists(bucket)? {
            if !self.opts.use_existing {
                return Err(AwsRestoreError::Exists {
                    service: "s3",
                    what: format!("bucket {bucket:?}"),
                });
            }
            false
        } else {
            let mut req = self.client.create_bucket().bucket(bucket);
            let region = self.client.config().region().map(|r| r.to_string());
            if let Some(r) = region.filter(|r| r != aws::DEFAULT_REGION) {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(r.as_str()))
                        .build(),
                );
            }
            self.rt
                .block_on(req.send())
                .map_err(|e| AwsRestoreError::call("s3", "CreateBucket", bucket, e))?;
            true
        };
        self.summary.begin(bucket, created);
        Ok(())
    }
}

impl BucketVisitor for Restorer<'_> {
    type Error = AwsRestoreError;

    fn bucket(
        &mut self,
        name: &[u8],
        _meta: Option<&BucketFile>,
        shown: &str,
    ) -> Result<(), AwsRestoreError> {
        self.drain()?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| {
            ReverseError::invalid(shown, "the bucket name is not UTF-8: S3 cannot hold it")
        })?;
        self.create(&name)?;
        self.bucket = name;
        Ok(())
    }

    fn object(&mut self, _bucket: &[u8], obj: ObjectFile<'_>) -> Result<(), AwsRestoreError> {
        let key = String::from_utf8(obj.key.clone()).map_err(|_| {
            ReverseError::invalid(obj.shown, "the object key is not UTF-8: S3 cannot hold it")
        })?;
        let headers = Headers::of(&obj.sidecar);
        if obj.len > self.opts.multipart_threshold {
            let bucket = self.bucket.clone();
            let bytes = obj.len;
            upload::multipart(
                self.rt,
                &self.client,
                &bucket,
                &key,
                &headers,
                obj,
                self.opts.part_size,
            )?;
            self.summary.add(&bucket, 1, bytes);
            return Ok(());
        }
        let body = upload::read_body(obj)?;
        while self.inflight.len() >= self.opts.concurrency.max(1) {
            self.join_one()?;
        }
        self.inflight.spawn_on(
            upload::put(self.client.clone(), self.bucket.clone(), key, headers, body),
            self.rt.handle(),
        );
        Ok(())
    }
}
