//! `elastickv-backup verify`: is this dump complete and untampered?
//!
//! Works on a dump directory and on a `tar` / `tar.zst` archive of one (detected by its
//! magic, from a file or standard input), and on either in S3-compatible storage
//! (`s3://bucket/prefix/`, `s3://bucket/key`; see [`object`]). Reads everything once, hashing on all cores,
//! then judges the result with the same checks for both inputs:
//!
//! * the MANIFEST.json gate of docs/format/00-container.md §6 ([`manifest`]);
//! * CHECKSUMS: well-formed, safe paths, every listed file present with that SHA-256, and
//!   every file present listed ([`checksums`], [`listing`]);
//! * path safety: no symlinks or special files, no `..` or absolute names in archives;
//! * the layout of each adapter's tree ([`layout`]).
//!
//! Every problem is reported, each naming its file; the dump passes only with none.
//! Memory grows with the number of files (one path and digest each, as CHECKSUMS itself),
//! not with their size.

pub(crate) mod archive;
pub(crate) mod checksums;
pub(crate) mod dir;
pub(crate) mod hashpool;
pub(crate) mod layout;
pub(crate) mod listing;
pub mod manifest;
pub(crate) mod object;
pub mod report;
pub(crate) mod rfc3339;
pub(crate) mod tar;
pub(crate) mod tree;

pub use report::{Problem, Report, Severity};

use crate::error::Error;
use std::path::Path;

pub use crate::error::verify::VerifyError;

/// Reads and checks the dump at `target` (`-` = an archive on standard input) with
/// `threads` hashing threads. I/O errors opening the target are errors; everything found
/// inside it is in the report.
pub fn verify(target: &Path, threads: usize) -> Result<Report, Error> {
    let mut r = Report::default();
    let tree = if target.as_os_str() == "-" {
        let mut input = std::io::stdin();
        let head = archive::read_head(&mut input).map_err(|e| Error::io("<stdin>", e))?;
        archive::collect_any(head, Box::new(input), threads, &mut r)
    } else {
        let meta = std::fs::metadata(target).map_err(|e| Error::io(target.display(), e))?;
        if meta.is_dir() {
            Some(dir::collect(target, threads, &mut r))
        } else {
            let mut f = std::fs::File::open(target).map_err(|e| Error::io(target.display(), e))?;
            let head = archive::read_head(&mut f).map_err(|e| Error::io(target.display(), e))?;
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
    url: &crate::sinks::object::S3Url,
    cfg: &crate::sinks::object::S3Config,
    threads: usize,
) -> Result<Report, Error> {
    let mut r = Report::default();
    if let Some(tree) = object::collect(url, cfg, threads, &mut r)? {
        check(&tree, &mut r);
    }
    Ok(r)
}

/// Runs every check on what was read.
pub fn check(tree: &tree::Tree, r: &mut Report) {
    let info = manifest::check(tree.manifest.as_deref(), r);
    if let Some(listing) = checksums::parse(tree.checksums.as_deref(), r) {
        listing::check(tree, &listing, r);
    }
    layout::check(tree, info.as_ref(), r);
}
