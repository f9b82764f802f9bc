//! A live cluster as a source: a point-in-time dump over gRPC (docs/format/50-live-cluster.md).
//!
//! One [`Shard`](elastickv_backup_engine::sources::Shard) per Raft group. Each shard pages through its group
//! with keys-only scans at the pinned `read_ts` (the authoritative enumeration), fetches
//! values, drops stale copies the group does not own, and reorders the keys into encoded-key
//! order, so everything downstream (merge, visibility, adapters, sinks) is shared with the
//! snapshot path.

pub mod abort;
pub mod client;
pub use elastickv_backup_engine::error::live as error;
pub mod limits;
pub(crate) mod narrow;
pub mod pin;
pub mod reorder;
pub(crate) mod retry;
pub mod route_key;
pub mod routes;
pub mod scan;
pub mod scopes;
pub(crate) mod session;
pub(crate) mod shard;
pub mod signals;
pub mod tls;
pub mod topology;

pub use error::LiveError;
pub use session::{LiveConfig, LiveSession};
