//! `s3://bucket/prefix/` and `s3://bucket/key` as typed values, so the sink, the archive
//! output and `verify` agree on what a URL names.

use super::error::ObjectError;
use std::fmt;

/// The URL scheme that selects object-storage output.
pub const SCHEME: &str = "s3://";

/// A bucket and a key or key prefix inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// Bucket name (non-empty, no `/`).
    pub bucket: String,
    /// Key (for an archive object) or prefix (for a dump tree); no leading `/`.
    pub key: String,
}

impl S3Url {
    /// True when `arg` asks for object storage (`s3://…`).
    pub fn is_s3(arg: &str) -> bool {
        arg.starts_with(SCHEME)
    }

    /// Parses `s3://bucket[/key]`. The key keeps its trailing `/` if given.
    pub fn parse(arg: &str) -> Result<Self, ObjectError> {
        let rest = arg
            .strip_prefix(SCHEME)
            .ok_or_else(|| ObjectError::BadUrl {
                url: arg.to_string(),
                why: "it does not start with s3://",
            })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(ObjectError::BadUrl {
                url: arg.to_string(),
                why: "the bucket name is empty",
            });
        }
        if key.split('/').any(|s| s == "." || s == "..") || key.contains("//") {
            return Err(ObjectError::BadUrl {
                url: arg.to_string(),
                why: "the key has an empty, . or .. segment",
            });
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The key as a directory prefix: empty (bucket root) or ending in `/`.
    pub fn dir_prefix(&self) -> String {
        if self.key.is_empty() || self.key.ends_with('/') {
            self.key.clone()
        } else {
            format!("{}/", self.key)
        }
    }

    /// The same bucket with `key`.
    pub fn with_key(&self, key: String) -> Self {
        S3Url {
            bucket: self.bucket.clone(),
            key,
        }
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let u = S3Url::parse("s3://b/dumps/n1/").unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str()), ("b", "dumps/n1/"));
        assert_eq!(u.dir_prefix(), "dumps/n1/");
        let u = S3Url::parse("s3://b/x.tar.zst").unwrap();
        assert_eq!(u.dir_prefix(), "x.tar.zst/");
        let u = S3Url::parse("s3://b").unwrap();
        assert_eq!(u.dir_prefix(), "");
        assert_eq!(u.to_string(), "s3://b/");
        assert!(S3Url::parse("s3:///k").is_err());
        assert!(S3Url::parse("s3://b/a/../k").is_err());
        assert!(S3Url::parse("s3://b/a//k").is_err());
        assert!(S3Url::parse("/tmp/x").is_err());
        assert!(S3Url::is_s3("s3://b/") && !S3Url::is_s3("/tmp/s3://"));
    }
}
