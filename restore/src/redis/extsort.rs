//! A stable external sort of `(key, value)` records in bounded memory.
//!
//! Why: joining a type directory's file names with its TTL sidecar and KEYMAP.jsonl needs
//! all three in one order, and each may list millions of keys. The sort itself is the
//! engine's one external sorter ([`elastickv_backup_engine::extsort`], pulled record by record); this
//! module adapts it to restore's errors and adds the last-wins lookup the join needs.

use super::RestoreError;
use elastickv_backup_engine::extsort::{ExternalSorter, SortError, SortedRecords};

/// One record.
pub type Record = (Vec<u8>, Vec<u8>);

fn scratch(e: SortError) -> RestoreError {
    match e {
        SortError::Scratch { source, .. } => RestoreError::Scratch(source),
        other => RestoreError::Scratch(std::io::Error::other(other.to_string())),
    }
}

/// Collects records, spilling sorted runs to disk past the budget.
pub struct Sorter {
    inner: ExternalSorter,
}

impl Sorter {
    /// A sorter keeping about `budget` bytes in memory (at least 64 KiB, at most 1 GiB:
    /// the sorter reserves its budget as address space up front).
    pub fn new(budget: usize) -> Self {
        Sorter {
            inner: ExternalSorter::new("redis-restore", budget.clamp(64 << 10, 1 << 30)),
        }
    }

    /// Adds a record.
    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), RestoreError> {
        self.inner.push(&key, &value).map_err(scratch)
    }

    /// Sorted runs written so far.
    #[cfg(test)]
    pub fn spilled_runs(&self) -> usize {
        self.inner.spilled_runs()
    }

    /// All records in key order (stable).
    pub fn finish(self) -> Result<Sorted, RestoreError> {
        Ok(Sorted(self.inner.into_sorted().map_err(scratch)?))
    }
}

/// The sorted records.
pub struct Sorted(SortedRecords);

impl Sorted {
    /// The next record in key order.
    pub fn next_record(&mut self) -> Result<Option<Record>, RestoreError> {
        self.0.next_record().map_err(scratch)
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
        for budget in [16 << 20, 0] {
            let mut s = Sorter::new(budget);
            // Enough records to spill many runs (and to need a two-level merge, fan-in 64)
            // with the 64 KiB minimum budget.
            let n = 200_000u32;
            for i in 0..n {
                let k = format!("k{:05}", (i * 7919) % 1000).into_bytes();
                s.push(k, i.to_le_bytes().to_vec()).unwrap();
            }
            if budget == 0 {
                assert!(s.spilled_runs() > 64, "{}", s.spilled_runs());
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
        let mut s = Sorter::new(16 << 20);
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
