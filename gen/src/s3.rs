//! S3 sample buckets (docs/format/20-s3.md §3, §11): bucket metadata and generation, single-part
//! objects (manifest + one blob chunk each, real MD5 ETags), a nested key, an empty object,
//! and an empty bucket.

use super::enc::md5_hex;
use super::{Pair, EPOCH_MS};
use elastickv_backup_engine::decode::Family;
use elastickv_backup_format::keys::s3;

const UPLOAD_ID: &str = "sample-upload";

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

pub(crate) mod synth;

/// Bucket meta JSON (docs/format/20-s3.md §4) as the live writer marshals it.
pub(crate) fn bucket_meta(name: &str, generation: u64, owner: &str, created_hlc: u64) -> Vec<u8> {
    format!(
        r#"{{"bucket_name":"{name}","generation":{generation},"created_at_hlc":{created_hlc},"owner":"{owner}","region":"us-east-1","acl":"private"}}"#
    )
    .into_bytes()
}

/// Appends bucket `name` (generation 1): its generation counter and metadata.
pub fn bucket(out: &mut Vec<Pair>, name: &str) {
    out.push((s3::bucket_gen(name.as_bytes()), be(1).to_vec()));
    out.push((
        s3::bucket_meta(name.as_bytes()),
        bucket_meta(name, 1, "sample", EPOCH_MS << 16),
    ));
}

/// Appends a single-part object: manifest and (for a non-empty body) one blob chunk.
pub fn object(out: &mut Vec<Pair>, bucket: &str, key: &str, body: &[u8], content_type: &str) {
    let etag = format!(r#"\"{}\""#, md5_hex(body));
    let parts = if body.is_empty() {
        String::new()
    } else {
        format!(
            r#","parts":[{{"part_no":1,"etag":"{etag}","size_bytes":{n},"chunk_count":1,"chunk_sizes":[{n}]}}]"#,
            n = body.len()
        )
    };
    out.push((
        s3::manifest(bucket.as_bytes(), 1, key.as_bytes()),
        format!(
            r#"{{"upload_id":"{UPLOAD_ID}","etag":"{etag}","size_bytes":{},"last_modified_hlc":{},"content_type":"{content_type}","user_metadata":{{"origin":"gen"}}{parts}}}"#,
            body.len(),
            (EPOCH_MS << 16) + 1
        )
        .into_bytes(),
    ));
    if !body.is_empty() {
        out.push((
            s3::chunk(
                Family::S3Blob,
                bucket.as_bytes(),
                1,
                key.as_bytes(),
                UPLOAD_ID.as_bytes(),
                1,
                0,
                0,
            ),
            body.to_vec(),
        ));
    }
}

/// Appends bucket `photos` with `count` objects and the empty bucket `archive`.
pub fn generate(count: usize, out: &mut Vec<Pair>) {
    bucket(out, "photos");
    for i in 0..count {
        let body = format!("object {i} body\n").repeat(i % 5 + 1);
        object(
            out,
            "photos",
            &format!("img/{i:04}.txt"),
            body.as_bytes(),
            "text/plain",
        );
    }
    object(
        out,
        "photos",
        "dir/sub/deep.json",
        br#"{"deep":true}"#,
        "application/json",
    );
    object(out, "photos", "empty.bin", b"", "application/octet-stream");
    bucket(out, "archive");
}
