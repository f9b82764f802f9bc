//! The `.fsm` container: which byte range of a file is the `EKVPBBL1` entry stream.
//!
//! Two shapes are accepted (docs/format/00-container.md §1, contract §2): the bare `EKVPBBL1` payload the
//! upstream decoder reads, and the file the running cluster writes — an `EKVTHLC1`/`EKVTHLC2`
//! header, the payload, and a big-endian CRC32C footer over everything before it. The
//! footer is verified when the file is opened, before any entry is handed downstream.

use bytes::Bytes;
use std::fmt;

/// Magic of the native entry stream.
pub const PAYLOAD_MAGIC: &[u8; 8] = b"EKVPBBL1";
/// Magic of the runtime's version-1 header (magic ‖ BE64 HLC ceiling).
pub const HLC_V1_MAGIC: &[u8; 8] = b"EKVTHLC1";
/// Magic of the runtime's version-2 header (magic ‖ BE16 length ‖ ceiling ‖ cutover …).
pub const HLC_V2_MAGIC: &[u8; 8] = b"EKVTHLC2";
/// What the two runtime magics share; the eighth byte is the version.
const HLC_PREFIX: &[u8; 7] = b"EKVTHLC";
/// Length of the payload header: [`PAYLOAD_MAGIC`] ‖ LE64(last_commit_ts).
pub const PAYLOAD_HEADER_LEN: usize = 16;

/// Largest encoded key upstream accepts (1 MiB + the 8-byte timestamp).
pub const MAX_KEY_LEN: u64 = 1_048_584;
/// Largest encoded value upstream accepts (256 MiB + value header + envelope overhead).
pub const MAX_VALUE_LEN: u64 = 268_435_499;

/// Which container shape a file had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerFormat {
    /// A bare `EKVPBBL1` stream (what `elastickv-snapshot-encode` writes).
    Bare,
    /// A runtime file with an `EKVTHLC1` header.
    RuntimeV1 {
        /// HLC physical ceiling recorded by the FSM, Unix ms.
        ceiling_ms: u64,
    },
    /// A runtime file with an `EKVTHLC2` header.
    RuntimeV2 {
        /// HLC physical ceiling recorded by the FSM, Unix ms.
        ceiling_ms: u64,
        /// Raft envelope cutover index.
        cutover_index: u64,
    },
}

impl ContainerFormat {
    /// Name recorded in MANIFEST.json.
    pub fn name(&self) -> &'static str {
        match self {
            ContainerFormat::Bare => magic_str(PAYLOAD_MAGIC),
            ContainerFormat::RuntimeV1 { .. } => magic_str(HLC_V1_MAGIC),
            ContainerFormat::RuntimeV2 { .. } => magic_str(HLC_V2_MAGIC),
        }
    }
}

/// A magic as text (all three are ASCII), so names and messages cannot drift from the bytes.
const fn magic_str(m: &'static [u8; 8]) -> &'static str {
    match std::str::from_utf8(m) {
        Ok(s) => s,
        Err(_) => panic!("container magics are ASCII"),
    }
}

/// The 16-byte payload header, [`PAYLOAD_MAGIC`] ‖ LE64(`last_commit_ts`): writers (`encode`,
/// the generators, the loopback server, tests) start a payload with it instead of spelling
/// the magic again.
pub fn payload_header(last_commit_ts: u64) -> [u8; PAYLOAD_HEADER_LEN] {
    let mut h = [0u8; PAYLOAD_HEADER_LEN];
    h[..8].copy_from_slice(PAYLOAD_MAGIC);
    h[8..].copy_from_slice(&last_commit_ts.to_le_bytes());
    h
}

/// Appends one framed entry, LE64(len) ‖ key ‖ LE64(len) ‖ value, as [`FrameReader`] reads
/// it. No size check: callers that take untrusted input check [`MAX_KEY_LEN`] and
/// [`MAX_VALUE_LEN`] themselves.
pub fn push_frame(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(&(key.len() as u64).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
}

/// `payload` wrapped as the running cluster writes it: [`HLC_V1_MAGIC`] ‖ BE64(`ceiling_ms`)
/// ‖ payload ‖ BE32 CRC32C of everything before the footer. For tests and fixtures that
/// need a runtime file; the tool itself only reads them.
pub fn runtime_v1(ceiling_ms: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + payload.len() + 4);
    v.extend_from_slice(HLC_V1_MAGIC);
    v.extend_from_slice(&ceiling_ms.to_be_bytes());
    v.extend_from_slice(payload);
    let crc = crc32c::crc32c(&v);
    v.extend_from_slice(&crc.to_be_bytes());
    v
}

/// Go `%q`-style rendering of the first bytes of a file, for bad-magic messages.
pub struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0 {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")
    }
}

/// Malformed snapshot input. Messages keep upstream's wording (after the colon) and add
/// the byte offset where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The file could not be opened or mapped.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Empty file.
    #[error("EOF (the file is empty; a snapshot starts with a 16-byte header)")]
    Eof,
    /// Shorter than the 16-byte header.
    #[error("unexpected EOF (the file has {len} bytes; a snapshot header is 16 bytes)")]
    UnexpectedEof {
        /// File length.
        len: usize,
    },
    /// Not a snapshot this tool understands.
    #[error("got {got}: backup: snapshot magic header does not match \"EKVPBBL1\"{hint}")]
    BadMagic {
        /// The first bytes, quoted.
        got: String,
        /// What the bytes look like, if recognisable.
        hint: &'static str,
    },
    /// An `EKVTHLC` header of an unknown version or size.
    #[error("unsupported runtime snapshot header {got} (header length {len}): expected EKVTHLC1, or EKVTHLC2 with a 16..1024-byte payload")]
    BadHlcHeader {
        /// The magic, quoted.
        got: String,
        /// Declared header payload length (v2).
        len: u64,
    },
    /// Runtime file whose footer does not match its contents.
    #[error("CRC32C mismatch: footer says {footer:08x}, contents hash to {actual:08x}; the file is corrupt or truncated — take another snapshot or restore it from a good copy")]
    CrcMismatch {
        /// Stored footer.
        footer: u32,
        /// Computed over the file.
        actual: u32,
    },
    /// The stream ends inside an entry.
    #[error(
        "backup: snapshot truncated mid-entry (entry at byte offset {offset}, file ends at {end})"
    )]
    Truncated {
        /// Start of the incomplete entry.
        offset: u64,
        /// Where the payload ends.
        end: u64,
    },
    /// Declared key length over the limit.
    #[error("length {len} > 1048584: backup: snapshot key length exceeds limit (entry at byte offset {offset})")]
    KeyTooLarge {
        /// Start of the entry.
        offset: u64,
        /// Declared length.
        len: u64,
    },
    /// Declared value length over the limit.
    #[error("length {len} > 268435499: backup: snapshot value length exceeds limit (entry at byte offset {offset})")]
    ValueTooLarge {
        /// Start of the entry.
        offset: u64,
        /// Declared length.
        len: u64,
    },
    /// Key shorter than its timestamp suffix.
    #[error("encoded key length {len} < 8: backup: encoded key shorter than timestamp suffix (entry at byte offset {offset})")]
    ShortKey {
        /// Start of the entry.
        offset: u64,
        /// Key length.
        len: u64,
    },
    /// Value shorter than its header.
    #[error("encoded value length {len} < 9: backup: encoded value shorter than value-header (entry at byte offset {offset})")]
    ShortValue {
        /// Start of the entry.
        offset: u64,
        /// Value length.
        len: u64,
    },
    /// Reserved flag bits or encryption state.
    #[error("{detail}: backup: value header carries reserved encryption_state; decoder cannot interpret this entry (entry at byte offset {offset})")]
    EncryptedReserved {
        /// Start of the entry.
        offset: u64,
        /// Upstream's detail text.
        detail: String,
    },
    /// An encrypted value (no keyring support).
    #[error("backup: snapshot contains encrypted entries — Phase 0a does not link the decryption keyring (entry at byte offset {offset}); decode a snapshot of a cluster without storage encryption")]
    EncryptedEntry {
        /// Start of the entry.
        offset: u64,
    },
}

/// The entry stream inside a file, located and verified.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The whole file's bytes (memory-mapped).
    pub file: Bytes,
    /// First entry byte (after the 16-byte payload header).
    pub entries_start: usize,
    /// One past the last entry byte (before any footer).
    pub end: usize,
    /// `last_commit_ts` from the payload header.
    pub last_commit_ts: u64,
    /// Container shape.
    pub format: ContainerFormat,
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Locates the payload in `file`, verifying the runtime footer if there is one.
pub fn locate(file: Bytes) -> Result<Payload, ContainerError> {
    let data = &file[..];
    if data.is_empty() {
        return Err(ContainerError::Eof);
    }
    if data.len() < 8 {
        return Err(ContainerError::UnexpectedEof { len: data.len() });
    }
    let (payload_start, end, format) = if data.starts_with(HLC_PREFIX) {
        let (hdr_len, format) = match data[7] {
            b'1' => {
                if data.len() < 16 {
                    return Err(ContainerError::UnexpectedEof { len: data.len() });
                }
                (
                    16usize,
                    ContainerFormat::RuntimeV1 {
                        ceiling_ms: be64(&data[8..]),
                    },
                )
            }
            b'2' => {
                if data.len() < 10 {
                    return Err(ContainerError::UnexpectedEof { len: data.len() });
                }
                let len = u16::from_be_bytes([data[8], data[9]]) as usize;
                if !(16..=1024).contains(&len) {
                    return Err(ContainerError::BadHlcHeader {
                        got: Quoted(&data[..8]).to_string(),
                        len: len as u64,
                    });
                }
                if data.len() < 10 + len {
                    return Err(ContainerError::UnexpectedEof { len: data.len() });
                }
                (
                    10 + len,
                    ContainerFormat::RuntimeV2 {
                        ceiling_ms: be64(&data[10..]),
                        cutover_index: be64(&data[18..]),
                    },
                )
            }
            _ => {
                return Err(ContainerError::BadHlcHeader {
                    got: Quoted(&data[..8]).to_string(),
                    len: 0,
                })
            }
        };
        if data.len() < hdr_len + 4 {
            return Err(ContainerError::UnexpectedEof { len: data.len() });
        }
        let body_end = data.len() - 4;
        let footer = u32::from_be_bytes([
            data[body_end],
            data[body_end + 1],
            data[body_end + 2],
            data[body_end + 3],
        ]);
        let actual = crc32c::crc32c(&data[..body_end]);
        if footer != actual {
            return Err(ContainerError::CrcMismatch { footer, actual });
        }
        (hdr_len, body_end, format)
    } else {
        (0, data.len(), ContainerFormat::Bare)
    };
    let payload = &data[payload_start..end];
    if payload.len() < 8 {
        return Err(ContainerError::UnexpectedEof { len: payload.len() });
    }
    if &payload[..8] != PAYLOAD_MAGIC {
        let hint = match &payload[..8] {
            b"EKVSSTI1" => " (an SST-ingest snapshot; disable ELASTICKV_PEBBLE_SST_INGEST_SNAPSHOT and take a new snapshot)",
            b"EKVMVCC2" => " (a legacy MVCC streaming snapshot, not supported)",
            _ => "",
        };
        return Err(ContainerError::BadMagic {
            got: Quoted(&payload[..8]).to_string(),
            hint,
        });
    }
    if payload.len() < 16 {
        return Err(ContainerError::UnexpectedEof { len: payload.len() });
    }
    let last_commit_ts = le64(&payload[8..16]);
    Ok(Payload {
        entries_start: payload_start + 16,
        end,
        last_commit_ts,
        format,
        file,
    })
}

/// One framed entry as stored: raw key and value bytes, with the entry's file offset.
#[derive(Debug, Clone)]
pub struct Framed {
    /// Byte offset of the entry's key length field.
    pub offset: u64,
    /// The stored key (MVCC-encoded, or a raw operational row key).
    pub key: Bytes,
    /// The stored value.
    pub value: Bytes,
}

/// How much of the file one reference count covers (see [`FrameReader`]'s `window`); 64 KiB
/// measured a little cheaper than 1 MiB (fewer workers dropping slices of one window at once).
const WINDOW: usize = 1 << 16;

/// Iterates the framed entries of a payload (docs/format/00-container.md §1), zero-copy.
pub struct FrameReader {
    file: Bytes,
    /// The part of `file` the current entries are sliced from, with a reference count of its
    /// own. Slicing straight from `file` would make every key and value share the whole
    /// file's one count, which the scanning thread increments and every worker thread
    /// decrements: one cache line bounced between cores for each entry. With a count per
    /// [`WINDOW`] of the file, the scanner has moved on to a new count by the time workers
    /// drop theirs.
    window: Bytes,
    window_start: usize,
    pos: usize,
    end: usize,
    failed: bool,
}

impl FrameReader {
    /// A reader over `p`'s entries.
    pub fn new(p: &Payload) -> Self {
        FrameReader {
            file: p.file.clone(),
            window: Bytes::new(),
            window_start: p.entries_start,
            pos: p.entries_start,
            end: p.end,
            failed: false,
        }
    }

    /// The next entry's spans, the position moved past it (`None` at the end).
    fn next_span(&mut self) -> Result<Option<Span>, ContainerError> {
        let start = self.pos;
        let avail = self.end - start;
        if avail == 0 {
            return Ok(None);
        }
        let trunc = || ContainerError::Truncated {
            offset: start as u64,
            end: self.end as u64,
        };
        if avail < 8 {
            return Err(trunc());
        }
        let d = &self.file[..self.end];
        let key_len = le64(&d[start..]);
        if key_len > MAX_KEY_LEN {
            return Err(ContainerError::KeyTooLarge {
                offset: start as u64,
                len: key_len,
            });
        }
        let key_start = start + 8;
        let key_end = key_start + key_len as usize;
        if key_end + 8 > self.end {
            return Err(trunc());
        }
        let val_len = le64(&d[key_end..]);
        if val_len > MAX_VALUE_LEN {
            return Err(ContainerError::ValueTooLarge {
                offset: start as u64,
                len: val_len,
            });
        }
        let val_start = key_end + 8;
        let val_end = val_start + val_len as usize;
        if val_end > self.end {
            return Err(trunc());
        }
        self.pos = val_end;
        Ok(Some(Span {
            start,
            key: key_start..key_end,
            value: val_start..val_end,
        }))
    }

    /// The entry at `s`, sliced from the current window (moved to `s` when `s` ends past it).
    fn framed(&mut self, s: Span) -> Framed {
        if s.value.end > self.window_start + self.window.len() {
            let wend = (s.start + WINDOW).clamp(s.value.end, self.end);
            self.window = Bytes::from_owner(self.file.slice(s.start..wend));
            self.window_start = s.start;
        }
        let w = self.window_start;
        Framed {
            offset: s.start as u64,
            key: self.window.slice(s.key.start - w..s.key.end - w),
            value: self.window.slice(s.value.start - w..s.value.end - w),
        }
    }

    fn next_frame(&mut self) -> Result<Option<Framed>, ContainerError> {
        Ok(self.next_span()?.map(|s| self.framed(s)))
    }

    /// As [`Iterator::next`], but an entry whose stored key `keep` rejects is stepped over
    /// (`Ok(None)`) without slicing it: a filtered scan (the index pass) rejects almost
    /// every entry, and each slice is a reference-count increment and decrement.
    pub fn next_if(
        &mut self,
        keep: impl FnOnce(&[u8]) -> bool,
    ) -> Option<Result<Option<Framed>, ContainerError>> {
        if self.failed {
            return None;
        }
        let span = match self.next_span() {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let wanted = self.file.get(span.key.clone()).is_some_and(keep);
        Some(Ok(wanted.then(|| self.framed(span))))
    }

    /// The file offset where the last frame read ended (where the next one starts): how
    /// far a scanner has consumed its mapping.
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// Where one entry lies in the file.
struct Span {
    start: usize,
    key: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

impl Iterator for FrameReader {
    type Item = Result<Framed, ContainerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_frame() {
            Ok(Some(f)) => Some(Ok(f)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Bytes {
        Bytes::from(hex::decode(s.replace(' ', "")).unwrap())
    }

    fn frames(s: &str) -> Result<Vec<Framed>, ContainerError> {
        let p = locate(hex(s))?;
        FrameReader::new(&p).collect()
    }

    #[test]
    fn tv1_empty() {
        let p = locate(hex("454b565042424c316400000000000000")).unwrap();
        assert_eq!(p.last_commit_ts, 100);
        assert_eq!(FrameReader::new(&p).count(), 0);
    }

    #[test]
    fn tv11_framing_edges() {
        assert!(matches!(locate(Bytes::new()), Err(ContainerError::Eof)));
        assert!(matches!(
            locate(hex("454b565042424c31")),
            Err(ContainerError::UnexpectedEof { .. })
        ));
        assert!(matches!(
            locate(hex("454b565042424c3101000000")),
            Err(ContainerError::UnexpectedEof { .. })
        ));
        assert!(matches!(
            frames("454b565042424c310100000000000000010000"),
            Err(ContainerError::Truncated { offset: 16, .. })
        ));
        assert!(matches!(
            frames("454b565042424c3101000000000000000900000000000000616263646566676869"),
            Err(ContainerError::Truncated { .. })
        ));
        let e = frames("454b565042424c3101000000000000000900100000000000").unwrap_err();
        assert!(
            e.to_string().starts_with("length 1048585 > 1048584: "),
            "{e}"
        );
        let e = frames(
            "454b565042424c3101000000000000000900000000000000616263646566676869 2c00001000000000",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("length 268435500 > 268435499: "),
            "{e}"
        );
    }

    const TV2: &str = "454b565042424c31 6400000000000000 1400000000000000 2172656469737c7374727c6bfffffffffffffffa 0a00000000000000 000000000000000000 76";

    #[test]
    fn tv5_bare_payload_with_footer_is_truncated() {
        let mut s = TV2.to_string();
        s.push_str("d3e4d994");
        let p = locate(hex(&s)).unwrap();
        let r: Vec<_> = FrameReader::new(&p).collect();
        assert!(r[0].is_ok());
        assert!(matches!(r[1], Err(ContainerError::Truncated { .. })));
    }

    #[test]
    fn runtime_v1_and_v2_are_unwrapped_and_verified() {
        let payload = hex(TV2);
        assert_eq!(crc32c::crc32c(&payload), 0xd3e4d994);
        let v1 = runtime_v1(400, &payload);
        assert_eq!(&v1[..8], b"EKVTHLC1");
        let p = locate(Bytes::from(v1.clone())).unwrap();
        assert_eq!(p.format, ContainerFormat::RuntimeV1 { ceiling_ms: 400 });
        assert_eq!(p.last_commit_ts, 100);
        assert_eq!(FrameReader::new(&p).count(), 1);
        // Flip one payload bit: CRC mismatch, nothing decoded.
        let mut bad = v1.clone();
        bad[30] ^= 1;
        assert!(matches!(
            locate(Bytes::from(bad)),
            Err(ContainerError::CrcMismatch { .. })
        ));

        let mut v2 = HLC_V2_MAGIC.to_vec();
        v2.extend_from_slice(&16u16.to_be_bytes());
        v2.extend_from_slice(&7u64.to_be_bytes());
        v2.extend_from_slice(&9u64.to_be_bytes());
        v2.extend_from_slice(&payload);
        let crc = crc32c::crc32c(&v2);
        v2.extend_from_slice(&crc.to_be_bytes());
        let p = locate(Bytes::from(v2)).unwrap();
        assert_eq!(
            p.format,
            ContainerFormat::RuntimeV2 {
                ceiling_ms: 7,
                cutover_index: 9
            }
        );
        assert_eq!(FrameReader::new(&p).count(), 1);
    }

    #[test]
    fn writer_helpers_build_what_the_reader_reads() {
        let mut v = payload_header(100).to_vec();
        push_frame(
            &mut v,
            b"!redis|str|k\xff\xff\xff\xff\xff\xff\xff\xfa",
            b"\0\0\0\0\0\0\0\0\0v",
        );
        assert_eq!(v, hex(TV2));
        assert_eq!(ContainerFormat::Bare.name(), "EKVPBBL1");
        assert_eq!(
            ContainerFormat::RuntimeV1 { ceiling_ms: 0 }.name(),
            "EKVTHLC1"
        );
    }

    #[test]
    fn bad_magic_names_what_it_saw() {
        let e = locate(hex("454b565353544931 0000000000000000")).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "got \"EKVSSTI1\": backup: snapshot magic header does not match \"EKVPBBL1\""
            ),
            "{e}"
        );
        let e = locate(hex("454b5654484c4333 0000000000000000")).unwrap_err();
        assert!(matches!(e, ContainerError::BadHlcHeader { .. }));
    }
}
