//! elastickv-backup-verify: `elastickv-backup verify` — is this dump complete and untampered?
//!
//! A crate of its own because it is the one part that must not trust the writer: it reads a
//! dump the way an operator's tools would (files, `tar`, S3 objects), with its own archive
//! reader, and shares with the engine only the object-store client (and with every crate the
//! Go rules of `gocompat`). Nothing in the engine depends on it.
//!
//! Works on a dump directory and on a `tar` / `tar.zst` archive of one (detected by its
//! magic, from a file or standard input), and on either in S3-compatible storage
//! (`s3://bucket/prefix/`, `s3://bucket/key`; see `object`). Reads everything once, hashing on all cores,
//! then judges the result with the same checks for both inputs:
//!
//! * the MANIFEST.json gate of docs/format/00-container.md §6 ([`manifest`]);
//! * CHECKSUMS (or a BLAKE3 dump's CHECKSUMS.b3, [`digest`]): well-formed, safe paths,
//!   every listed file present with that digest, and every file present listed
//!   (`checksums`, `listing`); the manifest's `checksum_algorithm` names the same digest;
//! * path safety: no symlinks or special files, no `..` or absolute names in archives;
//! * the layout of each adapter's tree (`layout`).
//!
//! Every problem is reported, each naming its file; the dump passes only with none.
//! Memory grows with the number of files (one path and digest each, as CHECKSUMS itself),
//! not with their size.

#![warn(missing_docs)]

pub(crate) mod archive;
pub(crate) mod checksums;
pub mod digest;
pub(crate) mod dir;
pub mod error;
pub(crate) mod hashpool;
pub(crate) mod layout;
pub(crate) mod listing;
pub mod manifest;
pub(crate) mod object;
pub mod report;
pub(crate) mod rfc3339;
pub(crate) mod tar;
pub(crate) mod tree;

pub use error::VerifyError;
pub use report::{Problem, Report, Severity};

use std::path::Path;

/// Reads and checks the dump at `target` (`-` = an archive on standard input) with
/// `threads` hashing threads. I/O errors opening the target are errors; everything found
/// inside it is in the report.
pub fn verify(target: &Path, threads: usize) -> Result<Report, VerifyError> {
    let mut r = Report::default();
    let tree = if target.as_os_str() == "-" {
        let mut input = std::io::stdin();
        let head = archive::read_head(&mut input).map_err(|e| VerifyError::open("<stdin>", e))?;
        archive::collect_any(head, Box::new(input), threads, &mut r)
    } else {
        let meta = std::fs::metadata(target).map_err(|e| VerifyError::open(target.display(), e))?;
        if meta.is_dir() {
            Some(dir::collect(target, threads, &mut r))
        } else {
            let mut f =
                std::fs::File::open(target).map_err(|e| VerifyError::open(target.display(), e))?;
            let head =
                archive::read_head(&mut f).map_err(|e| VerifyError::open(target.display(), e))?;
            archive::collect_any(
                head,
                Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
                threads,
                &mut r,
            )
        }
    };
    if let Some(tree) = tree {
        check(&tree, &mut r);
    }
    Ok(r)
}

/// Reads and checks the dump at `url` in object storage: a tree of objects under a prefix,
/// or one archive object.
pub fn verify_s3(
    url: &elastickv_backup_engine::sinks::object::S3Url,
    cfg: &elastickv_backup_engine::sinks::object::S3Config,
    threads: usize,
) -> Result<Report, VerifyError> {
    let mut r = Report::default();
    if let Some(tree) = object::collect(url, cfg, threads, &mut r)? {
        check(&tree, &mut r);
    }
    Ok(r)
}

/// Runs every check on what was read.
pub fn check(tree: &tree::Tree, r: &mut Report) {
    let info = manifest::check(tree.manifest.as_deref(), r);
    if let Some(said) = info.as_ref().and_then(|i| i.checksums) {
        if said != tree.algo {
            r.error(
                b"MANIFEST.json",
                format!(
                    "checksum_algorithm {:?}, but the dump holds {}",
                    said.manifest_names().0,
                    String::from_utf8_lossy(tree.algo.file_name())
                ),
            );
        }
    }
    if let Some(listing) =
        checksums::parse_named(tree.algo.file_name(), tree.checksums.as_deref(), r)
    {
        listing::check(tree, &listing, r);
    }
    layout::check(tree, info.as_ref(), r);
}
