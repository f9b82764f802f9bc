//! Putting one object: the headers a sidecar restores, a single `PutObject` for small
//! bodies, and a multipart upload read part by part (memory: one part) for large ones —
//! aborted on the server when any step fails, so no incomplete upload is left behind.

use crate::aws::AwsRestoreError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use elastickv_backup_reverse::s3::objects::ObjectFile;
use elastickv_backup_reverse::s3::values::Sidecar;
use elastickv_backup_reverse::ReverseError;
use std::collections::HashMap;
use std::io::Read;

/// The object headers a sidecar carries (empty fields are not sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Headers {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub metadata: Option<HashMap<String, String>>,
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string()).filter(|s| !s.is_empty())
}

impl Headers {
    /// The headers of `s`.
    pub(crate) fn of(s: &Sidecar) -> Self {
        Headers {
            content_type: some(&s.content_type),
            content_encoding: some(&s.content_encoding),
            cache_control: some(&s.cache_control),
            content_disposition: some(&s.content_disposition),
            metadata: s
                .user_metadata
                .as_ref()
                .filter(|m| !m.is_empty())
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        }
    }
}

/// What one upload did.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub bucket: String,
    pub bytes: u64,
    pub result: Result<(), AwsRestoreError>,
}

/// Reads a whole (small) body, checking it still has the length the walk saw.
pub(crate) fn read_body(obj: ObjectFile<'_>) -> Result<Vec<u8>, ReverseError> {
    let ObjectFile {
        mut body,
        len,
        shown,
        ..
    } = obj;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    (&mut body)
        .take(len.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| ReverseError::io(shown, e))?;
    if buf.len() as u64 != len {
        return Err(ReverseError::invalid(
            shown,
            format!(
                "changed while being read ({len} bytes expected, {} read)",
                buf.len()
            ),
        ));
    }
    Ok(buf)
}

/// `PutObject` of a whole body.
pub(crate) async fn put(
    client: Client,
    bucket: String,
    key: String,
    h: Headers,
    body: Vec<u8>,
) -> Outcome {
    let bytes = body.len() as u64;
    let sent = client
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .set_content_type(h.content_type)
        .set_content_encoding(h.content_encoding)
        .set_cache_control(h.cache_control)
        .set_content_disposition(h.content_disposition)
        .set_metadata(h.metadata)
        .body(ByteStream::from(body))
        .send()
        .await;
    let result = sent
        .map(|_| ())
        .map_err(|e| AwsRestoreError::call("s3", "PutObject", &format!("{bucket}/{key}"), e));
    Outcome {
        bucket,
        bytes,
        result,
    }
}

/// A multipart upload of `obj` in `part_size` parts, read one part at a time; on any
/// failure the upload is aborted before the error is returned.
pub(crate) fn multipart(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    bucket: &str,
    key: &str,
    h: &Headers,
    obj: ObjectFile<'_>,
    part_size: u64,
) -> Result<(), AwsRestoreError> {
    let target = format!("{bucket}/{key}");
    let created = rt
        .block_on(
            client
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .set_content_type(h.content_type.clone())
                .set_content_encoding(h.content_encoding.clone())
                .set_cache_control(h.cache_control.clone())
                .set_content_disposition(h.content_disposition.clone())
                .set_metadata(h.metadata.clone())
                .send(),
        )
        .map_err(|e| AwsRestoreError::call("s3", "CreateMultipartUpload", &target, e))?;
    let Some(upload_id) = created.upload_id().map(str::to_string) else {
        return Err(AwsRestoreError::Call {
            service: "s3",
            call: "CreateMultipartUpload",
            target,
            why: "the server returned no upload id".into(),
        });
    };
    let r = parts(rt, client, bucket, key, &upload_id, obj, part_size);
    if r.is_err() {
        // Best effort: the error that stopped the upload is the one reported.
        let _ = rt.block_on(
            client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send(),
        );
    }
    r
}

fn parts(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    obj: ObjectFile<'_>,
    part_size: u64,
) -> Result<(), AwsRestoreError> {
    let target = format!("{bucket}/{key}");
    let ObjectFile {
        mut body,
        len,
        shown,
        ..
    } = obj;
    let mut done = Vec::new();
    let mut total = 0u64;
    loop {
        let mut part =
            Vec::with_capacity(usize::try_from(part_size.min(len - total.min(len))).unwrap_or(0));
        (&mut body)
            .take(part_size)
            .read_to_end(&mut part)
            .map_err(|e| ReverseError::io(shown, e))?;
        if part.is_empty() && !done.is_empty() {
            break;
        }
        total += part.len() as u64;
        if total > len {
            break;
        }
        let number = i32::try_from(done.len() + 1).unwrap_or(i32::MAX);
        let short = (part.len() as u64) < part_size;
        let up = rt
            .block_on(
                client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(ByteStream::from(part))
                    .send(),
            )
            .map_err(|e| AwsRestoreError::call("s3", "UploadPart", &target, e))?;
        done.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(up.e_tag().map(str::to_string))
                .build(),
        );
        if short {
            break;
        }
    }
    if total != len {
        return Err(ReverseError::invalid(
            shown,
            format!("changed while being read ({len} bytes expected, {total} read)"),
        )
        .into());
    }
    let completed = rt.block_on(
        client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send(),
    );
    match completed {
        Ok(_) => Ok(()),
        Err(e) if elastickv_backup_engine::aws_http::completed_under_other_root(&e) => Ok(()),
        Err(e) => Err(AwsRestoreError::call(
            "s3",
            "CompleteMultipartUpload",
            &target,
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_leave_out_empty_fields() {
        let mut s = Sidecar {
            content_type: "text/plain".into(),
            ..Default::default()
        };
        assert_eq!(
            Headers::of(&s),
            Headers {
                content_type: Some("text/plain".into()),
                ..Default::default()
            }
        );
        s.user_metadata = Some([("camera".to_string(), "fx30".to_string())].into());
        s.cache_control = "no-cache".into();
        let h = Headers::of(&s);
        assert_eq!(h.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(
            h.metadata.unwrap().get("camera").map(String::as_str),
            Some("fx30")
        );
    }
}
