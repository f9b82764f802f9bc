//! The seven Redis types of a dump and where each lives under `redis/db_<n>/`
//! (docs/format/40-redis.md §4).

use elastickv_backup_dumptree::redis::TypeDir;

/// A Redis type as the dump stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `strings/<seg>.bin` (+ `strings_ttl.jsonl`).
    String,
    /// `hll/<seg>.bin` (+ `hll_ttl.jsonl`).
    Hll,
    /// `hashes/<seg>.json`.
    Hash,
    /// `lists/<seg>.json`.
    List,
    /// `sets/<seg>.json`.
    Set,
    /// `zsets/<seg>.json`.
    Zset,
    /// `streams/<seg>.jsonl`.
    Stream,
}

impl Kind {
    /// Every kind, in restore order (the decoder's own output order).
    pub const ALL: [Kind; 7] = [
        Kind::String,
        Kind::Hll,
        Kind::Hash,
        Kind::List,
        Kind::Set,
        Kind::Zset,
        Kind::Stream,
    ];

    /// Subdirectory of `redis/db_<n>/`.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::String => "strings",
            Kind::Hll => "hll",
            Kind::Hash => "hashes",
            Kind::List => "lists",
            Kind::Set => "sets",
            Kind::Zset => "zsets",
            Kind::Stream => "streams",
        }
    }

    /// File-name suffix of one key's file.
    pub fn ext(self) -> &'static str {
        match self {
            Kind::String | Kind::Hll => ".bin",
            Kind::Stream => ".jsonl",
            _ => ".json",
        }
    }

    /// TTL sidecar beside the subdirectory, for the kinds whose files cannot carry one.
    pub fn sidecar(self) -> Option<&'static str> {
        match self {
            Kind::String => Some("strings_ttl.jsonl"),
            Kind::Hll => Some("hll_ttl.jsonl"),
            _ => None,
        }
    }

    /// Where the shared dump-tree reader finds this kind's files.
    pub fn layout(self) -> TypeDir {
        TypeDir {
            dir: self.dir(),
            ext: self.ext(),
            sidecar: self.sidecar(),
        }
    }

    /// Position in [`Kind::ALL`] (for per-kind counters).
    pub fn index(self) -> usize {
        self as usize
    }
}
