//! Tar entry headers (POSIX ustar, with a PAX extended header when ustar cannot say it).
//!
//! Written by hand rather than through a tar library because the archive sink needs only
//! two entry types (regular file, directory) and full control over what goes in a header:
//! the archive must unpack to exactly the directory output, with no surprises from a
//! library's defaults (owner names, device numbers, GNU long-name entries).
//!
//! A path goes into the ustar `name` field, or split across `prefix`/`name` at a `/`, when
//! it is ASCII and fits; otherwise a PAX `path` record carries it (UTF-8, any length). A
//! size of 8 GiB or more (past 11 octal digits) gets a PAX `size` record and a GNU base-256
//! number in the ustar field, which both GNU tar and bsdtar read.

/// Tar block size: headers and data are padded to it.
pub const BLOCK: usize = 512;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (`typeflag '0'`).
    File,
    /// A directory (`typeflag '5'`); its name gets a trailing `/`.
    Dir,
}

/// Everything one entry header says.
#[derive(Debug, Clone)]
pub struct EntryHeader<'a> {
    /// Path relative to the archive root, `/`-separated, no leading `./` or `/`.
    pub path: &'a str,
    /// File or directory.
    pub kind: EntryKind,
    /// Permission bits (0o600 data files, 0o644 control files, 0o755 directories).
    pub mode: u32,
    /// Content length in bytes (0 for directories).
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: u64,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
}

// Offsets and widths of the ustar header fields (POSIX.1-1988 + ustar).
const NAME: (usize, usize) = (0, 100);
const MODE: (usize, usize) = (100, 8);
const UID: (usize, usize) = (108, 8);
const GID: (usize, usize) = (116, 8);
const SIZE: (usize, usize) = (124, 12);
const MTIME: (usize, usize) = (136, 12);
const CHKSUM: (usize, usize) = (148, 8);
const TYPEFLAG: usize = 156;
const MAGIC: (usize, usize) = (257, 6);
const VERSION: (usize, usize) = (263, 2);
const PREFIX: (usize, usize) = (345, 155);

/// Bytes of zero padding after `len` bytes of content.
pub fn padding(len: u64) -> usize {
    let rem = (len % BLOCK as u64) as usize;
    if rem == 0 {
        0
    } else {
        BLOCK - rem
    }
}

/// Writes `value` as zero-padded octal with a NUL terminator; false if it does not fit.
fn put_octal(block: &mut [u8; BLOCK], (off, width): (usize, usize), value: u64) -> bool {
    let digits = width - 1;
    let s = format!("{value:0digits$o}");
    if s.len() > digits {
        return false;
    }
    block[off..off + digits].copy_from_slice(s.as_bytes());
    block[off + digits] = 0;
    true
}

/// GNU base-256: high bit of the first byte set, the value big-endian in the rest.
fn put_base256(block: &mut [u8; BLOCK], (off, width): (usize, usize), value: u64) {
    let field = &mut block[off..off + width];
    field.fill(0);
    let be = value.to_be_bytes();
    field[width - be.len()..].copy_from_slice(&be);
    field[0] |= 0x80;
}

/// `prefix`/`name` split of `name` if it is ASCII and fits ustar's fields.
fn ustar_split(name: &str) -> Option<(&str, &str)> {
    if !name.is_ascii() {
        return None;
    }
    if name.len() <= NAME.1 {
        return Some(("", name));
    }
    // The last `/` that leaves a prefix of at most 155 bytes and a name of at most 100.
    let bytes = name.as_bytes();
    let hi = name.len().min(PREFIX.1 + 1);
    (1..hi)
        .rev()
        .filter(|&i| bytes[i] == b'/')
        .map(|i| (&name[..i], &name[i + 1..]))
        .find(|(_, n)| !n.is_empty() && n.len() <= NAME.1)
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}={value}\n").as_bytes());
}

/// A bare ustar header block (checksum filled in).
fn ustar_block(name_field: (&str, &str), typeflag: u8, h: &EntryHeader, size: u64) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let (prefix, name) = name_field;
    let n = name.len().min(NAME.1);
    b[NAME.0..NAME.0 + n].copy_from_slice(&name.as_bytes()[..n]);
    let p = prefix.len().min(PREFIX.1);
    b[PREFIX.0..PREFIX.0 + p].copy_from_slice(&prefix.as_bytes()[..p]);
    put_octal(&mut b, MODE, u64::from(h.mode & 0o7777));
    if !put_octal(&mut b, UID, u64::from(h.uid)) {
        put_base256(&mut b, UID, u64::from(h.uid));
    }
    if !put_octal(&mut b, GID, u64::from(h.gid)) {
        put_base256(&mut b, GID, u64::from(h.gid));
    }
    if !put_octal(&mut b, SIZE, size) {
        put_base256(&mut b, SIZE, size);
    }
    if !put_octal(&mut b, MTIME, h.mtime) {
        put_base256(&mut b, MTIME, h.mtime);
    }
    b[TYPEFLAG] = typeflag;
    b[MAGIC.0..MAGIC.0 + MAGIC.1].copy_from_slice(b"ustar\0");
    b[VERSION.0..VERSION.0 + VERSION.1].copy_from_slice(b"00");
    // Checksum: sum of all bytes with the checksum field read as spaces; 6 octal digits,
    // NUL, space.
    b[CHKSUM.0..CHKSUM.0 + CHKSUM.1].fill(b' ');
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    let s = format!("{sum:06o}\0 ");
    b[CHKSUM.0..CHKSUM.0 + CHKSUM.1].copy_from_slice(s.as_bytes());
    b
}

/// Appends the header block(s) for `h` to `out`: a PAX extended header (with its padded
/// records) when needed, then the ustar header. Content and padding are the caller's.
pub fn encode(h: &EntryHeader, out: &mut Vec<u8>) {
    let full = match h.kind {
        EntryKind::File => h.path.to_string(),
        EntryKind::Dir => format!("{}/", h.path),
    };
    let split = ustar_split(&full);
    let size = match h.kind {
        EntryKind::File => h.size,
        EntryKind::Dir => 0,
    };
    let mut records = Vec::new();
    if split.is_none() {
        pax_record(&mut records, "path", &full);
    }
    if size > 0o777_7777_7777 {
        pax_record(&mut records, "size", &size.to_string());
    }
    if u64::from(h.uid) > 0o777_7777 {
        pax_record(&mut records, "uid", &h.uid.to_string());
    }
    if u64::from(h.gid) > 0o777_7777 {
        pax_record(&mut records, "gid", &h.gid.to_string());
    }
    if !records.is_empty() {
        let pax = EntryHeader {
            mode: 0o644,
            kind: EntryKind::File,
            size: records.len() as u64,
            ..h.clone()
        };
        // Name of the extended header itself, as GNU tar forms it; readers ignore it.
        let base = full.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let mut pax_name: String = "PaxHeaders/".to_string();
        pax_name.extend(
            base.chars()
                .filter(char::is_ascii)
                .take(NAME.1 - pax_name.len()),
        );
        out.extend_from_slice(&ustar_block(
            ("", &pax_name),
            b'x',
            &pax,
            records.len() as u64,
        ));
        out.extend_from_slice(&records);
        out.resize(out.len() + padding(records.len() as u64), 0);
    }
    let typeflag = match h.kind {
        EntryKind::File => b'0',
        EntryKind::Dir => b'5',
    };
    // When PAX carries the path, the ustar name holds an ASCII stand-in for old readers.
    let fallback: String;
    let name_field = match split {
        Some(s) => s,
        None => {
            fallback = full.chars().filter(char::is_ascii).take(NAME.1).collect();
            ("", fallback.as_str())
        }
    };
    out.extend_from_slice(&ustar_block(name_field, typeflag, h, size));
}

/// The end-of-archive marker: two zero blocks.
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0u8; 2 * BLOCK];

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> Vec<u8> {
        let mut v = Vec::new();
        encode(
            &EntryHeader {
                path,
                kind: EntryKind::File,
                mode: 0o600,
                size,
                mtime: 1_700_000_000,
                uid: 1000,
                gid: 1000,
            },
            &mut v,
        );
        v
    }

    fn field(b: &[u8], (off, w): (usize, usize)) -> &[u8] {
        let f = &b[off..off + w];
        let end = f.iter().position(|&c| c == 0).unwrap_or(w);
        &f[..end]
    }

    #[test]
    fn short_name_is_one_ustar_block() {
        let v = file("MANIFEST.json", 807);
        assert_eq!(v.len(), BLOCK);
        assert_eq!(field(&v, NAME), b"MANIFEST.json");
        assert_eq!(field(&v, SIZE), b"00000001447");
        assert_eq!(field(&v, MODE), b"0000600");
        assert_eq!(v[TYPEFLAG], b'0');
        assert_eq!(&v[MAGIC.0..MAGIC.0 + 8], b"ustar\x0000");
        // Checksum: recompute with the field as spaces.
        let mut c = v.clone();
        c[CHKSUM.0..CHKSUM.0 + 8].fill(b' ');
        let sum: u32 = c.iter().map(|&x| u32::from(x)).sum();
        assert_eq!(field(&v, (CHKSUM.0, 6)), format!("{sum:06o}").as_bytes());
    }

    #[test]
    fn long_ascii_name_uses_prefix() {
        let dir = "d".repeat(120);
        let path = format!("{dir}/file.json");
        let v = file(&path, 1);
        assert_eq!(v.len(), BLOCK);
        assert_eq!(field(&v, PREFIX), dir.as_bytes());
        assert_eq!(field(&v, NAME), b"file.json");
    }

    #[test]
    fn unsplittable_or_non_ascii_name_uses_pax() {
        for path in ["x".repeat(240), "redis/db_0/strings/ключ.bin".to_string()] {
            let v = file(&path, 3);
            assert_eq!(v[TYPEFLAG], b'x');
            let size =
                u64::from_str_radix(std::str::from_utf8(field(&v, SIZE)).unwrap(), 8).unwrap();
            let rec = std::str::from_utf8(&v[BLOCK..BLOCK + size as usize]).unwrap();
            let (len, rest) = rec.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), rec.len());
            assert_eq!(rest, format!("path={path}\n"));
            assert_eq!(v.len(), 3 * BLOCK);
            assert_eq!(v[2 * BLOCK + TYPEFLAG], b'0');
        }
    }

    #[test]
    fn huge_size_uses_pax_and_base256() {
        let size = 9u64 << 30;
        let v = file("big.bin", size);
        assert_eq!(v[TYPEFLAG], b'x');
        let hdr = &v[2 * BLOCK..];
        assert_eq!(hdr[SIZE.0] & 0x80, 0x80);
        let mut be = [0u8; 8];
        be.copy_from_slice(&hdr[SIZE.0 + 4..SIZE.0 + 12]);
        assert_eq!(u64::from_be_bytes(be), size);
        assert!(std::str::from_utf8(&v[BLOCK..2 * BLOCK])
            .unwrap()
            .contains(&format!("size={size}\n")));
    }

    #[test]
    fn pax_record_length_counts_itself() {
        for n in [1usize, 85, 86, 95, 96, 994, 995, 996] {
            let mut v = Vec::new();
            pax_record(&mut v, "path", &"a".repeat(n));
            let s = std::str::from_utf8(&v).unwrap();
            let len: usize = s.split_once(' ').unwrap().0.parse().unwrap();
            assert_eq!(len, s.len(), "value length {n}");
        }
    }

    #[test]
    fn directory_has_trailing_slash_and_no_size() {
        let mut v = Vec::new();
        encode(
            &EntryHeader {
                path: "dynamodb/orders",
                kind: EntryKind::Dir,
                mode: 0o755,
                size: 99,
                mtime: 0,
                uid: 0,
                gid: 0,
            },
            &mut v,
        );
        assert_eq!(field(&v, NAME), b"dynamodb/orders/");
        assert_eq!(v[TYPEFLAG], b'5');
        assert_eq!(field(&v, SIZE), b"00000000000");
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
