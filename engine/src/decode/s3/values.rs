//! S3 value envelopes (docs/format/20-s3.md §4): bucket meta and object manifest JSON, and the binary
//! chunk reference.

use elastickv_backup_gocompat::json::{
    self as gojson, set_bool, set_i64, set_slice, set_str, set_u64, JVal, JsonError,
};
use std::collections::BTreeMap;

/// The fields of a bucket meta record (K1) the decoder uses, type-checked like Go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BucketMeta {
    /// The active generation; objects of other generations are stale.
    pub generation: u64,
    /// Owner (omitted from `_bucket.json` when empty).
    pub owner: String,
    /// Region.
    pub region: String,
    /// Canned ACL.
    pub acl: String,
}

const BUCKET_FIELDS: [&str; 6] = [
    "bucket_name",
    "generation",
    "created_at_hlc",
    "owner",
    "region",
    "acl",
];

/// Decodes a K1 value; the error text describes what Go's decoder would reject.
pub fn decode_bucket_meta(b: &[u8]) -> Result<BucketMeta, JsonError> {
    let v = gojson::parse(b)?;
    let mut m = BucketMeta::default();
    let (mut name, mut created) = (String::new(), 0u64);
    gojson::for_fields(&v, "BucketMeta", &BUCKET_FIELDS, |i, x| match i {
        0 => set_str(&mut name, x, "bucket_name"),
        1 => set_u64(&mut m.generation, x, "generation"),
        2 => set_u64(&mut created, x, "created_at_hlc"),
        3 => set_str(&mut m.owner, x, "owner"),
        4 => set_str(&mut m.region, x, "region"),
        _ => set_str(&mut m.acl, x, "acl"),
    })?;
    Ok(m)
}

/// One part of a manifest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartJson {
    /// Part number (body order key 1).
    pub part_no: u64,
    /// Declared chunk count.
    pub chunk_count: u64,
    /// Declared chunk sizes (required for offloaded parts).
    pub chunk_sizes: Vec<u64>,
    /// Selects K6v chunks (0 = unversioned K6).
    pub part_version: u64,
    /// Selects K7v refs for offloaded parts.
    pub chunk_ref_version: u64,
    /// Chunks come from chunk refs + content-addressed payloads.
    pub offloaded: bool,
}

const PART_FIELDS: [&str; 8] = [
    "part_no",
    "etag",
    "size_bytes",
    "chunk_count",
    "chunk_sizes",
    "part_version",
    "chunk_ref_version",
    "offloaded",
];

fn decode_part(p: &mut PartJson, v: &JVal) -> Result<(), JsonError> {
    let (mut etag, mut size) = (String::new(), 0i64);
    gojson::for_fields(v, "parts", &PART_FIELDS, |i, x| match i {
        0 => set_u64(&mut p.part_no, x, "parts.part_no"),
        1 => set_str(&mut etag, x, "parts.etag"),
        2 => set_i64(&mut size, x, "parts.size_bytes"),
        3 => set_u64(&mut p.chunk_count, x, "parts.chunk_count"),
        4 => set_slice(&mut p.chunk_sizes, x, "parts.chunk_sizes", |d, e| {
            set_u64(d, e, "parts.chunk_sizes")
        }),
        5 => set_u64(&mut p.part_version, x, "parts.part_version"),
        6 => set_u64(&mut p.chunk_ref_version, x, "parts.chunk_ref_version"),
        _ => set_bool(&mut p.offloaded, x, "parts.offloaded"),
    })
}

/// An object manifest (K3): the sidecar fields and the assembly plan.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Which upload's chunks form the body ("" = any, upstream's rule).
    pub upload_id: String,
    /// Sidecar `etag`, verbatim.
    pub etag: String,
    /// Declared body size.
    pub size_bytes: i64,
    /// HLC of the last modification (sidecar `last_modified`).
    pub last_modified_hlc: u64,
    /// Sidecar `content_type`.
    pub content_type: String,
    /// Sidecar `content_encoding`.
    pub content_encoding: String,
    /// Sidecar `cache_control`.
    pub cache_control: String,
    /// Sidecar `content_disposition`.
    pub content_disposition: String,
    /// User metadata, keys sorted byte-wise (Go sorts map keys when encoding).
    pub user_metadata: BTreeMap<String, String>,
    /// Parts, in manifest order.
    pub parts: Vec<PartJson>,
}

const MANIFEST_FIELDS: [&str; 10] = [
    "upload_id",
    "etag",
    "size_bytes",
    "last_modified_hlc",
    "content_type",
    "content_encoding",
    "cache_control",
    "content_disposition",
    "user_metadata",
    "parts",
];

/// Go's decoding of `user_metadata` into an existing map: `null` clears it, an object
/// merges into it (a `null` element stores ""), anything else is a type error. Shared with
/// the encoder's sidecar reader.
pub fn decode_user_metadata(m: &mut BTreeMap<String, String>, v: &JVal) -> Result<(), JsonError> {
    match v {
        JVal::Null => {
            m.clear();
            Ok(())
        }
        JVal::Obj(members) => {
            let mut first_err = None;
            for (k, x) in members {
                match x {
                    // A null element stores the zero value.
                    JVal::Null => {
                        m.insert(k.clone(), String::new());
                    }
                    JVal::Str(s) => {
                        m.insert(k.clone(), s.clone());
                    }
                    other => {
                        first_err.get_or_insert(gojson::type_err("user_metadata", "string", other));
                    }
                }
            }
            first_err.map_or(Ok(()), Err)
        }
        other => Err(gojson::type_err(
            "user_metadata",
            "map[string]string",
            other,
        )),
    }
}

/// Decodes a K3 value with Go's rules (see [`gojson`]).
pub fn decode_manifest(b: &[u8]) -> Result<Manifest, JsonError> {
    let v = gojson::parse(b)?;
    let mut m = Manifest::default();
    gojson::for_fields(&v, "manifest", &MANIFEST_FIELDS, |i, x| match i {
        0 => set_str(&mut m.upload_id, x, "upload_id"),
        1 => set_str(&mut m.etag, x, "etag"),
        2 => set_i64(&mut m.size_bytes, x, "size_bytes"),
        3 => set_u64(&mut m.last_modified_hlc, x, "last_modified_hlc"),
        4 => set_str(&mut m.content_type, x, "content_type"),
        5 => set_str(&mut m.content_encoding, x, "content_encoding"),
        6 => set_str(&mut m.cache_control, x, "cache_control"),
        7 => set_str(&mut m.content_disposition, x, "content_disposition"),
        8 => decode_user_metadata(&mut m.user_metadata, x),
        _ => set_slice(&mut m.parts, x, "parts", decode_part),
    })?;
    Ok(m)
}

/// The parts of a chunk reference (K7 value) the decoder needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// SHA-256 of the payload (names the K8 record).
    pub digest: [u8; 32],
    /// Payload size.
    pub size: u64,
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Some(h)
}

fn take_u16(b: &mut &[u8]) -> Option<usize> {
    let s = take(b, 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]) as usize)
}

/// Decodes a K7 value (docs/format/20-s3.md §4): V1 or V2, exact length.
pub fn decode_chunk_ref(v: &[u8]) -> Result<ChunkRef, &'static str> {
    let mut b = v;
    let version = take(&mut b, 1).ok_or("value shorter than 43 bytes")?[0];
    if version != 1 && version != 2 {
        return Err("unknown chunk reference version");
    }
    let digest: [u8; 32] = take(&mut b, 32)
        .and_then(|d| d.try_into().ok())
        .ok_or("value shorter than 43 bytes")?;
    let size_b = take(&mut b, 8).ok_or("value shorter than 43 bytes")?;
    let size = u64::from_be_bytes(size_b.try_into().map_err(|_| "bad size field")?);
    let peer = take_u16(&mut b).ok_or("value shorter than 43 bytes")?;
    take(&mut b, peer).ok_or("source peer runs past the end")?;
    if version == 1 {
        return if b.is_empty() {
            Ok(ChunkRef { digest, size })
        } else {
            Err("trailing bytes after a V1 chunk reference")
        };
    }
    let replicas = take_u16(&mut b).ok_or("missing replica count")?;
    if replicas > b.len() / 4 {
        return Err("replica count exceeds the remaining bytes");
    }
    for _ in 0..replicas {
        let n = take_u16(&mut b).ok_or("truncated replica")?;
        take(&mut b, n).ok_or("truncated replica node id")?;
        let a = take_u16(&mut b).ok_or("truncated replica")?;
        take(&mut b, a).ok_or("truncated replica address")?;
    }
    if b.is_empty() {
        Ok(ChunkRef { digest, size })
    } else {
        Err("trailing bytes after the last replica")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_meta() {
        let m = decode_bucket_meta(br#"{"bucket_name":"photos","generation":1,"created_at_hlc":111820040892416000,"owner":"alice","region":"us-east-1","acl":"private"}"#).unwrap();
        assert_eq!(m.generation, 1);
        assert_eq!(
            (m.owner.as_str(), m.region.as_str(), m.acl.as_str()),
            ("alice", "us-east-1", "private")
        );
        // TV14.
        assert!(decode_bucket_meta(br#"{"generation":-1}"#).is_err());
        assert!(decode_bucket_meta(b"").is_err());
        assert!(decode_bucket_meta(b"[]").is_err());
        assert_eq!(decode_bucket_meta(b"null").unwrap(), BucketMeta::default());
    }

    #[test]
    fn manifest_tv1_and_go_rules() {
        let m = decode_manifest(br#"{"upload_id":"u1","etag":"\"5d41402abc4b2a76b9719d911017c592\"","size_bytes":5,"last_modified_hlc":111820040892416000,"content_type":"image/jpeg","user_metadata":{"z":"1","camera":"fx<30>&"},"parts":[{"part_no":1,"etag":"\"5d41402abc4b2a76b9719d911017c592\"","size_bytes":5,"chunk_count":1,"chunk_sizes":[5]}]}"#).unwrap();
        assert_eq!(m.upload_id, "u1");
        assert_eq!(m.size_bytes, 5);
        assert_eq!(m.user_metadata.keys().collect::<Vec<_>>(), ["camera", "z"]);
        assert_eq!(m.parts.len(), 1);
        assert_eq!((m.parts[0].part_no, m.parts[0].chunk_count), (1, 1));
        assert_eq!(m.parts[0].chunk_sizes, [5]);
        // TV17: case-insensitive keys.
        let m = decode_manifest(br#"{"UPLOAD_ID":"u","ETag":"E","Size_Bytes":0}"#).unwrap();
        assert_eq!(
            (m.upload_id.as_str(), m.etag.as_str(), m.size_bytes),
            ("u", "E", 0)
        );
        // TV14 and type errors.
        assert!(decode_manifest(b"not json").is_err());
        assert!(decode_manifest(br#"{"size_bytes":1.5}"#).is_err());
        assert!(decode_manifest(br#"{"size_bytes":9223372036854775808}"#).is_err());
        assert!(decode_manifest(br#"{"parts":[{"part_no":-1}]}"#).is_err());
        assert!(decode_manifest(br#"{"parts":[{"chunk_count":1e3}]}"#).is_err());
        assert!(decode_manifest(br#"{"etag":5}"#).is_err());
        assert!(decode_manifest(br#"{"user_metadata":{"a":1}}"#).is_err());
        // Later duplicates win; a repeated array decodes into the earlier elements.
        let m = decode_manifest(br#"{"etag":"a","etag":null,"parts":[{"part_no":1,"chunk_count":2},{"part_no":2}],"parts":[{"part_no":3}]}"#).unwrap();
        assert_eq!(m.etag, "a");
        assert_eq!(m.parts.len(), 1);
        assert_eq!((m.parts[0].part_no, m.parts[0].chunk_count), (3, 2));
        let m =
            decode_manifest(br#"{"user_metadata":{"a":"1"},"user_metadata":{"b":null}}"#).unwrap();
        assert_eq!(m.user_metadata.len(), 2);
        assert_eq!(m.user_metadata["b"], "");
    }

    #[test]
    fn chunk_refs_tv8() {
        let v1 = hex::decode("0156ee43f164569ee44d4b2e223debf46c1fcf68dd157179678b8c5fc724bdd981000000000000000a00026e31").unwrap();
        let r = decode_chunk_ref(&v1).unwrap();
        assert_eq!(r.size, 10);
        assert_eq!(
            hex::encode(r.digest),
            "56ee43f164569ee44d4b2e223debf46c1fcf68dd157179678b8c5fc724bdd981"
        );
        let v2 = hex::decode("027692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed000000000000000300026e31000100026e32000e31302e302e302e323a3530303531").unwrap();
        assert_eq!(decode_chunk_ref(&v2).unwrap().size, 3);
        let mut bad = v1.clone();
        bad.push(0);
        assert!(decode_chunk_ref(&bad).is_err());
        assert!(decode_chunk_ref(&v2[..v2.len() - 1]).is_err());
        assert!(decode_chunk_ref(&v1[..42]).is_err());
        let mut v3 = v1.clone();
        v3[0] = 3;
        assert!(decode_chunk_ref(&v3).is_err());
        // Replica count larger than the remaining bytes allow.
        let mut many = v1[..43 + 2].to_vec();
        many[0] = 2;
        many.extend([0x00, 0x05, 0, 0, 0, 0]);
        assert!(decode_chunk_ref(&many).is_err());
    }
}
