//! The resume journal: `<output>/.elastickv-backup-resume/journal.json`, what an interrupted
//! resumable dump needs to finish under the same pin — the pin token and `read_ts`, the
//! baseline `BeginBackup` returned, the catalog version, the output options, and the state of
//! each adapter unit. It is replaced atomically (temp file, fsync, rename, fsync of the
//! directory) after every state change, is mode 0600 (the pin token lets its holder renew or
//! release that pin), and is never part of the dump: not in CHECKSUMS, deleted on success.

use crate::source::session::HeldPin;
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::{DdbLayout, DecodeOptions, Scope};
use elastickv_backup_engine::sinks::DigestKind;
use elastickv_backup_proto::wire::ScopeKeyCount;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The journal directory inside the output root.
pub const JOURNAL_DIR: &str = ".elastickv-backup-resume";
const JOURNAL_FILE: &str = "journal.json";
/// Journal layout version this build writes and reads.
pub const FORMAT: u32 = 1;

/// Where a unit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Not written yet (or interrupted: redone from scratch).
    Pending,
    /// Fully written in staging, digests saved; being moved into the output root.
    Committing,
    /// In the output root, final.
    Done,
}

/// One adapter's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Adapter name (`dynamodb`, `s3`, `redis`, `sqs`).
    pub adapter: String,
    /// Its state.
    pub state: UnitState,
    /// Files it wrote (from its digest list).
    pub files: u64,
    /// Top-level entries it produced (moved from staging into the root on commit).
    pub entries: Vec<String>,
    /// SHA-256 of its digest list file, checked when the list is read back.
    pub sums_sha256: String,
}

/// The output options, recorded so a resume writes exactly what the first run would have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionsRecord {
    /// Enabled adapters, by name.
    pub adapters: Vec<String>,
    /// `--scope` restrictions: (adapter, hex of the name bytes).
    pub scopes: Vec<(String, String)>,
    /// `--include-incomplete-uploads`.
    pub include_incomplete_uploads: bool,
    /// `--include-orphans`.
    pub include_orphans: bool,
    /// `--preserve-sqs-visibility`.
    pub preserve_sqs_visibility: bool,
    /// `--include-sqs-side-records`.
    pub include_sqs_side_records: bool,
    /// `--rename-collisions`.
    pub rename_collisions: bool,
    /// `--dynamodb-bundle-mode jsonl` part size; `None` = per-item.
    pub dynamodb_jsonl_part_bytes: Option<u64>,
    /// `--include-expired`.
    pub include_expired: bool,
    /// `--cluster-id`.
    pub cluster_id: String,
    /// `--checksums` (`sha256`, `blake3`); absent in journals and tokens written before it
    /// existed, which were all SHA-256.
    #[serde(default = "sha256_name")]
    pub checksums: String,
}

fn sha256_name() -> String {
    "sha256".into()
}

fn digest_name(kind: DigestKind) -> &'static str {
    match kind {
        DigestKind::Sha256 => "sha256",
        DigestKind::Blake3 => "blake3",
    }
}

fn adapter(name: &str) -> Result<AdapterKind, Error> {
    AdapterKind::from_name(name)
        .ok_or_else(|| journal_error(format!("resume journal: unknown adapter {name:?}")))
}

impl OptionsRecord {
    /// The record of `o`.
    pub fn from_options(o: &DecodeOptions) -> Self {
        OptionsRecord {
            adapters: o.adapters.iter().map(|a| a.name().to_string()).collect(),
            scopes: o
                .scopes
                .iter()
                .map(|s| (s.adapter.name().to_string(), hex::encode(&s.name)))
                .collect(),
            include_incomplete_uploads: o.include_incomplete_uploads,
            include_orphans: o.include_orphans,
            preserve_sqs_visibility: o.preserve_sqs_visibility,
            include_sqs_side_records: o.include_sqs_side_records,
            rename_collisions: o.rename_collisions,
            dynamodb_jsonl_part_bytes: match o.dynamodb_layout {
                DdbLayout::PerItem => None,
                DdbLayout::Jsonl { part_bytes } => Some(part_bytes),
            },
            include_expired: o.include_expired,
            cluster_id: o.cluster_id.clone(),
            checksums: digest_name(o.checksums).into(),
        }
    }

    /// The options this record describes.
    pub fn to_options(&self) -> Result<DecodeOptions, Error> {
        let mut scopes = Vec::with_capacity(self.scopes.len());
        for (a, name) in &self.scopes {
            scopes.push(Scope {
                adapter: adapter(a)?,
                name: hex::decode(name).map_err(|_| {
                    journal_error(format!("resume journal: scope name {name:?} is not hex"))
                })?,
            });
        }
        Ok(DecodeOptions {
            adapters: self
                .adapters
                .iter()
                .map(|a| adapter(a))
                .collect::<Result<_, _>>()?,
            scopes,
            include_incomplete_uploads: self.include_incomplete_uploads,
            include_orphans: self.include_orphans,
            preserve_sqs_visibility: self.preserve_sqs_visibility,
            include_sqs_side_records: self.include_sqs_side_records,
            rename_collisions: self.rename_collisions,
            dynamodb_layout: match self.dynamodb_jsonl_part_bytes {
                None => DdbLayout::PerItem,
                Some(part_bytes) => DdbLayout::Jsonl { part_bytes },
            },
            include_expired: self.include_expired,
            cluster_id: self.cluster_id.clone(),
            checksums: [DigestKind::Sha256, DigestKind::Blake3]
                .into_iter()
                .find(|k| digest_name(*k) == self.checksums)
                .ok_or_else(|| {
                    journal_error(format!(
                        "resume journal: unknown checksum digest {:?}",
                        self.checksums
                    ))
                })?,
        })
    }
}

/// One baseline count, as `BeginBackup` returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedRecord {
    /// `dynamodb/<table>` etc.
    pub scope_id: String,
    /// Keys counted at `read_ts`.
    pub key_count: u64,
    /// Applied index of the counted group.
    pub applied_index_at_count: u64,
}

impl From<&ScopeKeyCount> for ExpectedRecord {
    fn from(e: &ScopeKeyCount) -> Self {
        ExpectedRecord {
            scope_id: e.scope_id.clone(),
            key_count: e.key_count,
            applied_index_at_count: e.applied_index_at_count,
        }
    }
}

impl From<&ExpectedRecord> for ScopeKeyCount {
    fn from(e: &ExpectedRecord) -> Self {
        ScopeKeyCount {
            scope_id: e.scope_id.clone(),
            key_count: e.key_count,
            applied_index_at_count: e.applied_index_at_count,
        }
    }
}

/// The whole journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// The producer version that started the dump; a resume by another version is refused
    /// (its output bytes could differ).
    pub producer_version: String,
    /// Seed address of the cluster.
    pub address: String,
    /// The pinned read timestamp.
    pub read_ts: u64,
    /// The pin token, hex (a capability on this pin only; not the admin token).
    pub pin_token: String,
    /// Catalog version at dump start.
    pub catalog_version: u64,
    /// Requested pin TTL.
    pub ttl_ms: u64,
    /// Baseline counts from `BeginBackup`.
    pub expected_keys: Vec<ExpectedRecord>,
    /// Output options.
    pub options: OptionsRecord,
    /// One unit per enabled adapter, in output order.
    pub units: Vec<UnitRecord>,
    /// Runs so far (the first one included).
    pub attempts: u32,
}

/// This build's version string, recorded in and checked against the journal.
pub fn producer_version() -> String {
    concat!("elastickv-backup/", env!("CARGO_PKG_VERSION")).to_string()
}

impl Journal {
    /// A fresh journal for a dump of `opts` under `pin`.
    pub fn new(address: &str, ttl_ms: u64, pin: &HeldPin, opts: &DecodeOptions) -> Self {
        Journal {
            format: FORMAT,
            producer_version: producer_version(),
            address: address.to_string(),
            read_ts: pin.read_ts,
            pin_token: hex::encode(&pin.token),
            catalog_version: pin.catalog_version,
            ttl_ms,
            expected_keys: pin.expected.iter().map(ExpectedRecord::from).collect(),
            options: OptionsRecord::from_options(opts),
            units: AdapterKind::ALL
                .into_iter()
                .filter(|a| opts.enabled(*a))
                .map(|a| UnitRecord {
                    adapter: a.name().to_string(),
                    state: UnitState::Pending,
                    files: 0,
                    entries: Vec::new(),
                    sums_sha256: String::new(),
                })
                .collect(),
            attempts: 1,
        }
    }

    /// The pin to attach to.
    pub fn held_pin(&self) -> Result<HeldPin, Error> {
        Ok(HeldPin {
            token: hex::decode(&self.pin_token)
                .map_err(|_| journal_error("resume journal: pin_token is not hex".into()))?,
            read_ts: self.read_ts,
            expected: self.expected_keys.iter().map(ScopeKeyCount::from).collect(),
            catalog_version: self.catalog_version,
        })
    }

    /// Reads `<root>/.elastickv-backup-resume/journal.json`.
    pub fn load(root: &Path) -> Result<Self, Error> {
        let path = journal_dir(root).join(JOURNAL_FILE);
        let raw = match std::fs::read(&path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Usage(format!(
                    "{}: no resume journal here (the dump was not started with --resumable, already finished, or failed in a way that cannot be resumed)",
                    root.display()
                )))
            }
            Err(e) => return Err(Error::io(path.display(), e)),
        };
        let j: Journal = serde_json::from_slice(&raw).map_err(|e| {
            journal_error(format!(
                "{}: unreadable resume journal: {e}",
                path.display()
            ))
        })?;
        if j.format != FORMAT {
            return Err(journal_error(format!(
                "{}: resume journal format {} is not {FORMAT}",
                path.display(),
                j.format
            )));
        }
        if j.producer_version != producer_version() {
            return Err(journal_error(format!(
                "{}: the interrupted dump was written by {}, this is {}; resume it with the same version (output bytes may differ between versions)",
                path.display(),
                j.producer_version,
                producer_version()
            )));
        }
        Ok(j)
    }

    /// Replaces the journal atomically and durably.
    pub fn save(&self, root: &Path) -> Result<(), Error> {
        let dir = journal_dir(root);
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Internal(format!("resume journal: {e}")))?;
        write_durably(&dir, JOURNAL_FILE, &bytes)
    }

    /// The unit of `kind`.
    pub fn unit_mut(&mut self, kind: AdapterKind) -> Option<&mut UnitRecord> {
        self.units.iter_mut().find(|u| u.adapter == kind.name())
    }
}

/// `<root>/.elastickv-backup-resume`.
pub fn journal_dir(root: &Path) -> PathBuf {
    root.join(JOURNAL_DIR)
}

/// Writes `dir/name` through a temp file, fsync and rename, then fsyncs `dir`, mode 0600.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let tmp = dir.join(format!("{name}.tmp"));
    let fin = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(tmp.display(), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(tmp.display(), e))?;
    std::fs::rename(&tmp, &fin).map_err(|e| Error::io(fin.display(), e))?;
    sync_dir(dir)
}

/// fsync of a directory (makes renames and creations in it durable).
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir.display(), e))
}

/// A damaged or foreign journal (not resumable: start a new dump).
fn journal_error(message: String) -> Error {
    crate::source::LiveError::Journal(message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip() {
        let o = DecodeOptions {
            adapters: vec![AdapterKind::Sqs, AdapterKind::DynamoDb],
            scopes: vec![Scope {
                adapter: AdapterKind::DynamoDb,
                name: b"t\xff1".to_vec(),
            }],
            include_orphans: true,
            dynamodb_layout: DdbLayout::Jsonl { part_bytes: 4096 },
            cluster_id: "c".into(),
            checksums: DigestKind::Blake3,
            ..DecodeOptions::default()
        };
        let r = OptionsRecord::from_options(&o);
        assert_eq!(OptionsRecord::from_options(&r.to_options().unwrap()), r);
        assert_eq!(r.to_options().unwrap().checksums, DigestKind::Blake3);
        assert_ne!(r, OptionsRecord::from_options(&DecodeOptions::default()));
        // A record written before `checksums` existed is SHA-256; an unknown digest is
        // refused.
        let mut v = serde_json::to_value(&r).unwrap();
        v.as_object_mut().unwrap().remove("checksums");
        let old: OptionsRecord = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(old.to_options().unwrap().checksums, DigestKind::Sha256);
        v["checksums"] = "md5".into();
        let odd: OptionsRecord = serde_json::from_value(v).unwrap();
        assert!(odd.to_options().is_err());
    }

    #[test]
    fn save_load_and_refusals() {
        let t = tempfile::tempdir().unwrap();
        let e = Journal::load(t.path()).unwrap_err();
        assert!(e.to_string().contains("no resume journal"), "{e}");
        std::fs::create_dir(journal_dir(t.path())).unwrap();
        let pin = HeldPin {
            token: vec![1, 2, 3],
            read_ts: 42,
            expected: vec![ScopeKeyCount {
                scope_id: "redis/db_0".into(),
                key_count: 7,
                applied_index_at_count: 9,
            }],
            catalog_version: 3,
        };
        let mut j = Journal::new("127.0.0.1:1", 60_000, &pin, &DecodeOptions::default());
        assert_eq!(j.units.len(), 4);
        j.unit_mut(AdapterKind::S3).unwrap().state = UnitState::Done;
        j.save(t.path()).unwrap();
        let back = Journal::load(t.path()).unwrap();
        assert_eq!(back, j);
        let held = back.held_pin().unwrap();
        assert_eq!((held.token, held.read_ts), (vec![1, 2, 3], 42));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(journal_dir(t.path()).join(JOURNAL_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        j.producer_version = "elastickv-backup/0.0.0-other".into();
        j.save(t.path()).unwrap();
        let e = Journal::load(t.path()).unwrap_err();
        assert!(e.to_string().contains("same version"), "{e}");
    }
}
