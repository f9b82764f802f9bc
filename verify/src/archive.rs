//! Reading a dump archive (`tar`, or `tar.zst` detected by the zstd magic), from a file or
//! standard input, in one pass: nothing is extracted. Entry names are checked for safety
//! (no absolute path, no `..`); only regular files and directories are accepted; a file
//! appearing twice is an error. Contents are hashed by a [`HashPool`] while reading goes on.

use super::checksums::unsafe_path;
use super::digest::{is_checksums, Algo};
use super::hashpool::both;
use super::hashpool::{HashPool, CHUNK};
use super::report::Report;
use super::tar::{TarError, TarKind, TarReader};
use super::tree::{Tree, MANIFEST};
use std::collections::HashMap;
use std::io::{self, Cursor, Read};

/// Report path for problems of the archive as a whole.
pub const ARCHIVE: &[u8] = b"(archive)";

/// zstd frame magic (little-endian 0xFD2FB528).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A tar stream.
    Tar,
    /// A zstd-compressed stream (assumed tar inside).
    TarZst,
}

/// Detects the format from the first (up to 512) bytes.
pub fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(&ZSTD_MAGIC) {
        return Some(Format::TarZst);
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Some(Format::Tar);
    }
    // An archive with no entries is just zero blocks.
    if head.len() == 512 && head.iter().all(|&b| b == 0) {
        return Some(Format::Tar);
    }
    None
}

/// Reads up to 512 bytes (fewer only at EOF).
pub fn read_head(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    r.take(512).read_to_end(&mut head)?;
    Ok(head)
}

/// Normalises an entry name: strips `./` prefixes and a trailing `/`.
fn normalise(name: &[u8]) -> &[u8] {
    let mut n = name;
    while let Some(rest) = n.strip_prefix(b"./") {
        n = rest;
    }
    while let Some(rest) = n.strip_suffix(b"/") {
        n = rest;
    }
    if n == b"." {
        b""
    } else {
        n
    }
}

/// Reads every entry of a tar stream into a [`Tree`].
pub fn collect<R: Read>(input: R, threads: usize, r: &mut Report) -> Tree {
    let mut tree = Tree::default();
    let mut tar = TarReader::new(input);
    let mut pool = HashPool::start(threads);
    let mut last_two: [Option<Vec<u8>>; 2] = [None, None];
    // Both digests of the control files; the listed one is known at the checksum file.
    let mut control: HashMap<Vec<u8>, [[u8; 32]; 2]> = HashMap::new();
    let mut algo: Option<Algo> = None;
    let mut buf = vec![0u8; CHUNK];
    let res = (|| -> Result<(), TarError> {
        while let Some(e) = tar.next_entry()? {
            let name = normalise(&e.name).to_vec();
            if name.is_empty() {
                if e.kind != TarKind::Dir {
                    r.error(
                        ARCHIVE,
                        format!("entry at byte {} has an empty name", e.offset),
                    );
                }
                continue;
            }
            if let Some(why) = unsafe_path(&name) {
                r.error(&name, format!("unsafe archive entry name: {why}"));
                continue;
            }
            match e.kind {
                TarKind::Dir => {
                    tree.dirs.insert(name);
                    continue;
                }
                TarKind::File => {}
                k => {
                    let what = match k {
                        TarKind::Symlink => "a symlink entry".to_string(),
                        TarKind::HardLink => "a hard-link entry".to_string(),
                        TarKind::Other(t) => format!("an entry of type {:?}", char::from(t)),
                        _ => String::new(),
                    };
                    r.error(
                        &name,
                        format!("is {what}; a dump holds only regular files and directories"),
                    );
                    tree.others.insert(name);
                    continue;
                }
            }
            r.files += 1;
            r.bytes += e.size;
            last_two = [last_two[1].take(), Some(name.clone())];
            if name == MANIFEST || is_checksums(&name) {
                if control.contains_key(&name) {
                    r.error(&name, "appears more than once in the archive");
                    continue;
                }
                // Control files are needed whole; hash them here.
                let mut v = Vec::new();
                loop {
                    let n = tar.read_data(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    v.extend_from_slice(&buf[..n]);
                }
                control.insert(name.clone(), both(&v));
                if name == MANIFEST {
                    tree.manifest = Some(v);
                } else if tree.checksums.is_some() {
                    r.error(
                        &name,
                        "a dump holds one checksum file, and another is here too",
                    );
                } else {
                    algo = [Algo::Sha256, Algo::Blake3]
                        .into_iter()
                        .find(|a| a.file_name() == name.as_slice());
                    tree.checksums = Some(v);
                }
            } else if e.size <= CHUNK as u64 {
                let mut v = vec![0u8; e.size as usize];
                let mut got = 0;
                while got < v.len() {
                    let n = tar.read_data(&mut v[got..])?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                pool.whole(name, v);
            } else {
                let tx = pool.chunks(name);
                loop {
                    let n = tar.read_data(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        r.error(ARCHIVE, e.to_string());
    }
    let (digests, complete) = pool.finish();
    if !complete {
        r.error(
            ARCHIVE,
            "internal error: a hashing thread failed; some files were not checked",
        );
    }
    tree.algo = algo.unwrap_or_default();
    let pick = usize::from(tree.algo == Algo::Blake3);
    for (path, d) in control {
        tree.files.insert(path, d[pick]);
    }
    for (path, d) in digests {
        // Duplicates are found here rather than with a set of names kept while reading,
        // which would hold every path twice.
        if tree.files.insert(path.clone(), d[pick]).is_some() {
            r.error(&path, "appears more than once in the archive");
        }
    }
    if tree.manifest.is_some()
        && tree.checksums.is_some()
        && (last_two[0].as_deref() != Some(MANIFEST)
            || last_two[1].as_deref() != Some(tree.algo.file_name()))
    {
        r.warn(
            ARCHIVE,
            format!(
                "MANIFEST.json and {} are not the last two entries (not written by \
                 elastickv-backup --archive, or repacked): a streaming reader cannot tell when it is complete",
                String::from_utf8_lossy(tree.algo.file_name())
            ),
        );
    }
    tree
}

/// Reads an archive of either format from `input`, whose first bytes are `head`.
pub fn collect_any(
    head: Vec<u8>,
    input: Box<dyn Read + Send>,
    threads: usize,
    r: &mut Report,
) -> Option<Tree> {
    let stream = Cursor::new(head.clone()).chain(input);
    match detect(&head) {
        Some(Format::Tar) => Some(collect(stream, threads, r)),
        Some(Format::TarZst) => match zstd::stream::read::Decoder::new(stream) {
            Ok(d) => Some(collect(d, threads, r)),
            Err(e) => {
                r.error(ARCHIVE, format!("cannot start zstd decompression: {e}"));
                None
            }
        },
        None => {
            r.error(
                ARCHIVE,
                "not a dump: neither a directory nor a tar or tar.zst archive (no ustar or zstd magic)",
            );
            None
        }
    }
}
