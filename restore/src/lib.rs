//! The restore direction: a dump tree replayed into a running service through its own
//! wire protocol, so a dump can be loaded into elastickv or into the service it stands in
//! for: Redis over RESP, DynamoDB, S3 and SQS through the official AWS SDK.
//!
//! Why a crate of its own: restoring is the one job that talks to foreign servers, so it
//! carries the AWS SDK clients and the RESP client and owns their errors ([`error`]); it
//! reads dump trees with the engine's walkers (`elastickv_backup_engine::reverse`, the same
//! code `encode` reads them with) and depends on nothing above the engine.

#![warn(missing_docs)]

pub mod error;

pub mod aws;
pub mod dynamodb;
pub mod redis;
pub mod s3;
pub mod sqs;
