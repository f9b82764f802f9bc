//! elastickv-backup-live: a point-in-time dump of a running elastickv cluster.
//!
//! Why a crate of its own: everything that talks to a live cluster — the gRPC clients and
//! TLS, the cluster-wide pin (BeginBackup / RenewBackup / EndBackup), the route table and
//! its changes, the keys-only baseline, the per-group paged scans with retries and limits —
//! and the jobs that write a pinned session through the engine's pipeline (whole, resumable,
//! partitioned across processes). The engine knows nothing of it: a live session is handed
//! to the pipeline as ordinary [`Shard`](elastickv_backup_engine::sources::Shard)s, so merge,
//! visibility, adapters and sinks are the snapshot path's own.
//!
//! * [`source`]: the session and its shards (docs/format/50-live-cluster.md);
//! * [`dump`]: the jobs — `write`, `resume`, `partition`.
//!
//! Its errors ([`LiveError`](source::LiveError), the partition and preflight errors) are
//! defined in the engine's `error` module, because they travel through the pipeline inside
//! the engine's `Error`; `LiveError::is_resumable` decides whether `dump --resume` can
//! finish a failed dump.

#![warn(missing_docs)]

pub mod dump;
pub mod source;
