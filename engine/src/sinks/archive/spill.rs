//! Streamed files in an archive. A tar header states the size before the content, and a
//! stream's size is known only when it finishes, so its bytes go to an anonymous temp file
//! (unlinked from the start: nothing stays behind, whatever happens) and are copied into
//! the archive as one entry when the stream is finished.
//!
//! [`StreamFile::finish`](crate::sinks::StreamFile::finish) is the only caller of the
//! writer's `flush` (a `StreamFile` offers no other way to flush), so `flush` is the
//! "finished" signal: the entry is appended then, and any error reaches the caller of
//! `finish`. A stream dropped without `finish` is never appended.

use super::Shared;
use crate::sinks::RelPath;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::sync::Arc;

/// The writer behind an archive sink's [`StreamFile`](crate::sinks::StreamFile).
pub struct SpillWriter {
    path: RelPath,
    file: BufWriter<File>,
    len: u64,
    shared: Arc<Shared>,
    appended: bool,
}

impl SpillWriter {
    /// A spill in a fresh anonymous temp file.
    pub(super) fn new(path: RelPath, file: File, shared: Arc<Shared>) -> Self {
        SpillWriter {
            path,
            file: BufWriter::with_capacity(1 << 16, file),
            len: 0,
            shared,
            appended: false,
        }
    }
}

impl Write for SpillWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.appended {
            return Err(io::Error::other(format!(
                "{}: write after the stream was finished",
                self.path
            )));
        }
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.appended {
            return Ok(());
        }
        self.file.flush()?;
        let f = self.file.get_mut();
        f.seek(SeekFrom::Start(0))?;
        self.shared
            .append_stream(&self.path, f, self.len)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.appended = true;
        Ok(())
    }
}
