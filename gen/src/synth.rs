//! What the synthetic (`gen`) families share: the clock every version is placed on, the
//! version history a key can have (live, updated, deleted), and sizing by sample.

use super::rng::Rng;
use super::version::Version;
use super::EPOCH_MS;

/// The snapshot's read time: every generated version is at or before it.
pub const SNAP_MS: u64 = EPOCH_MS;

/// `last_commit_ts` of every generated shard.
pub const SNAP_TS: u64 = SNAP_MS << 16;

/// A far-future expiry (2039) for values that must stay live: a live dump of the same data
/// reads at today's wall clock, so "live" expiries must be later than any real today.
pub const FAR_MS: u64 = EPOCH_MS + 15 * 365 * 86_400_000;

/// An expiry in the past (a day before the snapshot): hidden by MVCC visibility.
pub const PAST_MS: u64 = SNAP_MS - 86_400_000;

/// Age of an older version relative to the newest one.
const OLDER_MS: u64 = 3_600_000;

/// A commit timestamp `ago_ms` before the snapshot, with logical counter `logical`.
pub fn ts_ago(ago_ms: u64, logical: u16) -> u64 {
    (SNAP_MS.saturating_sub(ago_ms) << 16) | u64::from(logical)
}

/// What happened to a key: its version history in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// One version.
    Live,
    /// The newest version and an older one (only the newest is visible).
    Updated,
    /// A tombstone over an older value (the key is absent from the dump).
    Deleted,
}

impl Fate {
    /// Draws a fate: `updated` and `deleted` are per mille.
    pub fn draw(rng: &mut Rng, updated: u64, deleted: u64) -> Fate {
        let x = rng.below(1000);
        if x < deleted {
            Fate::Deleted
        } else if x < deleted + updated {
            Fate::Updated
        } else {
            Fate::Live
        }
    }

    /// Whether the newest version is a value (the key is in the dump).
    pub fn visible(self) -> bool {
        self != Fate::Deleted
    }
}

/// Pushes the versions of one key, newest first: `new` at `ts` (a tombstone when
/// deleted) and, unless live, `old` an hour earlier.
pub fn history(
    out: &mut Vec<Version>,
    key: &[u8],
    fate: Fate,
    ts: u64,
    expire_at_ms: u64,
    new: &[u8],
    old: &[u8],
) {
    match fate {
        Fate::Live => out.push(Version::put(key, ts, expire_at_ms, new)),
        Fate::Updated => {
            out.push(Version::put(key, ts, expire_at_ms, new));
            out.push(Version::put(key, older(ts), expire_at_ms, old));
        }
        Fate::Deleted => {
            out.push(Version::tombstone(key, ts));
            out.push(Version::put(key, older(ts), expire_at_ms, old));
        }
    }
}

/// The timestamp of the version before `ts`.
pub fn older(ts: u64) -> u64 {
    ts.saturating_sub(OLDER_MS << 16)
}

/// How many units fit in `budget` bytes, from the average stored size of the first few
/// units (`unit_bytes(i)` = bytes unit `i` stores). At least one unit when the budget is
/// non-zero.
pub fn count_for(budget: u64, mut unit_bytes: impl FnMut(u64) -> u64) -> u64 {
    if budget == 0 {
        return 0;
    }
    const SAMPLE: u64 = 256;
    let total: u64 = (0..SAMPLE).map(&mut unit_bytes).sum();
    let avg = (total / SAMPLE).max(1);
    (budget / avg).max(1)
}

/// Stored bytes of a unit's versions.
pub fn stored(v: &[Version]) -> u64 {
    v.iter().map(Version::stored_len).sum()
}

/// `YYYY-MM-DD` of a Unix-millisecond time (UTC).
pub fn day(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_histories() {
        assert_eq!(day(EPOCH_MS), "2024-04-29");
        assert!(ts_ago(0, 0) == SNAP_TS && ts_ago(1, 0) < SNAP_TS);
        let mut v = Vec::new();
        history(&mut v, b"k", Fate::Deleted, ts_ago(5, 0), 0, b"n", b"o");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].value[0], 1);
        assert!(v[0].key < v[1].key, "newest first in key order");
        assert_eq!(count_for(1000, |_| 10), 100);
        assert_eq!(count_for(0, |_| 10), 0);
        assert_eq!(count_for(5, |_| 10), 1);
    }
}
