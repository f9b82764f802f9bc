//! Bundle mode (contract README §3): a table's items as `items/data-<NNNNN>.jsonl` parts,
//! one compact JSON object per line, in ascending internal key order.
//!
//! Lines are streamed as items arrive, so a table is never held in memory. A new part
//! starts when the next line would push the current part past the size limit; a line
//! larger than the limit goes alone into a part of its own.

use crate::encode::Emitter;
use crate::error::Error;
use crate::sinks::{RelPath, StreamFile};

/// Writes one table's parts.
pub struct BundleWriter {
    items_dir: RelPath,
    limit: u64,
    next_part: u32,
    current: Option<StreamFile>,
}

impl BundleWriter {
    /// Parts under `items_dir`, each at most `limit` bytes unless one line is larger.
    pub fn new(items_dir: RelPath, limit: u64) -> Self {
        BundleWriter {
            items_dir,
            limit,
            next_part: 0,
            current: None,
        }
    }

    /// Appends one line (`line` must already end in `\n`).
    pub fn write_line(&mut self, out: &Emitter, line: &[u8]) -> Result<(), Error> {
        let len = line.len() as u64;
        if let Some(cur) = self
            .current
            .take_if(|c| !c.is_empty() && c.len() + len > self.limit)
        {
            cur.finish()?;
        }
        let cur = match self.current.as_mut() {
            Some(c) => c,
            None => {
                let name = format!("data-{:05}.jsonl", self.next_part);
                self.next_part += 1;
                let path = self.items_dir.join(&name)?;
                self.current.insert(out.stream(&path)?)
            }
        };
        cur.write_all(line)
    }

    /// Finishes the open part, if any.
    pub fn finish(mut self) -> Result<(), Error> {
        match self.current.take() {
            Some(c) => c.finish(),
            None => Ok(()),
        }
    }
}
