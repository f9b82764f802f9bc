//! The restore direction: a dump tree replayed into a running service through its own
//! wire protocol, so a dump can be loaded into elastickv or into the service it stands in
//! for: Redis over RESP, DynamoDB, S3 and SQS through the official AWS SDK.

pub mod aws;
pub mod dynamodb;
pub mod redis;
pub mod s3;
pub mod sqs;
