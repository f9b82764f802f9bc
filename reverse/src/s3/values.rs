//! The dump's S3 JSON files read back (`_bucket.json`, `<body>.elastickv-meta.json`) and
//! the internal values rebuilt from them (docs/format/20-s3.md §4, §4, §11).
//!
//! Reading follows Go's `encoding/json` into upstream's dump structs (case-insensitive
//! field names, later duplicates win, `null` leaves a scalar unchanged, numbers must fit
//! the field). The values written are Go `json.Marshal` output of the live structs:
//! compact, every field present (the encoder's mirror has no `omitempty`), map keys
//! sorted, HTML-safe string escaping.

use super::keys::{PART_NO, UPLOAD_ID};
use elastickv_backup_engine::decode::s3::values::decode_user_metadata;
use elastickv_backup_engine::encode::json::write_str_html;
use elastickv_backup_engine::encode::json::{write_i64, write_u64};
use elastickv_backup_gocompat::json::{
    self as gojson, set_i64, set_str, type_err, JVal, JsonError,
};
use std::collections::BTreeMap;

fn set_u32(dst: &mut u32, v: &JVal, field: &'static str) -> Result<(), JsonError> {
    match v {
        JVal::Null => Ok(()),
        JVal::U(n) => {
            *dst = u32::try_from(*n).map_err(|_| type_err(field, "uint32", v))?;
            Ok(())
        }
        other => Err(type_err(field, "uint32", other)),
    }
}

fn check_version(v: u32) -> Result<(), String> {
    if v == 1 {
        Ok(())
    } else {
        Err(format!("unsupported format_version {v}"))
    }
}

/// What `_bucket.json` says (docs/format/20-s3.md §7); the reserved fields are read and ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BucketFile {
    /// Bucket name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Region.
    pub region: String,
    /// Canned ACL.
    pub acl: String,
}

const BUCKET_FIELDS: [&str; 8] = [
    "format_version",
    "name",
    "creation_time_iso",
    "owner",
    "region",
    "acl",
    "versioning",
    "policy_json",
];

/// Parses `_bucket.json`: one JSON value, `format_version` 1.
pub(crate) fn parse_bucket(b: &[u8]) -> Result<BucketFile, String> {
    let v = gojson::parse(b).map_err(|e| e.to_string())?;
    let (mut out, mut version, mut ignored) = (BucketFile::default(), 0u32, String::new());
    gojson::for_fields(&v, "s3PublicBucket", &BUCKET_FIELDS, |i, x| match i {
        0 => set_u32(&mut version, x, "format_version"),
        1 => set_str(&mut out.name, x, "name"),
        3 => set_str(&mut out.owner, x, "owner"),
        4 => set_str(&mut out.region, x, "region"),
        5 => set_str(&mut out.acl, x, "acl"),
        _ => set_str(&mut ignored, x, BUCKET_FIELDS.get(i).copied().unwrap_or("")),
    })
    .map_err(|e| e.to_string())?;
    check_version(version)?;
    Ok(out)
}

/// The K1 value: `{"bucket_name":…,"generation":1,"created_at_hlc":0,"owner":…,
/// "region":…,"acl":…}`.
pub(crate) fn bucket_meta_value(b: &BucketFile, generation: u64) -> Vec<u8> {
    let mut o = Vec::with_capacity(96 + b.name.len());
    o.extend_from_slice(b"{\"bucket_name\":");
    write_str_html(&mut o, b.name.as_bytes());
    o.extend_from_slice(b",\"generation\":");
    write_u64(&mut o, generation);
    o.extend_from_slice(b",\"created_at_hlc\":0,\"owner\":");
    write_str_html(&mut o, b.owner.as_bytes());
    o.extend_from_slice(b",\"region\":");
    write_str_html(&mut o, b.region.as_bytes());
    o.extend_from_slice(b",\"acl\":");
    write_str_html(&mut o, b.acl.as_bytes());
    o.push(b'}');
    o
}

/// What an object sidecar says (docs/format/20-s3.md §7).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// ETag, verbatim.
    pub etag: String,
    /// Declared body size; must equal the body file's length.
    pub size_bytes: i64,
    /// RFC 3339 modification time ("" when absent).
    pub last_modified: String,
    /// `Content-Type`.
    pub content_type: String,
    /// `Content-Encoding`.
    pub content_encoding: String,
    /// `Cache-Control`.
    pub cache_control: String,
    /// `Content-Disposition`.
    pub content_disposition: String,
    /// User metadata: `None` when absent or null (written as `null`), else the map
    /// (`{}` when empty).
    pub user_metadata: Option<BTreeMap<String, String>>,
}

const SIDECAR_FIELDS: [&str; 9] = [
    "format_version",
    "etag",
    "size_bytes",
    "last_modified",
    "content_type",
    "content_encoding",
    "cache_control",
    "content_disposition",
    "user_metadata",
];

/// Go's decoding into a `map[string]string`: `null` resets it, an object merges into
/// it (a `null` element stores ""), anything else is a type error.
fn set_map(dst: &mut Option<BTreeMap<String, String>>, v: &JVal) -> Result<(), JsonError> {
    match v {
        JVal::Null => {
            *dst = None;
            Ok(())
        }
        JVal::Obj(_) => decode_user_metadata(dst.get_or_insert_with(BTreeMap::new), v),
        other => Err(type_err("user_metadata", "map[string]string", other)),
    }
}

/// Parses a sidecar: one JSON value, `format_version` 1.
pub(crate) fn parse_sidecar(b: &[u8]) -> Result<Sidecar, String> {
    let v = gojson::parse(b).map_err(|e| e.to_string())?;
    let (mut s, mut version) = (Sidecar::default(), 0u32);
    gojson::for_fields(&v, "s3PublicManifest", &SIDECAR_FIELDS, |i, x| match i {
        0 => set_u32(&mut version, x, "format_version"),
        1 => set_str(&mut s.etag, x, "etag"),
        2 => set_i64(&mut s.size_bytes, x, "size_bytes"),
        3 => set_str(&mut s.last_modified, x, "last_modified"),
        4 => set_str(&mut s.content_type, x, "content_type"),
        5 => set_str(&mut s.content_encoding, x, "content_encoding"),
        6 => set_str(&mut s.cache_control, x, "cache_control"),
        7 => set_str(&mut s.content_disposition, x, "content_disposition"),
        _ => set_map(&mut s.user_metadata, x),
    })
    .map_err(|e| e.to_string())?;
    check_version(version)?;
    Ok(s)
}

fn str_member(o: &mut Vec<u8>, key: &str, v: &str) {
    o.extend_from_slice(b",\"");
    o.extend_from_slice(key.as_bytes());
    o.extend_from_slice(b"\":");
    write_str_html(o, v.as_bytes());
}

/// The K3 value for a restored object: one part of `chunk_sizes` (no part for an empty
/// body), `last_modified_hlc` given.
pub(crate) fn manifest_value(s: &Sidecar, hlc: u64, chunk_sizes: &[u64]) -> Vec<u8> {
    let mut o = Vec::with_capacity(400);
    o.extend_from_slice(b"{\"upload_id\":");
    write_str_html(&mut o, UPLOAD_ID.as_bytes());
    str_member(&mut o, "etag", &s.etag);
    o.extend_from_slice(b",\"size_bytes\":");
    write_i64(&mut o, s.size_bytes);
    o.extend_from_slice(b",\"last_modified_hlc\":");
    write_u64(&mut o, hlc);
    str_member(&mut o, "content_type", &s.content_type);
    str_member(&mut o, "content_encoding", &s.content_encoding);
    str_member(&mut o, "cache_control", &s.cache_control);
    str_member(&mut o, "content_disposition", &s.content_disposition);
    o.extend_from_slice(b",\"user_metadata\":");
    match &s.user_metadata {
        None => o.extend_from_slice(b"null"),
        Some(m) => {
            o.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                write_str_html(&mut o, k.as_bytes());
                o.push(b':');
                write_str_html(&mut o, v.as_bytes());
            }
            o.push(b'}');
        }
    }
    o.extend_from_slice(b",\"parts\":");
    if chunk_sizes.is_empty() {
        o.extend_from_slice(b"null}");
        return o;
    }
    o.extend_from_slice(b"[{\"part_no\":");
    write_u64(&mut o, PART_NO);
    str_member(&mut o, "etag", &s.etag);
    o.extend_from_slice(b",\"size_bytes\":");
    write_i64(&mut o, s.size_bytes);
    o.extend_from_slice(b",\"chunk_count\":");
    write_u64(&mut o, chunk_sizes.len() as u64);
    o.extend_from_slice(b",\"chunk_sizes\":[");
    for (i, n) in chunk_sizes.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        write_u64(&mut o, *n);
    }
    o.extend_from_slice(b"],\"part_version\":0,\"chunk_ref_version\":0,\"offloaded\":false}]}");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::decode::s3::values::{decode_bucket_meta, decode_manifest};

    #[test]
    fn tv15_bucket_meta() {
        let b = parse_bucket(b"{\n  \"format_version\": 1,\n  \"name\": \"photos\",\n  \"owner\": \"alice\",\n  \"region\": \"us-east-1\",\n  \"acl\": \"private\"\n}").unwrap();
        assert_eq!(
            String::from_utf8(bucket_meta_value(&b, 1)).unwrap(),
            r#"{"bucket_name":"photos","generation":1,"created_at_hlc":0,"owner":"alice","region":"us-east-1","acl":"private"}"#
        );
        let e = parse_bucket(br#"{"format_version":1,"NAME":"a<b>","versioning":"x"}"#).unwrap();
        let v = bucket_meta_value(&e, 1);
        assert_eq!(
            String::from_utf8(v.clone()).unwrap(),
            r#"{"bucket_name":"a\u003cb\u003e","generation":1,"created_at_hlc":0,"owner":"","region":"","acl":""}"#
        );
        assert_eq!(decode_bucket_meta(&v).unwrap().generation, 1);
        for bad in [
            &br#"{"format_version":2,"name":"a"}"#[..],
            br#"{"name":"a"}"#,
            br#"{"format_version":1.0,"name":"a"}"#,
            br#"{"format_version":4294967297,"name":"a"}"#,
            br#"{"format_version":1,"name":5}"#,
            br#"{"format_version":1} x"#,
            b"",
        ] {
            assert!(
                parse_bucket(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn tv15_manifest() {
        let s = parse_sidecar(
            "{\n  \"format_version\": 1,\n  \"etag\": \"\\\"5d41402abc4b2a76b9719d911017c592\\\"\",\n  \"size_bytes\": 5,\n  \"last_modified\": \"2024-01-26T03:06:56.937Z\",\n  \"content_type\": \"image/jpeg\",\n  \"user_metadata\": {\n    \"camera\": \"fx\\u003c30\\u003e\\u0026\",\n    \"z\": \"1\"\n  }\n}".as_bytes(),
        )
        .unwrap();
        let v = manifest_value(&s, super::super::hlc::hlc_of(&s.last_modified), &[5]);
        assert_eq!(
            String::from_utf8(v.clone()).unwrap(),
            r#"{"upload_id":"elastickv-restore","etag":"\"5d41402abc4b2a76b9719d911017c592\"","size_bytes":5,"last_modified_hlc":111820040892383232,"content_type":"image/jpeg","content_encoding":"","cache_control":"","content_disposition":"","user_metadata":{"camera":"fx\u003c30\u003e\u0026","z":"1"},"parts":[{"part_no":1,"etag":"\"5d41402abc4b2a76b9719d911017c592\"","size_bytes":5,"chunk_count":1,"chunk_sizes":[5],"part_version":0,"chunk_ref_version":0,"offloaded":false}]}"#
        );
        let m = decode_manifest(&v).unwrap();
        assert_eq!(
            (m.upload_id.as_str(), m.size_bytes),
            ("elastickv-restore", 5)
        );
        // TV3's leaf object and the empty body of bucket `n`.
        let s = parse_sidecar(
            b"{\n  \"format_version\": 1,\n  \"etag\": \"e1\",\n  \"size_bytes\": 4\n}",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(manifest_value(&s, 0, &[4])).unwrap(),
            r#"{"upload_id":"elastickv-restore","etag":"e1","size_bytes":4,"last_modified_hlc":0,"content_type":"","content_encoding":"","cache_control":"","content_disposition":"","user_metadata":null,"parts":[{"part_no":1,"etag":"e1","size_bytes":4,"chunk_count":1,"chunk_sizes":[4],"part_version":0,"chunk_ref_version":0,"offloaded":false}]}"#
        );
        let s = parse_sidecar(br#"{"format_version":1,"size_bytes":0}"#).unwrap();
        assert_eq!(
            String::from_utf8(manifest_value(&s, 0, &[])).unwrap(),
            r#"{"upload_id":"elastickv-restore","etag":"","size_bytes":0,"last_modified_hlc":0,"content_type":"","content_encoding":"","cache_control":"","content_disposition":"","user_metadata":null,"parts":null}"#
        );
        let big = String::from_utf8(manifest_value(&s, 0, &[1_048_576, 1_048_576, 5])).unwrap();
        assert!(
            big.contains(r#""chunk_count":3,"chunk_sizes":[1048576,1048576,5]"#),
            "{big}"
        );
    }

    #[test]
    fn sidecar_go_rules() {
        let s =
            parse_sidecar(br#"{"format_version":1,"size_bytes":1,"user_metadata":{}}"#).unwrap();
        assert_eq!(s.user_metadata, Some(BTreeMap::new()));
        assert!(String::from_utf8(manifest_value(&s, 0, &[1]))
            .unwrap()
            .contains(r#""user_metadata":{},"#));
        let s = parse_sidecar(br#"{"format_version":1,"user_metadata":{"a":"1"},"user_metadata":{"b":null},"ETag":"E","etag":null}"#).unwrap();
        assert_eq!(s.user_metadata.unwrap().len(), 2);
        assert_eq!(s.etag, "E");
        for bad in [
            &br#"{"format_version":1,"size_bytes":"1"}"#[..],
            br#"{"format_version":1,"user_metadata":{"a":1}}"#,
            br#"{"format_version":1,"user_metadata":[]}"#,
            br#"{"size_bytes":1}"#,
            b"null",
        ] {
            assert!(
                parse_sidecar(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
