//! DynamoDB adapter.
use super::{Adapter, AdapterKind, Family};
use crate::encode::Emitter;
use crate::error::Error;
use crate::options::DecodeOptions;
use crate::sources::Entry;

/// Errors of the DynamoDB adapter.
#[derive(Debug, thiserror::Error)]
pub enum DdbError {
    /// placeholder
    #[error("todo")]
    Todo,
}

/// DynamoDB decoder.
pub struct DdbAdapter;
impl DdbAdapter {
    /// New.
    pub fn new(_o: &DecodeOptions) -> Self { DdbAdapter }
}
impl Adapter for DdbAdapter {
    fn kind(&self) -> AdapterKind { AdapterKind::DynamoDb }
    fn handle(&mut self, _f: Family, _k: &[u8], _e: &Entry, _out: &Emitter) -> Result<(), Error> { Err(DdbError::Todo.into()) }
    fn finish(&mut self, _out: &Emitter) -> Result<(), Error> { Ok(()) }
}
