//! S3 internal keys as the reverse encoder writes them (docs/format/20-s3.md §2–§3, §11): every
//! restored object lives in generation 1 as one part of upload `elastickv-restore`,
//! re-cut into 1 MiB chunks.

use elastickv_backup_engine::decode::Family;
use elastickv_backup_format::keys::s3;

/// The generation every restored bucket and object gets (the dump does not keep it).
pub(crate) const GENERATION: u64 = 1;
/// The upload ID of every restored object's single part.
pub(crate) const UPLOAD_ID: &str = "elastickv-restore";
/// The part number of that part.
pub(crate) const PART_NO: u64 = 1;
/// Body chunk size, as the live adapter cuts them.
pub(crate) const CHUNK_SIZE: usize = 1 << 20;

/// K1: the bucket's metadata key ([`s3::bucket_meta`]).
pub(crate) fn bucket_meta(bucket: &[u8]) -> Vec<u8> {
    s3::bucket_meta(bucket)
}

/// K2: the bucket's generation key ([`s3::bucket_gen`]).
pub(crate) fn bucket_gen(bucket: &[u8]) -> Vec<u8> {
    s3::bucket_gen(bucket)
}

/// K3: the object's manifest key ([`s3::manifest`]) in generation 1.
pub(crate) fn manifest(bucket: &[u8], object: &[u8]) -> Vec<u8> {
    s3::manifest(bucket, GENERATION, object)
}

/// K6: blob chunk `chunk` of the object's single part ([`s3::chunk`] of
/// [`Family::S3Blob`]: generation 1, upload [`UPLOAD_ID`], part 1), unversioned.
pub(crate) fn blob(bucket: &[u8], object: &[u8], chunk: u64) -> Vec<u8> {
    s3::chunk(
        Family::S3Blob,
        bucket,
        GENERATION,
        object,
        UPLOAD_ID.as_bytes(),
        PART_NO,
        chunk,
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::decode::s3::keys::{
        parse_bucket_meta, parse_chunk, parse_manifest,
    };
    use elastickv_backup_format::keys::s3 as build;

    #[test]
    fn tv15_keys() {
        assert_eq!(
            hex::encode(bucket_meta(b"photos")),
            "2173337c6275636b65747c6d6574617c70686f746f730001"
        );
        assert_eq!(
            hex::encode(bucket_gen(b"photos")),
            "2173337c6275636b65747c67656e7c70686f746f730001"
        );
        assert_eq!(
            hex::encode(blob(b"photos", b"2026/04/img.jpg", 0)),
            "2173337c626c6f627c70686f746f7300010000000000000001323032362f30342f696d672e6a70670001656c61737469636b762d726573746f7265000100000000000000010000000000000000"
        );
        assert_eq!(
            hex::encode(manifest(b"photos", b"2026/04/img.jpg")),
            "2173337c6f626a7c686561647c70686f746f7300010000000000000001323032362f30342f696d672e6a70670001"
        );
    }

    #[test]
    fn the_decoder_reads_them_back() {
        let (b, o) = (&b"b\x00k"[..], &b"a\x00/b"[..]);
        let k = blob(b, o, 7);
        assert_eq!(
            k,
            build::chunk(Family::S3Blob, b, 1, o, UPLOAD_ID.as_bytes(), 1, 7, 0)
        );
        let c = parse_chunk(&k[Family::S3Blob.prefix().len()..]).unwrap();
        assert_eq!((c.obj.bucket.as_slice(), c.obj.object.as_slice()), (b, o));
        assert_eq!((c.obj.gen, c.part, c.chunk, c.version), (1, 1, 7, 0));
        let m = manifest(b, o);
        assert_eq!(m, build::manifest(b, 1, o));
        assert_eq!(parse_manifest(&m[13..]).unwrap().object, o);
        assert_eq!(parse_bucket_meta(&bucket_meta(b)[16..]).unwrap(), b);
    }
}
