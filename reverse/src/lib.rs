//! elastickv-backup-reverse: the reverse direction — a dump tree → elastickv's internal
//! key/value entries → a `.fsm` payload (`elastickv-backup encode`). Used to restore through the snapshot path and to
//! prove the format round-trips: encode(decode(x)) == x for every golden case.
//!
//! Each adapter module reads its own subtree of the dump and stages
//! `(user_key, value_body)` records; `writer` sorts them by encoded key and frames the
//! payload stream (its magic is `container::PAYLOAD_MAGIC`), stamping every record with the dump's `last_commit_ts` (from
//! `MANIFEST.json`, or `--last-commit-ts`, which may only raise it).
//!
//! Like upstream's encoder, the records are the ones a *fresh* cluster needs: generation
//! 1 everywhere, index rows regenerated from the data (DynamoDB GSI rows, SQS visibility,
//! age, dedup and sequence rows), nothing that only made sense in the source cluster
//! (SQS group locks and queue tombstones, original generations and upload ids).

#![warn(missing_docs)]

pub mod dynamodb;
pub mod error;
pub(crate) mod fsutil;
pub mod manifest;
pub(crate) mod redis;
pub mod s3;
pub mod sqs;
pub(crate) mod writer;

pub use error::ReverseError;

use elastickv_backup_engine::decode::AdapterKind;
use manifest::InputManifest;
use std::io::Write;
use std::path::PathBuf;
use writer::{FsmWriter, WriteStats};

/// Internal entries produced from a tree: `(user_key, value body)`; MVCC framing is added
/// by the writer.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Where adapters put the records they rebuild: the writer's bounded-memory sorter in a
/// real encode, a plain [`Entries`] vector in unit tests.
pub trait Stage {
    /// Stages one record (`value` is the body without the MVCC header).
    fn add(&mut self, user_key: Vec<u8>, value: Vec<u8>) -> Result<(), ReverseError>;
}

impl Stage for Entries {
    fn add(&mut self, user_key: Vec<u8>, value: Vec<u8>) -> Result<(), ReverseError> {
        self.push((user_key, value));
        Ok(())
    }
}

/// Unpadded base64url: how table, queue and message-id names appear inside storage keys
/// (format's key builders take them already encoded).
pub(crate) fn b64url(raw: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// In-memory budget of the record sorter (bytes) before it spills sorted runs.
pub const DEFAULT_SORT_BUDGET: usize = elastickv_backup_engine::decode::sqs::DEFAULT_SORT_BUDGET;

/// What to encode.
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    /// The dump directory.
    pub input: PathBuf,
    /// Adapters whose subtree is encoded (the others are left out of the payload).
    pub adapters: Vec<AdapterKind>,
    /// Overrides the manifest's `last_commit_ts` (must not be lower).
    pub last_commit_ts: Option<u64>,
    /// Sorter memory budget (bytes).
    pub sort_budget: usize,
}

/// What an encode did.
#[derive(Debug, Clone)]
pub struct EncodeReport {
    /// The timestamp stamped on every record and written to the header.
    pub last_commit_ts: u64,
    /// Records and bytes written.
    pub stats: WriteStats,
}

/// Resolves the commit timestamp: the manifest's, or the override when it is not lower.
fn commit_ts(given: Option<u64>, m: Option<&InputManifest>) -> Result<u64, ReverseError> {
    match (given, m) {
        (Some(t), Some(m)) if t < m.last_commit_ts => Err(ReverseError::CommitTsTooLow {
            given: t,
            manifest: m.last_commit_ts,
        }),
        (Some(t), _) => Ok(t),
        (None, Some(m)) => Ok(m.last_commit_ts),
        (None, None) => Err(ReverseError::Manifest {
            why: "missing: the dump is incomplete, or not a dump (pass --last-commit-ts to encode a tree without one)".into(),
        }),
    }
}

/// Refuses dump modes whose content cannot be turned back into the records it came from.
fn check_modes(m: &InputManifest, adapters: &[AdapterKind]) -> Result<(), ReverseError> {
    if adapters.contains(&AdapterKind::S3) {
        let mode = if m.include_incomplete_uploads {
            Some("include_incomplete_uploads")
        } else if m.include_orphans {
            Some("include_orphans")
        } else {
            None
        };
        if let Some(mode) = mode {
            return Err(ReverseError::Unsupported {
                why: format!(
                    "the dump was written with {mode}: in-flight uploads and orphan blobs cannot be encoded back into S3 records; encode with --adapter without s3, or decode again without that flag"
                ),
            });
        }
    }
    Ok(())
}

/// Reads the tree at `opts.input` and writes its `.fsm` payload to `out` (`out_name`
/// names it in errors). Nothing is written to `out` before the whole tree was read
/// (records are staged first), so a failing tree yields no partial payload.
pub fn encode<W: Write>(
    opts: &EncodeOptions,
    out: W,
    out_name: &str,
) -> Result<EncodeReport, ReverseError> {
    let root = &opts.input;
    // The root itself may be reached through a symlink (the user named it); only what is
    // inside the dump is held to the no-symlink rule.
    if !root.is_dir() {
        return Err(ReverseError::invalid(
            root.display().to_string(),
            "no such dump directory",
        ));
    }
    let manifest = manifest::read(root)?;
    let ts = commit_ts(opts.last_commit_ts, manifest.as_ref())?;
    let m = manifest.unwrap_or_default();
    check_modes(&m, &opts.adapters)?;
    let mut w = FsmWriter::new(ts, opts.sort_budget);
    for a in AdapterKind::ALL {
        if !opts.adapters.contains(&a) {
            continue;
        }
        match a {
            AdapterKind::DynamoDb => dynamodb::encode_into(
                root,
                &dynamodb::Options {
                    jsonl: m.dynamodb_jsonl,
                },
                &mut w,
            )?,
            AdapterKind::Sqs => sqs::encode_into(
                root,
                &sqs::Options {
                    preserve_visibility: m.preserve_sqs_visibility,
                    dedup_budget: (opts.sort_budget / 4).max(1 << 20),
                },
                &mut w,
            )?,
            AdapterKind::S3 => s3::encode_into(root, &mut w)?,
            AdapterKind::Redis => {
                redis::encode_into(root, redis::name_sort_budget(opts.sort_budget), &mut w)?
            }
        }
    }
    let stats = w.finish(out, out_name)?;
    Ok(EncodeReport {
        last_commit_ts: ts,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_format::container::payload_header;

    fn opts(dir: &std::path::Path, ts: Option<u64>) -> EncodeOptions {
        EncodeOptions {
            input: dir.to_path_buf(),
            adapters: AdapterKind::ALL.to_vec(),
            last_commit_ts: ts,
            sort_budget: 1 << 20,
        }
    }

    #[test]
    fn commit_ts_from_manifest_or_override() {
        let d = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        // No manifest: refused unless a timestamp is given.
        let e = encode(&opts(d.path(), None), &mut out, "o").unwrap_err();
        assert!(e.to_string().contains("--last-commit-ts"), "{e}");
        let r = encode(&opts(d.path(), Some(3)), &mut out, "o").unwrap();
        assert_eq!(r.last_commit_ts, 3);
        assert_eq!(out, payload_header(3));
        std::fs::write(
            d.path().join("MANIFEST.json"),
            br#"{"format_version":1,"last_commit_ts":10}"#,
        )
        .unwrap();
        out.clear();
        assert_eq!(
            encode(&opts(d.path(), None), &mut out, "o")
                .unwrap()
                .last_commit_ts,
            10
        );
        assert_eq!(
            encode(&opts(d.path(), Some(11)), &mut Vec::new(), "o")
                .unwrap()
                .last_commit_ts,
            11
        );
        let e = encode(&opts(d.path(), Some(9)), &mut Vec::new(), "o").unwrap_err();
        assert!(matches!(
            e,
            ReverseError::CommitTsTooLow {
                given: 9,
                manifest: 10
            }
        ));
    }

    #[test]
    fn refuses_s3_modes_it_cannot_rebuild() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("MANIFEST.json"),
            br#"{"format_version":1,"exclusions":{"include_orphans":true}}"#,
        )
        .unwrap();
        let e = encode(&opts(d.path(), None), &mut Vec::new(), "o").unwrap_err();
        assert!(e.to_string().contains("include_orphans"), "{e}");
        let mut o = opts(d.path(), None);
        o.adapters = vec![AdapterKind::Sqs];
        assert!(encode(&o, &mut Vec::new(), "o").is_ok());
    }

    #[test]
    fn input_directory_missing_or_through_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let e = encode(&opts(&d.path().join("nope"), Some(1)), &mut Vec::new(), "o").unwrap_err();
        assert!(e.to_string().contains("no such dump directory"), "{e}");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(d.path(), &link).unwrap();
        assert!(encode(&opts(&link, Some(1)), &mut Vec::new(), "o").is_ok());
    }
}
