//! elastickv-backup: a parallel logical-backup engine for elastickv.
//!
//! The module tree is the pipeline:
//!
//! ```text
//! sources  (snapshot files; a live cluster's shards come from the live crate)
//!                                          → per-shard MVCC entries in key order
//!   └ merge + visibility                   → one ordered stream of visible entries
//! decode   (dispatcher + one module per adapter) → logical records
//! encode   (JSON/filenames/KEYMAP/MANIFEST/CHECKSUMS, worker pool) → file bytes
//! sinks    (directory; archive)            → files, hashed as written
//! ```
//!
//! [`pipeline`] wires the stages together. Above the engine, each a crate of its own
//! (docs/ARCHITECTURE.md): the command line (the `elastickv-backup` package), `live` (live
//! dumps), `verify`, `reverse` (encode), `dumptree`, `restore`, `gen` (synthetic data) and the
//! loopback cluster.

#![warn(missing_docs)]

pub mod aws_http;
pub mod decode;
pub mod encode;
pub mod error;
pub mod extsort;
pub mod options;
pub mod pipeline;
pub mod progress;
pub mod sinks;
pub mod sources;

pub use error::Error;
