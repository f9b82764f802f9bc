//! CHECKSUMS against what is there: every listed file must exist with the listed SHA-256,
//! and every regular file but `CHECKSUMS` itself must be listed (an added file is as much a
//! change to the dump as an altered one).

use super::checksums::Listing;
use super::report::Report;
use super::tree::Tree;

/// Compares `listing` with `tree`, reporting each difference under the file's path.
pub fn check(tree: &Tree, listing: &Listing, r: &mut Report) {
    let dirs = tree.all_dirs();
    let list = String::from_utf8_lossy(tree.algo.file_name());
    for (path, want) in listing {
        if tree.others.contains(path) || tree.unreadable.contains(path) {
            continue; // reported when found
        }
        match tree.files.get(path) {
            Some(got) if got == want => {}
            Some(got) => r.error(
                path,
                format!(
                    "content differs from {list} ({} {}, listed {})",
                    tree.algo.manifest_names().0,
                    hex::encode(got),
                    hex::encode(want)
                ),
            ),
            None if dirs.contains(path.as_slice()) => r.error(
                path,
                format!("listed in {list} as a file but is a directory"),
            ),
            None => r.error(path, format!("listed in {list} but missing")),
        }
    }
    for path in tree.files.keys() {
        if path.as_slice() != tree.algo.file_name() && !listing.contains_key(path) {
            r.error(
                path,
                format!("present but not listed in {list} (added after the dump was written?)"),
            );
        }
    }
}
