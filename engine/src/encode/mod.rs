//! Encode: logical records → file bytes, in upstream's exact formats, and the worker pool
//! that renders and writes them.

pub(crate) mod checksums;
pub mod emitter;
pub mod filename;
pub mod json;
pub mod keymap;
pub mod manifest;

pub use emitter::{Emitter, WorkerPool};
