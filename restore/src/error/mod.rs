//! Why a restore stopped: [`redis::RestoreError`] for `restore redis` (fatal failures; per-key
//! problems are counted in its summary), [`aws::AwsRestoreError`] for `restore
//! dynamodb|s3|sqs`.

pub mod aws;
pub mod redis;
