//! Errors of object-storage output and read-back, each naming the object URL and what to
//! do about it.

/// A failure talking to S3-compatible storage.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// An `s3://` argument that names no bucket/key.
    #[error(
        "{url}: not a usable s3:// URL: {why} (expected s3://BUCKET/PREFIX/ or s3://BUCKET/KEY)"
    )]
    BadUrl {
        /// The argument as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A request to the store failed (after the client's retries).
    #[error("{url}: {op} failed at {endpoint}: {detail} (check that the endpoint is reachable, the bucket exists and the AWS credentials/region are right)")]
    Request {
        /// The object or prefix concerned.
        url: String,
        /// The S3 operation (PutObject, UploadPart, …).
        op: &'static str,
        /// The endpoint used (`--s3-endpoint`, or the SDK's default for the region).
        endpoint: String,
        /// The client's error, with its source chain.
        detail: String,
    },
    /// The output prefix already holds objects.
    #[error("{url} is not empty (it holds {example:?}); choose an empty prefix or pass --force to write into it")]
    NotEmpty {
        /// The output prefix.
        url: String,
        /// One key found there.
        example: String,
    },
    /// An earlier upload of this run failed, so the dump can no longer complete.
    #[error("{url}: not written because an earlier upload failed: {first}")]
    Poisoned {
        /// The object that was not written.
        url: String,
        /// The first failure.
        first: String,
    },
    /// The sink's background runtime could not be started or went away.
    #[error("S3 client runtime: {0}")]
    Runtime(String),
}

/// Renders an error with its whole source chain (SDK errors hide the useful part there).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
