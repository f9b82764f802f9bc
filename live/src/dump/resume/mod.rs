//! Resumable live dumps: `dump --resumable` and `dump --resume DIR`.
//!
//! A resumable dump writes one adapter at a time (see *the unit of resumption* below), each
//! into a staging directory inside the journal directory, and commits it in two journaled
//! steps: its digests are saved and it is marked *committing*, then its top-level entries
//! are renamed into the output root and it is marked *done*. So the output root only ever holds whole adapters,
//! and a crash between the two steps is finished by the next run (the renames are
//! idempotent). A resumable failure — a group still failing after its retry budget, a
//! signal, an I/O error, a dropped connection — keeps the pin (no `EndBackup`; it expires by
//! its TTL unless resumed) and the journal. `dump --resume DIR` attaches to that pin (same
//! `read_ts`, renewed at once), skips the adapters marked done without reading any of their
//! keys again, redoes the others from scratch, and finishes with MANIFEST.json and a
//! CHECKSUMS assembled from every unit's write-time digests. The tree is the one an
//! uninterrupted dump at that `read_ts` writes, MANIFEST's wall time aside.
//!
//! A failure that no resume can repair (baseline shortfall, compacted `read_ts`, lost pin,
//! changed catalog, data the adapters refuse) releases the pin and deletes the journal; the
//! partial tree stays without MANIFEST.json, as after any failed dump.
//!
//! # The unit of resumption
//!
//! One adapter. A resumable dump writes the adapters one after another, each scanning only
//! its own key families ([`adapter_prefixes`]), so a finished adapter's files are final and
//! an interrupted one is redone from scratch.
//!
//! Why not a finer grain: adapters assemble records across key ranges and write some
//! outputs only at `finish` (Redis collections and TTL sidecars, SQS message order, S3
//! bodies and KEYMAP, DynamoDB bundle numbering), so an adapter's output is not the
//! concatenation of what its key ranges produce; redoing the whole adapter is the smallest
//! step whose output is provably the same as an uninterrupted run's. Adapters share no state
//! and own disjoint output subtrees, so one adapter's run is exactly its part of a full run.

pub mod journal;
pub mod sums;

use crate::source::session::{LiveConfig, LiveSession};
use crate::source::LiveError;
use elastickv_backup_engine::decode::{AdapterKind, Counters};
use elastickv_backup_engine::encode::manifest::Manifest;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::pipeline;
use elastickv_backup_engine::sinks::{DirSink, Sink};
use elastickv_backup_format::adapter_prefixes;
use journal::{journal_dir, sync_dir, write_durably, Journal, OptionsRecord, UnitState};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether a failed run can be finished by `dump --resume` under the same pin: transient
/// cluster trouble, cancellation and I/O errors can; lost data, a lost pin, a changed
/// catalog and refused input cannot (a resume would fail the same way or be inconsistent).
pub fn resumable(e: &Error) -> bool {
    match e {
        Error::Cancelled(_) | Error::Io { .. } => true,
        Error::Live(e) => e.is_resumable(),
        _ => false,
    }
}

/// What a finished resumable dump reports.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// The pinned read timestamp.
    pub read_ts: u64,
    /// Groups dumped.
    pub groups: usize,
    /// Pin renewals by this run.
    pub renewals: u64,
    /// Visible entries dispatched by this run.
    pub visible: u64,
    /// Per-adapter entry counts of this run.
    pub counters: Counters,
    /// Adapters finished by an earlier run and skipped (not read again).
    pub skipped: Vec<AdapterKind>,
    /// Adapters written by this run.
    pub written: Vec<AdapterKind>,
    /// Runs so far, this one included.
    pub attempts: u32,
}

/// A resumable dump into one output directory.
pub struct Runner<'a> {
    /// The output root.
    pub root: &'a Path,
    /// Encode/write worker threads.
    pub threads: usize,
    /// Builds MANIFEST.json for the finished dump (the same function the plain dump uses).
    pub manifest: &'a dyn Fn(&LiveSession, &DecodeOptions) -> Manifest,
}

/// An exclusive advisory lock on the journal directory for the whole run.
struct Lock(#[allow(dead_code)] std::fs::File);

fn lock(jdir: &Path) -> Result<Lock, Error> {
    let busy = format!(
        "{}: another elastickv-backup run is using this dump directory",
        jdir.display()
    );
    Ok(Lock(super::exclusive_lock(&jdir.join("lock"), &busy)?))
}

fn staging(root: &Path) -> PathBuf {
    journal_dir(root).join("staging")
}

/// Removes the journal of a dump that cannot be resumed.
fn abandon(root: &Path) {
    let dir = journal_dir(root);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => tracing::info!("this dump cannot be resumed; removed {}", dir.display()),
        Err(e) => tracing::warn!(
            "this dump cannot be resumed; could not remove {}: {e}",
            dir.display()
        ),
    }
}

/// Moves a unit's top-level `entries` from staging into the root (idempotent: an entry
/// already moved by an interrupted commit is left alone).
fn commit_entries(root: &Path, entries: &[String]) -> Result<(), Error> {
    let stage = staging(root);
    for name in entries {
        let (src, dst) = (stage.join(name), root.join(name));
        let src_there = src.symlink_metadata().is_ok();
        let dst_there = dst.symlink_metadata().is_ok();
        match (src_there, dst_there) {
            (true, false) => {
                std::fs::rename(&src, &dst).map_err(|e| Error::io(dst.display(), e))?
            }
            (false, true) => {}
            (true, true) => {
                return Err(Error::UnsafeOutput {
                    path: name.clone(),
                    why: "already exists in the output directory; a resumable dump only adds whole adapters to it",
                })
            }
            (false, false) => {
                return Err(LiveError::Journal(format!(
                    "resume: {name} is in neither the staging area nor the output directory; start a new dump"
                ))
                .into())
            }
        }
    }
    sync_dir(root)
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

/// Refuses an output directory that exists and holds anything.
fn absent_or_empty(root: &Path) -> Result<(), Error> {
    let mut it = match std::fs::read_dir(root) {
        Ok(it) => it,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(root.display(), e)),
    };
    if let Some(Ok(entry)) = it.next() {
        return Err(Error::OutputNotEmpty {
            path: root.display().to_string(),
            example: entry.file_name().to_string_lossy().into_owned(),
        });
    }
    Ok(())
}

impl Runner<'_> {
    /// Starts a resumable dump: pins, writes the journal, then runs every adapter unit.
    /// The output directory must be empty (a resumable dump adds whole adapters to it).
    pub fn start(&self, cfg: LiveConfig, opts: &DecodeOptions) -> Result<Finished, Error> {
        absent_or_empty(self.root)?;
        let mut session = LiveSession::begin(cfg.clone())?;
        let Some(held) = session.held_pin() else {
            return Err(Error::Usage(
                "--resumable needs a pinned read timestamp, and this cluster cannot pin one (no Phase 1 backup RPCs); run without --resumable".into(),
            ));
        };
        std::fs::create_dir_all(self.root).map_err(|e| Error::io(self.root.display(), e))?;
        let jdir = journal_dir(self.root);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&jdir)
            .map_err(|e| Error::io(jdir.display(), e))?;
        let _lock = lock(&jdir)?;
        let journal = Journal::new(&cfg.address, cfg.ttl_ms, &held, opts);
        if let Err(e) = journal.save(self.root) {
            abandon(self.root);
            return Err(e);
        }
        session.keep_pin_on_drop(true);
        self.run(session, journal, opts.clone())
    }

    /// Resumes the dump whose journal is in the output directory. `cfg.address` empty =
    /// the journal's. `flag_opts`: output options given on the command line (`None` =
    /// take the journal's); they must equal the interrupted dump's.
    pub fn resume(
        &self,
        cfg: LiveConfig,
        flag_opts: Option<&DecodeOptions>,
    ) -> Result<Finished, Error> {
        let mut journal = Journal::load(self.root)?;
        let _lock = lock(&journal_dir(self.root))?;
        let opts = journal.options.to_options()?;
        if let Some(given) = flag_opts {
            if OptionsRecord::from_options(given) != journal.options {
                return Err(Error::Usage(format!(
                    "the output options given differ from the interrupted dump's ({:?}); omit them to use the recorded ones",
                    journal.options
                )));
            }
        }
        let cfg = LiveConfig {
            address: if cfg.address.is_empty() {
                journal.address.clone()
            } else {
                cfg.address
            },
            ttl_ms: journal.ttl_ms,
            ..cfg
        };
        journal.attempts += 1;
        journal.save(self.root)?;
        let session = match LiveSession::attach(cfg, journal.held_pin()?) {
            Ok(s) => s,
            Err(e) => {
                if !resumable(&e) {
                    abandon(self.root);
                }
                return Err(e);
            }
        };
        self.run(session, journal, opts)
    }

    fn run(
        &self,
        mut session: LiveSession,
        mut journal: Journal,
        opts: DecodeOptions,
    ) -> Result<Finished, Error> {
        let result = self
            .units(&session, &mut journal, &opts)
            .and_then(|done| self.finalize(&session, &journal, &opts).map(|()| done));
        match result {
            Ok(mut done) => {
                done.read_ts = session.read_ts;
                done.groups = session.groups().len();
                done.renewals = session.renewals();
                done.attempts = journal.attempts;
                session.end();
                if let Err(e) = std::fs::remove_dir_all(journal_dir(self.root)) {
                    tracing::warn!(
                        "the dump is complete but its resume journal could not be removed: {e}"
                    );
                }
                Ok(done)
            }
            Err(e) if resumable(&e) => {
                tracing::warn!(
                    "the dump stopped ({e}); finished adapters are kept and the pin (read_ts={}) stays held until its TTL runs out. Finish it with: elastickv-backup dump --resume {} (plus --admin-token-file if the cluster needs one)",
                    session.read_ts,
                    self.root.display()
                );
                drop(session);
                Err(e)
            }
            Err(e) => {
                session.keep_pin_on_drop(false);
                session.end();
                abandon(self.root);
                Err(e)
            }
        }
    }

    /// Finishes interrupted commits, then writes every pending unit.
    fn units(
        &self,
        session: &LiveSession,
        journal: &mut Journal,
        opts: &DecodeOptions,
    ) -> Result<Finished, Error> {
        let mut out = Finished::default();
        for kind in AdapterKind::ALL {
            let Some(u) = journal.unit_mut(kind) else {
                continue;
            };
            if u.state == UnitState::Committing {
                let entries = u.entries.clone();
                commit_entries(self.root, &entries)?;
                if let Some(u) = journal.unit_mut(kind) {
                    u.state = UnitState::Done;
                }
                journal.save(self.root)?;
            }
        }
        let done: Vec<String> = journal
            .units
            .iter()
            .filter(|u| u.state == UnitState::Done)
            .map(|u| format!("{} ({} files)", u.adapter, u.files))
            .collect();
        if journal.attempts > 1 {
            tracing::info!(
                "resuming at read_ts={} (run {}): finished and skipped: {}; written from scratch now: {}",
                journal.read_ts,
                journal.attempts,
                if done.is_empty() { "none".into() } else { done.join(", ") },
                journal
                    .units
                    .iter()
                    .filter(|u| u.state != UnitState::Done)
                    .map(|u| u.adapter.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for kind in AdapterKind::ALL {
            let Some(u) = journal.unit_mut(kind) else {
                continue;
            };
            if u.state == UnitState::Done {
                out.skipped.push(kind);
                continue;
            }
            let stage = staging(self.root);
            if stage.symlink_metadata().is_ok() {
                std::fs::remove_dir_all(&stage).map_err(|e| Error::io(stage.display(), e))?;
            }
            let sink = Arc::new(DirSink::create(&stage, false)?.with_digest(opts.checksums));
            let unit_opts = DecodeOptions {
                adapters: vec![kind],
                ..opts.clone()
            };
            let prefixes = adapter_prefixes(kind);
            let s = crate::dump::write_restricted(
                session,
                sink.clone() as Arc<dyn Sink>,
                &unit_opts,
                self.threads,
                Some(&prefixes),
            )?;
            let digests = sink.digests()?;
            drop(sink);
            let entries = top_level_entries(&stage)?;
            let (bytes, sha) = sums::render(&digests)?;
            write_durably(
                &journal_dir(self.root),
                &sums::sums_name(kind.name()),
                &bytes,
            )?;
            if let Some(u) = journal.unit_mut(kind) {
                u.files = digests.len() as u64;
                u.entries = entries.clone();
                u.sums_sha256 = sha;
                u.state = UnitState::Committing;
            }
            journal.save(self.root)?;
            commit_entries(self.root, &entries)?;
            if let Some(u) = journal.unit_mut(kind) {
                u.state = UnitState::Done;
            }
            journal.save(self.root)?;
            tracing::info!(
                "adapter {} finished ({} files) and recorded in the resume journal",
                kind.name(),
                digests.len()
            );
            out.visible += s.visible;
            for i in 0..4 {
                out.counters.adapter[i] += s.counters.adapter[i];
            }
            out.counters.internal += s.counters.internal;
            out.counters.unknown += s.counters.unknown;
            out.written.push(kind);
        }
        Ok(out)
    }

    /// MANIFEST.json and CHECKSUMS over every unit's recorded digests.
    fn finalize(
        &self,
        session: &LiveSession,
        journal: &Journal,
        opts: &DecodeOptions,
    ) -> Result<(), Error> {
        let stage = staging(self.root);
        if stage.symlink_metadata().is_ok() {
            std::fs::remove_dir_all(&stage).map_err(|e| Error::io(stage.display(), e))?;
        }
        let mut carried = Vec::new();
        for u in &journal.units {
            if u.state != UnitState::Done {
                return Err(Error::Internal(format!(
                    "finalize with unit {} not done",
                    u.adapter
                )));
            }
            carried.extend(sums::read(
                &journal_dir(self.root).join(sums::sums_name(&u.adapter)),
                &u.sums_sha256,
            )?);
        }
        let sink = sums::FinalSink::new(self.root, carried, opts.checksums)?;
        pipeline::finalize(&sink, &(self.manifest)(session, opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn classifies_what_a_resume_can_repair() {
        let yes: Vec<Error> = vec![
            LiveError::GroupUnavailable {
                group: 2,
                attempts: 3,
                secs: 1.0,
                code: Code::Unavailable,
                message: "down".into(),
            }
            .into(),
            LiveError::Connect {
                address: "a".into(),
                message: "refused".into(),
            }
            .into(),
            LiveError::TlsHandshake {
                endpoint: "https://a:1".into(),
                detail: "unknown issuer".into(),
            }
            .into(),
            Error::Cancelled("signal".into()),
            Error::io("x", std::io::Error::other("disk full")),
        ];
        let no: Vec<Error> = vec![
            LiveError::CompactionDuringDump {
                scope: "redis/db_0".into(),
                actual: 1,
                baseline: 10_000,
                threshold: 9800.0,
            }
            .into(),
            LiveError::ReadTsCompacted { group: 1 }.into(),
            LiveError::CatalogChanged {
                before: 1,
                after: 2,
            }
            .into(),
            LiveError::PinLost("gone".into()).into(),
            LiveError::PinUnsupported("x".into()).into(),
            LiveError::Journal("digest list does not match".into()).into(),
            Error::Usage("bad flag".into()),
            Error::Internal("bug".into()),
        ];
        for e in &yes {
            assert!(resumable(e), "{e}");
        }
        for e in &no {
            assert!(!resumable(e), "{e}");
        }
    }

    #[test]
    fn commit_is_idempotent_and_never_overwrites() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(staging(root).join("s3/b")).unwrap();
        std::fs::create_dir_all(staging(root).join("sqs")).unwrap();
        let entries = vec!["s3".to_string(), "sqs".to_string()];
        commit_entries(root, &entries).unwrap();
        assert!(root.join("s3/b").is_dir() && root.join("sqs").is_dir());
        commit_entries(root, &entries).unwrap();
        std::fs::create_dir_all(staging(root).join("sqs")).unwrap();
        assert!(commit_entries(root, &entries).is_err());
        assert!(commit_entries(root, &["redis".to_string()]).is_err());
    }
}
