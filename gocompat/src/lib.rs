//! Go standard-library behaviour that elastickv-backup must reproduce bit for bit.
//!
//! The dump format is defined by a Go program: timestamps are written and read with
//! `time.RFC3339Nano`, JSON with `encoding/json`, binary fields with `encoding/base64`.
//! Wherever the engine accepts or produces such text it must agree with Go exactly —
//! including Go's leniencies — so each rule lives here once, with tests that pin the Go
//! behaviour, instead of in every module that needs it. This crate depends on nothing else
//! in the workspace.
//!
//! - [`json`]: the one Go JSON reader (cursor and tree), member-name folding, compaction;
//! - [`base64`]: Go's lenient base64 decoders;
//! - [`rfc3339`]: the RFC 3339 parser of `time.Parse(RFC3339Nano)`.
//!
//! Go's JSON *writer* rules (HTML-safe escaping, number formats) are still in the engine's
//! `encode/json.rs`.

pub mod base64;
pub mod json;
pub mod rfc3339;
