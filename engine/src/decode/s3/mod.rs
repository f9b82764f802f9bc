//! S3 adapter (not yet implemented: it refuses to run rather than drop data).

use super::{Adapter, AdapterKind, Family};
use crate::encode::Emitter;
use crate::error::Error;
use crate::options::DecodeOptions;
use crate::sources::Entry;

/// Errors of the S3 adapter.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The adapter is not implemented yet.
    #[error("the s3 adapter is not implemented yet; pass --adapter without s3")]
    NotImplemented,
}

/// S3 decoder.
pub struct S3Adapter;

impl S3Adapter {
    /// A decoder for the given options.
    pub fn new(_opts: &DecodeOptions) -> Self {
        S3Adapter
    }
}

impl Adapter for S3Adapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::S3
    }

    fn handle(&mut self, _f: Family, _k: &[u8], _e: &Entry, _out: &Emitter) -> Result<(), Error> {
        Err(S3Error::NotImplemented.into())
    }

    fn finish(&mut self, _out: &Emitter) -> Result<(), Error> {
        Ok(())
    }
}
