//! What was found in a dump, directory or archive alike: the regular files with their
//! digests, the directories, the entries that are neither, and the two control files'
//! bytes. The checks ([`super::listing`], [`super::layout`]) run on this model only, so
//! both inputs are judged by the same code.

use std::collections::{HashMap, HashSet};

/// Root-level name of the manifest.
pub const MANIFEST: &[u8] = b"MANIFEST.json";

/// The contents of a dump, as read.
#[derive(Debug, Default)]
pub struct Tree {
    /// Regular files: relative path → digest ([`Tree::algo`]) of the content.
    pub files: HashMap<Vec<u8>, [u8; 32]>,
    /// The digest the dump lists: which checksum file it holds.
    pub algo: super::digest::Algo,
    /// Directories seen as entries (parents of files are implied, not necessarily here).
    pub dirs: HashSet<Vec<u8>>,
    /// Entries that are not regular files or directories (already reported), by path.
    pub others: HashSet<Vec<u8>>,
    /// Regular files that could not be read (already reported).
    pub unreadable: HashSet<Vec<u8>>,
    /// `MANIFEST.json`'s bytes, if present.
    pub manifest: Option<Vec<u8>>,
    /// The checksum file's bytes (`CHECKSUMS` or `CHECKSUMS.b3`), if present.
    pub checksums: Option<Vec<u8>>,
}

impl Tree {
    /// Every directory: the explicit ones and every parent of any entry.
    pub fn all_dirs(&self) -> HashSet<&[u8]> {
        let mut out: HashSet<&[u8]> = self.dirs.iter().map(Vec::as_slice).collect();
        let paths = self
            .files
            .keys()
            .chain(self.dirs.iter())
            .chain(self.others.iter())
            .chain(self.unreadable.iter());
        for p in paths {
            let mut end = p.len();
            while let Some(i) = p[..end].iter().rposition(|&b| b == b'/') {
                if !out.insert(&p[..i]) {
                    break;
                }
                end = i;
            }
        }
        out
    }
}
