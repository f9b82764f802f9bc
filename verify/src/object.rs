//! Reading a dump back from S3-compatible storage, streaming: `s3://bucket/prefix/` is
//! listed and every object fetched and hashed as its bytes arrive (several at once; no
//! object is held whole, except MANIFEST.json and CHECKSUMS, which the checks read), then
//! judged like a directory. `s3://bucket/key` naming one object reads it as a tar / tar.zst
//! archive, streamed through the archive reader.

use super::archive;
use super::checksums::unsafe_path;
use super::digest::Algo;
use super::report::Report;
use super::tree::{Tree, MANIFEST};
use crate::error::VerifyError;
use bytes::Bytes;
use elastickv_backup_engine::sinks::object::{ObjectError, S3Config, S3Url, Store};
use std::io::{self, Read};
use std::sync::Arc;

/// Largest MANIFEST.json kept (a real one is about 1 KiB).
const MANIFEST_MAX: usize = 16 << 20;

/// Objects fetched at once per hashing thread: requests mostly wait on the network.
const FETCHES_PER_THREAD: usize = 4;

/// Chunks buffered between a streamed archive object and its reader.
const ARCHIVE_CHUNKS: usize = 8;

/// Reads the dump at `url` into a [`Tree`] (`None` when nothing could be read; the reason
/// is in the report). Errors reaching the store at all are returned.
pub fn collect(
    url: &S3Url,
    cfg: &S3Config,
    threads: usize,
    r: &mut Report,
) -> Result<Option<Tree>, VerifyError> {
    let store = Arc::new(Store::connect(cfg)?);
    if !url.key.is_empty() && !url.key.ends_with('/') {
        let head = store
            .client()
            .head_object()
            .bucket(&url.bucket)
            .key(&url.key);
        match store.run(head.send())? {
            Ok(_) => return collect_archive(&store, url, threads, r).map(Some),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(store.request_error(url, "HeadObject", &e).into()),
        }
    }
    collect_tree(&store, &url.with_key(url.dir_prefix()), threads, r)
}

/// Every key under `root` (a directory prefix).
fn list(store: &Store, root: &S3Url) -> Result<Vec<String>, VerifyError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = store
            .client()
            .list_objects_v2()
            .bucket(&root.bucket)
            .prefix(&root.key)
            .set_continuation_token(token.take());
        let out = store
            .run(req.send())?
            .map_err(|e| store.request_error(root, "ListObjectsV2", &e))?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(keys),
        }
    }
}

/// One fetched object: its digest, its length, and its bytes if it is a control file.
type Fetched = Result<([u8; 32], u64, Option<Vec<u8>>), ObjectError>;

/// GETs `key` and hashes the body as it streams in.
async fn fetch(
    store_client: aws_sdk_s3::Client,
    url: S3Url,
    keep: bool,
    algo: Algo,
    endpoint: String,
) -> Fetched {
    let fail = |op: &'static str, e: &(dyn std::error::Error + 'static)| ObjectError::Request {
        url: url.to_string(),
        op,
        endpoint: endpoint.clone(),
        detail: elastickv_backup_engine::sinks::object::error::chain(e),
    };
    let out = store_client
        .get_object()
        .bucket(&url.bucket)
        .key(&url.key)
        .send()
        .await
        .map_err(|e| fail("GetObject", &e))?;
    let mut body = out.body;
    let mut h = algo.hasher();
    let mut kept = keep.then(Vec::new);
    let mut len: u64 = 0;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| fail("GetObject (body)", &e))?
    {
        h.update(&chunk);
        len += chunk.len() as u64;
        if let Some(k) = kept.as_mut() {
            k.extend_from_slice(&chunk);
        }
    }
    Ok((h.finalize(), len, kept))
}

/// Lists and hashes a dump tree stored one object per file.
fn collect_tree(
    store: &Arc<Store>,
    root: &S3Url,
    threads: usize,
    r: &mut Report,
) -> Result<Option<Tree>, VerifyError> {
    let keys = list(store, root)?;
    let mut tree = Tree::default();
    let mut files = Vec::new();
    for key in keys {
        let rel = key
            .as_bytes()
            .get(root.key.len()..)
            .unwrap_or_default()
            .to_vec();
        if rel.is_empty() {
            continue; // the prefix's own folder marker
        }
        if let Some(dir) = rel.strip_suffix(b"/") {
            if let Some(why) = unsafe_path(dir) {
                r.error(&rel, format!("unsafe object key: {why}"));
                tree.others.insert(dir.to_vec());
            } else {
                tree.dirs.insert(dir.to_vec());
            }
            continue;
        }
        if let Some(why) = unsafe_path(&rel) {
            r.error(&rel, format!("unsafe object key: {why}"));
            tree.others.insert(rel);
            continue;
        }
        files.push((rel, key));
    }
    if files.is_empty() && tree.dirs.is_empty() {
        r.error(
            b"(prefix)",
            format!("{root}: no objects there (not a dump, or the wrong prefix)"),
        );
        return Ok(None);
    }
    // The checksum file present says which digest to compute.
    tree.algo = super::digest::of_root(
        |name| files.iter().any(|(rel, _)| rel.as_slice() == name),
        r,
    );
    let algo = tree.algo;
    let window = Arc::new(tokio::sync::Semaphore::new(
        threads.max(1) * FETCHES_PER_THREAD,
    ));
    let mut pending = Vec::with_capacity(files.len());
    for (rel, key) in files {
        let keep = rel == MANIFEST || rel == algo.file_name();
        let client = store.client().clone();
        let url = root.with_key(key);
        let endpoint = store.endpoint().to_string();
        let window = window.clone();
        let rx = store.spawn(async move {
            let _permit = window.acquire_owned().await;
            fetch(client, url, keep, algo, endpoint).await
        })?;
        pending.push((rel, rx));
    }
    for (rel, rx) in pending {
        match rx.recv() {
            Ok(Ok((sha, len, kept))) => {
                r.files += 1;
                r.bytes += len;
                if let Some(bytes) = kept {
                    if rel == MANIFEST && bytes.len() <= MANIFEST_MAX {
                        tree.manifest = Some(bytes);
                    } else if rel == algo.file_name() {
                        tree.checksums = Some(bytes);
                    }
                }
                tree.files.insert(rel, sha);
            }
            Ok(Err(e)) => {
                r.error(&rel, format!("cannot read: {e}"));
                tree.unreadable.insert(rel);
            }
            Err(_) => {
                r.error(&rel, "not read (the client runtime stopped)");
                tree.unreadable.insert(rel);
            }
        }
    }
    Ok(Some(tree))
}

/// Streams one archive object through the archive reader.
fn collect_archive(
    store: &Arc<Store>,
    url: &S3Url,
    threads: usize,
    r: &mut Report,
) -> Result<Tree, VerifyError> {
    let req = store
        .client()
        .get_object()
        .bucket(&url.bucket)
        .key(&url.key);
    let out = store
        .run(req.send())?
        .map_err(|e| store.request_error(url, "GetObject", &e))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Bytes>>(ARCHIVE_CHUNKS);
    let mut body = out.body;
    let name = url.to_string();
    store.spawn(async move {
        loop {
            let item = match body.try_next().await {
                Ok(Some(b)) => Ok(b),
                Ok(None) => break,
                Err(e) => Err(io::Error::other(format!(
                    "{name}: {}",
                    elastickv_backup_engine::sinks::object::error::chain(&e)
                ))),
            };
            let stop = item.is_err();
            // A blocking send on the runtime: acceptable here, the reader drains it and
            // nothing else runs on this client while an archive is verified.
            if tx.send(item).is_err() || stop {
                break;
            }
        }
    })?;
    let mut input = ChannelReader {
        rx,
        cur: Bytes::new(),
    };
    let head = archive::read_head(&mut input).map_err(|e| VerifyError::open(url.to_string(), e))?;
    Ok(archive::collect_any(head, Box::new(input), threads, r).unwrap_or_default())
}

/// A blocking reader over body chunks sent from the client's runtime.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(chunk) => self.cur = chunk?,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}
