//! Sources: where MVCC entries come from — snapshot files here; a live cluster's shards are
//! built by the `live` crate on the same [`Shard`] interface.
//!
//! Every source yields, per shard, entries in ascending encoded-key order. [`merge`] joins
//! the shards into one ordered stream and `visibility` keeps, for each user key, only the
//! version a reader at the read timestamp would see. Everything after that is shared.

pub mod merge;
pub mod snapshot;
pub(crate) mod visibility;

use elastickv_backup_format::keyspace::{route, Family};
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
    /// Every entry, except that a source may leave out versions of the `skip` families
    /// (see [`SkipFamilies`]). The default leaves nothing out: the dispatcher drops those
    /// versions anyway, this only lets a source do it where it is cheaper.
    fn scan_skipping(&self, skip: SkipFamilies) -> Result<ShardStream, crate::error::Error> {
        let _ = skip;
        self.scan(&[])
    }
    /// Rough size in bytes, for progress and work splitting.
    fn size_hint(&self) -> u64 {
        0
    }
}

/// Key families no enabled adapter reads (internal families, disabled adapters, families an
/// adapter ignores under its options), which a snapshot's scanner threads drop before the
/// merge. Every version of such a key would otherwise go through the merge, the visibility
/// filter and the dispatcher on the one decode thread, for nothing: on `gen` data that is
/// a GSI row per order and four SQS index records per message, stretches of input during
/// which the workers had no file to write.
///
/// Families, not prefixes: a family's prefix can begin another family's (`!lst|meta|` and
/// `!lst|meta|d|`), so a key is matched by [`route`], the dispatcher's own lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipFamilies(u64);

impl SkipFamilies {
    /// This set plus `f`.
    pub fn with(self, f: Family) -> Self {
        SkipFamilies(self.0 | Self::bit(f))
    }

    /// Whether nothing is skipped.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `f` is skipped.
    pub fn contains(self, f: Family) -> bool {
        self.0 & Self::bit(f) != 0
    }

    /// Whether `key` (a user key, or an encoded one: only its prefix is read) belongs to a
    /// skipped family. Keys matching no family are kept (the dispatcher counts them).
    pub fn drops(self, key: &[u8]) -> bool {
        !self.is_empty() && route(key).is_some_and(|r| self.contains(r.family))
    }

    fn bit(f: Family) -> u64 {
        1u64 << (f as u8 % 64)
    }
}

// A family per bit: `Txn` is the last variant.
const _: () = assert!((Family::Txn as u8) < 64);
