//! A stable external sort of `(key, value)` records in bounded memory.
//!
//! Why: joining a type directory's file names with its TTL sidecar and KEYMAP.jsonl needs
//! all three in one order, and each may list millions of keys. Records collect in memory
//! up to a byte budget; a full buffer is sorted (stably) and spilled as a run to an
//! anonymous temporary file (system temp dir, gone when closed); at the end the runs are
//! merged, equal keys coming out in insertion order.

use super::RestoreError;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};

/// Runs merged at once; more are first merged in groups of this many (file descriptors).
const MAX_FAN_IN: usize = 64;
/// Per-record bookkeeping counted against the budget.
const RECORD_OVERHEAD: usize = 64;

/// One record.
pub type Record = (Vec<u8>, Vec<u8>);

/// Collects records, spilling sorted runs to disk past the budget.
pub struct Sorter {
    budget: usize,
    mem: Vec<Record>,
    mem_bytes: usize,
    runs: Vec<File>,
}

fn scratch(e: std::io::Error) -> RestoreError {
    RestoreError::Scratch(e)
}

fn write_record<W: Write>(w: &mut W, k: &[u8], v: &[u8]) -> Result<(), RestoreError> {
    let kl =
        u32::try_from(k.len()).map_err(|_| scratch(std::io::ErrorKind::InvalidInput.into()))?;
    let vl =
        u32::try_from(v.len()).map_err(|_| scratch(std::io::ErrorKind::InvalidInput.into()))?;
    w.write_all(&kl.to_le_bytes()).map_err(scratch)?;
    w.write_all(&vl.to_le_bytes()).map_err(scratch)?;
    w.write_all(k).map_err(scratch)?;
    w.write_all(v).map_err(scratch)
}

fn read_record<R: Read>(r: &mut R) -> Result<Option<Record>, RestoreError> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(scratch(e)),
    }
    r.read_exact(&mut head[1..]).map_err(scratch)?;
    let mut kl = [0u8; 4];
    let mut vl = [0u8; 4];
    kl.copy_from_slice(&head[..4]);
    vl.copy_from_slice(&head[4..]);
    let mut k = vec![0u8; u32::from_le_bytes(kl) as usize];
    let mut v = vec![0u8; u32::from_le_bytes(vl) as usize];
    r.read_exact(&mut k).map_err(scratch)?;
    r.read_exact(&mut v).map_err(scratch)?;
    Ok(Some((k, v)))
}

impl Sorter {
    /// A sorter keeping about `budget` bytes in memory (at least 64 KiB).
    pub fn new(budget: usize) -> Self {
        Sorter {
            budget: budget.max(64 << 10),
            mem: Vec::new(),
            mem_bytes: 0,
            runs: Vec::new(),
        }
    }

    /// Adds a record.
    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), RestoreError> {
        self.mem_bytes += key.len() + value.len() + RECORD_OVERHEAD;
        self.mem.push((key, value));
        if self.mem_bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorted runs written so far.
    #[cfg(test)]
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> Result<(), RestoreError> {
        let mut mem = std::mem::take(&mut self.mem);
        self.mem_bytes = 0;
        mem.sort_by(|a, b| a.0.cmp(&b.0));
        let file = tempfile::tempfile().map_err(scratch)?;
        let mut w = BufWriter::with_capacity(256 << 10, file);
        for (k, v) in &mem {
            write_record(&mut w, k, v)?;
        }
        let mut file = w.into_inner().map_err(|e| scratch(e.into_error()))?;
        file.rewind().map_err(scratch)?;
        self.runs.push(file);
        Ok(())
    }

    /// All records in key order (stable).
    pub fn finish(mut self) -> Result<Sorted, RestoreError> {
        if self.runs.is_empty() {
            let mut mem = self.mem;
            mem.sort_by(|a, b| a.0.cmp(&b.0));
            return Ok(Sorted::Mem(mem.into_iter()));
        }
        if !self.mem.is_empty() {
            self.spill()?;
        }
        let mut runs = self.runs;
        while runs.len() > MAX_FAN_IN {
            let rest = runs.split_off(MAX_FAN_IN);
            let mut merged = Merge::new(runs)?;
            let file = tempfile::tempfile().map_err(scratch)?;
            let mut w = BufWriter::with_capacity(256 << 10, file);
            while let Some((k, v)) = merged.next_record()? {
                write_record(&mut w, &k, &v)?;
            }
            let mut file = w.into_inner().map_err(|e| scratch(e.into_error()))?;
            file.rewind().map_err(scratch)?;
            runs = std::iter::once(file).chain(rest).collect();
        }
        Ok(Sorted::Merge(Merge::new(runs)?))
    }
}

/// A run's next record in the merge heap: key, run index (the tie-break that keeps the
/// merge stable), value.
type Head = Reverse<(Vec<u8>, usize, Vec<u8>)>;

/// A k-way merge of sorted runs; ties go to the earlier run (stability).
pub struct Merge {
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Head>,
}

impl Merge {
    fn new(runs: Vec<File>) -> Result<Self, RestoreError> {
        let mut readers: Vec<_> = runs
            .into_iter()
            .map(|f| BufReader::with_capacity(64 << 10, f))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some((k, v)) = read_record(r)? {
                heap.push(Reverse((k, i, v)));
            }
        }
        Ok(Merge { readers, heap })
    }

    fn next_record(&mut self) -> Result<Option<Record>, RestoreError> {
        let Some(Reverse((k, i, v))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(r) = self.readers.get_mut(i) {
            if let Some((nk, nv)) = read_record(r)? {
                self.heap.push(Reverse((nk, i, nv)));
            }
        }
        Ok(Some((k, v)))
    }
}

/// The sorted records.
pub enum Sorted {
    /// Everything fitted in memory.
    Mem(std::vec::IntoIter<Record>),
    /// Merged from spilled runs.
    Merge(Merge),
}

impl Sorted {
    /// The next record in key order.
    pub fn next_record(&mut self) -> Result<Option<Record>, RestoreError> {
        match self {
            Sorted::Mem(it) => Ok(it.next()),
            Sorted::Merge(m) => m.next_record(),
        }
    }
}

/// A sorted stream read with one record of lookahead, for merge joins where the last of
/// several equal keys wins (KEYMAP.jsonl and TTL sidecars: "last line wins").
pub struct LastWins {
    src: Sorted,
    head: Option<Record>,
}

impl LastWins {
    /// Wraps a sorted stream.
    pub fn new(mut src: Sorted) -> Result<Self, RestoreError> {
        let head = src.next_record()?;
        Ok(LastWins { src, head })
    }

    /// The value of the last record whose key is `key`, after skipping every smaller key.
    /// Keys must be asked for in ascending order.
    pub fn lookup(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, RestoreError> {
        while self.head.as_ref().is_some_and(|(k, _)| k.as_slice() < key) {
            self.head = self.src.next_record()?;
        }
        let mut found = None;
        while self.head.as_ref().is_some_and(|(k, _)| k.as_slice() == key) {
            found = self.head.take().map(|(_, v)| v);
            self.head = self.src.next_record()?;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut s: Sorted) -> Vec<Record> {
        let mut out = Vec::new();
        while let Some(r) = s.next_record().unwrap() {
            out.push(r);
        }
        out
    }

    #[test]
    fn sorts_stably_in_memory_and_spilled() {
        for budget in [usize::MAX, 0] {
            let mut s = Sorter::new(budget);
            // Enough records to spill many runs (and to need a two-level merge) with the
            // 64 KiB minimum budget.
            let n = 70_000u32;
            for i in 0..n {
                let k = format!("k{:05}", (i * 7919) % 1000).into_bytes();
                s.push(k, i.to_le_bytes().to_vec()).unwrap();
            }
            if budget == 0 {
                assert!(s.spilled_runs() > MAX_FAN_IN, "{}", s.spilled_runs());
            }
            let out = drain(s.finish().unwrap());
            assert_eq!(out.len(), n as usize);
            let seq = |v: &[u8]| u32::from_le_bytes(v.try_into().unwrap());
            for w in out.windows(2) {
                assert!(w[0].0 <= w[1].0);
                if w[0].0 == w[1].0 {
                    // Equal keys keep insertion order.
                    assert!(seq(&w[0].1) < seq(&w[1].1));
                }
            }
        }
    }

    #[test]
    fn last_wins_lookup() {
        let mut s = Sorter::new(usize::MAX);
        for (k, v) in [("b", "1"), ("a", "x"), ("b", "2"), ("d", "y")] {
            s.push(k.into(), v.into()).unwrap();
        }
        let mut lw = LastWins::new(s.finish().unwrap()).unwrap();
        assert_eq!(lw.lookup(b"a").unwrap(), Some(b"x".to_vec()));
        assert_eq!(lw.lookup(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(lw.lookup(b"c").unwrap(), None);
        assert_eq!(lw.lookup(b"e").unwrap(), None);
    }
}
