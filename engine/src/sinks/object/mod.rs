//! The object sink: a dump written straight to S3-compatible storage under
//! `s3://bucket/prefix/`, one object per file of the directory output, same bytes.
//!
//! * Files written whole ([`Sink::write_file`], from the write workers) are hashed on the
//!   calling thread and handed to the client's runtime as PutObject requests; up to
//!   [`WINDOW_MIB`] MiB of them are in flight at once (each counts at least 1 MiB, so at
//!   most that many requests), which keeps the network busy without holding the dataset.
//! * Streams ([`Sink::open_stream`]) become multipart uploads once they pass one part
//!   (`upload`): memory per stream is bounded by the part size, not the file size.
//! * Directories that must exist though empty (a DynamoDB table's `items/`) become empty
//!   `path/` marker objects, as the S3 console and `aws s3 sync` make them.
//! * `MANIFEST.json` is held until the end: when the pipeline writes it, every upload is
//!   awaited and its digest recorded; `CHECKSUMS` then goes up (streamed, listing the
//!   manifest's digest), and `MANIFEST.json` last of all, so a prefix without
//!   `MANIFEST.json` is visibly not a dump.
//! * A run that fails (sink dropped before `CHECKSUMS`) aborts every multipart upload it
//!   started, retrying for [`ABORT_PATIENCE`] while the store is unreachable; the objects
//!   already written stay, without a manifest.

pub(crate) mod client;
pub use crate::error::object as error;
pub(crate) mod upload;
pub(crate) mod url;

pub use client::{S3Config, Store};
pub use error::ObjectError;
pub use url::S3Url;

use super::{DigestLog, DigestVisitor, FileDigest, RelPath, Sink, StreamFile};
use crate::error::Error;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use upload::{ObjectWriter, Registry, StreamUpload};

/// Bytes (in MiB) of whole-file PUTs in flight at once.
pub const WINDOW_MIB: u32 = 32;

/// How long a failed run keeps trying to abort its multipart uploads while the store is
/// unreachable.
pub const ABORT_PATIENCE: Duration = Duration::from_secs(20);

/// A dump written to `s3://bucket/prefix/`.
pub struct ObjectSink {
    store: Arc<Store>,
    root: S3Url,
    log: DigestLog,
    registry: Arc<Registry>,
    window: Arc<tokio::sync::Semaphore>,
    failed: Arc<Mutex<Option<String>>>,
    part_size: usize,
    explicit_dirs: Mutex<Vec<RelPath>>,
    manifest: Mutex<Option<Vec<u8>>>,
    completed: AtomicBool,
}

impl ObjectSink {
    /// Connects and checks the destination: the bucket must be reachable and, unless
    /// `force`, hold nothing under the prefix (a dump never mixes with older objects).
    pub fn create(url: &S3Url, cfg: &S3Config, force: bool) -> Result<Self, Error> {
        let store = Arc::new(Store::connect(cfg)?);
        let root = url.with_key(url.dir_prefix());
        let req = store
            .client()
            .list_objects_v2()
            .bucket(&root.bucket)
            .prefix(&root.key)
            .max_keys(1);
        let listed = store
            .run(req.send())?
            .map_err(|e| store.request_error(&root, "ListObjectsV2", &e))?;
        if let Some(first) = listed.contents().first() {
            if !force {
                return Err(ObjectError::NotEmpty {
                    url: root.to_string(),
                    example: first.key().unwrap_or_default().to_string(),
                }
                .into());
            }
        }
        Ok(ObjectSink {
            store,
            root,
            log: DigestLog::default(),
            registry: Arc::new(Registry::default()),
            window: Arc::new(tokio::sync::Semaphore::new(WINDOW_MIB as usize)),
            failed: Arc::new(Mutex::new(None)),
            part_size: upload::part_size(),
            explicit_dirs: Mutex::new(Vec::new()),
            manifest: Mutex::new(None),
            completed: AtomicBool::new(false),
        })
    }

    /// Hashes the dump's objects with `kind` (default SHA-256) for its checksum file.
    /// Set before the first object is written.
    pub fn with_digest(mut self, kind: super::DigestKind) -> Self {
        self.log.set_kind(kind);
        self
    }

    /// The object for a path of the dump.
    fn url_of(&self, path: &str) -> S3Url {
        self.root.with_key(format!("{}{path}", self.root.key))
    }

    /// Fails if an earlier background upload failed.
    fn check(&self, path: &str) -> Result<(), Error> {
        match self.failed.lock().ok().and_then(|f| f.clone()) {
            Some(first) => Err(ObjectError::Poisoned {
                url: self.url_of(path).to_string(),
                first,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// Starts a PutObject of `data` at `url` in the background, within the window.
    fn put_async(&self, url: S3Url, data: Bytes) -> Result<(), Error> {
        let units = u32::try_from(data.len() >> 20)
            .unwrap_or(WINDOW_MIB)
            .clamp(1, WINDOW_MIB);
        let permit = self
            .store
            .run(self.window.clone().acquire_many_owned(units))?
            .map_err(|_| ObjectError::Runtime("the upload window was closed".into()))?;
        let req = self
            .store
            .client()
            .put_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .body(ByteStream::from(data));
        let failed = self.failed.clone();
        let endpoint = self.store.endpoint().to_string();
        self.store.spawn(async move {
            if let Err(e) = req.send().await {
                let err = ObjectError::Request {
                    url: url.to_string(),
                    op: "PutObject",
                    endpoint,
                    detail: error::chain(&e),
                };
                if let Ok(mut f) = failed.lock() {
                    f.get_or_insert(err.to_string());
                }
            }
            drop(permit);
        })?;
        Ok(())
    }

    /// Waits for every background PUT; fails with the first failure among them.
    fn wait_all(&self, path: &str) -> Result<(), Error> {
        let all = self
            .store
            .run(self.window.clone().acquire_many_owned(WINDOW_MIB))?
            .map_err(|_| ObjectError::Runtime("the upload window was closed".into()))?;
        drop(all);
        self.check(path)
    }

    /// A blocking PutObject (control files).
    fn put_now(&self, path: &str, data: Vec<u8>) -> Result<(), Error> {
        let mut w = self.writer(path);
        w.append(&data)?;
        Ok(w.finish()?)
    }

    fn writer(&self, path: &str) -> ObjectWriter {
        ObjectWriter::new(
            self.store.clone(),
            self.url_of(path),
            self.registry.clone(),
            self.part_size,
        )
    }

    /// Uploads the held MANIFEST.json: the dump's last object.
    fn put_manifest(&self) -> Result<(), Error> {
        let m = self
            .manifest
            .lock()
            .ok()
            .and_then(|mut m| m.take())
            .ok_or_else(|| Error::Internal("CHECKSUMS written before MANIFEST.json".into()))?;
        self.put_now("MANIFEST.json", m)?;
        self.completed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl Sink for ObjectSink {
    fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error> {
        self.check(path.as_str())?;
        let digest = self.log.kind().digest(data);
        self.put_async(self.url_of(path.as_str()), Bytes::copy_from_slice(data))?;
        crate::progress::file_written(data.len() as u64);
        self.log.record(path, digest)
    }

    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
        self.check(path.as_str())?;
        let w = StreamUpload(self.writer(path.as_str()));
        Ok(StreamFile::new(path.clone(), Box::new(w), self.log.clone()))
    }

    fn write_control(&self, name: &str, data: &[u8]) -> Result<(), Error> {
        if name == "MANIFEST.json" {
            self.wait_all(name)?;
            let dirs = self
                .explicit_dirs
                .lock()
                .map(|d| d.clone())
                .unwrap_or_default();
            super::check_unique_paths(&self.log.sorted()?, &dirs)?;
            let path = RelPath::root().join(name)?;
            self.log.record(&path, self.log.kind().digest(data))?;
            if let Ok(mut m) = self.manifest.lock() {
                *m = Some(data.to_vec());
            }
            return Ok(());
        }
        self.wait_all(name)?;
        self.put_now(name, data.to_vec())?;
        if super::is_checksums_name(name) {
            self.put_manifest()?;
        }
        Ok(())
    }

    fn write_control_with(
        &self,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if !super::is_checksums_name(name) {
            let mut v = Vec::new();
            fill(&mut v)?;
            return self.write_control(name, &v);
        }
        self.wait_all(name)?;
        let mut w = StreamUpload(self.writer(name));
        fill(&mut w)?;
        w.0.finish()?;
        self.put_manifest()
    }

    fn for_each_digest(&self, f: DigestVisitor<'_>) -> Result<(), Error> {
        self.log.drain_sorted(f)
    }

    fn create_dir(&self, path: &RelPath) -> Result<(), Error> {
        self.check(path.as_str())?;
        if let Ok(mut d) = self.explicit_dirs.lock() {
            d.push(path.clone());
        }
        self.put_async(self.url_of(&format!("{path}/")), Bytes::new())
    }

    fn digest_kind(&self) -> super::DigestKind {
        self.log.kind()
    }

    fn digests(&self) -> Result<Vec<FileDigest>, Error> {
        self.log.sorted()
    }
}

impl Drop for ObjectSink {
    fn drop(&mut self) {
        if self.completed.load(Ordering::SeqCst) {
            return;
        }
        let left = self
            .registry
            .abort_all(&self.store, &self.root.bucket, ABORT_PATIENCE);
        for (key, id) in left {
            tracing::warn!(
                "could not abort the incomplete multipart upload of s3://{}/{key} (upload id {id}); remove it with `aws s3api abort-multipart-upload --bucket {} --key {key} --upload-id {id}` or a lifecycle rule",
                self.root.bucket, self.root.bucket
            );
        }
    }
}
