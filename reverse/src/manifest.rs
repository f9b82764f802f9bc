//! What the encoder needs from the dump's `MANIFEST.json`: the commit timestamp to stamp
//! on every record, and the modes the dump was written in (some cannot be encoded back).
//! Read with Go struct semantics like the rest of the tree; unknown fields are ignored.

use super::ReverseError;
use crate::fsutil;
use elastickv_backup_dumptree::json::{one_value, Record};
use std::path::Path;

/// The manifest fields the encoder uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputManifest {
    /// `last_commit_ts` (0 when absent).
    pub last_commit_ts: u64,
    /// `cluster_id` ("" when absent).
    pub cluster_id: String,
    /// `exclusions.include_incomplete_uploads`.
    pub include_incomplete_uploads: bool,
    /// `exclusions.include_orphans`.
    pub include_orphans: bool,
    /// `exclusions.preserve_sqs_visibility`.
    pub preserve_sqs_visibility: bool,
    /// `exclusions.include_sqs_side_records`.
    pub include_sqs_side_records: bool,
    /// `dynamodb_layout` is `jsonl` (bundled items) rather than per-item files.
    pub dynamodb_jsonl: bool,
}

fn bad(why: impl Into<String>) -> ReverseError {
    ReverseError::Manifest { why: why.into() }
}

/// Reads `<root>/MANIFEST.json`; `Ok(None)` when the tree has none.
pub fn read(root: &Path) -> Result<Option<InputManifest>, ReverseError> {
    let path = root.join("MANIFEST.json");
    if fsutil::open_regular(&path, "MANIFEST.json")?.is_none() {
        return Ok(None);
    }
    let text = fsutil::read_regular(&path, "MANIFEST.json")?;
    parse(&text).map(Some)
}

/// Parses a manifest's bytes.
pub fn parse(text: &[u8]) -> Result<InputManifest, ReverseError> {
    let raw = one_value(text).map_err(bad)?;
    let r = Record::new(raw).map_err(bad)?;
    let version: u64 = r.int("format_version", "int").map_err(bad)?;
    if version != 1 {
        return Err(bad(format!(
            "format_version {version} is not supported (expected 1)"
        )));
    }
    let ex = r.record("exclusions").map_err(bad)?;
    let layout = r.text("dynamodb_layout").map_err(bad)?;
    let dynamodb_jsonl = match layout.as_str() {
        "" | "per-item" => false,
        "jsonl" => true,
        other => return Err(bad(format!("unknown dynamodb_layout {other:?}"))),
    };
    Ok(InputManifest {
        last_commit_ts: r.int("last_commit_ts", "uint64").map_err(bad)?,
        cluster_id: r.text("cluster_id").map_err(bad)?,
        include_incomplete_uploads: ex.bool("include_incomplete_uploads").map_err(bad)?,
        include_orphans: ex.bool("include_orphans").map_err(bad)?,
        preserve_sqs_visibility: ex.bool("preserve_sqs_visibility").map_err(bad)?,
        include_sqs_side_records: ex.bool("include_sqs_side_records").map_err(bad)?,
        dynamodb_jsonl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_upstream_manifest() {
        let m = parse(
            br#"{
  "format_version": 1,
  "phase": "phase0-snapshot-decode",
  "cluster_id": "ek",
  "last_commit_ts": 439804651110407,
  "adapters": {"redis": {}},
  "exclusions": {
    "include_incomplete_uploads": false,
    "include_orphans": true,
    "preserve_sqs_visibility": false,
    "include_sqs_side_records": true
  },
  "dynamodb_layout": "jsonl",
  "producer": {"name": "elastickv-backup"}
}
"#,
        )
        .unwrap();
        assert_eq!(m.last_commit_ts, 439_804_651_110_407);
        assert_eq!(m.cluster_id, "ek");
        assert!(m.include_orphans && m.include_sqs_side_records && m.dynamodb_jsonl);
        assert!(!m.include_incomplete_uploads && !m.preserve_sqs_visibility);
        // last_commit_ts is omitted when 0.
        assert_eq!(parse(br#"{"format_version":1}"#).unwrap().last_commit_ts, 0);
    }

    #[test]
    fn refuses_what_is_not_a_dump_manifest() {
        for bad in [
            &br#"{"format_version":2}"#[..],
            br#"{}"#,
            br#"{"format_version":1,"last_commit_ts":-1}"#,
            br#"{"format_version":1,"dynamodb_layout":"xml"}"#,
            br#"{"format_version":1} x"#,
            b"[]",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("MANIFEST.json: "), "{e}");
        }
    }
}
