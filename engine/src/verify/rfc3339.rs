//! `wall_time_iso` must parse as Go's `time.Parse(time.RFC3339Nano, …)` would accept it
//! (spec 00 §6.4): the one parser lives in `elastickv-backup-gocompat`.

/// True if Go's `time.Parse(time.RFC3339Nano, s)` accepts `s`.
pub use elastickv_backup_gocompat::rfc3339::valid;
