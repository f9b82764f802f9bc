//! Object bodies: streaming chunks into their final file with bounded memory.
//!
//! Blob chunks of one object arrive contiguously, in key order (upload, part, chunk,
//! version). For the usual object — one upload, plain parts, one version per part — that
//! is body order, so each chunk is appended to the body file as it arrives and nothing is
//! buffered ("direct" mode). Anything else (several versions of a part, no upload ID,
//! offloaded parts whose payloads arrive in digest order) is spilled to scratch and the
//! body is assembled by sequential copy once all its pieces are known: after its blob
//! chunks, after its chunk references, or at its manifest in the main pass, whichever
//! comes last. Completeness and sizes are checked before the first byte of a spilled
//! body is written.

use super::error::S3Error;
use super::keys::ChunkKey;
use super::plan::{Index, Slot};
use super::scratch::Scratch;
use super::values::ChunkRef;
use crate::encode::emitter::PieceMemory;
use crate::encode::Emitter;
use crate::error::Error;
use crate::sinks::StreamFile;
use crate::sources::snapshot::resident;
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Which open group the current entry continues, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep<'a> {
    /// None: every open group ends.
    Nothing,
    /// A blob chunk of the object with this encoded head.
    Blob(&'a [u8]),
    /// A chunk reference of the object with this encoded head.
    Ref(&'a [u8]),
}

/// Bodies up to this size whose chunks are on the heap (a live dump's fetched pages; see
/// [`COLLECT_MAX_MAPPED`] for a snapshot's) are collected and handed to the worker pool as
/// one job (hashed and written there while the decode thread goes on); bigger ones are
/// streamed from the decode thread, so what is held stays bounded whatever the object
/// size. Streaming every body over 1 MiB kept the workers idle through the S3 part of a
/// dump: on an S3-only dataset `--threads 2` was only 1.15x `--threads 1`.
///
/// The chunks are kept as they came (zero-copy slices of the snapshot mapping or of the
/// fetched pages): copying them together cost +20% CPU on an S3-only dataset, in page
/// faults on the fresh buffers. A worker reading a slice after the scanner released its
/// pages faults them back in, so it releases them again once written
/// ([`crate::sources::snapshot::resident`]); without that, peak RSS grew to the size of
/// the S3 data (45 MiB -> 265 MiB on 256 MiB of objects).
pub(super) const COLLECT_MAX: u64 = 32 << 20;

/// The collection limit for bodies whose chunks are pages of a snapshot mapping: held,
/// they allocate nothing (see `QUEUE_MAPPED_BYTES` in the emitter), so the objects of 32 to
/// 64 MiB are hashed on a worker too instead of streamed by the decode thread while the
/// worker waits. S3-only dataset (1 GiB, `gen --mix s3=1`, tmpfs), `--threads 2`, on top of
/// the 48 MiB mapped queue bound: 0.815 -> 0.785 s (8 alternated), peak RSS +8 MiB.
pub(super) const COLLECT_MAX_MAPPED: u64 = 64 << 20;

/// Where a direct body's bytes go.
enum DirectOut {
    /// Streamed into its file as chunks arrive (bodies over the collection limit).
    Stream(StreamFile),
    /// Collected (up to `limit` bytes), then written by a worker.
    Pieces {
        path: crate::sinks::RelPath,
        pieces: Vec<Bytes>,
        memory: PieceMemory,
        limit: u64,
    },
}

/// A body being streamed in key order.
struct Direct {
    plan: usize,
    file: DirectOut,
    slot: usize,
    next: u64,
    slot_bytes: u64,
    total: u64,
}

/// The scratch file receiving an object's chunks.
struct SpillOut {
    plan: usize,
    w: BufWriter<File>,
    len: u64,
}

#[derive(Debug, Clone, Copy)]
enum Src {
    Spill { offset: u64 },
    Payload([u8; 32]),
}

/// One chunk of a body, wherever its bytes are.
#[derive(Debug, Clone, Copy)]
struct Piece {
    slot: usize,
    chunk: u64,
    len: u64,
    src: Src,
}

struct Spilled {
    path: PathBuf,
    pieces: Vec<Piece>,
}

/// All body state of the adapter.
#[derive(Default)]
pub(crate) struct Bodies {
    direct: Option<Direct>,
    spill_out: Option<SpillOut>,
    spilled: HashMap<usize, Spilled>,
    refs: Option<(usize, Vec<Piece>)>,
}

fn slot_desc(s: &Slot) -> String {
    let mut d = format!("part {}", s.part_no);
    if s.version != 0 {
        d.push_str(&format!(" (version {})", s.version));
    }
    if s.offloaded {
        d.push_str(" (offloaded)");
    }
    d
}

fn incomplete(ix: &Index, p: usize, detail: String) -> Error {
    let (bucket, object) = ix.names(p);
    S3Error::IncompleteBlobChunks {
        bucket,
        object,
        detail,
    }
    .into()
}

fn size_err(ix: &Index, p: usize, detail: String) -> Error {
    let (bucket, object) = ix.names(p);
    S3Error::SizeMismatch {
        bucket,
        object,
        detail,
    }
    .into()
}

fn bad_ref(ix: &Index, p: usize, detail: String) -> Error {
    let (bucket, object) = ix.names(p);
    S3Error::InvalidChunkRef {
        bucket,
        object,
        detail,
    }
    .into()
}

fn check_total(ix: &Index, p: usize, total: u64) -> Result<(), Error> {
    let declared = ix.plans.get(p).map_or(0, |pl| pl.size_bytes);
    if u64::try_from(declared).ok() != Some(total) {
        return Err(size_err(
            ix,
            p,
            format!(
                "the manifest declares size_bytes {declared} but its chunks hold {total} bytes"
            ),
        ));
    }
    Ok(())
}

fn check_slot_sum(ix: &Index, p: usize, s: &Slot, got: u64) -> Result<(), Error> {
    match s.size_sum {
        Some(sum) if sum != got => Err(size_err(
            ix,
            p,
            format!(
                "{}: chunk_sizes add up to {sum} bytes but its chunks hold {got}",
                slot_desc(s)
            ),
        )),
        _ => Ok(()),
    }
}

fn copy_exact(
    dst: &mut StreamFile,
    src: &mut impl Read,
    mut len: u64,
    buf: &mut [u8],
    what: &std::path::Path,
) -> Result<(), Error> {
    while len > 0 {
        let want = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        let n = src
            .read(&mut buf[..want])
            .map_err(|e| Error::io(what.display(), e))?;
        if n == 0 {
            return Err(Error::io(
                what.display(),
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "scratch file is shorter than recorded",
                ),
            ));
        }
        dst.write_all(&buf[..n])?;
        len -= n as u64;
    }
    Ok(())
}

impl Bodies {
    /// Ends every open group that the current entry does not continue: a direct body
    /// left incomplete is an error, finished spills and reference groups are assembled.
    pub fn settle(
        &mut self,
        keep: Keep<'_>,
        ix: &mut Index,
        scratch: &mut Scratch,
        out: &Emitter,
    ) -> Result<(), Error> {
        fn same(ix: &Index, p: usize, id: &[u8]) -> bool {
            ix.plans.get(p).is_some_and(|pl| *pl.id == *id)
        }
        if let Some(d) = &self.direct {
            if !matches!(keep, Keep::Blob(id) if same(ix, d.plan, id)) {
                let d = self.direct.take();
                if let Some(d) = d {
                    let s = ix.plans.get(d.plan).and_then(|pl| pl.slots.get(d.slot));
                    let detail = match s {
                        Some(s) => format!(
                            "{} declares {} chunks; chunk {} is missing",
                            slot_desc(s),
                            s.chunk_count,
                            d.next
                        ),
                        None => "a declared chunk is missing".into(),
                    };
                    return Err(incomplete(ix, d.plan, detail));
                }
            }
        }
        if let Some(s) = &self.spill_out {
            if !matches!(keep, Keep::Blob(id) if same(ix, s.plan, id)) {
                if let Some(mut s) = self.spill_out.take() {
                    s.w.flush().map_err(|e| Error::io("S3 scratch file", e))?;
                    let offloaded = ix.plans.get(s.plan).is_some_and(|pl| pl.has_offloaded());
                    if !offloaded {
                        self.assemble(s.plan, Vec::new(), ix, scratch, out)?;
                    }
                }
            }
        }
        if let Some((p, _)) = &self.refs {
            if !matches!(keep, Keep::Ref(id) if same(ix, *p, id)) {
                if let Some((p, pieces)) = self.refs.take() {
                    self.assemble(p, pieces, ix, scratch, out)?;
                }
            }
        }
        Ok(())
    }

    /// A plain blob chunk of active object `p`.
    pub fn plain_chunk(
        &mut self,
        p: usize,
        ck: &ChunkKey,
        value: &Bytes,
        ix: &mut Index,
        scratch: &mut Scratch,
        out: &Emitter,
    ) -> Result<(), Error> {
        let Some(plan) = ix.plans.get(p) else {
            return Ok(());
        };
        let Some(si) = plan.plain_slot(&ck.upload, ck.part, ck.version) else {
            return Ok(());
        };
        let Some(slot) = plan.slots.get(si) else {
            return Ok(());
        };
        let n = slot.chunk_count;
        if ck.chunk >= n {
            return Err(incomplete(
                ix,
                p,
                format!(
                    "{} declares {n} chunks but chunk {} exists",
                    slot_desc(slot),
                    ck.chunk
                ),
            ));
        }
        if !plan.direct {
            return self.spill_plain(p, si, ck.chunk, value, scratch);
        }
        if plan.done {
            return Err(incomplete(
                ix,
                p,
                format!(
                    "chunk {} of {} appears after the body was complete",
                    ck.chunk,
                    slot_desc(slot)
                ),
            ));
        }
        if self.direct.is_none() {
            let path = ix.body_path(p)?;
            // Every chunk of one object comes from the same source as its first.
            let (memory, limit) = if resident::is_mapped(value) {
                (PieceMemory::Mapped, COLLECT_MAX_MAPPED)
            } else {
                (PieceMemory::Heap, COLLECT_MAX)
            };
            let collect = u64::try_from(plan.size_bytes).is_ok_and(|n| n <= limit);
            let file = if collect {
                // Chunk count from the manifest, which the chunk checks hold the body to.
                let chunks = (plan.slots.iter()).fold(0u64, |n, s| n.saturating_add(s.chunk_count));
                DirectOut::Pieces {
                    path,
                    pieces: Vec::with_capacity(chunks.min(1024) as usize),
                    memory,
                    limit,
                }
            } else {
                DirectOut::Stream(out.stream(&path)?)
            };
            self.direct = Some(Direct {
                plan: p,
                file,
                slot: 0,
                next: 0,
                slot_bytes: 0,
                total: 0,
            });
        }
        let Some(d) = self.direct.as_mut() else {
            return Ok(());
        };
        if d.plan != p {
            return Err(Error::Internal(
                "s3 direct body stream of another object".into(),
            ));
        }
        if (si, ck.chunk) != (d.slot, d.next) {
            let s = plan.slots.get(d.slot).unwrap_or(slot);
            return Err(incomplete(
                ix,
                p,
                format!(
                    "{} declares {} chunks; chunk {} is missing",
                    slot_desc(s),
                    s.chunk_count,
                    d.next
                ),
            ));
        }
        match &mut d.file {
            DirectOut::Stream(f) => f.write_all(value)?,
            DirectOut::Pieces {
                path,
                pieces,
                limit,
                ..
            } if d.total + value.len() as u64 > *limit => {
                // More than the manifest declared (an error once the body ends): stream
                // the rest rather than hold it.
                let mut f = out.stream(path)?;
                for piece in pieces.iter() {
                    f.write_all(piece)?;
                }
                f.write_all(value)?;
                d.file = DirectOut::Stream(f);
            }
            DirectOut::Pieces { pieces, .. } => pieces.push(value.clone()),
        }
        d.slot_bytes += value.len() as u64;
        d.total += value.len() as u64;
        if d.next + 1 < n {
            d.next += 1;
            return Ok(());
        }
        check_slot_sum(ix, p, slot, d.slot_bytes)?;
        d.slot += 1;
        d.next = 0;
        d.slot_bytes = 0;
        if d.slot < plan.slots.len() {
            return Ok(());
        }
        let total = d.total;
        check_total(ix, p, total)?;
        match self.direct.take().map(|d| d.file) {
            Some(DirectOut::Stream(f)) => f.finish()?,
            Some(DirectOut::Pieces {
                path,
                pieces,
                memory,
                ..
            }) => out.body(path, pieces, memory, resident::release)?,
            None => {}
        }
        if let Some(pl) = ix.plans.get_mut(p) {
            pl.done = true;
        }
        Ok(())
    }

    fn spill_plain(
        &mut self,
        p: usize,
        slot: usize,
        chunk: u64,
        value: &[u8],
        scratch: &mut Scratch,
    ) -> Result<(), Error> {
        if self.spill_out.is_none() {
            if self.spilled.contains_key(&p) {
                return Err(Error::Internal(
                    "s3 blob chunks of one object are not contiguous".into(),
                ));
            }
            let (path, f) = scratch.create("obj")?;
            self.spilled.insert(
                p,
                Spilled {
                    path,
                    pieces: Vec::new(),
                },
            );
            self.spill_out = Some(SpillOut {
                plan: p,
                w: BufWriter::with_capacity(1 << 16, f),
                len: 0,
            });
        }
        let (Some(s), Some(sp)) = (self.spill_out.as_mut(), self.spilled.get_mut(&p)) else {
            return Err(Error::Internal("s3 spill state lost".into()));
        };
        s.w.write_all(value)
            .map_err(|e| Error::io(sp.path.display(), e))?;
        sp.pieces.push(Piece {
            slot,
            chunk,
            len: value.len() as u64,
            src: Src::Spill { offset: s.len },
        });
        s.len += value.len() as u64;
        Ok(())
    }

    /// A chunk reference of active object `p` (docs/format/20-s3.md §8): kept when it belongs to a
    /// declared offloaded part and its payload was seen; checked against both.
    pub fn chunk_ref(
        &mut self,
        p: usize,
        ck: &ChunkKey,
        r: ChunkRef,
        ix: &Index,
        scratch: &mut Scratch,
    ) -> Result<(), Error> {
        let Some(plan) = ix.plans.get(p) else {
            return Ok(());
        };
        let Some(si) = plan.offloaded_slot(&ck.upload, ck.part, ck.version) else {
            return Ok(());
        };
        let Some(slot) = plan.slots.get(si) else {
            return Ok(());
        };
        let path = scratch.payload_path(&r.digest)?;
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            // A missing payload surfaces as an incomplete part at assembly.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(path.display(), e)),
        };
        let what = format!("chunk {} of {}", ck.chunk, slot_desc(slot));
        if len != r.size {
            return Err(bad_ref(
                ix,
                p,
                format!(
                    "{what}: payload {} holds {len} bytes but the reference says {}",
                    hex::encode(r.digest),
                    r.size
                ),
            ));
        }
        match slot
            .chunk_sizes
            .get(usize::try_from(ck.chunk).unwrap_or(usize::MAX))
        {
            None => {
                return Err(bad_ref(
                    ix,
                    p,
                    format!(
                        "{what}: beyond the {} declared chunk_sizes",
                        slot.chunk_sizes.len()
                    ),
                ))
            }
            Some(&s) if s != r.size => {
                return Err(bad_ref(
                    ix,
                    p,
                    format!(
                        "{what}: chunk_sizes says {s} bytes but the reference says {}",
                        r.size
                    ),
                ))
            }
            Some(_) => {}
        }
        let piece = Piece {
            slot: si,
            chunk: ck.chunk,
            len: r.size,
            src: Src::Payload(r.digest),
        };
        match &mut self.refs {
            Some((q, v)) if *q == p => v.push(piece),
            _ => self.refs = Some((p, vec![piece])),
        }
        Ok(())
    }

    /// The manifest of active object `p` in the main pass: every chunk and reference of
    /// it has been seen, so its body must be complete now.
    pub fn at_manifest(
        &mut self,
        p: usize,
        ix: &mut Index,
        scratch: &mut Scratch,
        out: &Emitter,
    ) -> Result<(), Error> {
        let Some(plan) = ix.plans.get(p) else {
            return Ok(());
        };
        if plan.done {
            return Ok(());
        }
        if plan.slots.is_empty() {
            check_total(ix, p, 0)?;
            out.stream(&ix.body_path(p)?)?.finish()?;
        } else if !plan.direct {
            return self.assemble(p, Vec::new(), ix, scratch, out);
        } else {
            let s = plan
                .slots
                .first()
                .map(|s| (slot_desc(s), s.chunk_count))
                .unwrap_or_default();
            return Err(incomplete(
                ix,
                p,
                format!("{} declares {} chunks; none found", s.0, s.1),
            ));
        }
        if let Some(pl) = ix.plans.get_mut(p) {
            pl.done = true;
        }
        Ok(())
    }

    /// Checks and writes a spilled body (docs/format/20-s3.md §8).
    fn assemble(
        &mut self,
        p: usize,
        refs: Vec<Piece>,
        ix: &mut Index,
        scratch: &mut Scratch,
        out: &Emitter,
    ) -> Result<(), Error> {
        let (spill_path, mut pieces) = match self.spilled.remove(&p) {
            Some(s) => (Some(s.path), s.pieces),
            None => (None, Vec::new()),
        };
        pieces.extend(refs);
        pieces.sort_by_key(|c| (c.slot, c.chunk));
        let Some(plan) = ix.plans.get(p) else {
            return Ok(());
        };
        for (si, s) in plan.slots.iter().enumerate() {
            let mut expect = 0u64;
            let mut bytes = 0u64;
            for c in pieces.iter().filter(|c| c.slot == si) {
                bytes += c.len;
                if c.chunk + 1 == expect {
                    continue; // another upload's copy of the same chunk (empty upload ID)
                }
                if c.chunk != expect {
                    break;
                }
                expect += 1;
            }
            if expect > s.chunk_count {
                return Err(incomplete(
                    ix,
                    p,
                    format!(
                        "{} declares {} chunks but chunk {} exists",
                        slot_desc(s),
                        s.chunk_count,
                        s.chunk_count
                    ),
                ));
            }
            if expect != s.chunk_count {
                let hint = if s.offloaded {
                    " (its chunk reference or content-addressed payload is absent)"
                } else {
                    ""
                };
                return Err(incomplete(
                    ix,
                    p,
                    format!(
                        "{} declares {} chunks; chunk {expect} is missing{hint}",
                        slot_desc(s),
                        s.chunk_count
                    ),
                ));
            }
            if !s.offloaded {
                check_slot_sum(ix, p, s, bytes)?;
            }
        }
        check_total(ix, p, pieces.iter().map(|c| c.len).sum())?;

        let mut dst = out.stream(&ix.body_path(p)?)?;
        let mut buf = vec![0u8; 256 << 10];
        let mut spill = match &spill_path {
            Some(path) => Some(File::open(path).map_err(|e| Error::io(path.display(), e))?),
            None => None,
        };
        for c in &pieces {
            match c.src {
                Src::Spill { offset } => {
                    let (Some(f), Some(path)) = (spill.as_mut(), spill_path.as_ref()) else {
                        return Err(Error::Internal(
                            "s3 spilled chunk without a spill file".into(),
                        ));
                    };
                    f.seek(SeekFrom::Start(offset))
                        .map_err(|e| Error::io(path.display(), e))?;
                    copy_exact(&mut dst, f, c.len, &mut buf, path)?;
                }
                Src::Payload(d) => {
                    let path = scratch.payload_path(&d)?;
                    let mut f = File::open(&path).map_err(|e| Error::io(path.display(), e))?;
                    copy_exact(&mut dst, &mut f, c.len, &mut buf, &path)?;
                }
            }
        }
        dst.finish()?;
        if let Some(path) = spill_path {
            let _ = std::fs::remove_file(path);
        }
        if let Some(pl) = ix.plans.get_mut(p) {
            pl.done = true;
        }
        Ok(())
    }
}
