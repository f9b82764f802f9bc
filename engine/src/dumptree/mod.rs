//! One safe reader of a dump tree, used by encode and restore.
//!
//! Why: `encode` (the tree back to a snapshot) and `restore redis` (the tree into a live
//! server) read the same files — type directories, `KEYMAP.jsonl`, TTL sidecars,
//! collection files — and must agree on what they mean. Reading them in one place keeps
//! the two from drifting apart, keeps the defensive file handling (no symlinks, FIFOs or
//! hard links; see [`fsutil`]) in one place, and keeps memory bounded: names, KEYMAP
//! records and sidecar lines are joined through external sorts, never loaded into maps.
//!
//! This module depends only on `error`, `encode` (the file-name codec), `extsort` and
//! the `gocompat` crate; the adapters' encoders in `reverse` depend on it, never the other
//! way round.

pub(crate) mod fsutil;
mod join;
pub mod json;
pub(crate) mod keymap;
pub mod redis;

pub use crate::error::dumptree::{NameError, TreeError};
