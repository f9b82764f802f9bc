//! Which digest a dump lists for its files, and the hasher that computes it as bytes are
//! written.
//!
//! SHA-256 in `CHECKSUMS` is the format (upstream writes it, `sha256sum -c` checks it) and
//! stays the default. BLAKE3 in `CHECKSUMS.b3` (`--checksums blake3`, the lines `b3sum -c`
//! checks) is for dumps whose cost is hashing: SHA-256 is most of the CPU of a dump of
//! large S3 objects (docs/PERFORMANCE.md, "Hashing"). Both digests are 32 bytes, so the
//! rest of the pipeline (the digest log, the `CHECKSUMS` writer) does not care which.

use sha2::{Digest, Sha256};

/// The digest a dump's checksum file lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum DigestKind {
    /// SHA-256 in `CHECKSUMS` (upstream's format; the default).
    #[default]
    Sha256,
    /// BLAKE3 (32-byte output) in `CHECKSUMS.b3`.
    Blake3,
}

/// Every checksum file name a dump may hold, so no code mistakes one for a data file.
pub const CHECKSUM_FILES: [&str; 2] = ["CHECKSUMS", "CHECKSUMS.b3"];

/// True for `CHECKSUMS` and `CHECKSUMS.b3`: control files that list the others and are
/// not listed themselves.
pub fn is_checksums_name(name: &str) -> bool {
    CHECKSUM_FILES.contains(&name)
}

impl DigestKind {
    /// The checksum file at the dump's root.
    pub const fn file_name(self) -> &'static str {
        match self {
            DigestKind::Sha256 => "CHECKSUMS",
            DigestKind::Blake3 => "CHECKSUMS.b3",
        }
    }

    /// The command that checks that file without us (`<tool> -c <file>` in the root).
    pub const fn tool(self) -> &'static str {
        match self {
            DigestKind::Sha256 => "sha256sum",
            DigestKind::Blake3 => "b3sum",
        }
    }

    /// The kind a checksum file's name stands for.
    pub fn from_file_name(name: &str) -> Option<Self> {
        [DigestKind::Sha256, DigestKind::Blake3]
            .into_iter()
            .find(|k| k.file_name() == name)
    }

    /// The digest of `data` in one call.
    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            DigestKind::Sha256 => Sha256::digest(data).into(),
            DigestKind::Blake3 => *blake3::hash(data).as_bytes(),
        }
    }

    /// A hasher for a file written in pieces.
    pub fn hasher(self) -> FileHasher {
        match self {
            DigestKind::Sha256 => FileHasher::Sha256(Sha256::new()),
            DigestKind::Blake3 => FileHasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
}

/// An incremental digest of one file (see [`DigestKind::hasher`]).
#[derive(Clone)]
pub enum FileHasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// BLAKE3 state (boxed: it is ~2 KB).
    Blake3(Box<blake3::Hasher>),
}

impl FileHasher {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            FileHasher::Sha256(h) => h.update(data),
            FileHasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// The digest of everything added.
    pub fn finalize(self) -> [u8; 32] {
        match self {
            FileHasher::Sha256(h) => h.finalize().into(),
            FileHasher::Blake3(h) => *h.finalize().as_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_match_their_references_whole_and_in_pieces() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for kind in [DigestKind::Sha256, DigestKind::Blake3] {
            let reference: [u8; 32] = match kind {
                DigestKind::Sha256 => Sha256::digest(&data).into(),
                DigestKind::Blake3 => *blake3::hash(&data).as_bytes(),
            };
            assert_eq!(kind.digest(&data), reference, "{kind:?}");
            let mut h = kind.hasher();
            for piece in data.chunks(4099) {
                h.update(piece);
            }
            assert_eq!(h.finalize(), reference, "{kind:?} in pieces");
        }
        // The well-known digests of the empty input.
        assert_eq!(
            hex::encode(DigestKind::Sha256.digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(DigestKind::Blake3.digest(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn file_names_round_trip() {
        for kind in [DigestKind::Sha256, DigestKind::Blake3] {
            assert_eq!(DigestKind::from_file_name(kind.file_name()), Some(kind));
            assert!(is_checksums_name(kind.file_name()));
        }
        assert_eq!(DigestKind::from_file_name("MANIFEST.json"), None);
        assert!(!is_checksums_name("CHECKSUMS.sha256"));
    }
}
