//! MVCC visibility as a streaming filter (contract §2): for each user key, the newest
//! version with `commit_ts <= read_ts` decides; a tombstone hides the key; a value whose
//! MVCC expiry is at or before the read time is hidden unless `--include-expired`.
//!
//! Versions of one user key are almost always adjacent, but a longer key that extends a
//! shorter one can sort between the shorter key's versions (its next byte falls inside
//! the range of inverted timestamps). A small stack of the user keys that are prefixes of
//! the current position keeps each key's decision across such interleavings.

use crate::error::Error;
use crate::sources::merge::Tagged;
use crate::sources::RawEntry;
use bytes::Bytes;

/// Counts of what the filter hid.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Hidden {
    /// Versions newer than the read timestamp.
    pub future: u64,
    /// Versions shadowed by a newer visible version or tombstone.
    pub shadowed: u64,
    /// Keys whose visible version is a tombstone.
    pub deleted: u64,
    /// Keys whose visible value had expired.
    pub expired: u64,
}

/// Filters a merged stream down to visible entries.
pub struct Visible<I> {
    inner: I,
    /// (user key, decided) for the current key and the keys that prefix it.
    stack: Vec<(Bytes, bool)>,
    include_expired: bool,
    /// What was hidden so far.
    pub hidden: Hidden,
}

impl<I: Iterator<Item = Result<Tagged, Error>>> Visible<I> {
    /// Wraps a merged (encoded-key ordered) stream.
    pub fn new(inner: I, include_expired: bool) -> Self {
        Visible {
            inner,
            stack: Vec::new(),
            include_expired,
            hidden: Hidden::default(),
        }
    }

    /// Whether this entry is the visible version of its key.
    fn admit(&mut self, e: &RawEntry, read_ts: u64) -> bool {
        while let Some((top, _)) = self.stack.last() {
            if e.user_key.starts_with(top) {
                break;
            }
            self.stack.pop();
        }
        let same = matches!(self.stack.last(), Some((top, _)) if top.len() == e.user_key.len());
        if !same {
            self.stack.push((e.user_key.clone(), false));
        }
        let Some(top) = self.stack.last_mut() else {
            return false;
        };
        if top.1 {
            self.hidden.shadowed += 1;
            return false;
        }
        if e.commit_ts > read_ts {
            self.hidden.future += 1;
            return false;
        }
        top.1 = true;
        if e.tombstone {
            self.hidden.deleted += 1;
            return false;
        }
        if !self.include_expired && e.expire_at_ms != 0 && e.expire_at_ms <= read_ts >> 16 {
            self.hidden.expired += 1;
            return false;
        }
        true
    }
}

impl<I: Iterator<Item = Result<Tagged, Error>>> Iterator for Visible<I> {
    type Item = Result<RawEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.inner.next()? {
                Err(e) => return Some(Err(e)),
                Ok((e, read_ts)) => {
                    if self.admit(&e, read_ts) {
                        return Some(Ok(e));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: &[u8], ts: u64, tomb: bool, exp: u64) -> RawEntry {
        RawEntry {
            user_key: Bytes::copy_from_slice(k),
            commit_ts: ts,
            expire_at_ms: exp,
            tombstone: tomb,
            value: Bytes::from(format!("{ts}")),
        }
    }

    fn run(v: Vec<RawEntry>, read_ts: u64, incl: bool) -> Vec<(Vec<u8>, u64)> {
        let mut v = v;
        v.sort_by(crate::sources::merge::cmp_encoded);
        Visible::new(v.into_iter().map(|e| Ok((e, read_ts))), incl)
            .map(|r| r.unwrap())
            .map(|e| (e.user_key.to_vec(), e.commit_ts))
            .collect()
    }

    #[test]
    fn newest_visible_wins() {
        let got = run(
            vec![
                e(b"k", 5, false, 0),
                e(b"k", 3, false, 0),
                e(b"k", 9, false, 0),
            ],
            6,
            false,
        );
        assert_eq!(got, vec![(b"k".to_vec(), 5)]);
    }

    #[test]
    fn tombstone_hides_older_versions() {
        let got = run(
            vec![
                e(b"k", 5, true, 0),
                e(b"k", 3, false, 0),
                e(b"j", 1, false, 0),
            ],
            6,
            false,
        );
        assert_eq!(got, vec![(b"j".to_vec(), 1)]);
    }

    #[test]
    fn expiry_uses_physical_ms_of_read_ts() {
        let read_ts = 1000u64 << 16;
        let v = vec![
            e(b"a", 1, false, 999),
            e(b"b", 1, false, 1000),
            e(b"c", 1, false, 1001),
        ];
        assert_eq!(run(v.clone(), read_ts, false), vec![(b"c".to_vec(), 1)]);
        assert_eq!(run(v, read_ts, true).len(), 3);
    }

    #[test]
    fn interleaved_prefix_key_keeps_its_decision() {
        // HLC-sized timestamps: inverted first byte is 0xfe, so "k\xfe\x00" sorts between
        // the versions of "k" when they differ in lower bytes.
        let t_new = 0x0100_0000_0000_0200u64;
        let t_old = 0x0100_0000_0000_0100u64;
        let ext = e(b"k\xfe\xff\xff\xff\xff\xff\xfe\x80", 7, false, 0);
        let v = vec![e(b"k", t_new, true, 0), e(b"k", t_old, false, 0), ext];
        let mut sorted = v.clone();
        sorted.sort_by(crate::sources::merge::cmp_encoded);
        // The extension key really is in the middle.
        assert_eq!(sorted[1].commit_ts, 7);
        let got = run(v, u64::MAX >> 1, false);
        assert_eq!(
            got,
            vec![(b"k\xfe\xff\xff\xff\xff\xff\xfe\x80".to_vec(), 7)]
        );
    }
}
