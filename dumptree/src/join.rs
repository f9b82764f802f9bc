//! A sorted stream read with one record of lookahead, for merge joins where the last of
//! several equal keys wins (`KEYMAP.jsonl` and TTL sidecars: "last line wins").
//!
//! Why: the file names of a type directory, KEYMAP and a sidecar can each list millions of
//! keys; sorted by the engine's external sorter (stable, so equal keys stay in file
//! order), they are joined in one pass with nothing held but one record per stream.

use elastickv_backup_engine::extsort::{SortError, SortedRecord, SortedRecords};

/// Smallest and largest in-memory budget of one sort: the sorter reserves its budget as
/// address space up front, and a budget of a few bytes would spill a run per record.
const BUDGET_RANGE: (usize, usize) = (64 << 10, 1 << 30);

/// `budget` clamped to what one name/KEYMAP/sidecar sort may use.
pub(crate) fn clamp_budget(budget: usize) -> usize {
    budget.clamp(BUDGET_RANGE.0, BUDGET_RANGE.1)
}

/// Last-wins lookups in ascending key order over a sorted stream.
pub(crate) struct LastWins {
    src: SortedRecords,
    head: Option<SortedRecord>,
}

impl LastWins {
    /// Wraps a sorted stream.
    pub(crate) fn new(mut src: SortedRecords) -> Result<Self, SortError> {
        let head = src.next_record()?;
        Ok(LastWins { src, head })
    }

    /// The payload of the last record whose key is `key`, after skipping every smaller
    /// key. Keys must be asked for in ascending order.
    pub(crate) fn lookup(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, SortError> {
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
    use elastickv_backup_engine::extsort::ExternalSorter;

    #[test]
    fn last_wins_lookup_in_memory_and_spilled() {
        for budget in [16 << 20, 1] {
            let mut s = ExternalSorter::new("test", budget);
            for (k, v) in [("b", "1"), ("a", "x"), ("b", "2"), ("d", "y")] {
                s.push(k.as_bytes(), v.as_bytes()).unwrap();
            }
            let mut lw = LastWins::new(s.into_sorted().unwrap()).unwrap();
            assert_eq!(lw.lookup(b"a").unwrap(), Some(b"x".to_vec()));
            assert_eq!(lw.lookup(b"b").unwrap(), Some(b"2".to_vec()));
            assert_eq!(lw.lookup(b"c").unwrap(), None);
            assert_eq!(lw.lookup(b"e").unwrap(), None);
        }
    }
}
