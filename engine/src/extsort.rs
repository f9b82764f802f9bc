//! A small external sorter: `(key, payload)` records sorted by key with bounded memory.
//!
//! Used where an output needs an order the key-ordered input does not give: the file
//! digests behind `CHECKSUMS` (sorted by path, one record per file of the dump) and a
//! DynamoDB table mid-migration (items of two generations matched by output path).
//! Records collect in memory up to a byte budget; each full batch is sorted and written as
//! a run to an anonymous temp file in the system temp dir (never inside the output tree,
//! gone when dropped), and the runs are merged at the end.

use crate::error::Error;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Default in-memory budget before a run is spilled.
pub const DEFAULT_BUDGET: usize = 32 << 20;

/// One record: sort key and payload.
pub type Record = (Vec<u8>, Vec<u8>);

/// Collects records, spilling sorted runs past the budget.
pub struct Sorter {
    /// Names the spill files in errors (they have no name of their own), e.g.
    /// `"<checksums spill file in the system temp dir>"`.
    what: &'static str,
    budget: usize,
    held: usize,
    batch: Vec<Record>,
    runs: Vec<File>,
}

impl Sorter {
    /// A sorter that keeps at most about `budget` bytes of records in memory.
    pub fn new(what: &'static str, budget: usize) -> Self {
        Sorter {
            what,
            budget: budget.max(1),
            held: 0,
            batch: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Adds a record. Keys should be unique (ties come out in unspecified order).
    pub fn push(&mut self, key: Vec<u8>, payload: Vec<u8>) -> Result<(), Error> {
        self.held += key.len() + payload.len() + 48;
        self.batch.push((key, payload));
        if self.held >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Number of runs written to disk so far.
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> Result<(), Error> {
        self.batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let what = self.what;
        let f = tempfile::tempfile().map_err(|e| Error::io(what, e))?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        for (k, p) in self.batch.drain(..) {
            write_record(&mut w, &k, &p).map_err(|e| Error::io(what, e))?;
        }
        let mut f = w
            .into_inner()
            .map_err(|e| Error::io(what, e.into_error()))?;
        f.seek(SeekFrom::Start(0)).map_err(|e| Error::io(what, e))?;
        self.runs.push(f);
        self.held = 0;
        Ok(())
    }

    /// All records in ascending key order.
    pub fn finish(mut self) -> Result<Merged, Error> {
        self.batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut sources: Vec<Source> = self
            .runs
            .into_iter()
            .map(|f| Source::Run(BufReader::with_capacity(1 << 16, f), self.what))
            .collect();
        sources.push(Source::Memory(std::mem::take(&mut self.batch).into_iter()));
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some((key, payload)) = s.next_record()? {
                heap.push(Head {
                    key,
                    payload,
                    src: i,
                });
            }
        }
        Ok(Merged { sources, heap })
    }
}

fn write_record(w: &mut impl Write, k: &[u8], p: &[u8]) -> std::io::Result<()> {
    let len =
        |n: usize| u32::try_from(n).map_err(|_| std::io::Error::other("record too large to spill"));
    w.write_all(&len(k.len())?.to_le_bytes())?;
    w.write_all(&len(p.len())?.to_le_bytes())?;
    w.write_all(k)?;
    w.write_all(p)
}

enum Source {
    /// A spilled run and what to call it in errors.
    Run(BufReader<File>, &'static str),
    Memory(std::vec::IntoIter<Record>),
}

impl Source {
    fn next_record(&mut self) -> Result<Option<Record>, Error> {
        match self {
            Source::Memory(it) => Ok(it.next()),
            Source::Run(r, what) => {
                let what = *what;
                let mut lens = [0u8; 8];
                match r.read_exact(&mut lens[..4]) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                    Err(e) => return Err(Error::io(what, e)),
                }
                r.read_exact(&mut lens[4..])
                    .map_err(|e| Error::io(what, e))?;
                let [a, b, c, d, e, f, g, h] = lens;
                let klen = u32::from_le_bytes([a, b, c, d]) as usize;
                let plen = u32::from_le_bytes([e, f, g, h]) as usize;
                let mut k = vec![0; klen];
                let mut p = vec![0; plen];
                r.read_exact(&mut k).map_err(|e| Error::io(what, e))?;
                r.read_exact(&mut p).map_err(|e| Error::io(what, e))?;
                Ok(Some((k, p)))
            }
        }
    }
}

struct Head {
    key: Vec<u8>,
    payload: Vec<u8>,
    src: usize,
}

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key && self.src == o.src
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    /// Reversed: `BinaryHeap` is a max-heap and we want the smallest key first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.key.cmp(&self.key).then(o.src.cmp(&self.src))
    }
}

/// The merged, ascending stream of a [`Sorter`]'s records.
pub struct Merged {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
}

impl Iterator for Merged {
    type Item = Result<Record, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let head = self.heap.pop()?;
        let src = self.sources.get_mut(head.src)?;
        match src.next_record() {
            Ok(Some((key, payload))) => self.heap.push(Head {
                key,
                payload,
                src: head.src,
            }),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok((head.key, head.payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_across_spilled_runs() {
        let mut s = Sorter::new("test", 200);
        let mut want = Vec::new();
        for i in 0..500u32 {
            let k = (i.wrapping_mul(7919) % 1000).to_be_bytes().to_vec();
            want.push(k.clone());
            s.push(k, i.to_le_bytes().to_vec()).unwrap();
        }
        assert!(s.spilled_runs() > 10);
        want.sort();
        let got: Vec<Vec<u8>> = s.finish().unwrap().map(|r| r.unwrap().0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn in_memory_only() {
        let mut s = Sorter::new("test", DEFAULT_BUDGET);
        s.push(b"b".to_vec(), b"2".to_vec()).unwrap();
        s.push(b"a".to_vec(), b"1".to_vec()).unwrap();
        assert_eq!(s.spilled_runs(), 0);
        let got: Vec<Record> = s.finish().unwrap().map(Result::unwrap).collect();
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
    }
}
