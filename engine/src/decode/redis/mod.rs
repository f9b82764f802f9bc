//! Redis adapter (not yet implemented: it refuses to run rather than drop data).

use super::{Adapter, AdapterKind, Family};
use crate::encode::Emitter;
use crate::error::Error;
use crate::options::DecodeOptions;
use crate::sources::Entry;

/// Errors of the Redis adapter.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The adapter is not implemented yet.
    #[error("the redis adapter is not implemented yet; pass --adapter without redis")]
    NotImplemented,
}

/// Redis decoder.
pub struct RedisAdapter;

impl RedisAdapter {
    /// A decoder for the given options.
    pub fn new(_opts: &DecodeOptions) -> Self {
        RedisAdapter
    }
}

impl Adapter for RedisAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Redis
    }

    fn handle(&mut self, _f: Family, _k: &[u8], _e: &Entry, _out: &Emitter) -> Result<(), Error> {
        Err(RedisError::NotImplemented.into())
    }

    fn finish(&mut self, _out: &Emitter) -> Result<(), Error> {
        Ok(())
    }
}
