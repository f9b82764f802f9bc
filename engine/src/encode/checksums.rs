//! `CHECKSUMS` (docs/format/00-container.md §7): `sha256sum` format, sorted by path bytes, GNU escaping for
//! paths containing `\n`, `\r` or `\`. A BLAKE3 dump's `CHECKSUMS.b3` has the same lines
//! with BLAKE3 digests (what `b3sum` writes and checks). Built from the digests the sinks recorded while
//! writing — the tree is never read back.

use crate::error::Error;
#[cfg(test)]
use crate::sinks::FileDigest;
use crate::sinks::{DigestKind, DigestVisitor};
use std::io::Write;

/// Renders the CHECKSUMS file for `digests` (any order; `CHECKSUMS` itself excluded).
#[cfg(test)]
pub fn render(digests: &[FileDigest]) -> Vec<u8> {
    let mut v: Vec<&FileDigest> = digests
        .iter()
        .filter(|d| !crate::sinks::is_checksums_name(d.path.as_str()))
        .collect();
    v.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    let mut out = Vec::with_capacity(v.len() * 100);
    for d in v {
        line(&mut out, &d.sha256, d.path.as_str());
    }
    out
}

/// Writes the CHECKSUMS file from digests handed over in path order (what
/// [`crate::sinks::Sink::for_each_digest`] does) in constant memory; an out-of-order digest
/// is a bug in a sink and fails rather than writing a file `sha256sum -c` would accept but
/// the spec forbids.
pub struct ChecksumsWriter<'a> {
    w: &'a mut dyn Write,
    buf: Vec<u8>,
    /// The previous line's path (reused buffer), once `started`.
    last: Vec<u8>,
    started: bool,
    kind: DigestKind,
}

impl<'a> ChecksumsWriter<'a> {
    /// Lines go to `w`.
    pub fn new(w: &'a mut dyn Write) -> Self {
        ChecksumsWriter {
            w,
            buf: Vec::with_capacity(1 << 16),
            last: Vec::new(),
            started: false,
            kind: DigestKind::Sha256,
        }
    }

    /// Writes the lines of a `kind` list: a BLAKE3 list escapes paths the way `b3sum`
    /// reads them (see [`line_b3`]).
    pub fn with_kind(mut self, kind: DigestKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds the next file's line (the checksum files themselves are skipped).
    #[cfg(test)]
    pub fn add_line(&mut self, path: &str, digest: &[u8; 32]) -> Result<(), Error> {
        self.add_line_bytes(path.as_bytes(), digest)
    }

    /// Adds the next file's line for a path handed over as bytes (valid UTF-8, as every
    /// recorded path is: only ASCII bytes are ever escaped, so the line stays UTF-8).
    fn add_line_bytes(&mut self, path: &[u8], digest: &[u8; 32]) -> Result<(), Error> {
        if path.starts_with(b"CHECKSUMS")
            && std::str::from_utf8(path).is_ok_and(crate::sinks::is_checksums_name)
        {
            return Ok(());
        }
        if self.started && self.last.as_slice() > path {
            return Err(Error::Internal(format!(
                "CHECKSUMS: digests out of order ({} after {})",
                String::from_utf8_lossy(path),
                String::from_utf8_lossy(&self.last)
            )));
        }
        match self.kind {
            DigestKind::Sha256 => escaped_line(&mut self.buf, digest, path, true),
            DigestKind::Blake3 => escaped_line(&mut self.buf, digest, path, false),
        }
        if self.buf.len() >= 1 << 16 {
            self.w
                .write_all(&self.buf)
                .map_err(|e| Error::io("CHECKSUMS", e))?;
            self.buf.clear();
        }
        self.last.clear();
        self.last.extend_from_slice(path);
        self.started = true;
        Ok(())
    }

    /// Writes what is buffered.
    pub fn finish(self) -> Result<(), Error> {
        self.w
            .write_all(&self.buf)
            .map_err(|e| Error::io("CHECKSUMS", e))
    }
}

/// Digests packed per chunk handed from the merging thread to the writing one.
const CHUNK: usize = 1 << 20;
/// Chunks queued between them: the hand-over holds at most ~4 MiB (these, the one being
/// filled and the one being written out).
const CHUNKS_IN_FLIGHT: usize = 2;

/// Writes the checksum list of every digest `each` hands over (in path order) to `w`: the
/// digests are merged on a helper thread while this one formats and writes the lines.
/// `CHECKSUMS` is the last thing a run writes and nothing else runs then; merging the
/// digest log's runs and formatting 200,000 lines took ~37 ms on one core, the other idle.
pub fn write_overlapped(
    w: &mut dyn Write,
    kind: DigestKind,
    each: &(dyn Fn(DigestVisitor<'_>) -> Result<(), Error> + Sync),
) -> Result<(), Error> {
    let mut c = ChecksumsWriter::new(w).with_kind(kind);
    let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let (merged, written) = std::thread::scope(|sc| {
        let merging = sc.spawn(move || -> Result<(), Error> {
            let stopped = || Error::Cancelled("the CHECKSUMS writer stopped".into());
            let mut chunk = Vec::with_capacity(CHUNK + 4096);
            each(&mut |path, digest| {
                let len = u32::try_from(path.len())
                    .map_err(|_| Error::Internal(format!("{path}: path too long")))?;
                chunk.extend_from_slice(&len.to_le_bytes());
                chunk.extend_from_slice(path.as_bytes());
                chunk.extend_from_slice(digest);
                if chunk.len() >= CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK + 4096));
                    tx.send(full).map_err(|_| stopped())?;
                }
                Ok(())
            })?;
            if !chunk.is_empty() {
                tx.send(chunk).map_err(|_| stopped())?;
            }
            Ok(())
        });
        let mut written = Ok(());
        for chunk in rx.iter() {
            written = unpack(&chunk, &mut |path, digest| c.add_line_bytes(path, digest));
            if written.is_err() {
                break;
            }
        }
        // A failed write stops the merge at its next chunk.
        drop(rx);
        let merged = merging
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the CHECKSUMS merge panicked".into())));
        (merged, written)
    });
    // The writer's own failure first: the merge's is then only "stopped".
    written?;
    merged?;
    c.finish()
}

/// What [`unpack`] hands each packed record to: its path bytes and digest.
type PackedVisitor<'a> = &'a mut dyn FnMut(&[u8], &[u8; 32]) -> Result<(), Error>;

/// Calls `f` on every (path, digest) record packed in `chunk`.
fn unpack(chunk: &[u8], f: PackedVisitor<'_>) -> Result<(), Error> {
    let corrupt = || Error::Internal("a packed CHECKSUMS record is corrupt".into());
    let mut rest = chunk;
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        let path = tail.get(..len).ok_or_else(corrupt)?;
        let digest = tail
            .get(len..len + 32)
            .and_then(|d| <&[u8; 32]>::try_from(d).ok())
            .ok_or_else(corrupt)?;
        f(path, digest)?;
        rest = tail.get(len + 32..).ok_or_else(corrupt)?;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(corrupt())
    }
}

/// One line: `[\]<hex>  <path>\n`.
#[cfg(test)]
pub fn line(out: &mut Vec<u8>, sha: &[u8; 32], path: &str) {
    escaped_line(out, sha, path.as_bytes(), true);
}

/// One line of a BLAKE3 list as `b3sum` writes it: only `\\` and newline are escaped
/// (`b3sum --check` refuses any other escape, so a carriage return stays a raw byte, which it
/// reads literally); a line with an escape starts with `\\`.
#[cfg(test)]
pub fn line_b3(out: &mut Vec<u8>, digest: &[u8; 32], path: &str) {
    escaped_line(out, digest, path.as_bytes(), false);
}

/// `[\]<hex>  <path>\n` with `\\`, newline and (GNU coreutils' rule, `escape_cr`) carriage
/// return escaped, and the leading `\\` when any was.
/// Every byte's two lowercase hex digits: a digest's 64 are 32 lookups.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

fn escaped_line(out: &mut Vec<u8>, digest: &[u8; 32], path: &[u8], escape_cr: bool) {
    let escaped = if escape_cr {
        memchr::memchr3(b'\n', b'\\', b'\r', path).is_some()
    } else {
        memchr::memchr2(b'\n', b'\\', path).is_some()
    };
    if escaped {
        out.push(b'\\');
    }
    let mut hex = [0u8; 64];
    for (pair, &b) in hex.chunks_exact_mut(2).zip(digest) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
    out.extend_from_slice(&hex);
    out.extend_from_slice(b"  ");
    if !escaped {
        // Nearly every path: one copy (byte by byte, formatting lines was 40% of
        // writing CHECKSUMS).
        out.extend_from_slice(path);
        out.push(b'\n');
        return;
    }
    // Only ASCII bytes are replaced, so the path stays valid UTF-8.
    for &b in path {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\r' if escape_cr => out.extend_from_slice(b"\\r"),
            b => out.push(b),
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::RelPath;
    use sha2::{Digest, Sha256};

    fn d(path: &str, content: &[u8]) -> FileDigest {
        FileDigest {
            path: RelPath::parse(path).unwrap(),
            sha256: Sha256::digest(content).into(),
        }
    }

    #[test]
    fn tv18_order_and_escaping() {
        let got = render(&[
            d("we\\ird\nname", b"x"),
            d("a/b", b"hello\n"),
            d("MANIFEST.json", b"{}\n"),
            d("a-c", b""),
            d("CHECKSUMS", b"stale"),
        ]);
        let want =
            "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356  MANIFEST.json\n\
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a-c\n\
5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a/b\n\
\\2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  we\\\\ird\\nname\n";
        assert_eq!(String::from_utf8(got).unwrap(), want);
    }

    #[test]
    fn streamed_equals_rendered_and_refuses_disorder() {
        let ds = vec![
            d("we\\ird\nname", b"x"),
            d("a/b", b"hello\n"),
            d("MANIFEST.json", b"{}\n"),
            d("CHECKSUMS", b"stale"),
        ];
        let mut sorted = ds.clone();
        sorted.sort();
        let write = |ds: Vec<FileDigest>| -> Result<Vec<u8>, Error> {
            let mut out = Vec::new();
            let mut w = ChecksumsWriter::new(&mut out);
            for d in ds {
                w.add_line(d.path.as_str(), &d.sha256)?;
            }
            w.finish()?;
            Ok(out)
        };
        assert_eq!(write(sorted).unwrap(), render(&ds));
        let e = write(ds).unwrap_err();
        assert!(e.to_string().contains("out of order"), "{e}");
    }

    /// Digests of `n` files, some with paths that need escaping, in path order.
    fn many(n: usize) -> Vec<FileDigest> {
        let mut v: Vec<FileDigest> = (0..n)
            .map(|i| {
                let path = match i % 50 {
                    0 => format!("dir{}/we\\ird\nname{i}", i % 7),
                    _ => format!("dir{}/table/items/{i:09}.json", i % 7),
                };
                d(&path, &i.to_le_bytes())
            })
            .collect();
        v.push(d("CHECKSUMS", b"skipped"));
        v.sort();
        v
    }

    fn overlapped(ds: &[FileDigest], kind: DigestKind) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        write_overlapped(&mut out, kind, &|f| {
            ds.iter().try_for_each(|d| f(d.path.as_str(), &d.sha256))
        })?;
        Ok(out)
    }

    #[test]
    fn overlapped_writing_equals_the_lines_written_one_by_one() {
        // Several chunks' worth (~60 bytes a record).
        let ds = many(3 * CHUNK / 40);
        for kind in [DigestKind::Sha256, DigestKind::Blake3] {
            let mut want = Vec::new();
            let mut w = ChecksumsWriter::new(&mut want).with_kind(kind);
            for d in &ds {
                w.add_line(d.path.as_str(), &d.sha256).unwrap();
            }
            w.finish().unwrap();
            assert_eq!(overlapped(&ds, kind).unwrap(), want, "{kind:?}");
        }
        assert_eq!(overlapped(&ds, DigestKind::Sha256).unwrap(), render(&ds));
        assert!(overlapped(&[], DigestKind::Sha256).unwrap().is_empty());
    }

    #[test]
    fn overlapped_writing_reports_the_merge_or_the_write_failing() {
        let ds = many(3 * CHUNK / 40);
        // The merge fails partway (a corrupt spill file).
        let mut out = Vec::new();
        let e = write_overlapped(&mut out, DigestKind::Sha256, &|f| {
            for (i, d) in ds.iter().enumerate() {
                if i == ds.len() / 2 {
                    return Err(Error::Internal("spill file corrupt".into()));
                }
                f(d.path.as_str(), &d.sha256)?;
            }
            Ok(())
        })
        .unwrap_err();
        assert!(e.to_string().contains("spill file corrupt"), "{e}");
        // The writer fails (a full disk): its error, not the merge's "stopped".
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("no space left on device"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = write_overlapped(&mut Full, DigestKind::Sha256, &|f| {
            ds.iter().try_for_each(|d| f(d.path.as_str(), &d.sha256))
        })
        .unwrap_err();
        assert!(e.to_string().contains("no space left"), "{e}");
        // Out of order is still refused.
        let mut rev = ds.clone();
        rev.reverse();
        let e = overlapped(&rev, DigestKind::Sha256).unwrap_err();
        assert!(e.to_string().contains("out of order"), "{e}");
    }

    #[test]
    fn b3_lines_escape_only_what_b3sum_unescapes() {
        let digest = [0xabu8; 32];
        let hex = "ab".repeat(32);
        let one = |path: &str| {
            let mut v = Vec::new();
            line_b3(&mut v, &digest, path);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(one("a/b"), format!("{hex}  a/b\n"));
        assert_eq!(one("c\rr"), format!("{hex}  c\rr\n"));
        assert_eq!(one("n\nl\\b\r"), format!("\\{hex}  n\\nl\\\\b\r\n"));
        // The SHA-256 list escapes the carriage return too (GNU coreutils).
        let mut v = Vec::new();
        line(&mut v, &digest, "c\rr");
        assert_eq!(String::from_utf8(v).unwrap(), format!("\\{hex}  c\\rr\n"));
        let mut out = Vec::new();
        let mut w = ChecksumsWriter::new(&mut out).with_kind(DigestKind::Blake3);
        w.add_line("c\rr", &digest).unwrap();
        w.finish().unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), one("c\rr"));
    }
}
