//! The Redis part of a dump tree, `redis/db_<n>/` (docs/format/40-redis.md §4): where each
//! type lives, and the joined listing of a type directory ([`names`]).

pub mod collection;
pub mod names;
pub mod values;

/// Where one Redis type lives in a database directory.
///
/// Why a value rather than an enum: `encode` and `restore` each have their own type enum
/// (with their own per-type behaviour); both map onto these seven layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeDir {
    /// Subdirectory of `redis/db_<n>/`.
    pub dir: &'static str,
    /// File-name suffix of one key's file.
    pub ext: &'static str,
    /// TTL sidecar beside the subdirectory (strings and HLLs only: their files cannot
    /// carry an expiry).
    pub sidecar: Option<&'static str>,
}

/// `strings/<seg>.bin` + `strings_ttl.jsonl`.
pub const STRINGS: TypeDir = TypeDir {
    dir: "strings",
    ext: ".bin",
    sidecar: Some("strings_ttl.jsonl"),
};
/// `hll/<seg>.bin` + `hll_ttl.jsonl`.
pub const HLL: TypeDir = TypeDir {
    dir: "hll",
    ext: ".bin",
    sidecar: Some("hll_ttl.jsonl"),
};
/// `hashes/<seg>.json`.
pub const HASHES: TypeDir = TypeDir {
    dir: "hashes",
    ext: ".json",
    sidecar: None,
};
/// `lists/<seg>.json`.
pub const LISTS: TypeDir = TypeDir {
    dir: "lists",
    ext: ".json",
    sidecar: None,
};
/// `sets/<seg>.json`.
pub const SETS: TypeDir = TypeDir {
    dir: "sets",
    ext: ".json",
    sidecar: None,
};
/// `zsets/<seg>.json`.
pub const ZSETS: TypeDir = TypeDir {
    dir: "zsets",
    ext: ".json",
    sidecar: None,
};
/// `streams/<seg>.jsonl`.
pub const STREAMS: TypeDir = TypeDir {
    dir: "streams",
    ext: ".jsonl",
    sidecar: None,
};
