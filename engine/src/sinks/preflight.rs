//! Output checks a live dump makes before it pins anything (`BeginBackup` holds compaction
//! back on every group and counts the whole cluster): a path that cannot take the dump is
//! reported at once, not after the cluster did the work. With `--force` an existing tree is
//! replaced only if it is a dump tree, and is emptied right before writing, so the new
//! CHECKSUMS never lists a file an earlier (possibly failed) run left behind.

use std::path::{Path, PathBuf};

/// Free space below which a dump is refused before it starts.
pub const MIN_FREE_BYTES: u64 = 16 << 20;

/// Top-level entries a dump (ours or upstream's decoder) writes; `--force` replaces a tree
/// holding nothing else.
const DUMP_ENTRIES: [&str; 9] = [
    "MANIFEST.json",
    "CHECKSUMS",
    "CHECKSUMS.b3",
    "dynamodb",
    "s3",
    "redis",
    "sqs",
    ".scratch",
    ".elastickv-backup-resume",
];

pub use crate::error::preflight::PreflightError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PreflightError + '_ {
    move |source| PreflightError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a directory output without writing anything that stays: refuses a
/// non-directory, a non-empty directory (unless `force` and it holds only dump entries), a
/// directory this process cannot write, and a filesystem with less than
/// [`MIN_FREE_BYTES`] free. A missing directory is checked through its nearest existing
/// ancestor (where it will be created once the dump starts writing).
pub fn check_dir(dir: &Path, force: bool) -> Result<(), PreflightError> {
    let target = match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(PreflightError::NotADirectory {
                path: dir.to_path_buf(),
            })
        }
        Ok(_) => {
            check_entries(dir, force)?;
            dir.to_path_buf()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => existing_ancestor(dir)?,
        Err(e) => return Err(io(dir)(e)),
    };
    let probe = target.join(format!(
        ".elastickv-backup-preflight-{}",
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
    let _ = std::fs::remove_file(&probe);
    written.map_err(|source| PreflightError::NotWritable {
        path: target.clone(),
        source,
    })?;
    let st = rustix::fs::statvfs(&target).map_err(|e| io(&target)(e.into()))?;
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    if free < MIN_FREE_BYTES {
        return Err(PreflightError::NoSpace {
            path: dir.to_path_buf(),
            free,
            need: MIN_FREE_BYTES,
        });
    }
    Ok(())
}

/// The nearest existing ancestor of a missing `dir`, which must be a directory.
fn existing_ancestor(dir: &Path) -> Result<PathBuf, PreflightError> {
    let mut cur = dir.parent();
    while let Some(p) = cur {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => return Ok(p.to_path_buf()),
            Ok(_) => {
                return Err(PreflightError::NotADirectory {
                    path: p.to_path_buf(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => cur = p.parent(),
            Err(e) => return Err(io(p)(e)),
        }
    }
    Ok(PathBuf::from("."))
}

/// An existing output directory must be empty, or (with `force`) hold only dump entries.
fn check_entries(dir: &Path, force: bool) -> Result<(), PreflightError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let name = entry
            .map_err(io(dir))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !force {
            return Err(PreflightError::NotEmpty {
                path: dir.to_path_buf(),
                example: name,
            });
        }
        if !DUMP_ENTRIES.contains(&name.as_str()) {
            return Err(PreflightError::NotADump {
                path: dir.to_path_buf(),
                entry: name,
            });
        }
    }
    Ok(())
}

/// Checks a file output (`--archive`): its directory must exist and be writable; the file
/// must not exist unless `force`.
pub fn check_file(file: &Path, force: bool) -> Result<(), PreflightError> {
    if file.as_os_str() == "-" {
        return Ok(());
    }
    if !force && file.exists() {
        return Err(PreflightError::NotEmpty {
            path: file.to_path_buf(),
            example: "the file itself".into(),
        });
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let probe = parent.join(format!(
        ".elastickv-backup-preflight-{}",
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    let _ = std::fs::remove_file(&probe);
    written
        .map(drop)
        .map_err(|source| PreflightError::NotWritable {
            path: parent,
            source,
        })
}

/// Empties a dump tree `check_dir` accepted under `--force`: MANIFEST.json and the checksum
/// files first, so an interruption never leaves a tree that looks complete.
pub fn clear_dump_tree(dir: &Path) -> Result<(), PreflightError> {
    if !dir.is_dir() {
        return Ok(());
    }
    for name in ["MANIFEST.json", "CHECKSUMS", "CHECKSUMS.b3"] {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(dir)(e)),
        }
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !DUMP_ENTRIES.contains(&name.as_str()) {
            return Err(PreflightError::NotADump {
                path: dir.to_path_buf(),
                entry: name,
            });
        }
        let path = entry.path();
        let ft = entry.file_type().map_err(io(&path))?;
        if ft.is_dir() {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        } else {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_missing_and_occupied() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("new/out");
        check_dir(&out, false).unwrap();
        assert!(!out.exists(), "the check created the output");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("notes.txt"), "x").unwrap();
        let e = check_dir(&out, false).unwrap_err();
        assert!(matches!(e, PreflightError::NotEmpty { .. }), "{e}");
        let e = check_dir(&out, true).unwrap_err();
        assert!(e.to_string().contains("notes.txt"), "{e}");
        assert!(out.join("notes.txt").exists(), "a foreign file was deleted");
        let file = t.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            check_dir(&file, true).unwrap_err(),
            PreflightError::NotADirectory { .. }
        ));
    }

    #[test]
    fn force_clears_a_dump_tree_only() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path();
        std::fs::create_dir_all(out.join("redis/db_0/strings")).unwrap();
        std::fs::write(out.join("redis/db_0/strings/stale.bin"), "old").unwrap();
        std::fs::write(out.join("CHECKSUMS"), "x").unwrap();
        check_dir(out, true).unwrap();
        clear_dump_tree(out).unwrap();
        assert_eq!(std::fs::read_dir(out).unwrap().count(), 0);
    }
}
