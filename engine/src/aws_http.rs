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
