//! Parsing of S3 internal keys (docs/format/20-s3.md §2–§3).
//!
//! Every key family after its prefix is a run of escaped segments (`00` → `00 FF`,
//! terminated by `00 01`) and fixed 8-byte big-endian integers, with no separators. The
//! segment encoding preserves byte order, so the encoded `bucket ‖ gen ‖ object` prefix of
//! a blob or chunk-ref key sorts exactly like the manifest key of the same object; the
//! adapter uses that encoded prefix ([`ObjKey::id_len`]) as the object's identity.
//! The keys themselves are built by format's `keys::s3` builders.

#[cfg(doc)]
use crate::decode::Family;

/// A cursor over the bytes after a family prefix.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    /// One escaped segment, un-escaped; `None` when unterminated or badly escaped.
    fn seg(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let rest = self.b.get(self.pos..)?;
            let i = rest.iter().position(|&c| c == 0)?;
            out.extend_from_slice(&rest[..i]);
            match rest.get(i + 1) {
                Some(0x01) => {
                    self.pos += i + 2;
                    return Some(out);
                }
                Some(0xFF) => {
                    out.push(0);
                    self.pos += i + 2;
                }
                _ => return None,
            }
        }
    }

    /// One big-endian u64.
    fn u64(&mut self) -> Option<u64> {
        let s = self.b.get(self.pos..self.pos.checked_add(8)?)?;
        self.pos += 8;
        Some(u64::from_be_bytes(s.try_into().ok()?))
    }

    fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }
}

/// The `bucket ‖ gen ‖ object` head shared by manifest, blob and chunk-ref keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjKey {
    /// Bucket name bytes.
    pub bucket: Vec<u8>,
    /// Bucket generation (incarnation).
    pub gen: u64,
    /// Object key bytes.
    pub object: Vec<u8>,
    /// Length of the encoded head: `key[..id_len]` identifies the object.
    pub id_len: usize,
}

fn obj_head(r: &mut Reader<'_>) -> Option<ObjKey> {
    let bucket = r.seg()?;
    let gen = r.u64()?;
    let object = r.seg()?;
    Some(ObjKey {
        bucket,
        gen,
        object,
        id_len: r.pos,
    })
}

/// K1 ([`Family::S3BucketMeta`]) prefix ‖ seg(bucket): the bucket name.
pub fn parse_bucket_meta(k: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(k);
    let b = r.seg()?;
    (r.remaining() == 0).then_some(b)
}

/// K3 ([`Family::S3ObjHead`]) prefix ‖ seg(bucket) ‖ u64(gen) ‖ seg(object).
pub fn parse_manifest(k: &[u8]) -> Option<ObjKey> {
    let mut r = Reader::new(k);
    let o = obj_head(&mut r)?;
    (r.remaining() == 0).then_some(o)
}

/// A blob chunk (K6/K6v) or chunk reference (K7/K7v) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkKey {
    /// The object the chunk belongs to.
    pub obj: ObjKey,
    /// Upload attempt.
    pub upload: Vec<u8>,
    /// Part number.
    pub part: u64,
    /// Chunk number within the part (from 0).
    pub chunk: u64,
    /// Part version (K6v) or chunk-ref version (K7v); 0 for the unversioned form.
    pub version: u64,
}

/// K6/K6v and K7/K7v: head ‖ seg(upload) ‖ u64(part) ‖ u64(chunk) [‖ u64(version)].
pub fn parse_chunk(k: &[u8]) -> Option<ChunkKey> {
    let mut r = Reader::new(k);
    let obj = obj_head(&mut r)?;
    let upload = r.seg()?;
    let part = r.u64()?;
    let chunk = r.u64()?;
    let version = match r.remaining() {
        0 => 0,
        8 => r.u64()?,
        _ => return None,
    };
    Some(ChunkKey {
        obj,
        upload,
        part,
        chunk,
        version,
    })
}

/// K8 ([`Family::S3ChunkBlob`]) prefix ‖ 64 hex digits (either case): the SHA-256 digest.
pub fn parse_chunkblob(k: &[u8]) -> Option<[u8; 32]> {
    if k.len() != 64 {
        return None;
    }
    let mut d = [0u8; 32];
    hex::decode_to_slice(k, &mut d).ok()?;
    Some(d)
}

/// K5 ([`Family::S3UploadPart`]) prefix ‖ seg(bucket) ‖ u64(gen) ‖ seg(object) ‖ seg(upload) ‖
/// u64(part): the bucket name (the whole key must parse).
pub fn parse_upload_part_bucket(k: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(k);
    let o = obj_head(&mut r)?;
    r.seg()?;
    r.u64()?;
    (r.remaining() == 0).then_some(o.bucket)
}

/// K4 ([`Family::S3UploadMeta`]) prefix ‖ seg(bucket) ‖ …: the bucket name. Only the bucket segment is
/// required to parse (the rest is copied verbatim into `records.jsonl`), but unlike
/// upstream the segment is un-escaped properly.
pub fn parse_upload_meta_bucket(k: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(k);
    r.seg()
}

/// Test helpers: build keys the way the live writer does (format's S3 key builders, and
/// its segment encoder).
#[cfg(test)]
pub mod build {
    pub use elastickv_backup_format::keys::s3::*;
    pub use elastickv_backup_format::keys::seg;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Family;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn segments_escape_and_terminate() {
        assert_eq!(build::seg(b"nul\x00x"), unhex("6e756c00ff780001"));
        let mut r = Reader::new(&[0x61, 0x00, 0xFF, 0x62, 0x00, 0x01, 0x09]);
        assert_eq!(r.seg().unwrap(), b"a\x00b");
        assert_eq!(r.remaining(), 1);
        assert!(Reader::new(b"abc").seg().is_none());
        assert!(Reader::new(&[0x61, 0x00]).seg().is_none());
        assert!(Reader::new(&[0x61, 0x00, 0x02]).seg().is_none());
        assert_eq!(Reader::new(&[0, 1]).seg().unwrap(), b"");
    }

    #[test]
    fn tv1_keys() {
        // Blob key of TV1 (prefix stripped).
        let k = unhex("70686f746f7300010000000000000001323032362f30342f696d672e6a706700017531000100000000000000010000000000000000");
        let c = parse_chunk(&k).unwrap();
        assert_eq!(c.obj.bucket, b"photos");
        assert_eq!(c.obj.gen, 1);
        assert_eq!(c.obj.object, b"2026/04/img.jpg");
        assert_eq!(
            (c.upload.as_slice(), c.part, c.chunk, c.version),
            (&b"u1"[..], 1, 0, 0)
        );
        let m = unhex("70686f746f7300010000000000000001323032362f30342f696d672e6a70670001");
        let o = parse_manifest(&m).unwrap();
        assert_eq!(o.id_len, m.len());
        assert_eq!(&k[..c.obj.id_len], &m[..]);
        assert_eq!(
            parse_bucket_meta(&unhex("70686f746f730001")).unwrap(),
            b"photos"
        );
        assert!(parse_bucket_meta(&unhex("70686f746f73000100")).is_none());
        assert!(parse_manifest(&unhex("70686f746f7300010000")).is_none());
    }

    #[test]
    fn versioned_and_malformed_chunks() {
        let k = build::chunk(Family::S3Blob, b"b", 3, b"big.bin", b"up-9", 2, 1, 7);
        let k = k[Family::S3Blob.prefix().len()..].to_vec();
        let c = parse_chunk(&k).unwrap();
        assert_eq!((c.part, c.chunk, c.version), (2, 1, 7));
        let mut bad = k.clone();
        bad.push(0);
        assert!(parse_chunk(&bad).is_none());
        assert!(parse_chunk(&k[..k.len() - 3]).is_none());
    }

    #[test]
    fn chunkblob_and_upload_keys() {
        let hexd = "56ee43f164569ee44d4b2e223debf46c1fcf68dd157179678b8c5fc724bdd981";
        let d = parse_chunkblob(hexd.as_bytes()).unwrap();
        assert_eq!(hex::encode(d), hexd);
        assert!(parse_chunkblob(hexd.to_uppercase().as_bytes()).is_some());
        assert!(parse_chunkblob(&hexd.as_bytes()[1..]).is_none());
        assert!(parse_chunkblob(format!("{}g", &hexd[1..]).as_bytes()).is_none());
        // TV7 K5 (prefix stripped).
        let k5 = unhex("66000100000000000000016f626a0001553100010000000000000001");
        assert_eq!(parse_upload_part_bucket(&k5).unwrap(), b"f");
        assert!(parse_upload_part_bucket(&k5[..k5.len() - 1]).is_none());
        let k4 = unhex("66000100000000000000016f626a000155310001");
        assert_eq!(parse_upload_meta_bucket(&k4).unwrap(), b"f");
        assert_eq!(
            parse_upload_meta_bucket(&[b'a', 0, 0xFF, 0, 1]).unwrap(),
            b"a\x00"
        );
        assert!(parse_upload_meta_bucket(b"").is_none());
    }
}
