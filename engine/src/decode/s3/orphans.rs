//! Blob chunks that belong to no written object (docs/format/20-s3.md §8): chunks of objects
//! without a manifest, and chunks of stale generations. They are counted and reported;
//! with `--include-orphans` each is also written, as it arrives, to
//! `s3/<bucket>/_orphans/<E(object)>/gen-<N>/<E(upload)>_<part>_<chunk>_<version>.bin`.

use super::error::quote;
use super::keys::ChunkKey;
use super::naming::{orphan_chunk_file, orphan_object_dir};
use super::plan::bucket_dir;
use crate::decode::Family;
use crate::encode::Emitter;
use crate::error::Error;
use std::collections::BTreeMap;

/// Per-bucket counts for the end-of-run warnings.
#[derive(Default)]
pub(crate) struct Orphans {
    /// bucket → (chunks without a manifest, chunks of stale generations).
    counts: BTreeMap<Vec<u8>, (u64, u64)>,
}

impl Orphans {
    /// One orphan chunk; `stale` when its object has a manifest of another generation.
    pub fn chunk(
        &mut self,
        ck: &ChunkKey,
        value: &[u8],
        stale: bool,
        out: &Emitter,
    ) -> Result<(), Error> {
        let c = self.counts.entry(ck.obj.bucket.clone()).or_default();
        if stale {
            c.1 += 1;
        } else {
            c.0 += 1;
        }
        if !out.options().include_orphans {
            return Ok(());
        }
        let path = bucket_dir(&ck.obj.bucket)?
            .join("_orphans")?
            .join(&orphan_object_dir(&ck.obj.object))?
            .join(&format!("gen-{}", ck.obj.gen))?
            .join(&orphan_chunk_file(
                &ck.upload, ck.part, ck.chunk, ck.version,
            ))?;
        let mut f = out.stream(&path)?;
        f.write_all(value)?;
        f.finish()
    }

    /// Logs the warnings upstream logs (`s3_orphan_chunks`, `s3_stale_generation_objects`).
    pub fn report(&self, out: &Emitter) {
        let written = out.options().include_orphans;
        for (bucket, &(orphan, stale)) in &self.counts {
            if orphan > 0 {
                out.warn(
                    "s3_orphan_chunks",
                    &format!(
                        "bucket {}: {orphan} blob chunk(s) with no {} record{}",
                        quote(bucket),
                        Family::S3ObjHead.label(),
                        if written {
                            " (written under _orphans/)"
                        } else {
                            " (pass --include-orphans to keep them)"
                        }
                    ),
                );
            }
            if stale > 0 {
                out.warn(
                    "s3_stale_generation_objects",
                    &format!(
                        "bucket {}: {stale} blob chunk(s) of a stale bucket generation{}",
                        quote(bucket),
                        if written {
                            " (written under _orphans/)"
                        } else {
                            " (pass --include-orphans to keep them)"
                        }
                    ),
                );
            }
        }
    }
}
