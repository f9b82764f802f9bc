//! elastickv's storage layout, the one place the engine learns it from.
//!
//! Why a crate of its own: the same bytes are read by the snapshot scanner and the live
//! source, and written by `encode`, the generators and the loopback server. When each of
//! them carried its own copy of a prefix or a magic number, a change reached some and not
//! others. This crate holds the layout only — no I/O policy, no rendering — and depends on
//! nothing in the workspace, so every other crate can build on it.
//!
//! - [`keyspace`]: the adapters, the key families and the prefix route table that says which
//!   adapter owns a user key (docs/format/00-container.md §3).
//! - [`keys`]: the key parts that are not one family — the top-level namespaces, the live
//!   route catalog's keys, the store's internal rows.
//! - [`container`]: the `.fsm` file — the bare `EKVPBBL1` payload and the runtime's
//!   `EKVTHLC1`/`EKVTHLC2` wrapper with its CRC32C footer (docs/format/00-container.md §1–2).
//! - [`cover`]: the key prefixes that cover one adapter's keys, for scans narrowed to it.
//! - [`mvcc`]: one stored row → one MVCC version ([`RawEntry`]), the unit every source
//!   yields and every adapter reads.
//! - [`values`]: stored values that are protobuf messages (DynamoDB schemas and items),
//!   written with Go's deterministic marshalling.

#![warn(missing_docs)]

pub mod container;
pub mod cover;
pub mod keys;
pub mod keyspace;
pub mod mvcc;
pub mod values;

pub use cover::adapter_prefixes;
pub use keyspace::{has_prefix, route, AdapterKind, Family, Route};
pub use mvcc::{Entry, RawEntry};
