//! Scratch storage outside the output tree: the append-only body spill that holds every
//! collection's elements until its file can be written, and a byte buffer that moves to
//! a temporary file once it grows. Both use anonymous temporary files (`tempfile`), which
//! the OS deletes when they are closed — nothing is left behind, even after a crash.

use super::error::RedisError;
use super::sort::Chunk;
use crate::error::Error;
use crate::sinks::StreamFile;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// Append-only element storage; chunks are read back by offset.
pub struct BodySpill {
    w: Option<BufWriter<File>>,
    pos: u64,
}

impl BodySpill {
    /// An empty spill (the file is created on first use).
    pub fn new() -> Self {
        BodySpill { w: None, pos: 0 }
    }

    /// Appends `data` (`count` elements), returning where it went.
    pub fn append(&mut self, data: &[u8], count: u64) -> Result<Chunk, RedisError> {
        let w = match self.w.as_mut() {
            Some(w) => w,
            None => {
                let f = tempfile::tempfile().map_err(|e| RedisError::scratch("elements", e))?;
                self.w.insert(BufWriter::with_capacity(256 << 10, f))
            }
        };
        w.write_all(data)
            .map_err(|e| RedisError::scratch("elements", e))?;
        let c = Chunk {
            offset: self.pos,
            len: data.len() as u64,
            count,
        };
        self.pos += data.len() as u64;
        Ok(c)
    }

    /// Ends writing; the result reads chunks back.
    pub fn into_reader(self) -> Result<BodyReader, RedisError> {
        let f = match self.w {
            Some(w) => Some(
                w.into_inner()
                    .map_err(|e| RedisError::scratch("elements", e.into_error()))?,
            ),
            None => None,
        };
        Ok(BodyReader { f })
    }
}

impl Default for BodySpill {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads chunks of a finished [`BodySpill`].
pub struct BodyReader {
    f: Option<File>,
}

impl BodyReader {
    /// Appends chunk `c` to `out`.
    pub fn read(&self, c: Chunk, out: &mut Vec<u8>) -> Result<(), RedisError> {
        if c.len == 0 {
            return Ok(());
        }
        let f = self
            .f
            .as_ref()
            .ok_or_else(|| RedisError::Internal("read of an empty element spill".into()))?;
        let len = usize::try_from(c.len)
            .map_err(|_| RedisError::Internal("element chunk too large".into()))?;
        let start = out.len();
        out.resize(start + len, 0);
        f.read_exact_at(&mut out[start..], c.offset)
            .map_err(|e| RedisError::scratch("elements", e))
    }
}

/// Bytes kept in memory up to a limit, then in a temporary file; copied out at the end.
pub struct SpillBuf {
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
    limit: usize,
    what: &'static str,
}

impl SpillBuf {
    /// An empty buffer that moves to disk past `limit` bytes.
    pub fn new(what: &'static str, limit: usize) -> Self {
        SpillBuf {
            mem: Vec::new(),
            file: None,
            limit,
            what,
        }
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty() && self.file.is_none()
    }

    /// Appends bytes.
    pub fn append(&mut self, data: &[u8]) -> Result<(), RedisError> {
        if let Some(w) = self.file.as_mut() {
            return w
                .write_all(data)
                .map_err(|e| RedisError::scratch(self.what, e));
        }
        self.mem.extend_from_slice(data);
        if self.mem.len() > self.limit {
            let f = tempfile::tempfile().map_err(|e| RedisError::scratch(self.what, e))?;
            let mut w = BufWriter::with_capacity(64 << 10, f);
            w.write_all(&self.mem)
                .map_err(|e| RedisError::scratch(self.what, e))?;
            self.mem = Vec::new();
            self.file = Some(w);
        }
        Ok(())
    }

    /// Copies everything appended to `out`.
    pub fn copy_to(self, out: &mut StreamFile) -> Result<(), Error> {
        out.write_all(&self.mem)?;
        let Some(w) = self.file else { return Ok(()) };
        let mut f = w
            .into_inner()
            .map_err(|e| RedisError::scratch(self.what, e.into_error()))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| RedisError::scratch(self.what, e))?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RedisError::scratch(self.what, e).into()),
            };
            out.write_all(buf.get(..n).unwrap_or_default())?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::{DigestLog, RelPath};
    use std::sync::{Arc, Mutex};

    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn spill_buf_moves_to_disk_and_copies_back() {
        for limit in [1 << 20, 10] {
            let mut b = SpillBuf::new("test", limit);
            assert!(b.is_empty());
            let mut want = Vec::new();
            for i in 0..1000u32 {
                let line = format!("line {i}\n");
                b.append(line.as_bytes()).unwrap();
                want.extend_from_slice(line.as_bytes());
            }
            let got = Arc::new(Mutex::new(Vec::new()));
            let mut f = StreamFile::new(
                RelPath::parse("x").unwrap(),
                Box::new(Shared(got.clone())),
                DigestLog::default(),
            );
            b.copy_to(&mut f).unwrap();
            f.finish().unwrap();
            assert_eq!(*got.lock().unwrap(), want);
        }
    }

    #[test]
    fn body_round_trip() {
        let mut s = BodySpill::new();
        let a = s.append(b"hello", 1).unwrap();
        let b = s.append(&[9u8; 1000], 2).unwrap();
        let r = s.into_reader().unwrap();
        let mut out = Vec::new();
        r.read(b, &mut out).unwrap();
        r.read(a, &mut out).unwrap();
        assert_eq!(&out[..1000], &[9u8; 1000][..]);
        assert_eq!(&out[1000..], b"hello");
        let empty = BodySpill::new().into_reader().unwrap();
        assert!(empty
            .read(
                Chunk {
                    offset: 0,
                    len: 1,
                    count: 1
                },
                &mut out
            )
            .is_err());
    }
}
