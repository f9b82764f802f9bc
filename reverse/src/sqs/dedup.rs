//! FIFO dedup rows (docs/format/30-sqs.md §10 step 6): one row per dedup key, for the message sent last;
//! a tie goes to the message processed first (file order, or for a partitioned queue
//! ascending sequence number, then message id, then file order).
//!
//! Candidates go through an external sorter keyed by the dedup row key, so a queue with
//! millions of distinct dedup ids needs no more memory than the sorter's budget; the
//! sorter keeps insertion order among equal keys, which is the processing order.

use super::rows::dedup_value;
use crate::{ReverseError, Stage};
use elastickv_backup_engine::decode::sqs::ExternalSorter;

/// Memory for dedup candidates of one queue before they spill to disk.
pub const DEDUP_SORT_BUDGET: usize = 16 << 20;

/// One candidate for a dedup key's row.
struct Candidate {
    send: i64,
    seq: u64,
    id: Vec<u8>,
}

impl Candidate {
    fn payload(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(16 + self.id.len());
        p.extend_from_slice(&self.send.to_be_bytes());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.id);
        p
    }

    fn parse(p: &[u8]) -> Result<Self, ReverseError> {
        let (Some(send), Some(seq), Some(id)) = (p.get(..8), p.get(8..16), p.get(16..)) else {
            return Err(ReverseError::Scratch {
                why: "a dedup candidate record is truncated".into(),
            });
        };
        let mut a = [0u8; 8];
        a.copy_from_slice(send);
        let mut b = [0u8; 8];
        b.copy_from_slice(seq);
        Ok(Candidate {
            send: i64::from_be_bytes(a),
            seq: u64::from_be_bytes(b),
            id: id.to_vec(),
        })
    }
}

/// The dedup candidates of one queue.
pub struct Dedup {
    partitioned: bool,
    budget: usize,
    sorter: Option<ExternalSorter>,
}

impl Dedup {
    /// Candidates of a queue (`partitioned`: `partition_count > 1`).
    pub fn new(partitioned: bool, budget: usize) -> Self {
        Dedup {
            partitioned,
            budget,
            sorter: None,
        }
    }

    /// Offers message `id` (sent at `send`, sequence `seq`) for the row `key`.
    pub fn offer(
        &mut self,
        key: &[u8],
        send: i64,
        seq: u64,
        id: &[u8],
    ) -> Result<(), ReverseError> {
        let budget = self.budget;
        let c = Candidate {
            send,
            seq,
            id: id.to_vec(),
        };
        self.sorter
            .get_or_insert_with(|| ExternalSorter::new("sqs-dedup", budget))
            .push(key, &c.payload())?;
        Ok(())
    }

    /// Whether `c` takes the row from `best` (which was processed earlier).
    fn beats(&self, c: &Candidate, best: &Candidate) -> bool {
        c.send > best.send
            || (self.partitioned
                && c.send == best.send
                && (c.seq, c.id.as_slice()) < (best.seq, best.id.as_slice()))
    }

    /// Stages the winning row of every dedup key.
    pub fn finish(mut self, out: &mut dyn Stage) -> Result<(), ReverseError> {
        let Some(sorter) = self.sorter.take() else {
            return Ok(());
        };
        let mut best: Option<(Vec<u8>, Candidate)> = None;
        sorter.drain(|key: &[u8], payload: &[u8]| -> Result<(), ReverseError> {
            let c = Candidate::parse(payload)?;
            match &mut best {
                Some((k, b)) if k.as_slice() == key => {
                    if self.beats(&c, b) {
                        *b = c;
                    }
                }
                _ => {
                    if let Some((k, b)) = best.replace((key.to_vec(), c)) {
                        out.add(k, dedup_value(&b.id, b.send, b.seq))?;
                    }
                }
            }
            Ok(())
        })?;
        if let Some((k, b)) = best {
            out.add(k, dedup_value(&b.id, b.send, b.seq))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Entries;

    fn rows(partitioned: bool, offers: &[(&str, i64, u64, &str)], budget: usize) -> Entries {
        let mut d = Dedup::new(partitioned, budget);
        for (k, send, seq, id) in offers {
            d.offer(k.as_bytes(), *send, *seq, id.as_bytes()).unwrap();
        }
        let mut out = Entries::new();
        d.finish(&mut out).unwrap();
        out
    }

    fn winner(v: &[u8]) -> String {
        let s = String::from_utf8(v.to_vec()).unwrap();
        s.split('"').nth(3).unwrap().to_string()
    }

    #[test]
    fn latest_send_wins_ties_by_processing_order() {
        let offers = [
            ("k1", 5, 2, "b"),
            ("k2", 1, 0, "x"),
            ("k1", 5, 1, "a"),
            ("k1", 4, 0, "c"),
        ];
        let classic = rows(false, &offers, 1 << 20);
        assert_eq!(classic.len(), 2);
        assert_eq!(classic[0].0, b"k1");
        assert_eq!(winner(&classic[0].1), "b");
        assert_eq!(winner(&classic[1].1), "x");
        let partitioned = rows(true, &offers, 1 << 20);
        assert_eq!(winner(&partitioned[0].1), "a");
        assert!(rows(false, &[], 0).is_empty());
    }

    #[test]
    fn spilled_candidates_give_the_same_rows() {
        let offers: Vec<(String, i64, u64, String)> = (0..20_000u64)
            .map(|i| {
                (
                    format!("k{:05}", i % 5_000),
                    (i % 7) as i64,
                    i,
                    format!("m{i}"),
                )
            })
            .collect();
        let as_refs: Vec<(&str, i64, u64, &str)> = offers
            .iter()
            .map(|(k, s, q, id)| (k.as_str(), *s, *q, id.as_str()))
            .collect();
        let small = rows(true, &as_refs, 0);
        assert_eq!(small.len(), 5_000);
        assert_eq!(small, rows(true, &as_refs, 64 << 20));
    }
}
