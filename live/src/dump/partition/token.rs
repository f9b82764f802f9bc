//! The pin token of a partitioned dump: `DIR/.elastickv-backup-job/token.json`, everything a
//! partition or `dump finish` needs that only `dump begin` could learn — the pin (token,
//! `read_ts`, the `BeginBackup` baseline, the catalog version), the seeds, the output options
//! and the partition plan. Written once, mode 0600 (the pin token lets its holder renew or
//! end that pin; it is not the admin token), never part of the dump.

use super::error::PartitionError;
use super::plan::Plan;
use super::JOB_DIR;
use crate::dump::resume::journal::{
    producer_version, write_durably, ExpectedRecord, OptionsRecord,
};
use crate::source::session::HeldPin;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_proto::wire::ScopeKeyCount;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The token file's name inside the job directory.
pub const TOKEN_FILE: &str = "token.json";
/// Token layout version this build writes and reads.
pub const FORMAT: u32 = 1;

/// The whole token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// The producer version that began the job; partitions of another version are refused
    /// (their output bytes could differ from a single-process dump's).
    pub producer_version: String,
    /// Hex SHA-256 of the pin token: the job's id, and MANIFEST.json's `pin_token_sha256`.
    pub backup_id: String,
    /// Seed addresses (comma-separated), used when a step gets no --address.
    pub address: String,
    /// `--group-endpoint` entries given to `begin`.
    pub group_endpoints: BTreeMap<u64, String>,
    /// The pinned read timestamp.
    pub read_ts: u64,
    /// The pin token, hex.
    pub pin_token: String,
    /// Catalog version at `begin`; a change fails every partition.
    pub catalog_version: u64,
    /// Pin TTL requested at `begin`; each partition renews with it.
    pub ttl_ms: u64,
    /// When `begin` took the pin (Unix ms): with `ttl_ms`, when it lapses unless renewed.
    pub pinned_at_unix_ms: u64,
    /// The `BeginBackup` baseline (it cannot be asked for again).
    pub expected_keys: Vec<ExpectedRecord>,
    /// Output options every partition writes with.
    pub options: OptionsRecord,
    /// Who dumps what.
    pub plan: Plan,
}

/// Hex SHA-256 of a pin token (the job id).
pub fn backup_id(pin_token: &[u8]) -> String {
    hex::encode(Sha256::digest(pin_token))
}

impl Token {
    /// A token for the pin `held`, taken with `ttl_ms` from the seeds `address`.
    pub fn new(
        address: &str,
        group_endpoints: BTreeMap<u64, String>,
        ttl_ms: u64,
        held: &HeldPin,
        opts: &DecodeOptions,
        plan: Plan,
    ) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Token {
            format: FORMAT,
            producer_version: producer_version(),
            backup_id: backup_id(&held.token),
            address: address.to_string(),
            group_endpoints,
            read_ts: held.read_ts,
            pin_token: hex::encode(&held.token),
            catalog_version: held.catalog_version,
            ttl_ms,
            pinned_at_unix_ms: now,
            expected_keys: held.expected.iter().map(ExpectedRecord::from).collect(),
            options: OptionsRecord::from_options(opts),
            plan,
        }
    }

    /// The pin to attach to.
    pub fn held_pin(&self) -> Result<HeldPin, Error> {
        Ok(HeldPin {
            token: self.pin_token_bytes()?,
            read_ts: self.read_ts,
            expected: self.expected_keys.iter().map(ScopeKeyCount::from).collect(),
            catalog_version: self.catalog_version,
        })
    }

    /// The raw pin token.
    pub fn pin_token_bytes(&self) -> Result<Vec<u8>, Error> {
        hex::decode(&self.pin_token).map_err(|_| {
            Error::from(PartitionError::BadToken {
                path: TOKEN_FILE.into(),
                why: "pin_token is not hex".into(),
            })
        })
    }

    /// Writes the token into `job_dir` (atomically, durably, mode 0600).
    pub fn save(&self, job_dir: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Internal(format!("pin token: {e}")))?;
        write_durably(job_dir, TOKEN_FILE, &bytes)
    }

    /// Reads and checks a token file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bad = |why: String| {
            Error::from(PartitionError::BadToken {
                path: path.display().to_string(),
                why,
            })
        };
        let raw = match std::fs::read(path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(format!(
                    "not found: `dump begin --output DIR` writes it as DIR/{JOB_DIR}/{TOKEN_FILE} (is the shared volume mounted here? has `dump finish` already run?)"
                )))
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let t: Token = serde_json::from_slice(&raw)
            .map_err(|e| bad(format!("not a pin token of `dump begin`: {e}")))?;
        if t.format != FORMAT {
            return Err(bad(format!(
                "token format {} is not {FORMAT}; run every step with the same elastickv-backup version",
                t.format
            )));
        }
        if t.producer_version != producer_version() {
            return Err(bad(format!(
                "written by {}, this is {}; run every step of a partitioned dump with the same version (output bytes may differ between versions)",
                t.producer_version,
                producer_version()
            )));
        }
        if t.plan.shares.len() != t.plan.partitions as usize {
            return Err(bad(
                "the plan's shares do not match its partition count".into()
            ));
        }
        if backup_id(&t.pin_token_bytes()?) != t.backup_id {
            return Err(bad("backup_id does not match pin_token".into()));
        }
        Ok(t)
    }

    /// The output options recorded at `begin`.
    pub fn options(&self) -> Result<DecodeOptions, Error> {
        self.options.to_options()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        let held = HeldPin {
            token: b"pin".to_vec(),
            read_ts: 42,
            expected: vec![ScopeKeyCount {
                scope_id: "s3/b".into(),
                key_count: 3,
                applied_index_at_count: 7,
            }],
            catalog_version: 5,
        };
        let opts = DecodeOptions::default();
        let plan = Plan::balance(&held.expected, &opts, 2).unwrap();
        Token::new("127.0.0.1:1", BTreeMap::new(), 60_000, &held, &opts, plan)
    }

    #[test]
    fn round_trips_and_keeps_the_pin() {
        let t = tempfile::tempdir().unwrap();
        let tok = token();
        tok.save(t.path()).unwrap();
        let back = Token::load(&t.path().join(TOKEN_FILE)).unwrap();
        assert_eq!(back, tok);
        let held = back.held_pin().unwrap();
        assert_eq!((held.token.as_slice(), held.read_ts), (&b"pin"[..], 42));
        assert_eq!(held.expected[0].key_count, 3);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.path().join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn refuses_missing_foreign_and_tampered_tokens() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join(TOKEN_FILE);
        let e = Token::load(&f).unwrap_err().to_string();
        assert!(e.contains("dump begin"), "{e}");
        std::fs::write(&f, b"{}").unwrap();
        assert!(Token::load(&f).is_err());
        let mut tok = token();
        tok.producer_version = "elastickv-backup/0.0.0".into();
        tok.save(t.path()).unwrap();
        let e = Token::load(&f).unwrap_err().to_string();
        assert!(e.contains("same version"), "{e}");
        let mut tok = token();
        tok.pin_token = hex::encode(b"other");
        tok.save(t.path()).unwrap();
        assert!(Token::load(&f)
            .unwrap_err()
            .to_string()
            .contains("backup_id"));
    }
}
