//! What the hardware allows, measured in the same run on the same disk: the dump's bytes
//! written as one sequential stream (with and without SHA-256), and the dump's files —
//! same directories, same count, same sizes — created with no decoding at all.
//!
//! A decode run is judged against these: a per-item layout is file-creation bound, a
//! bundle layout is sequential-write bound. Each ceiling is timed twice in one go: when
//! its last write returns (the bytes are in the page cache) and when they are durable
//! (`fsync` / `syncfs`), because the dump's own wall ends with its `syncfs` before
//! MANIFEST.json. On tmpfs the two agree; on a disk only the durable one is like for like.
//! Callers `sync` between measurements so one's writeback does not land in the next's
//! time.

use elastickv_backup_engine::error::Error;
use rustix::fs::{self as rfs, Mode, OFlags};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The shape of a dump tree: its directories and the size of every file in each.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// (directory relative to the root, sizes of the files directly in it).
    pub dirs: Vec<(PathBuf, Vec<u64>)>,
    /// Total files.
    pub files: u64,
    /// Total bytes.
    pub bytes: u64,
    /// Largest file.
    pub largest: u64,
}

/// Walks `root` (iteratively; symlinks are not followed).
pub fn shape(root: &Path) -> Result<Shape, Error> {
    let mut out = Shape::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut sizes = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display(), e))? {
            let e = e.map_err(|e| Error::io(dir.display(), e))?;
            let ft = e
                .file_type()
                .map_err(|err| Error::io(e.path().display(), err))?;
            if ft.is_dir() {
                stack.push(rel.join(e.file_name()));
            } else if ft.is_file() {
                let len = e
                    .metadata()
                    .map_err(|err| Error::io(e.path().display(), err))?
                    .len();
                sizes.push(len);
                out.files += 1;
                out.bytes += len;
                out.largest = out.largest.max(len);
            }
        }
        out.dirs.push((rel, sizes));
    }
    out.dirs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A ceiling's two times, from one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    /// Until the last write returned.
    pub written: Duration,
    /// Until the bytes were on stable storage, as the dump's are when it finishes.
    pub durable: Duration,
}

/// A buffer of non-zero bytes to write from.
fn pattern() -> Vec<u8> {
    let mut rng = elastickv_backup_gen::rng::Rng::new(7);
    let mut v = Vec::new();
    rng.bytes(&mut v, 1 << 20);
    v
}

/// Writes `bytes` bytes to `path` front to back in 1 MiB writes; with `sha256`, hashes
/// every buffer first on the same thread (what a dump does for a streamed file).
pub fn sequential(path: &Path, bytes: u64, sha256: bool) -> Result<Times, Error> {
    let buf = pattern();
    let started = Instant::now();
    let mut f = File::create(path).map_err(|e| Error::io(path.display(), e))?;
    let mut h = Sha256::new();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        if sha256 {
            h.update(&buf[..n]);
        }
        f.write_all(&buf[..n])
            .map_err(|e| Error::io(path.display(), e))?;
        left -= n as u64;
    }
    std::hint::black_box(h.finalize());
    let written = started.elapsed();
    f.sync_all().map_err(|e| Error::io(path.display(), e))?;
    Ok(Times {
        written,
        durable: started.elapsed(),
    })
}

fn io(p: &Path, e: rustix::io::Errno) -> Error {
    Error::io(
        p.display(),
        std::io::Error::from_raw_os_error(e.raw_os_error()),
    )
}

/// Recreates `shape` under `root` with `threads` threads: every directory, and in it as
/// many files of the same sizes (named `f<k>`), each created with `O_EXCL` relative to a
/// directory fd and written in one go — the least work that yields the same tree.
pub fn create_files(shape: &Shape, root: &Path, threads: usize) -> Result<Times, Error> {
    let buf = pattern();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::fs::create_dir_all(root).map_err(|e| Error::io(root.display(), e))?;
    let results: Vec<Result<(), Error>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| -> Result<(), Error> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((rel, sizes)) = shape.dirs.get(i) else {
                            return Ok(());
                        };
                        let dir = root.join(rel);
                        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
                        let dfd = rfs::open(
                            &dir,
                            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                            Mode::empty(),
                        )
                        .map_err(|e| io(&dir, e))?;
                        for (k, size) in sizes.iter().enumerate() {
                            let name = format!("f{k}");
                            let fd = rfs::openat(
                                &dfd,
                                name.as_str(),
                                OFlags::WRONLY
                                    | OFlags::CREATE
                                    | OFlags::EXCL
                                    | OFlags::NOFOLLOW
                                    | OFlags::CLOEXEC,
                                Mode::from_raw_mode(0o600),
                            )
                            .map_err(|e| io(&dir, e))?;
                            let mut f = File::from(fd);
                            let mut left = *size;
                            while left > 0 {
                                let n = left.min(buf.len() as u64) as usize;
                                f.write_all(&buf[..n])
                                    .map_err(|e| Error::io(dir.display(), e))?;
                                left -= n as u64;
                            }
                        }
                    }
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("ceiling thread panicked".into())))
            })
            .collect()
    });
    let written = started.elapsed();
    results.into_iter().collect::<Result<Vec<()>, Error>>()?;
    syncfs(root)?;
    Ok(Times {
        written,
        durable: started.elapsed(),
    })
}

/// Makes everything written on the filesystem holding `root` durable (`syncfs`): what the
/// dump does before MANIFEST.json, so a ceiling or another program's run is timed to the
/// same point.
pub fn syncfs(root: &Path) -> Result<(), Error> {
    let rfd = rfs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(root, e))?;
    rfs::syncfs(&rfd).map_err(|e| io(root, e))
}

/// Flushes dirty pages so the next measurement starts from a quiet disk.
pub fn sync() {
    rustix::fs::sync();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_recreate() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("top"), b"12345").unwrap();
        std::fs::write(src.join("a/b/x"), vec![1u8; 3 << 20]).unwrap();
        std::fs::write(src.join("a/y"), b"").unwrap();
        let s = shape(&src).unwrap();
        assert_eq!((s.files, s.bytes, s.largest), (3, 5 + (3 << 20), 3 << 20));
        let dst = t.path().join("dst");
        let c = create_files(&s, &dst, 2).unwrap();
        assert!(c.durable >= c.written);
        let d = shape(&dst).unwrap();
        assert_eq!(
            (d.files, d.bytes, d.dirs.len()),
            (s.files, s.bytes, s.dirs.len())
        );
        let q = sequential(&t.path().join("seq"), 1_500_000, true).unwrap();
        assert!(q.durable >= q.written);
        assert_eq!(
            std::fs::metadata(t.path().join("seq")).unwrap().len(),
            1_500_000
        );
    }
}
