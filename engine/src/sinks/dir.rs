//! The directory sink: every write happens relative to a root directory fd, through
//! `openat`/`mkdirat` with `O_NOFOLLOW`, so nothing planted in the output tree (a symlink,
//! a hard link) can redirect a write outside it.
//!
//! Data files are created once with `O_CREAT|O_EXCL` and written directly — no temp file
//! and rename: a dump only counts once `MANIFEST.json` exists, and that is written last.

use super::{DigestKind, DigestLog, DigestVisitor, FileDigest, RelPath, Sink, StreamFile};
use crate::error::Error;
use rustix::fs::{self as rfs, Mode, OFlags};
use rustix::io::Errno;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::fd_budget;
use super::flusher::Flusher;
use super::writeback::Writeback;

/// A dump written as a directory tree.
pub struct DirSink {
    root_path: PathBuf,
    root: Arc<OwnedFd>,
    /// Open directory fds by path. Looked up once per file written, so the path is hashed
    /// with foldhash, not SipHash (−0.7% instructions per file); the seed is random per
    /// process and the cache is bounded, so crafted names can slow it, not break it.
    dirs: Mutex<HashMap<RelPath, Arc<OwnedFd>, foldhash::fast::RandomState>>,
    /// Directory fds kept open at once; past this the cache is flushed (a per-item dump of
    /// a huge table has one directory per partition key). Sized to the open-file limit
    /// ([`fd_budget`]).
    dir_cache_max: usize,
    log: DigestLog,
    /// `--force`: files may already exist; they are truncated instead of refused.
    overwrite: bool,
    /// Flush every data file and directory to stable storage before MANIFEST.json is
    /// written (on by default; `--no-sync` for benchmarks), so a dump that has its
    /// MANIFEST.json survives a power loss whole. Streamed files also start their
    /// write-back as they grow, so that flush finds little left to do.
    sync: bool,
    /// With `sync`: the helper that flushes the output in steps while the dump runs
    /// ([`super::flusher`]); stopped before the final flush.
    flusher: Mutex<Option<Flusher>>,
}

fn errno_to_io(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

impl DirSink {
    /// Opens (creating if needed) the output root. Unless `force`, a root that already
    /// holds anything is refused: a dump never mixes with older files.
    pub fn create(root: &Path, force: bool) -> Result<Self, Error> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root.display(), e))?;
        if !force {
            let mut it = std::fs::read_dir(root).map_err(|e| Error::io(root.display(), e))?;
            if let Some(Ok(entry)) = it.next() {
                return Err(Error::OutputNotEmpty {
                    path: root.display().to_string(),
                    example: entry.file_name().to_string_lossy().into_owned(),
                });
            }
        }
        let fd = rfs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(root.display(), errno_to_io(e)))?;
        let limit = fd_budget::raise_open_file_limit();
        let dir_cache_max = fd_budget::dir_cache_size(limit);
        fd_budget::reserve_fd_table(&fd, dir_cache_max, limit);
        // Without the helper the final flush does all the work, as it always could.
        let flusher = super::flusher::has_write_back(&fd)
            .then(|| Flusher::start(root, || crate::progress::counters().snapshot().files).ok())
            .flatten();
        Ok(DirSink {
            root_path: root.to_path_buf(),
            root: Arc::new(fd),
            dirs: Mutex::new(HashMap::default()),
            dir_cache_max,
            log: DigestLog::default(),
            overwrite: force,
            sync: true,
            flusher: Mutex::new(flusher),
        })
    }

    /// Hashes the dump's files with `kind` (default SHA-256), which names the checksum
    /// file. Set before the first file is written.
    pub fn with_digest(mut self, kind: super::DigestKind) -> Self {
        self.log.set_kind(kind);
        self
    }

    /// Whether data is flushed to stable storage before MANIFEST.json (default `true`).
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        if !sync {
            self.stop_flusher();
        }
        self
    }

    /// Stops the flushing helper, if it runs; the first error one of its flushes met.
    fn stop_flusher(&self) -> Option<std::io::Error> {
        let taken = self.flusher.lock().ok().and_then(|mut f| f.take());
        taken.and_then(|mut f| f.stop())
    }

    /// Makes everything written so far durable: one `syncfs` of the output's filesystem
    /// (every data file and directory entry this run created, without keeping a list of
    /// them), which also reports a write-back error any of them hit.
    fn sync_data(&self) -> Result<(), Error> {
        if !self.sync {
            return Ok(());
        }
        if let Some(e) = self.stop_flusher() {
            return Err(Error::io(
                format!("{} (syncfs while writing)", self.root_path.display()),
                e,
            ));
        }
        rfs::syncfs(&*self.root).map_err(|e| {
            Error::io(
                format!("{} (syncfs before MANIFEST.json)", self.root_path.display()),
                errno_to_io(e),
            )
        })
    }

    /// Makes the root's own entries (MANIFEST.json, CHECKSUMS) durable.
    fn sync_root(&self) -> Result<(), Error> {
        if !self.sync {
            return Ok(());
        }
        rfs::fsync(&*self.root).map_err(|e| Error::io(self.root_path.display(), errno_to_io(e)))
    }

    /// The open fd of directory `dir` (its joined form; `""` is the root) if it is cached.
    fn cached_dir(&self, dir: &str) -> Option<Arc<OwnedFd>> {
        if dir.is_empty() {
            return Some(self.root.clone());
        }
        self.dirs.lock().ok().and_then(|m| m.get(dir).cloned())
    }

    /// [`DirSink::dir_fd`] of `path`'s parent `dir` (its joined form): a cached directory is
    /// found by the borrowed string, and a `RelPath` is built only to open a new one.
    fn dir_fd_of_parent(&self, dir: &str, path: &RelPath) -> Result<Arc<OwnedFd>, Error> {
        if let Some(fd) = self.cached_dir(dir) {
            return Ok(fd);
        }
        let (parent, _) = path
            .split_last()
            .ok_or_else(|| Error::Internal("cannot create the root as a file".into()))?;
        self.dir_fd(&parent)
    }

    /// Opens (creating as needed) directory `dir` under the root, refusing symlinks.
    fn dir_fd(&self, dir: &RelPath) -> Result<Arc<OwnedFd>, Error> {
        if let Some(fd) = self.cached_dir(dir.as_str()) {
            return Ok(fd);
        }
        let (parent, name) = dir
            .split_last()
            .ok_or_else(|| Error::Internal("split of non-root path".into()))?;
        let parent_fd = self.dir_fd(&parent)?;
        match rfs::mkdirat(&*parent_fd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::io(dir, errno_to_io(e))),
        }
        let fd = rfs::openat(
            &*parent_fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR => Error::UnsafeOutput {
                path: dir.to_string(),
                why: "exists and is not a plain directory (symlink or file); refusing to follow it",
            },
            e => Error::io(dir, errno_to_io(e)),
        })?;
        let fd = Arc::new(fd);
        if let Ok(mut m) = self.dirs.lock() {
            if m.len() >= self.dir_cache_max {
                m.clear();
            }
            m.insert(dir.clone(), fd.clone());
        }
        Ok(fd)
    }

    fn create_file(&self, path: &RelPath, mode: u32, exclusive: bool) -> Result<File, Error> {
        let (dir, name) = split_file_path(path)?;
        let dfd = self.dir_fd_of_parent(dir, path)?;
        self.create_in(&dfd, name, path, mode, exclusive)
    }

    /// [`DirSink::create_file`] for `path`, whose last component `name` goes in the
    /// directory `dfd` (already opened).
    fn create_in(
        &self,
        dfd: &OwnedFd,
        name: &str,
        path: &RelPath,
        mode: u32,
        exclusive: bool,
    ) -> Result<File, Error> {
        let mut flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if exclusive && !self.overwrite {
            flags |= OFlags::EXCL;
        } else {
            // No O_TRUNC: an existing file is checked (regular, single link) before it is
            // emptied, so a planted hard link to a file elsewhere is never clobbered.
            flags |= OFlags::NONBLOCK;
        }
        let fd = rfs::openat(dfd, name, flags, Mode::from_raw_mode(mode)).map_err(|e| match e {
            Errno::EXIST => Error::UnsafeOutput {
                path: path.to_string(),
                why: "already exists; two records map to the same file (or the directory is not empty: use --force)",
            },
            Errno::LOOP => Error::UnsafeOutput {
                path: path.to_string(),
                why: "is a symlink; refusing to follow it",
            },
            Errno::NXIO => Error::UnsafeOutput {
                path: path.to_string(),
                why: "is a FIFO; refusing to write to it",
            },
            e => Error::io(path, errno_to_io(e)),
        })?;
        if exclusive && !self.overwrite {
            // O_CREAT|O_EXCL|O_NOFOLLOW succeeded: the file is new, so it is a regular
            // file with one link; the checks below (one fstat per file) are for --force.
            return Ok(File::from(fd));
        }
        let st = rfs::fstat(&fd).map_err(|e| Error::io(path, errno_to_io(e)))?;
        if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::RegularFile {
            return Err(Error::UnsafeOutput {
                path: path.to_string(),
                why: "is not a regular file",
            });
        }
        if st.st_nlink > 1 {
            return Err(Error::UnsafeOutput {
                path: path.to_string(),
                why: "has other hard links; refusing to overwrite it",
            });
        }
        if !exclusive || self.overwrite {
            rfs::ftruncate(&fd, 0).map_err(|e| Error::io(path, errno_to_io(e)))?;
            let _ = rfs::fchmod(&fd, Mode::from_raw_mode(mode));
        }
        Ok(File::from(fd))
    }

    /// Hashes files already in the root that this run did not write (`--force` only), so
    /// CHECKSUMS lists every regular file as upstream's does.
    fn preexisting(&self, ours: &HashSet<String>) -> Result<Vec<FileDigest>, Error> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root_path.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display(), e))?;
            for entry in rd {
                let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let child_rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let ft = entry
                    .file_type()
                    .map_err(|e| Error::io(entry.path().display(), e))?;
                if ft.is_dir() {
                    stack.push((entry.path(), child_rel));
                } else if ft.is_file()
                    && !super::is_checksums_name(&child_rel)
                    && !ours.contains(&child_rel)
                {
                    let Ok(path) = RelPath::parse(&child_rel) else {
                        continue;
                    };
                    let mut f = File::open(entry.path())
                        .map_err(|e| Error::io(entry.path().display(), e))?;
                    let mut h = self.log.kind().hasher();
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        let n = f
                            .read(&mut buf)
                            .map_err(|e| Error::io(entry.path().display(), e))?;
                        if n == 0 {
                            break;
                        }
                        h.update(&buf[..n]);
                    }
                    out.push(FileDigest {
                        path,
                        sha256: h.finalize(),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// A file path's parent directory (its joined form; empty for the root) and last
/// component.
fn split_file_path(path: &RelPath) -> Result<(&str, &str), Error> {
    path.split_last_str()
        .ok_or_else(|| Error::Internal("cannot create the root as a file".into()))
}

/// A streamed file: its writes count as the `stream_write` stage (bench only; free
/// otherwise), and when the dump syncs, finished stretches go to write-back as it grows
/// ([`super::writeback`]).
struct TimedWrite(File, Option<Writeback>);

impl Write for TimedWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let t = crate::progress::stage_start();
        let r = self.0.write(buf);
        let n = *r.as_ref().unwrap_or(&0);
        crate::progress::stage_end(&crate::progress::stages().stream_write, t, 1, n as u64);
        if let Some(wb) = self.1.as_mut() {
            wb.wrote(&self.0, n);
        }
        r
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Sink for DirSink {
    fn write_file(&self, path: &RelPath, data: &[u8]) -> Result<(), Error> {
        let st = crate::progress::stages();
        let t = crate::progress::stage_start_sampled();
        let mut f = self.create_file(path, 0o600, true)?;
        f.write_all(data).map_err(|e| Error::io(path, e))?;
        drop(f);
        crate::progress::stage_end(&st.file_write, t, 1, data.len() as u64);
        let t = crate::progress::stage_start_sampled();
        let digest = self.log.kind().digest(data);
        crate::progress::stage_end(&st.file_hash, t, 1, data.len() as u64);
        self.log.record(path, digest)?;
        crate::progress::file_written(data.len() as u64);
        Ok(())
    }

    /// The files written, then hashed together when the digest is SHA-256 (small files
    /// a worker rendered one after the other; see `sinks::sha_pair`).
    fn write_files(&self, files: &[(&RelPath, &[u8])]) -> Result<(), Error> {
        let st = crate::progress::stages();
        let n = files.len() as u64;
        let bytes: u64 = files.iter().map(|(_, d)| d.len() as u64).sum();
        let t = crate::progress::stage_start_sampled();
        // A run of files mostly shares a directory: the previous file's descriptor is
        // reused without the cache's lock, hash lookup and reference count, which both
        // workers otherwise take for every file.
        let mut last: Option<(&str, Arc<OwnedFd>)> = None;
        for (path, data) in files {
            let (dir, name) = split_file_path(path)?;
            let dfd = match last.take() {
                Some((d, fd)) if d == dir => fd,
                _ => self.dir_fd_of_parent(dir, path)?,
            };
            let mut f = self.create_in(&dfd, name, path, 0o600, true)?;
            last = Some((dir, dfd));
            f.write_all(data).map_err(|e| Error::io(path, e))?;
        }
        crate::progress::stage_end(&st.file_write, t, n, bytes);
        let t = crate::progress::stage_start_sampled();
        let kind = self.log.kind();
        let digests = match kind {
            DigestKind::Sha256 => {
                let data: Vec<&[u8]> = files.iter().map(|(_, d)| *d).collect();
                super::sha_pair::sha256_many(&data)
            }
            DigestKind::Blake3 => files.iter().map(|(_, d)| kind.digest(d)).collect(),
        };
        crate::progress::stage_end(&st.file_hash, t, n, bytes);
        self.log
            .record_many(files.iter().map(|(p, _)| *p).zip(digests))?;
        for (_, data) in files {
            crate::progress::file_written(data.len() as u64);
        }
        Ok(())
    }

    fn open_stream(&self, path: &RelPath) -> Result<StreamFile, Error> {
        let f = self.create_file(path, 0o600, true)?;
        Ok(StreamFile::new(
            path.clone(),
            Box::new(BufWriter::with_capacity(
                1 << 16,
                TimedWrite(f, self.sync.then(Writeback::default)),
            )),
            self.log.clone(),
        ))
    }

    fn write_control(&self, name: &str, data: &[u8]) -> Result<(), Error> {
        if name == "MANIFEST.json" {
            self.sync_data()?;
        }
        let path = RelPath::root().join(name)?;
        let mut f = self.create_file(&path, 0o644, false)?;
        f.write_all(data).map_err(|e| Error::io(&path, e))?;
        f.sync_all().map_err(|e| Error::io(&path, e))?;
        if !super::is_checksums_name(name) {
            self.log.record(&path, self.log.kind().digest(data))?;
        }
        Ok(())
    }

    fn retract_control(&self, name: &str) -> Result<(), Error> {
        match rfs::unlinkat(&*self.root, name, rfs::AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => {
                return Err(Error::io(
                    self.root_path.join(name).display(),
                    errno_to_io(e),
                ))
            }
        }
        self.sync_root()
    }

    /// Streams `CHECKSUMS` (a line per file of the dump) straight into its file; other
    /// control files are small and take the default path (they are hashed and listed).
    fn write_control_with(
        &self,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if !super::is_checksums_name(name) {
            let mut v = Vec::new();
            fill(&mut v)?;
            return self.write_control(name, &v);
        }
        let path = RelPath::root().join(name)?;
        let f = self.create_file(&path, 0o644, false)?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        fill(&mut w)?;
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&path, e))?;
        self.sync_root()
    }

    /// Without `--force` the log is the whole list: streamed from its sorted runs, so
    /// memory stays bounded. With `--force` the files already in the directory are merged
    /// in, which needs the list in memory.
    fn for_each_digest(&self, f: DigestVisitor<'_>) -> Result<(), Error> {
        if self.overwrite {
            return (self.digests()?.iter()).try_for_each(|d| f(d.path.as_str(), &d.sha256));
        }
        self.log.drain_sorted(f)
    }

    fn create_dir(&self, path: &RelPath) -> Result<(), Error> {
        self.dir_fd(path).map(|_| ())
    }

    fn digest_kind(&self) -> super::DigestKind {
        self.log.kind()
    }

    fn digests(&self) -> Result<Vec<FileDigest>, Error> {
        let mut v = self.log.sorted()?;
        if self.overwrite {
            let ours: HashSet<String> = v.iter().map(|d| d.path.to_string()).collect();
            v.extend(self.preexisting(&ours)?);
            v.sort();
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A syncing sink flushes while files are written, before its final flush; one that
    /// does not sync runs no helper.
    #[test]
    fn a_syncing_sink_flushes_in_steps_while_writing() {
        // Beside the sources, which are on a disk (the system temp dir may be tmpfs, where
        // no helper runs).
        let t = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let sink = DirSink::create(&t.path().join("a"), false).unwrap();
        let flushes = |s: &DirSink| s.flusher.lock().unwrap().as_ref().map(|f| f.flushes());
        if !super::super::flusher::has_write_back(&*sink.root) {
            assert_eq!(flushes(&sink), None);
            eprintln!("the checkout is on an in-memory filesystem: no helper to test");
            return;
        }
        assert_eq!(flushes(&sink), Some(0));
        let data = [1u8; 16];
        for i in 0..super::super::flusher::STEP + 64 {
            let p = RelPath::parse(&format!("d/f{i}")).unwrap();
            sink.write_file(&p, &data).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while flushes(&sink) == Some(0) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(flushes(&sink).unwrap() >= 1);
        sink.write_control("MANIFEST.json", b"{}").unwrap();
        assert_eq!(flushes(&sink), None, "stopped before the final flush");
        let quiet = DirSink::create(&t.path().join("b"), false)
            .unwrap()
            .with_sync(false);
        assert_eq!(flushes(&quiet), None);
    }

    #[test]
    fn writes_and_refuses_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("out");
        let sink = DirSink::create(&root, false).unwrap();
        sink.write_file(&RelPath::parse("a/b/c.txt").unwrap(), b"hi")
            .unwrap();
        assert_eq!(std::fs::read(root.join("a/b/c.txt")).unwrap(), b"hi");
        // A second write of the same path is refused (O_EXCL).
        assert!(sink
            .write_file(&RelPath::parse("a/b/c.txt").unwrap(), b"x")
            .is_err());
        // A planted symlink directory is not followed.
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        let err = sink
            .write_file(&RelPath::parse("evil/x").unwrap(), b"x")
            .unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        // A planted symlink file is not followed either.
        std::os::unix::fs::symlink(outside.join("f"), root.join("a/link")).unwrap();
        assert!(sink
            .write_file(&RelPath::parse("a/link").unwrap(), b"x")
            .is_err());
        assert!(!outside.join("f").exists());
        let d = sink.digests().unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path.as_str(), "a/b/c.txt");
    }

    #[test]
    fn files_written_together_are_listed_one_by_one() {
        use sha2::{Digest, Sha256};
        let a = vec![7u8; 1_000];
        let b = b"second".to_vec();
        for kind in [DigestKind::Sha256, DigestKind::Blake3] {
            let t = tempfile::tempdir().unwrap();
            let root = t.path().join("out");
            let sink = DirSink::create(&root, false).unwrap().with_digest(kind);
            let (pa, pb) = (
                RelPath::parse("d/a").unwrap(),
                RelPath::parse("e/b").unwrap(),
            );
            sink.write_files(&[(&pa, &a), (&pb, &b)]).unwrap();
            assert_eq!(std::fs::read(root.join("d/a")).unwrap(), a);
            assert_eq!(std::fs::read(root.join("e/b")).unwrap(), b);
            let want = |d: &[u8]| -> [u8; 32] {
                match kind {
                    DigestKind::Sha256 => Sha256::digest(d).into(),
                    DigestKind::Blake3 => *blake3::hash(d).as_bytes(),
                }
            };
            let got = sink.digests().unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!((got[0].path.as_str(), got[0].sha256), ("d/a", want(&a)));
            assert_eq!((got[1].path.as_str(), got[1].sha256), ("e/b", want(&b)));
            // A file of a run is refused like a single one (O_EXCL).
            let f = RelPath::parse("f").unwrap();
            assert!(sink.write_files(&[(&f, b"x"), (&pb, b"y")]).is_err());
        }
    }

    #[test]
    fn a_run_of_files_lands_in_each_file_own_directory() {
        // Consecutive files share the previous file's directory descriptor only while
        // they share its directory.
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("out");
        let sink = DirSink::create(&root, false).unwrap();
        let names = ["d/a", "d/c", "e/b", "d/x", "top", "d/e/deep", "d/y"];
        let paths: Vec<RelPath> = names.iter().map(|n| RelPath::parse(n).unwrap()).collect();
        let run: Vec<(&RelPath, &[u8])> = paths
            .iter()
            .zip(names)
            .map(|(p, n)| (p, n.as_bytes()))
            .collect();
        sink.write_files(&run).unwrap();
        for n in names {
            assert_eq!(std::fs::read(root.join(n)).unwrap(), n.as_bytes(), "{n}");
        }
        assert_eq!(sink.digests().unwrap().len(), names.len());
    }

    #[test]
    fn non_empty_root_needs_force() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("old"), b"x").unwrap();
        assert!(matches!(
            DirSink::create(t.path(), false),
            Err(Error::OutputNotEmpty { .. })
        ));
        let sink = DirSink::create(t.path(), true).unwrap();
        let d = sink.digests().unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path.as_str(), "old");
    }
}
