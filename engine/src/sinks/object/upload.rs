//! One object written front to back in bounded memory: bytes collect in a part buffer;
//! an object that ends before the first part is full goes up with one PutObject, a larger
//! one as a multipart upload whose parts are sent while the next fills (at most
//! [`PARTS_IN_FLIGHT`] at a time). An upload that is not completed is aborted, so a failed
//! run leaves no half-object and no billable upload behind.

use super::client::Store;
use super::error::ObjectError;
use super::url::S3Url;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

/// Default part size: 8 MiB (S3's minimum is 5 MiB for every part but the last).
pub const DEFAULT_PART_SIZE: usize = 8 << 20;

/// Smallest part size S3 accepts.
pub const MIN_PART_SIZE: usize = 5 << 20;

/// Overrides [`DEFAULT_PART_SIZE`] (bytes, at least [`MIN_PART_SIZE`]), so tests reach
/// multipart uploads with small data.
pub const PART_SIZE_ENV: &str = "ELASTICKV_BACKUP_S3_PART_SIZE";

/// Parts of one object uploading at once. With the part being filled, one large object
/// holds at most `(PARTS_IN_FLIGHT + 1) × part size` in memory.
pub const PARTS_IN_FLIGHT: usize = 2;

/// S3's limit on parts per upload. Parts double in size every [`PARTS_PER_STEP`] parts, so
/// 8 MiB parts reach past 5 TiB (S3's object size limit) well before it.
const PARTS_PER_STEP: i32 = 1000;

/// The part size for this run.
pub fn part_size() -> usize {
    std::env::var(PART_SIZE_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(DEFAULT_PART_SIZE, |n| n.max(MIN_PART_SIZE))
}

/// Multipart uploads started and not yet completed or aborted, by key: what the sink
/// aborts when a run fails (see [`Registry::abort_all`]).
#[derive(Default)]
pub struct Registry {
    open: Mutex<HashMap<String, String>>,
}

impl Registry {
    fn add(&self, key: &str, id: &str) {
        if let Ok(mut m) = self.open.lock() {
            m.insert(key.to_string(), id.to_string());
        }
    }

    fn remove(&self, key: &str) {
        if let Ok(mut m) = self.open.lock() {
            m.remove(key);
        }
    }

    /// Uploads still open, as (key, upload id).
    pub fn open_uploads(&self) -> Vec<(String, String)> {
        self.open
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Aborts every open upload, retrying while the store is unreachable for up to
    /// `patience` (a store that restarts mid-dump is reached again); returns those that
    /// could not be aborted, for the message that tells the user what to clean up.
    pub fn abort_all(
        &self,
        store: &Store,
        bucket: &str,
        patience: std::time::Duration,
    ) -> Vec<(String, String)> {
        let deadline = std::time::Instant::now() + patience;
        let mut pause = std::time::Duration::from_millis(200);
        loop {
            for (key, id) in self.open_uploads() {
                if abort(store, bucket, &key, &id).is_ok() {
                    self.remove(&key);
                }
            }
            let left = self.open_uploads();
            if left.is_empty() || std::time::Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_secs(2));
        }
    }
}

/// One AbortMultipartUpload.
fn abort(store: &Store, bucket: &str, key: &str, id: &str) -> Result<(), ObjectError> {
    let req = store
        .client()
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id);
    store.run(req.send())?.map(|_| ()).map_err(|e| {
        store.request_error(format!("s3://{bucket}/{key}"), "AbortMultipartUpload", &e)
    })
}

/// A multipart upload under way.
struct Multipart {
    id: String,
    next_part: i32,
    done: Vec<CompletedPart>,
    in_flight: VecDeque<Receiver<Result<CompletedPart, ObjectError>>>,
}

/// Writes one object; [`ObjectWriter::finish`] makes it exist, dropping it unfinished
/// aborts it.
pub struct ObjectWriter {
    store: Arc<Store>,
    url: S3Url,
    registry: Arc<Registry>,
    part_size: usize,
    buf: Vec<u8>,
    upload: Option<Multipart>,
    finished: bool,
}

impl ObjectWriter {
    /// A writer for object `url` (nothing is sent until the first part is full or the
    /// object is finished).
    pub fn new(store: Arc<Store>, url: S3Url, registry: Arc<Registry>, part_size: usize) -> Self {
        ObjectWriter {
            store,
            url,
            registry,
            part_size,
            buf: Vec::new(),
            upload: None,
            finished: false,
        }
    }

    /// Appends bytes, sending each part as it fills.
    pub fn append(&mut self, mut data: &[u8]) -> Result<(), ObjectError> {
        while !data.is_empty() {
            let target = self.current_part_size();
            let take = (target - self.buf.len()).min(data.len());
            if self.buf.capacity() == 0 {
                self.buf.reserve(take.max(64 << 10).min(target));
            }
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() >= target {
                self.send_part()?;
            }
        }
        Ok(())
    }

    fn current_part_size(&self) -> usize {
        let n = self.upload.as_ref().map_or(0, |u| u.next_part - 1);
        self.part_size << (n / PARTS_PER_STEP).min(8)
    }

    /// Sends the full buffer as the next part (starting the upload first if needed).
    fn send_part(&mut self) -> Result<(), ObjectError> {
        if self.upload.is_none() {
            let req = self
                .store
                .client()
                .create_multipart_upload()
                .bucket(&self.url.bucket)
                .key(&self.url.key);
            let out = self.store.run(req.send())?.map_err(|e| {
                self.store
                    .request_error(&self.url, "CreateMultipartUpload", &e)
            })?;
            let id = out.upload_id().unwrap_or_default().to_string();
            if id.is_empty() {
                return Err(ObjectError::Request {
                    url: self.url.to_string(),
                    op: "CreateMultipartUpload",
                    endpoint: String::new(),
                    detail: "the store returned no upload id".into(),
                });
            }
            self.registry.add(&self.url.key, &id);
            self.upload = Some(Multipart {
                id,
                next_part: 1,
                done: Vec::new(),
                in_flight: VecDeque::new(),
            });
        }
        let body = Bytes::from(std::mem::take(&mut self.buf));
        let store = &self.store;
        let url = self.url.clone();
        let Some(up) = self.upload.as_mut() else {
            return Err(ObjectError::Runtime("multipart state lost".into()));
        };
        while up.in_flight.len() >= PARTS_IN_FLIGHT {
            wait_part(up)?;
        }
        let n = up.next_part;
        up.next_part += 1;
        let req = store
            .client()
            .upload_part()
            .bucket(&url.bucket)
            .key(&url.key)
            .upload_id(&up.id)
            .part_number(n)
            .body(ByteStream::from(body));
        let endpoint_err = store.endpoint().to_string();
        let rx = store.spawn(async move {
            match req.send().await {
                Ok(out) => Ok(CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build()),
                Err(e) => Err(ObjectError::Request {
                    url: format!("{url} (part {n})"),
                    op: "UploadPart",
                    endpoint: endpoint_err,
                    detail: super::error::chain(&e),
                }),
            }
        })?;
        up.in_flight.push_back(rx);
        Ok(())
    }

    /// Sends what is left and makes the object exist: a PutObject for a small object,
    /// else the last part and CompleteMultipartUpload.
    pub fn finish(&mut self) -> Result<(), ObjectError> {
        if self.finished {
            return Ok(());
        }
        if self.upload.is_none() {
            let body = Bytes::from(std::mem::take(&mut self.buf));
            let req = self
                .store
                .client()
                .put_object()
                .bucket(&self.url.bucket)
                .key(&self.url.key)
                .body(ByteStream::from(body));
            self.store
                .run(req.send())?
                .map_err(|e| self.store.request_error(&self.url, "PutObject", &e))?;
            self.finished = true;
            return Ok(());
        }
        if !self.buf.is_empty() {
            self.send_part()?;
        }
        let Some(up) = self.upload.as_mut() else {
            return Err(ObjectError::Runtime("multipart state lost".into()));
        };
        while !up.in_flight.is_empty() {
            wait_part(up)?;
        }
        let parts = std::mem::take(&mut up.done);
        let req = self
            .store
            .client()
            .complete_multipart_upload()
            .bucket(&self.url.bucket)
            .key(&self.url.key)
            .upload_id(&up.id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        match self.store.run(req.send())? {
            Ok(_) => {}
            Err(e) if crate::aws_http::completed_under_other_root(&e) => {}
            Err(e) => {
                return Err(self
                    .store
                    .request_error(&self.url, "CompleteMultipartUpload", &e))
            }
        }
        self.registry.remove(&self.url.key);
        self.finished = true;
        Ok(())
    }
}

/// Waits for the oldest part in flight.
fn wait_part(up: &mut Multipart) -> Result<(), ObjectError> {
    if let Some(rx) = up.in_flight.pop_front() {
        let part = rx.recv().map_err(|_| {
            ObjectError::Runtime("a part upload stopped without answering".into())
        })??;
        up.done.push(part);
    }
    Ok(())
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(up) = &self.upload {
            // Best effort, once; what fails stays in the registry for the sink's retries.
            if abort(&self.store, &self.url.bucket, &self.url.key, &up.id).is_ok() {
                self.registry.remove(&self.url.key);
            }
        }
    }
}

/// An [`ObjectWriter`] as the writer of a [`crate::sinks::StreamFile`]: `flush` (which
/// only `StreamFile::finish` calls) completes the object.
pub struct StreamUpload(pub ObjectWriter);

impl Write for StreamUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .append(buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.finish().map_err(|e| io::Error::other(e.to_string()))
    }
}
