//! Sqs adapter (not yet implemented: it refuses to run rather than drop data).

use super::{Adapter, AdapterKind, Family};
use crate::encode::Emitter;
use crate::error::Error;
use crate::options::DecodeOptions;
use crate::sources::Entry;

/// Errors of the Sqs adapter.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// The adapter is not implemented yet.
    #[error("the sqs adapter is not implemented yet; pass --adapter without sqs")]
    NotImplemented,
}

/// Sqs decoder.
pub struct SqsAdapter;

impl SqsAdapter {
    /// A decoder for the given options.
    pub fn new(_opts: &DecodeOptions) -> Self {
        SqsAdapter
    }
}

impl Adapter for SqsAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Sqs
    }

    fn handle(&mut self, _f: Family, _k: &[u8], _e: &Entry, _out: &Emitter) -> Result<(), Error> {
        Err(SqsError::NotImplemented.into())
    }

    fn finish(&mut self, _out: &Emitter) -> Result<(), Error> {
        Ok(())
    }
}
