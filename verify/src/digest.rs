//! The two digests a dump's checksum file may list: SHA-256 in `CHECKSUMS` (upstream's
//! format) or BLAKE3 in `CHECKSUMS.b3` (`dump --checksums blake3`). Computed here with the
//! hash crates directly, not with the engine's hasher: the verifier does not reuse the
//! writer's code for what it checks.

use sha2::{Digest, Sha256};

/// Which digest the dump lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algo {
    /// `CHECKSUMS`, SHA-256, `sha256sum` lines.
    #[default]
    Sha256,
    /// `CHECKSUMS.b3`, BLAKE3 (32 bytes), `b3sum` lines.
    Blake3,
}

impl Algo {
    /// The checksum file at the dump's root.
    pub fn file_name(self) -> &'static [u8] {
        match self {
            Algo::Sha256 => b"CHECKSUMS",
            Algo::Blake3 => b"CHECKSUMS.b3",
        }
    }

    /// MANIFEST.json's `checksum_algorithm` and `checksum_format` for this digest.
    pub fn manifest_names(self) -> (&'static str, &'static str) {
        match self {
            Algo::Sha256 => ("sha256", "sha256sum"),
            Algo::Blake3 => ("blake3", "b3sum"),
        }
    }

    /// The digest named by a manifest's `checksum_algorithm`.
    pub fn from_manifest(name: &str) -> Option<Self> {
        [Algo::Sha256, Algo::Blake3]
            .into_iter()
            .find(|a| a.manifest_names().0 == name)
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            Algo::Sha256 => Sha256::digest(data).into(),
            Algo::Blake3 => *blake3::hash(data).as_bytes(),
        }
    }

    /// A hasher for content read in pieces.
    pub fn hasher(self) -> Hasher {
        match self {
            Algo::Sha256 => Hasher::Sha256(Sha256::new()),
            Algo::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
}

/// The digest a dump tree lists, from which checksum files its root holds: `CHECKSUMS.b3`
/// alone makes it a BLAKE3 dump; both at once is a broken dump (reported; SHA-256 is
/// checked).
pub fn of_root(has: impl Fn(&[u8]) -> bool, r: &mut super::report::Report) -> Algo {
    let b3 = Algo::Blake3.file_name();
    match (has(Algo::Sha256.file_name()), has(b3)) {
        (false, true) => Algo::Blake3,
        (true, true) => {
            r.error(
                b3,
                "a dump holds one checksum file, and CHECKSUMS is here too",
            );
            Algo::Sha256
        }
        _ => Algo::Sha256,
    }
}

/// True for either checksum file's name.
pub fn is_checksums(name: &[u8]) -> bool {
    [Algo::Sha256, Algo::Blake3]
        .iter()
        .any(|a| a.file_name() == name)
}

/// Incremental state of one [`Algo`].
pub enum Hasher {
    /// SHA-256.
    Sha256(Sha256),
    /// BLAKE3 (boxed: ~2 KB).
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// The digest of everything added.
    pub fn finalize(self) -> [u8; 32] {
        match self {
            Hasher::Sha256(h) => h.finalize().into(),
            Hasher::Blake3(h) => *h.finalize().as_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // `printf 'hello\n' | sha256sum`; BLAKE3 of the empty input (its spec's first
        // test vector, what `b3sum` prints for an empty file).
        assert_eq!(
            hex::encode(Algo::Sha256.digest(b"hello\n")),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(
            hex::encode(Algo::Blake3.digest(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        for a in [Algo::Sha256, Algo::Blake3] {
            let mut h = a.hasher();
            h.update(b"hel");
            h.update(b"lo\n");
            assert_eq!(h.finalize(), a.digest(b"hello\n"));
            assert_eq!(Algo::from_manifest(a.manifest_names().0), Some(a));
            assert!(is_checksums(a.file_name()));
        }
    }
}
