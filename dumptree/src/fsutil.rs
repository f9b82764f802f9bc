//! Reading the dump tree defensively (every reader of the tree: `encode`, `restore redis`).
//!
//! The tree is untrusted input: a planted symlink, FIFO or hard link must not make the
//! encoder read a file outside the dump or block forever. Files are opened without
//! following symlinks and without blocking, then checked through the open descriptor
//! (regular file, one link). Listings are sorted by name so the first error reported
//! never depends on readdir order.

use crate::error::TreeError;
use std::ffi::OsString;
use std::fs::{File, FileType};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// `parent/name` for messages (non-UTF-8 names shown lossily).
pub fn shown_join(parent: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if parent.is_empty() {
        name.into_owned()
    } else {
        format!("{parent}/{name}")
    }
}

fn kind(t: FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symlink"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a device"
    }
}

/// Whether `path` is a real directory: `Ok(false)` when absent, an error when it is
/// anything else (a symlink to a directory included).
pub fn require_dir(path: &Path, shown: &str) -> Result<bool, TreeError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => Ok(true),
        Ok(m) => Err(TreeError::invalid(
            shown,
            format!("expected a directory, found {}", kind(m.file_type())),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(TreeError::io(shown, e)),
    }
}

/// A directory's entries, sorted by name bytes, with their (not followed) file types.
pub fn list_dir(path: &Path, shown: &str) -> Result<Vec<(OsString, FileType)>, TreeError> {
    let mut out = Vec::new();
    for ent in std::fs::read_dir(path).map_err(|e| TreeError::io(shown, e))? {
        let ent = ent.map_err(|e| TreeError::io(shown, e))?;
        let t = ent.file_type().map_err(|e| TreeError::io(shown, e))?;
        out.push((ent.file_name(), t));
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// Opens a regular, singly-linked file for reading; `Ok(None)` when it does not exist.
pub fn open_regular(path: &Path, shown: &str) -> Result<Option<File>, TreeError> {
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(TreeError::invalid(
                shown,
                "is a symlink; the dump must hold regular files only",
            ))
        }
        Err(e) => return Err(TreeError::io(shown, e)),
    };
    let m = f.metadata().map_err(|e| TreeError::io(shown, e))?;
    if !m.file_type().is_file() {
        return Err(TreeError::invalid(
            shown,
            format!("is {}, not a regular file", kind(m.file_type())),
        ));
    }
    if m.nlink() > 1 {
        return Err(TreeError::invalid(
            shown,
            format!(
                "is hard-linked ({} links); refusing a file that may live outside the dump",
                m.nlink()
            ),
        ));
    }
    Ok(Some(f))
}

/// Reads a whole regular file (see [`open_regular`]); a missing file is an error.
pub fn read_regular(path: &Path, shown: &str) -> Result<Vec<u8>, TreeError> {
    let Some(mut f) = open_regular(path, shown)? else {
        return Err(TreeError::invalid(shown, "is missing"));
    };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|e| TreeError::io(shown, e))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_links_fifos_and_missing() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(read_regular(&f, "f").unwrap(), b"x");
        let l = d.path().join("l");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        assert!(read_regular(&l, "l")
            .unwrap_err()
            .to_string()
            .contains("symlink"));
        let h = d.path().join("h");
        std::fs::hard_link(&f, &h).unwrap();
        assert!(read_regular(&h, "h")
            .unwrap_err()
            .to_string()
            .contains("hard-linked"));
        let p = d.path().join("p");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(read_regular(&p, "p")
            .unwrap_err()
            .to_string()
            .contains("FIFO"));
        assert!(read_regular(&d.path().join("m"), "m").is_err());
        assert!(open_regular(&d.path().join("m"), "m").unwrap().is_none());
        assert!(require_dir(&l, "l").is_err());
        assert!(!require_dir(&d.path().join("missing"), "m").unwrap());
        assert!(require_dir(d.path(), "d").unwrap());
        let names: Vec<_> = list_dir(d.path(), "d")
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["f", "h", "l", "p"]);
        assert_eq!(shown_join("", b"a"), "a");
        assert_eq!(shown_join("a", b"b"), "a/b");
    }
}
