//! Sources: where MVCC entries come from — snapshot files now, a live cluster later.
//!
//! Every source yields, per shard, entries in ascending encoded-key order. [`merge`] joins
//! the shards into one ordered stream and [`visibility`] keeps, for each user key, only the
//! version a reader at the read timestamp would see. Everything after that is shared.

pub mod live;
pub mod merge;
pub mod snapshot;
pub mod visibility;

use bytes::Bytes;

/// One MVCC version of one user key, as read from a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The user key (the internal key, e.g. `!redis|str|k`) without the timestamp suffix.
    pub user_key: Bytes,
    /// Commit timestamp (HLC: physical ms << 16 | logical).
    pub commit_ts: u64,
    /// MVCC expiry, Unix ms; 0 = none.
    pub expire_at_ms: u64,
    /// Delete marker.
    pub tombstone: bool,
    /// The value body (after the 9-byte value header).
    pub value: Bytes,
}

/// A visible entry: what adapters receive.
pub type Entry = RawEntry;

/// A shard's ordered entry stream.
pub type ShardStream = Box<dyn Iterator<Item = Result<RawEntry, crate::error::Error>> + Send>;

/// One shard of a source that can be scanned (possibly several times: an index pass over a
/// few key families, then the full pass).
pub trait Shard: Send + Sync {
    /// A human-readable name for errors and progress (file path, group id).
    fn name(&self) -> String;
    /// The read timestamp for visibility (snapshot: its `last_commit_ts`).
    fn read_ts(&self) -> u64;
    /// Entries whose user key starts with one of `prefixes` (all entries when empty),
    /// in ascending encoded-key order.
    fn scan(&self, prefixes: &[&'static [u8]]) -> Result<ShardStream, crate::error::Error>;
    /// Rough size in bytes, for progress and work splitting.
    fn size_hint(&self) -> u64 {
        0
    }
}
