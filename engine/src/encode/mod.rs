//! Encode: logical records → file bytes, in upstream's exact formats, and the worker pool
//! that renders and writes them.

pub(crate) mod checksums;
pub(crate) mod emitter;
pub mod filename;
pub(crate) mod json;
pub(crate) mod keymap;
pub mod manifest;

pub use emitter::{Emitter, WorkerPool};
