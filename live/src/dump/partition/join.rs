//! One partition's run (`dump --join TOKEN --partition I/N`): attach to the job's pin (and
//! renew it while working), write the share of the plan into a private staging directory,
//! flush it, record its digests, move it into the output root, then write the done marker.
//!
//! The done marker is written last, so a partition either finished whole or is redone whole:
//! a rerun of an unfinished partition (a Kubernetes Job retrying the index) clears what an
//! earlier attempt left — its staging directory and any of its adapters' top-level
//! directories already moved into the root, which no other partition can own — and starts
//! again; a rerun of a finished one exits at once. A failure a rerun cannot repair (lost
//! data under the pin, a changed catalog) ends the pin, so the other partitions stop early
//! instead of finishing a dump that cannot be completed.

use super::error::PartitionError;
use super::merge::{self, InputRecord, PartRecord};
use super::plan::PartitionIndex;
use super::token::Token;
use crate::dump::resume::journal::sync_dir;
use crate::dump::resume::resumable;
use crate::source::session::{LiveConfig, LiveSession};
use crate::source::LiveError;
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::sinks::{DirSink, Sink};
use elastickv_backup_format::adapter_prefixes;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A partition of a partitioned dump, ready to run.
pub struct Join<'a> {
    /// The output root (the shared volume).
    pub root: &'a Path,
    /// The job directory holding the token (`root/.elastickv-backup-job`).
    pub job_dir: &'a Path,
    /// The job.
    pub token: &'a Token,
    /// Which partition this is.
    pub partition: PartitionIndex,
    /// Encode/write worker threads.
    pub threads: usize,
    /// Flush the written files to stable storage before the done marker (`--no-sync` off).
    pub sync: bool,
}

/// What a partition run did.
#[derive(Debug)]
pub enum Outcome {
    /// It dumped its share now.
    Dumped {
        /// Its done marker.
        record: PartRecord,
        /// Pin renewals it made.
        renewals: u64,
    },
    /// An earlier run of this partition had finished; nothing was done.
    AlreadyDone(PartRecord),
}

/// An exclusive advisory lock held for the whole run, so two runs of one partition (a
/// duplicated pod) never write the same staging directory.
fn lock(path: &Path, partition: PartitionIndex) -> Result<std::fs::File, Error> {
    crate::dump::exclusive_lock(
        path,
        &format!(
            "partition {partition} is already running on this output ({} is locked)",
            path.display()
        ),
    )
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match path.symlink_metadata() {
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(path).map_err(|e| Error::io(path.display(), e))
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| Error::io(path.display(), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

fn top_level_entries(dir: &Path) -> Result<Vec<String>, Error> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))? {
        let e = e.map_err(|e| Error::io(dir.display(), e))?;
        v.push(e.file_name().to_string_lossy().into_owned());
    }
    v.sort();
    Ok(v)
}

/// Key prefixes of every adapter in `share`, sorted, none nested in another.
fn share_prefixes(share: &[AdapterKind]) -> Vec<&'static [u8]> {
    let mut p: Vec<&'static [u8]> = share.iter().flat_map(|a| adapter_prefixes(*a)).collect();
    p.sort_unstable();
    p.dedup();
    p
}

/// Maps a lost pin to the error that says what happened to the job.
fn pin_context(e: Error, token: &Token, p: PartitionIndex) -> Error {
    match e {
        Error::Live(LiveError::PinLost(m)) => PartitionError::PinGone {
            partition: p.index,
            read_ts: token.read_ts,
            ttl_ms: token.ttl_ms,
            cause: m,
        }
        .into(),
        e => e,
    }
}

impl Join<'_> {
    fn staging(&self) -> PathBuf {
        self.job_dir
            .join(format!("staging-{}", self.partition.index))
    }

    /// Runs the partition. `cfg` carries the cluster settings (seeds, admin token, scan
    /// settings); its TTL is replaced by the token's.
    pub fn run(&self, cfg: LiveConfig) -> Result<Outcome, Error> {
        let p = self.partition;
        let share = self.token.plan.share(p)?;
        if !self.job_dir.is_dir() {
            return Err(PartitionError::BadToken {
                path: self.job_dir.display().to_string(),
                why: "no job directory in the output: give the --output of `dump begin` (the same shared volume)".into(),
            }
            .into());
        }
        let _lock = lock(&self.job_dir.join(format!("part-{}.lock", p.index)), p)?;
        if let Some(done) = merge::load_done(self.job_dir, self.token, p.index)? {
            return Ok(Outcome::AlreadyDone(done));
        }
        let stage = self.staging();
        remove_if_present(&stage)?;
        for a in &share {
            remove_if_present(&self.root.join(a.name()))?;
        }
        let cfg = LiveConfig {
            ttl_ms: self.token.ttl_ms,
            ..cfg
        };
        let mut session = LiveSession::attach(cfg, self.token.held_pin()?)
            .map_err(|e| pin_context(e, self.token, p))?;
        match self.dump(&session, &share, &stage) {
            Ok(record) => {
                let renewals = session.renewals();
                drop(session); // the pin stays held for the other partitions and `finish`
                Ok(Outcome::Dumped { record, renewals })
            }
            Err(e) => {
                if !resumable(&e) {
                    tracing::warn!(
                        "partition {p} failed in a way no rerun can repair; ending the job's pin so the other partitions stop"
                    );
                    session.keep_pin_on_drop(false);
                    session.end();
                }
                Err(pin_context(e, self.token, p))
            }
        }
    }

    fn dump(
        &self,
        session: &LiveSession,
        share: &[AdapterKind],
        stage: &Path,
    ) -> Result<PartRecord, Error> {
        let p = self.partition;
        let (digests, entries, visible) = if share.is_empty() {
            (Vec::new(), Vec::new(), 0)
        } else {
            let opts = DecodeOptions {
                adapters: share.to_vec(),
                ..self.token.options()?
            };
            let sink = Arc::new(DirSink::create(stage, false)?.with_digest(opts.checksums));
            let s = crate::dump::write_restricted(
                session,
                sink.clone() as Arc<dyn Sink>,
                &opts,
                self.threads,
                Some(&share_prefixes(share)),
            )?;
            let digests = sink.digests()?;
            drop(sink);
            let entries = top_level_entries(stage)?;
            if let Some(stray) = entries
                .iter()
                .find(|e| !share.iter().any(|a| a.name() == e.as_str()))
            {
                return Err(Error::Internal(format!(
                    "partition {p} wrote {stray:?} outside its adapters' directories"
                )));
            }
            if self.sync {
                let dir = std::fs::File::open(stage).map_err(|e| Error::io(stage.display(), e))?;
                rustix::fs::syncfs(&dir)
                    .map_err(|e| Error::io(stage.display(), std::io::Error::from(e)))?;
            }
            (digests, entries, s.visible)
        };
        let sums_sha256 = merge::save_sums(self.job_dir, p.index, &digests)?;
        for name in &entries {
            let (src, dst) = (stage.join(name), self.root.join(name));
            if dst.symlink_metadata().is_ok() {
                return Err(Error::UnsafeOutput {
                    path: name.clone(),
                    why: "already exists in the output directory; each adapter belongs to one partition",
                });
            }
            std::fs::rename(&src, &dst).map_err(|e| Error::io(dst.display(), e))?;
        }
        if !entries.is_empty() {
            sync_dir(self.root)?;
        }
        remove_if_present(stage)?;
        let record = PartRecord {
            backup_id: self.token.backup_id.clone(),
            partition: p.index,
            partitions: p.count,
            adapters: share.iter().map(|a| a.name().to_string()).collect(),
            entries,
            files: digests.len() as u64,
            sums_sha256,
            visible,
            inputs: session
                .inputs()
                .into_iter()
                .map(|i| InputRecord {
                    name: i.name,
                    read_ts: i.read_ts,
                })
                .collect(),
        };
        merge::save_done(self.job_dir, &record)?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_prefixes_cover_each_adapter_once() {
        let p = share_prefixes(&[AdapterKind::S3, AdapterKind::DynamoDb]);
        assert_eq!(
            p,
            [
                elastickv_backup_format::keys::ns::DDB,
                elastickv_backup_format::keys::ns::S3
            ]
        );
        assert!(share_prefixes(&[]).is_empty());
    }

    #[test]
    fn a_lost_pin_names_the_job() {
        let held = crate::source::session::HeldPin {
            token: b"t".to_vec(),
            read_ts: 7,
            expected: vec![],
            catalog_version: 1,
        };
        let o = DecodeOptions::default();
        let plan = super::super::plan::Plan::balance(&[], &o, 1).unwrap();
        let tok = Token::new("a:1", Default::default(), 60_000, &held, &o, plan);
        let p = PartitionIndex { index: 0, count: 1 };
        let e = pin_context(Error::Live(LiveError::PinLost("x".into())), &tok, p).to_string();
        assert!(e.contains("read_ts=7") && e.contains("dump begin"), "{e}");
        let e = pin_context(Error::Live(LiveError::NoReadTs), &tok, p).to_string();
        assert_eq!(e, LiveError::NoReadTs.to_string());
    }
}
