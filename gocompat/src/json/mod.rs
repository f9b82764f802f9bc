//! Go's `encoding/json` decoding rules, in one reader.
//!
//! Upstream writes and reads its stored records and its dump files with `encoding/json`, and
//! what Go's decoder accepts is observable in a dump: a record Go decodes must decode here,
//! one it refuses must be refused, with the same values. serde_json differs on exactly the
//! inputs that matter (it refuses invalid UTF-8 and lone surrogates, stops at 128 levels of
//! nesting, has no case-insensitive field matching), so every JSON reader of the engine goes
//! through this module:
//!
//! - [`Doc`] — a cursor over one document for streaming, field-by-field decoding (SQS
//!   records, raw-message maps, base64 `[]byte` fields);
//! - [`parse`] / [`JVal`] plus the `set_*` / [`for_fields`] helpers — a tree in document order
//!   for records decoded into fields that may already hold values (S3 bucket and manifest
//!   records, dump sidecars);
//! - [`fold_name`] / [`field_index`] — Go's member-name matching;
//! - [`compact_into`], [`next_value`], [`unquote`] — scanner-level helpers for the encoder.

mod doc;
mod error;
mod fold;
mod text;
mod value;

pub use doc::{Doc, RawMembers};
pub use error::JsonError;
pub use fold::{field_index, fold_name};
pub use text::{compact_into, next_value, plain_run, plain_run_html, unquote, utf8_len};
pub use value::{
    for_fields, parse, set_bool, set_i64, set_slice, set_str, set_u64, type_err, JVal,
};
