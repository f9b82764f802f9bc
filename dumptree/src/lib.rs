//! elastickv-backup-dumptree: one safe reader of a dump tree, used by encode and restore.
//!
//! Why: `encode` (the tree back to a snapshot) and `restore redis` (the tree into a live
//! server) read the same files — type directories, `KEYMAP.jsonl`, TTL sidecars,
//! collection files — and must agree on what they mean. Reading them in one place keeps
//! the two from drifting apart, keeps the defensive file handling (no symlinks, FIFOs or
//! hard links; see [`fsutil`]) in one place, and keeps memory bounded: names, KEYMAP
//! records and sidecar lines are joined through external sorts, never loaded into maps.
//!
//! This crate depends only on the engine's `encode` (the file-name codec and JSON
//! writers), `extsort` and sort errors, and on the `gocompat` crate; the adapters' encoders
//! in the `reverse` crate and the `restore` crate depend on it, never the other way round.
//!
//! ## What is here
//!
//! * [`fsutil`]: opening files and listing directories of an untrusted tree.
//! * [`json`]: Go `encoding/json` reading of whole values and value streams.
//! * [`keymap`]: `KEYMAP.jsonl` records, a line at a time.
//! * [`redis::names`]: a type directory joined with KEYMAP and its TTL sidecar (encode
//!   and restore); [`redis::collection`]: collection files element by element, and
//!   [`redis::values`] their `<value>`s and scores (encode; restore keeps its faster
//!   tokenizer for now, see `restore/src/redis/json.rs`).
//!
//! ## The other readers of dump trees, and how they would join
//!
//! * `reverse::dynamodb`, `reverse::s3`, `reverse::sqs` walk their subtrees for `encode`,
//!   and `restore dynamodb|s3|sqs` already drive the same walkers (`walk` with a visitor),
//!   so each adapter has one reader — but it lives in `reverse` and speaks
//!   `ReverseError`. To join: move each walker (the visitor trait, the directory walk,
//!   the per-file parsing: `dynamodb/{item,schema}.rs`, `s3/{keymap,objects,values}.rs`,
//!   `sqs/{message,queue}.rs`) to `dumptree/<adapter>/` with [`TreeError`] as the
//!   visitor's error bound (`E: From<TreeError>`), leaving in `reverse` only the record
//!   building (`Stage` rows). `reverse/src/fsutil.rs`, today a shim converting this module's
//!   errors for the walkers' generic visitors, then goes away. Bounded memory is already
//!   theirs (files streamed one at a time; SQS dedup through an external sort); the S3
//!   rename log is the one map that grows with a bucket's renames
//!   (`reverse::s3::keymap::load_bucket_log`) and could use the same sort-and-join as
//!   [`redis::names`] if objects were walked in encoded-name order.
//! * `verify` walks the whole tree itself (`verify/src/dir.rs`: no symlinks or special
//!   files, every regular file hashed on all cores) and checks each adapter's layout
//!   (`verify/src/layout.rs`). It reads bytes, not records, so it would share only the
//!   defensive opening of [`fsutil`] and the layout constants ([`redis::TypeDir`] and
//!   the like for the other adapters), not the record readers.

#![warn(missing_docs)]

pub mod error;
pub mod fsutil;
mod join;
pub mod json;
pub mod keymap;
pub mod redis;

pub use crate::error::{NameError, TreeError};
