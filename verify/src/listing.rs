//! CHECKSUMS against what is there: every listed file must exist with the listed SHA-256,
//! and every regular file but `CHECKSUMS` itself must be listed (an added file is as much a
//! change to the dump as an altered one).

use super::checksums::Listing;
use super::report::Report;
use super::tree::{Tree, CHECKSUMS};

/// Compares `listing` with `tree`, reporting each difference under the file's path.
pub fn check(tree: &Tree, listing: &Listing, r: &mut Report) {
    let dirs = tree.all_dirs();
    for (path, want) in listing {
        if tree.others.contains(path) || tree.unreadable.contains(path) {
            continue; // reported when found
        }
        match tree.files.get(path) {
            Some(got) if got == want => {}
            Some(got) => r.error(
                path,
                format!(
                    "content differs from CHECKSUMS (sha256 {}, listed {})",
                    hex::encode(got),
                    hex::encode(want)
                ),
            ),
            None if dirs.contains(path.as_slice()) => {
                r.error(path, "listed in CHECKSUMS as a file but is a directory")
            }
            None => r.error(path, "listed in CHECKSUMS but missing"),
        }
    }
    for path in tree.files.keys() {
        if path != CHECKSUMS && !listing.contains_key(path) {
            r.error(
                path,
                "present but not listed in CHECKSUMS (added after the dump was written?)",
            );
        }
    }
}
