//! Partitioned live dumps: one pin, several producer processes (hosts, pods), one dump.
//!
//! `dump begin` pins a cluster-wide read timestamp, keeps the `BeginBackup` baseline, plans
//! the partitions ([`plan`]) and writes a pin token ([`token`]) into the job directory
//! `DIR/.elastickv-backup-job/`. Each `dump --join TOKEN --partition I/N` attaches to that
//! pin (renewing it while it works), writes its share of the dump into a staging directory,
//! moves it into `DIR` and records its file digests and a done marker ([`join`]).
//! `dump finish` checks every partition finished, merges their digests into one CHECKSUMS,
//! writes MANIFEST.json, ends the pin and removes the job directory ([`merge`]). No process
//! stays up between the steps (Kubernetes Jobs), so the pin must outlive the gaps: each
//! partition renews it while it runs, and the TTL chosen at `begin` must cover the time
//! until the last partition starts.
//!
//! **The unit of partitioning is the adapter** (DynamoDB, S3, Redis, SQS), so at most four
//! partitions have work; partitions beyond the number of enabled adapters get an empty share
//! (they attach, check the pin and finish at once). Why not Raft groups: the adapters
//! assemble records across groups and order outputs across them (S3 and Redis KEYMAP.jsonl,
//! DynamoDB bundle numbering, SQS message order), so a group's share of the output is not a
//! separable part of the tree. An adapter's output is: adapters share no state and own
//! disjoint top-level directories (the same reason a resumable dump commits adapter by
//! adapter, see `resume`), which makes the merged tree byte-identical to a
//! single-process dump at the same read timestamp. Adapters are assigned to partitions by
//! the baseline key counts (largest first onto the least-loaded partition), not by order.

pub use elastickv_backup_engine::error::partition as error;
pub mod join;
pub mod merge;
pub mod plan;
pub mod token;

pub use error::PartitionError;

use std::path::{Path, PathBuf};

/// The job directory inside the output root: the token, the partitions' digest lists and
/// done markers, their staging areas. Never part of the dump; `dump finish` removes it.
pub const JOB_DIR: &str = ".elastickv-backup-job";

/// `root/.elastickv-backup-job`.
pub fn job_dir(root: &Path) -> PathBuf {
    root.join(JOB_DIR)
}
