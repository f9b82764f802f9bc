//! User-key order → encoded-key order.
//!
//! A live scan returns keys in user-key order; a shard stream must be in the order a snapshot
//! holds them, `user_key ‖ BE64(!commit_ts)`. The two differ only where one user key is a
//! proper prefix of the next (`a` then `a\0` in user order; in encoded order `a\0` comes
//! first because its next byte sorts below the inverted timestamp). Any key arriving later
//! sorts above the raw bytes of the current key, so an entry can be released as soon as its
//! encoded key is below the latest arrival's user key: what stays behind is a chain of
//! prefixes of the current key — a small stack.

pub use elastickv_backup_engine::sources::merge::cmp_encoded;
use elastickv_backup_engine::sources::RawEntry;
use std::cmp::Ordering;

/// Whether `entry`'s encoded key (`user_key ‖ BE64(!commit_ts)`) sorts below raw bytes
/// `key`: two slice comparisons, not a byte-by-byte walk (keys share long prefixes, and
/// this runs for every entry of a live dump on the network thread).
fn encoded_below(entry: &RawEntry, key: &[u8]) -> bool {
    let k = &entry.user_key[..];
    let n = k.len().min(key.len());
    match k[..n].cmp(&key[..n]) {
        Ordering::Less => true,
        Ordering::Greater => false,
        // `key` is a prefix of the user key: the encoded key is longer, so above it.
        Ordering::Equal if k.len() >= key.len() => false,
        Ordering::Equal => (!entry.commit_ts).to_be_bytes().as_slice() < &key[k.len()..],
    }
}

/// Reorders a user-key-ordered sequence into encoded-key order.
#[derive(Default)]
pub struct Reorder {
    /// Pending entries in ascending encoded order.
    pending: Vec<RawEntry>,
}

impl Reorder {
    /// Feeds the next entry (user keys strictly ascending); pushes releasable entries to `out`.
    pub fn push(&mut self, entry: RawEntry, out: &mut Vec<RawEntry>) {
        let n = self
            .pending
            .iter()
            .take_while(|p| encoded_below(p, &entry.user_key))
            .count();
        out.extend(self.pending.drain(..n));
        let at = self
            .pending
            .partition_point(|p| cmp_encoded(p, &entry) == Ordering::Less);
        self.pending.insert(at, entry);
    }

    /// Releases everything still pending (end of stream).
    pub fn finish(&mut self, out: &mut Vec<RawEntry>) {
        out.append(&mut self.pending);
    }

    /// Entries held back right now (a chain of prefixes; tests and metrics).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn e(k: &[u8], ts: u64) -> RawEntry {
        RawEntry {
            user_key: Bytes::copy_from_slice(k),
            commit_ts: ts,
            expire_at_ms: 0,
            tombstone: false,
            value: Bytes::new(),
        }
    }

    fn run(keys: &[&[u8]], ts: u64) -> Vec<Vec<u8>> {
        let mut r = Reorder::default();
        let mut out = Vec::new();
        for k in keys {
            r.push(e(k, ts), &mut out);
            assert!(r.pending() <= 4);
        }
        r.finish(&mut out);
        out.iter().map(|x| x.user_key.to_vec()).collect()
    }

    fn sorted_encoded(keys: &[&[u8]], ts: u64) -> Vec<Vec<u8>> {
        let mut v: Vec<RawEntry> = keys.iter().map(|k| e(k, ts)).collect();
        v.sort_by(cmp_encoded);
        v.iter().map(|x| x.user_key.to_vec()).collect()
    }

    #[test]
    fn prefix_chains_come_out_in_encoded_order() {
        let ts = 0x0190_0000_0000_0001;
        let keys: [&[u8]; 7] = [b"a", b"a\0", b"a\0\0", b"ab", b"b", b"user1", b"user10"];
        let got = run(&keys, ts);
        assert_eq!(got, sorted_encoded(&keys, ts));
        assert_eq!(got[0], b"a\0\0".to_vec());
    }

    #[test]
    fn a_key_above_the_inverted_suffix_keeps_user_order() {
        // With ts = 0, !ts = ff…ff: `a` ‖ ff… sorts after `a\xfe` but before nothing else.
        let keys: [&[u8]; 3] = [b"a", b"a\xfe", b"a\xff\xff\xff\xff\xff\xff\xff\xff\x01"];
        assert_eq!(run(&keys, 0), sorted_encoded(&keys, 0));
    }

    #[test]
    fn encoded_below_is_the_joined_comparison() {
        let words: [&[u8]; 8] = [
            b"",
            b"a",
            b"ab",
            b"a\0",
            b"b",
            b"a\xff",
            b"\x00",
            b"\xff\xff",
        ];
        for ts in [0, 1, 0x0190_0000_0000_0001, u64::MAX - 1, u64::MAX] {
            let suffix = (!ts).to_be_bytes();
            for uk in words {
                let entry = e(uk, ts);
                let encoded = [uk, &suffix[..]].concat();
                for key in words.iter().map(|w| w.to_vec()).chain([
                    [uk, &suffix[..]].concat(),
                    [uk, &suffix[..7]].concat(),
                    [uk, &suffix[..], b"x"].concat(),
                    [uk, &[suffix[0].wrapping_add(1)]].concat(),
                ]) {
                    assert_eq!(
                        encoded_below(&entry, &key),
                        encoded.as_slice() < key.as_slice(),
                        "{uk:?} ts {ts:#x} vs {key:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn random_sets_match_a_full_sort() {
        let mut seed = 7u64;
        for _ in 0..200 {
            let mut keys: Vec<Vec<u8>> = (0..20)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let len = (seed >> 60) as usize % 4;
                    (0..len)
                        .map(|i| [0u8, 1, 0xfe, 0xff][(seed >> (i * 2 + 8)) as usize & 3])
                        .collect()
                })
                .collect();
            keys.sort();
            keys.dedup();
            let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            for ts in [0, 1, 0x0190_0000_0000_0001, u64::MAX - 1] {
                assert_eq!(run(&refs, ts), sorted_encoded(&refs, ts));
            }
        }
    }
}
