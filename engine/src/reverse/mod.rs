//! The reverse direction: a dump tree → elastickv's internal key/value entries → a `.fsm`
//! payload (`elastickv-backup encode`). Used to restore through the snapshot path and to
//! prove the format round-trips: encode(decode(x)) == x for every golden case.
//!
//! Each adapter module reads its own subtree of the dump and appends
//! `(user_key, value_body)` pairs; [`writer`] sorts them and frames the `EKVPBBL1` stream.

pub mod dynamodb;
pub mod error;
pub mod redis;
pub mod s3;
pub mod sqs;
pub mod writer;

pub use error::ReverseError;

/// Internal entries produced from a tree: `(user_key, value body)`; MVCC framing is added
/// by the writer.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;
