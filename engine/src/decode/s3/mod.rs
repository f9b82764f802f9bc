//! S3 adapter: buckets, object manifests and chunked blobs → `s3/<bucket>/…`
//! (docs/format/20-s3.md).
//!
//! Output per bucket: `_bucket.json`, every active object's body at its key (one regular
//! file, chunks concatenated in part/chunk order) with its `.elastickv-meta.json` sidecar,
//! `KEYMAP.jsonl` for renamed or escaped objects, and optionally `_orphans/` and
//! `_incomplete_uploads/records.jsonl`.
//!
//! Flow: the index pass reads bucket meta and manifests (`plan`) so that, when the
//! main pass delivers the blob chunks (which sort first), every chunk already knows its
//! object, its place in the body and its final path; `body` streams it there. Memory
//! holds the per-object plans, never an object's bytes.

mod body;
use crate::error::s3 as error;
pub mod keys;
pub mod naming;
mod orphans;
mod plan;
pub(crate) mod render;
mod scratch;
mod uploads;
pub mod values;

#[cfg(test)]
mod tests;

pub use error::S3Error;

use super::{Adapter, AdapterKind, Family};
use crate::encode::keymap::write_keymap_line;
use crate::encode::Emitter;
use crate::error::Error;
use crate::options::DecodeOptions;
use body::{Bodies, Keep};
use elastickv_backup_format::Entry;
use error::quote;
use orphans::Orphans;
use plan::{bucket_dir, Index};
use scratch::Scratch;
use sha2::{Digest, Sha256};
use uploads::Uploads;

/// Families read in the index pass: small, and needed before the chunks they describe.
const INDEX_FAMILIES: [Family; 2] = [Family::S3BucketMeta, Family::S3ObjHead];

/// S3 decoder.
pub struct S3Adapter {
    opts: DecodeOptions,
    index: Index,
    finalized: bool,
    need_payloads: bool,
    scratch: Scratch,
    bodies: Bodies,
    uploads: Uploads,
    orphans: Orphans,
}

fn malformed(what: &'static str, key: &[u8]) -> Error {
    S3Error::MalformedKey {
        what,
        key: quote(key),
    }
    .into()
}

impl S3Adapter {
    /// A decoder for the given options (`--rename-collisions`, `--include-orphans`,
    /// `--include-incomplete-uploads`, `--scope`).
    pub fn new(opts: &DecodeOptions) -> Self {
        S3Adapter {
            opts: opts.clone(),
            index: Index::default(),
            finalized: false,
            need_payloads: false,
            scratch: Scratch::default(),
            bodies: Bodies::default(),
            uploads: Uploads::default(),
            orphans: Orphans::default(),
        }
    }

    fn in_scope(&self, bucket: &[u8]) -> bool {
        self.opts.scope_allows(AdapterKind::S3, bucket)
    }

    /// Runs once, after the index pass: names and plans for every object.
    fn ensure_finalized(&mut self) -> Result<(), Error> {
        if !self.finalized {
            self.finalized = true;
            self.index.finalize(self.opts.rename_collisions)?;
            self.need_payloads = self
                .index
                .plans
                .iter()
                .any(|p| p.active && p.has_offloaded());
        }
        Ok(())
    }

    fn settle(&mut self, keep: Keep<'_>, out: &Emitter) -> Result<(), Error> {
        self.bodies
            .settle(keep, &mut self.index, &mut self.scratch, out)
    }

    fn on_blob(&mut self, key: &[u8], entry: &Entry, out: &Emitter) -> Result<(), Error> {
        let ck = keys::parse_chunk(key).ok_or_else(|| malformed("blob key", &entry.user_key))?;
        if !self.in_scope(&ck.obj.bucket) {
            return self.settle(Keep::Nothing, out);
        }
        let id = key.get(..ck.obj.id_len).unwrap_or(key);
        self.settle(Keep::Blob(id), out)?;
        let stale = self
            .index
            .bucket(&ck.obj.bucket)
            .is_some_and(|b| b.active_gen != 0 && b.active_gen != ck.obj.gen);
        match self.index.find(id) {
            Some(p) if self.index.plans.get(p).is_some_and(|pl| pl.active) => {
                self.bodies.plain_chunk(
                    p,
                    &ck,
                    &entry.value,
                    &mut self.index,
                    &mut self.scratch,
                    out,
                )
            }
            Some(_) => self.orphans.chunk(&ck, &entry.value, true, out),
            None => self.orphans.chunk(&ck, &entry.value, stale, out),
        }
    }

    fn on_chunkblob(&mut self, key: &[u8], entry: &Entry) -> Result<(), Error> {
        let digest = keys::parse_chunkblob(key)
            .ok_or_else(|| malformed("chunkblob key", &entry.user_key))?;
        let actual: [u8; 32] = Sha256::digest(&entry.value).into();
        if actual != digest {
            return Err(S3Error::ChunkBlobHashMismatch {
                key_digest: hex::encode(digest),
                actual: hex::encode(actual),
            }
            .into());
        }
        if self.need_payloads {
            let path = self.scratch.payload_path(&digest)?;
            std::fs::write(&path, &entry.value).map_err(|e| Error::io(path.display(), e))?;
        }
        Ok(())
    }

    fn on_chunkref(&mut self, key: &[u8], entry: &Entry, out: &Emitter) -> Result<(), Error> {
        let ck =
            keys::parse_chunk(key).ok_or_else(|| malformed("chunkref key", &entry.user_key))?;
        if !self.in_scope(&ck.obj.bucket) {
            return self.settle(Keep::Nothing, out);
        }
        let r = values::decode_chunk_ref(&entry.value).map_err(|detail| {
            S3Error::UndecodableChunkRef {
                key: quote(&entry.user_key),
                detail,
            }
        })?;
        let id = key.get(..ck.obj.id_len).unwrap_or(key);
        self.settle(Keep::Ref(id), out)?;
        match self.index.find(id) {
            Some(p) if self.index.plans.get(p).is_some_and(|pl| pl.active) => self
                .bodies
                .chunk_ref(p, &ck, r, &self.index, &mut self.scratch),
            _ => Ok(()),
        }
    }

    fn on_bucket_meta(&mut self, key: &[u8], entry: &Entry, out: &Emitter) -> Result<(), Error> {
        let bucket = keys::parse_bucket_meta(key)
            .ok_or_else(|| malformed("bucket meta key", &entry.user_key))?;
        if !self.in_scope(&bucket) {
            return Ok(());
        }
        let meta = values::decode_bucket_meta(&entry.value).map_err(|detail| {
            S3Error::InvalidBucketMeta {
                bucket: quote(&bucket),
                detail,
            }
        })?;
        let path = bucket_dir(&bucket)?.join("_bucket.json")?;
        out.file_with(path, move |buf| {
            render::bucket_json(buf, &bucket, &meta);
            Ok(())
        })
    }

    fn on_manifest(&mut self, key: &[u8], entry: &Entry, out: &Emitter) -> Result<(), Error> {
        let o =
            keys::parse_manifest(key).ok_or_else(|| malformed("manifest key", &entry.user_key))?;
        if !self.in_scope(&o.bucket) {
            return Ok(());
        }
        let Some(p) = self.index.find(key) else {
            return Err(Error::Internal(format!(
                "S3 manifest of bucket {} object {} was not delivered in the index pass",
                quote(&o.bucket),
                quote(&o.object)
            )));
        };
        let Some(plan) = self.index.plans.get_mut(p) else {
            return Ok(());
        };
        if !plan.active {
            return Ok(());
        }
        plan.seen_main = true;
        self.bodies
            .at_manifest(p, &mut self.index, &mut self.scratch, out)?;
        let man =
            values::decode_manifest(&entry.value).map_err(|detail| S3Error::InvalidManifest {
                bucket: quote(&o.bucket),
                object: quote(&o.object),
                detail: detail.to_string(),
            })?;
        let path = self.index.sidecar_path(p)?;
        out.file_with(path, move |buf| {
            render::sidecar_json(buf, &man);
            Ok(())
        })
    }

    fn on_upload(
        &mut self,
        family: Family,
        key: &[u8],
        entry: &Entry,
        out: &Emitter,
    ) -> Result<(), Error> {
        if !self.opts.include_incomplete_uploads {
            return Ok(());
        }
        let bucket = if family == Family::S3UploadMeta {
            keys::parse_upload_meta_bucket(key)
        } else {
            keys::parse_upload_part_bucket(key)
        }
        .ok_or_else(|| malformed("upload-family key", &entry.user_key))?;
        if !self.in_scope(&bucket) {
            return Ok(());
        }
        if family == Family::S3UploadMeta {
            self.uploads
                .on_meta(bucket, &entry.user_key, &entry.value, &mut self.scratch)
        } else {
            self.uploads
                .on_part(bucket, &entry.user_key, &entry.value, out)
        }
    }

    fn write_keymaps(&self, out: &Emitter) -> Result<(), Error> {
        for (b, bucket) in self.index.buckets.iter().enumerate() {
            let recs = self.index.keymap(b);
            if recs.is_empty() {
                continue;
            }
            let path = bucket.dir.join("KEYMAP.jsonl")?;
            out.file_with(path, move |buf| {
                for (encoded, original, kind) in &recs {
                    write_keymap_line(buf, encoded.as_bytes(), original, *kind);
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

impl Adapter for S3Adapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::S3
    }

    fn index_families(&self) -> &'static [Family] {
        &INDEX_FAMILIES
    }

    fn index(&mut self, family: Family, key: &[u8], entry: &Entry) -> Result<(), Error> {
        match family {
            Family::S3BucketMeta => {
                let bucket = keys::parse_bucket_meta(key)
                    .ok_or_else(|| malformed("bucket meta key", &entry.user_key))?;
                if self.in_scope(&bucket) {
                    self.index.add_bucket_meta(bucket, &entry.value)?;
                }
                Ok(())
            }
            Family::S3ObjHead => {
                let o = keys::parse_manifest(key)
                    .ok_or_else(|| malformed("manifest key", &entry.user_key))?;
                if self.in_scope(&o.bucket) {
                    self.index.add_manifest(key, &o, &entry.value)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn handle(
        &mut self,
        family: Family,
        key: &[u8],
        entry: &Entry,
        out: &Emitter,
    ) -> Result<(), Error> {
        self.ensure_finalized()?;
        match family {
            Family::S3Blob => self.on_blob(key, entry, out),
            Family::S3ChunkRef => self.on_chunkref(key, entry, out),
            _ => {
                self.settle(Keep::Nothing, out)?;
                match family {
                    Family::S3ChunkBlob => self.on_chunkblob(key, entry),
                    Family::S3BucketMeta => self.on_bucket_meta(key, entry, out),
                    Family::S3ObjHead => self.on_manifest(key, entry, out),
                    Family::S3UploadMeta | Family::S3UploadPart => {
                        self.on_upload(family, key, entry, out)
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    fn finish(&mut self, out: &Emitter) -> Result<(), Error> {
        self.ensure_finalized()?;
        self.settle(Keep::Nothing, out)?;
        self.uploads.finish(out)?;
        for p in 0..self.index.plans.len() {
            let Some(plan) = self.index.plans.get(p) else {
                continue;
            };
            if plan.active && !(plan.seen_main && plan.done) {
                let (bucket, object) = self.index.names(p);
                return Err(S3Error::ManifestVanished { bucket, object }.into());
            }
        }
        self.write_keymaps(out)?;
        self.orphans.report(out);
        self.scratch.close()
    }
}
