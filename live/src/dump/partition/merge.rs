//! The partitions' records and their merge. A finished partition leaves two files in the
//! job directory: `part-I.sums.jsonl`, the digests of every file it wrote (recorded by the
//! sink while writing, never read back), and `part-I.done.json`, its done marker, which
//! holds the list's SHA-256, so a damaged or foreign list is refused. `dump finish` reads
//! every partition's list and hands the union to the same finalize step a single-process
//! dump uses, which sorts it: CHECKSUMS comes out in exactly the single-process order.

use super::error::PartitionError;
use super::token::Token;
use crate::dump::resume::journal::write_durably;
use crate::dump::resume::sums;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sinks::FileDigest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// One group's line of MANIFEST.json's `producer.inputs`, as the partition saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// `group G via HOST:PORT`.
    pub name: String,
    /// The read timestamp.
    pub read_ts: u64,
}

/// A partition's done marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// The job ([`Token::backup_id`]).
    pub backup_id: String,
    /// `I`.
    pub partition: u32,
    /// `N`.
    pub partitions: u32,
    /// Adapters it dumped.
    pub adapters: Vec<String>,
    /// Top-level entries it moved into the output root.
    pub entries: Vec<String>,
    /// Files it wrote.
    pub files: u64,
    /// SHA-256 of its digest list.
    pub sums_sha256: String,
    /// Visible entries it dispatched.
    pub visible: u64,
    /// The groups it read, for MANIFEST.json.
    pub inputs: Vec<InputRecord>,
}

/// `part-I.sums.jsonl`.
pub fn sums_name(partition: u32) -> String {
    format!("part-{partition}.sums.jsonl")
}

/// `part-I.done.json`.
pub fn done_name(partition: u32) -> String {
    format!("part-{partition}.done.json")
}

/// Saves a partition's digest list, returning its SHA-256 for the done marker.
pub fn save_sums(job_dir: &Path, partition: u32, digests: &[FileDigest]) -> Result<String, Error> {
    let (bytes, sha) = sums::render(digests)?;
    write_durably(job_dir, &sums_name(partition), &bytes)?;
    Ok(sha)
}

/// Writes a done marker (last, after the partition's files are in the output root).
pub fn save_done(job_dir: &Path, rec: &PartRecord) -> Result<(), Error> {
    let bytes =
        serde_json::to_vec_pretty(rec).map_err(|e| Error::Internal(format!("done marker: {e}")))?;
    write_durably(job_dir, &done_name(rec.partition), &bytes)
}

/// Reads partition `i`'s done marker: `None` when it has not finished; an error when the
/// marker is unreadable or belongs to another job.
pub fn load_done(job_dir: &Path, token: &Token, i: u32) -> Result<Option<PartRecord>, Error> {
    let path = job_dir.join(done_name(i));
    let raw = match std::fs::read(&path) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path.display(), e)),
    };
    let bad = |why: String| {
        Error::from(PartitionError::BadRecord {
            path: path.display().to_string(),
            why,
        })
    };
    let rec: PartRecord =
        serde_json::from_slice(&raw).map_err(|e| bad(format!("unreadable done marker: {e}")))?;
    if rec.backup_id != token.backup_id {
        return Err(bad(format!(
            "done marker of another job ({}), this job is {}",
            rec.backup_id, token.backup_id
        )));
    }
    if rec.partition != i || rec.partitions != token.plan.partitions {
        return Err(bad(format!(
            "done marker says partition {}/{}, expected {i}/{}",
            rec.partition, rec.partitions, token.plan.partitions
        )));
    }
    Ok(Some(rec))
}

/// Every partition's record, in partition order, or [`PartitionError::Unfinished`] naming
/// each partition without a done marker.
pub fn finished_parts(
    root: &Path,
    job_dir: &Path,
    token: &Token,
) -> Result<Vec<PartRecord>, Error> {
    let mut done = Vec::new();
    let mut missing = Vec::new();
    for i in 0..token.plan.partitions {
        match load_done(job_dir, token, i)? {
            Some(r) => done.push(r),
            None => missing.push(i.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(PartitionError::Unfinished {
            root: root.display().to_string(),
            missing: missing.join(", "),
            partitions: token.plan.partitions,
        }
        .into());
    }
    Ok(done)
}

/// The union of the partitions' digest lists, each checked against its done marker; a
/// path listed by two partitions is refused (the plan gives each adapter to one).
pub fn merged_digests(job_dir: &Path, parts: &[PartRecord]) -> Result<Vec<FileDigest>, Error> {
    let mut all = Vec::new();
    let mut seen = BTreeSet::new();
    for p in parts {
        let path = job_dir.join(sums_name(p.partition));
        let list = sums::read(&path, &p.sums_sha256)?;
        if list.len() as u64 != p.files {
            return Err(PartitionError::BadRecord {
                path: path.display().to_string(),
                why: format!(
                    "lists {} files, the done marker says {}",
                    list.len(),
                    p.files
                ),
            }
            .into());
        }
        for d in list {
            if !seen.insert(d.path.to_string()) {
                return Err(PartitionError::BadRecord {
                    path: path.display().to_string(),
                    why: format!("{} was written by two partitions", d.path),
                }
                .into());
            }
            all.push(d);
        }
    }
    all.sort();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::partition::plan::Plan;
    use crate::source::session::HeldPin;
    use elastickv_backup_engine::options::DecodeOptions;
    use elastickv_backup_engine::sinks::RelPath;
    use sha2::{Digest, Sha256};

    fn token(n: u32) -> Token {
        let held = HeldPin {
            token: b"pin".to_vec(),
            read_ts: 9,
            expected: vec![],
            catalog_version: 1,
        };
        let o = DecodeOptions::default();
        let plan = Plan::balance(&[], &o, n).unwrap();
        Token::new("a:1", Default::default(), 60_000, &held, &o, plan)
    }

    fn d(p: &str) -> FileDigest {
        FileDigest {
            path: RelPath::parse(p).unwrap(),
            sha256: Sha256::digest(p.as_bytes()).into(),
        }
    }

    fn finish_part(dir: &Path, tok: &Token, i: u32, files: &[&str]) {
        let ds: Vec<FileDigest> = files.iter().map(|p| d(p)).collect();
        let sha = save_sums(dir, i, &ds).unwrap();
        save_done(
            dir,
            &PartRecord {
                backup_id: tok.backup_id.clone(),
                partition: i,
                partitions: tok.plan.partitions,
                adapters: vec![],
                entries: vec![],
                files: ds.len() as u64,
                sums_sha256: sha,
                visible: 0,
                inputs: vec![],
            },
        )
        .unwrap();
    }

    #[test]
    fn merges_in_single_process_order_and_names_missing_parts() {
        let t = tempfile::tempdir().unwrap();
        let tok = token(3);
        finish_part(t.path(), &tok, 2, &["s3/b/x", "dynamodb/t/_schema.json"]);
        let e = finished_parts(t.path(), t.path(), &tok)
            .unwrap_err()
            .to_string();
        assert!(e.contains("partition(s) 0, 1 of 3"), "{e}");
        finish_part(t.path(), &tok, 0, &["sqs/q/_queue.json", "redis/db_0/a"]);
        finish_part(t.path(), &tok, 1, &[]);
        let parts = finished_parts(t.path(), t.path(), &tok).unwrap();
        let got: Vec<String> = merged_digests(t.path(), &parts)
            .unwrap()
            .iter()
            .map(|d| d.path.to_string())
            .collect();
        let mut want = vec![
            "dynamodb/t/_schema.json",
            "redis/db_0/a",
            "s3/b/x",
            "sqs/q/_queue.json",
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn refuses_foreign_damaged_and_overlapping_parts() {
        let t = tempfile::tempdir().unwrap();
        let tok = token(2);
        let mut other = tok.clone();
        other.backup_id = "ff".into();
        finish_part(t.path(), &other, 0, &["a"]);
        let e = load_done(t.path(), &tok, 0).unwrap_err().to_string();
        assert!(e.contains("another job"), "{e}");
        finish_part(t.path(), &tok, 0, &["a"]);
        finish_part(t.path(), &tok, 1, &["a"]);
        let parts = finished_parts(t.path(), t.path(), &tok).unwrap();
        let e = merged_digests(t.path(), &parts).unwrap_err().to_string();
        assert!(e.contains("two partitions"), "{e}");
        std::fs::write(t.path().join(sums_name(1)), b"").unwrap();
        assert!(merged_digests(t.path(), &parts).is_err());
    }
}
