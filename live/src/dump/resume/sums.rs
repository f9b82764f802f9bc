//! Digests across runs. Each finished unit's file digests — recorded by the sink while it
//! wrote them, never by reading the tree back — are saved to a list file in the journal
//! directory; the final run assembles CHECKSUMS from those lists plus MANIFEST.json, through
//! [`FinalSink`]. A list file's own SHA-256 is kept in the journal and checked on read, so a
//! damaged list is refused instead of producing a CHECKSUMS that lies.

use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::sinks::{
    is_checksums_name, DigestKind, DigestLog, DirSink, FileDigest, RelPath, Sink, StreamFile,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Serialize, Deserialize)]
struct Line {
    path: String,
    sha256: String,
}

/// The list file name of a unit.
pub fn sums_name(adapter: &str) -> String {
    format!("{adapter}.sums.jsonl")
}

/// Renders `digests` as a list file (JSON lines); returns the bytes and their SHA-256 (hex).
pub fn render(digests: &[FileDigest]) -> Result<(Vec<u8>, String), Error> {
    let mut out = Vec::with_capacity(digests.len() * 120);
    for d in digests {
        serde_json::to_writer(
            &mut out,
            &Line {
                path: d.path.as_str().to_string(),
                sha256: hex::encode(d.sha256),
            },
        )
        .map_err(|e| Error::Internal(format!("digest list: {e}")))?;
        out.push(b'\n');
    }
    let sha = hex::encode(Sha256::digest(&out));
    Ok((out, sha))
}

/// Reads a list file, checking it against the SHA-256 the journal recorded.
pub fn read(path: &Path, want_sha256: &str) -> Result<Vec<FileDigest>, Error> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let bad = |why: String| {
        journal_error(format!(
            "{}: {why}; the finished part of this dump cannot be trusted, start a new dump",
            path.display()
        ))
    };
    if hex::encode(Sha256::digest(&raw)) != want_sha256 {
        return Err(bad("digest list does not match the journal".into()));
    }
    let mut out = Vec::new();
    for (i, l) in raw.split(|&b| b == b'\n').enumerate() {
        if l.is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_slice(l).map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
        let mut sha = [0u8; 32];
        hex::decode_to_slice(&line.sha256, &mut sha)
            .map_err(|_| bad(format!("line {}: bad sha256", i + 1)))?;
        out.push(FileDigest {
            path: RelPath::parse(&line.path).map_err(|e| bad(format!("line {}: {e}", i + 1)))?,
            sha256: sha,
        });
    }
    Ok(out)
}

/// The sink that finishes a resumable dump: it writes only the control files
/// (MANIFEST.json, CHECKSUMS) into the output root and reports, as the dump's digests, the
/// carried digests of every unit plus MANIFEST.json's — so CHECKSUMS lists exactly the
/// dump's files, never the journal, and nothing is re-read from disk.
pub struct FinalSink {
    dir: DirSink,
    carried: Vec<FileDigest>,
    own: DigestLog,
}

impl FinalSink {
    /// Over the output `root` (which already holds the units' files), whose digests are
    /// of `kind` (the dump's `--checksums`).
    pub fn new(root: &Path, carried: Vec<FileDigest>, kind: DigestKind) -> Result<Self, Error> {
        let mut own = DigestLog::default();
        own.set_kind(kind);
        Ok(FinalSink {
            dir: DirSink::create(root, true)?.with_digest(kind),
            carried,
            own,
        })
    }
}

impl Sink for FinalSink {
    fn write_file(&self, path: &RelPath, _data: &[u8]) -> Result<(), Error> {
        Err(Error::Internal(format!(
            "{path}: data file written after the last unit finished"
        )))
    }

    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
        Err(Error::Internal(format!(
            "{path}: data stream opened after the last unit finished"
        )))
    }

    fn write_control(&self, name: &str, data: &[u8]) -> Result<(), Error> {
        self.dir.write_control(name, data)?;
        if !is_checksums_name(name) {
            self.own
                .record(&RelPath::root().join(name)?, self.own.kind().digest(data))?;
        }
        Ok(())
    }

    fn retract_control(&self, name: &str) -> Result<(), Error> {
        self.dir.retract_control(name)
    }

    fn digest_kind(&self) -> DigestKind {
        self.own.kind()
    }

    fn digests(&self) -> Result<Vec<FileDigest>, Error> {
        let mut v = self.carried.clone();
        v.extend(self.own.sorted()?);
        v.sort();
        Ok(v)
    }
}

/// A damaged or foreign journal (not resumable: start a new dump).
fn journal_error(message: String) -> Error {
    crate::source::LiveError::Journal(message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(p: &str, c: &[u8]) -> FileDigest {
        FileDigest {
            path: RelPath::parse(p).unwrap(),
            sha256: Sha256::digest(c).into(),
        }
    }

    #[test]
    fn lists_round_trip_and_are_checked() {
        let t = tempfile::tempdir().unwrap();
        let ds = vec![d("redis/db_0/strings/a\nb.bin", b"x"), d("redis/x", b"y")];
        let (bytes, sha) = render(&ds).unwrap();
        let f = t.path().join(sums_name("redis"));
        std::fs::write(&f, &bytes).unwrap();
        assert_eq!(read(&f, &sha).unwrap(), ds);
        std::fs::write(&f, [&bytes[..], b"{}\n"].concat()).unwrap();
        assert!(read(&f, &sha).unwrap_err().to_string().contains("journal"));
    }

    #[test]
    fn final_sink_lists_carried_files_and_the_manifest_only() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("stray"), b"not ours").unwrap();
        let s = FinalSink::new(
            t.path(),
            vec![d("sqs/q/_queue.json", b"{}")],
            DigestKind::Sha256,
        )
        .unwrap();
        s.write_control("MANIFEST.json", b"{}").unwrap();
        let got: Vec<String> = s
            .digests()
            .unwrap()
            .iter()
            .map(|d| d.path.to_string())
            .collect();
        assert_eq!(got, ["MANIFEST.json", "sqs/q/_queue.json"]);
        assert!(s.write_file(&RelPath::parse("a").unwrap(), b"").is_err());
    }
}
