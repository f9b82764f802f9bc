//! Sources: where MVCC entries come from — snapshot files here; a live cluster's shards are
//! built by the `live` crate on the same [`Shard`] interface.
//!
//! Every source yields, per shard, entries in ascending encoded-key order. [`merge`] joins
//! the shards into one ordered stream and `visibility` keeps, for each user key, only the
//! version a reader at the read timestamp would see. Everything after that is shared.

pub mod merge;
pub mod snapshot;
pub(crate) mod visibility;

pub use elastickv_backup_format::mvcc::{Entry, RawEntry};

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
