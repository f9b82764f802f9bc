//! Reading a dump directory: walk it without following any symlink (a symlink, FIFO,
//! socket or device inside a dump is an error: a dump holds only regular files and
//! directories), then hash every regular file on all cores (a rayon parallel map).

use super::digest::Algo;
use super::report::Report;
use super::tree::{Tree, MANIFEST};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Largest MANIFEST.json read (a real one is about 1 KiB).
const MANIFEST_MAX: u64 = 16 << 20;

/// Opens a file for reading without following a symlink or blocking on a FIFO, and
/// checks it is a regular file.
fn open_regular(p: &Path) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(p)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// A file's digest and length, or why it could not be read.
type HashResult = std::io::Result<([u8; 32], u64)>;

fn hash_file(p: &Path, algo: Algo, buf: &mut [u8]) -> HashResult {
    let mut f = open_regular(p)?;
    let mut h = algo.hasher();
    let mut n_total = 0u64;
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((h.finalize(), n_total))
}

fn rel_join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    if rel.is_empty() {
        return name.to_vec();
    }
    let mut v = rel.to_vec();
    v.push(b'/');
    v.extend_from_slice(name);
    v
}

/// Walks `root` and hashes its files with `threads` threads.
pub fn collect(root: &Path, threads: usize, r: &mut Report) -> Tree {
    let mut tree = Tree::default();
    // Relative paths only (the absolute one is rebuilt when hashing): one per file.
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut stack: Vec<(PathBuf, Vec<u8>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                r.error(&rel, format!("cannot read directory: {e}"));
                continue;
            }
        };
        for entry in rd {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    r.error(&rel, format!("cannot read directory: {e}"));
                    break;
                }
            };
            let child = rel_join(&rel, entry.file_name().as_bytes());
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    r.error(&child, format!("cannot stat: {e}"));
                    tree.unreadable.insert(child);
                    continue;
                }
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                tree.dirs.insert(child.clone());
                stack.push((entry.path(), child));
            } else if ft.is_file() {
                if meta.nlink() > 1 {
                    r.warn(
                        &child,
                        format!("has {} hard links: a change made through another link changes the dump", meta.nlink()),
                    );
                }
                files.push(child);
            } else {
                let what = if ft.is_symlink() {
                    "is a symlink"
                } else {
                    "is not a regular file or directory (FIFO, socket or device)"
                };
                r.error(
                    &child,
                    format!("{what}; a dump holds only regular files and directories"),
                );
                tree.others.insert(child);
            }
        }
    }

    // The checksum file present says which digest to compute.
    tree.algo = super::digest::of_root(|name| files.iter().any(|f| f.as_slice() == name), r);
    let algo = tree.algo;

    // A plain parallel map over the files (rayon's work stealing balances big and small
    // files); results come back in `files` order.
    let hashed: Vec<HashResult> = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("ekvb-verify-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| {
            use rayon::prelude::*;
            files
                .par_iter()
                .map_init(
                    || vec![0u8; 256 << 10],
                    |buf, rel| hash_file(&root.join(std::ffi::OsStr::from_bytes(rel)), algo, buf),
                )
                .collect()
        }),
        Err(e) => {
            r.error(b"", format!("cannot start hashing threads: {e}"));
            Vec::new()
        }
    };
    for (i, rel) in files.iter().enumerate() {
        match hashed.get(i) {
            Some(Ok((digest, n))) => {
                r.files += 1;
                r.bytes += n;
                tree.files.insert(rel.clone(), *digest);
            }
            Some(Err(e)) => {
                r.error(rel, format!("cannot read: {e}"));
                tree.unreadable.insert(rel.clone());
            }
            None => {
                r.error(rel, "not hashed");
                tree.unreadable.insert(rel.clone());
            }
        }
    }

    for (name, slot, max) in [
        (MANIFEST, &mut tree.manifest, MANIFEST_MAX),
        (algo.file_name(), &mut tree.checksums, u64::MAX),
    ] {
        if !tree.files.contains_key(name) {
            continue;
        }
        let p = root.join(std::ffi::OsStr::from_bytes(name));
        let mut v = Vec::new();
        match open_regular(&p).and_then(|f| f.take(max).read_to_end(&mut v)) {
            Ok(_) => *slot = Some(v),
            Err(e) => r.error(name, format!("cannot read: {e}")),
        }
    }
    tree
}
