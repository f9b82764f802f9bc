//! The one HTTPS client every AWS SDK client of the engine uses (S3 output, `restore
//! dynamodb|s3|sqs`): rustls on `ring`. Why: the SDK crates are built without their default
//! HTTPS client (whose TLS stack compiles a large C library), so each client must be given
//! one, and one place keeps them alike.

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// An HTTPS (and plain HTTP) client for `aws_config::defaults(…).http_client(…)`.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// True for a CompleteMultipartUpload answered `200 OK` with the upload completed but its
/// XML root named `CompleteMultipartUploadResponse` instead of S3's
/// `CompleteMultipartUploadResult`, which the SDK refuses to parse. moto 5.x (the test
/// server) answers so; anything else (an `<Error>` body, another status) is still a
/// failure. Shared by the S3 output sink and `restore s3`, the two multipart writers.
pub fn completed_under_other_root<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    let Some(raw) = e.raw_response() else {
        return false;
    };
    let body = raw.body().bytes().unwrap_or_default();
    raw.status().as_u16() == 200
        && body
            .windows(COMPLETED_ROOT.len())
            .any(|w| w == COMPLETED_ROOT)
        && !body.windows(7).any(|w| w == b"<Error>")
}

/// The root element moto gives a completed upload's answer.
const COMPLETED_ROOT: &[u8] = b"<CompleteMultipartUploadResponse";
