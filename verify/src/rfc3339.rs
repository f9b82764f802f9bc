//! `wall_time_iso` must parse as Go's `time.Parse(time.RFC3339Nano, …)` would accept it
//! (docs/format/00-container.md): the one parser lives in `elastickv-backup-gocompat`.

/// True if Go's `time.Parse(time.RFC3339Nano, s)` accepts `s`.
pub use elastickv_backup_gocompat::rfc3339::valid;
