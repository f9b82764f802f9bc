//! Go standard-library behaviour that elastickv-backup must reproduce bit for bit.
//!
//! The dump format is defined by a Go program: timestamps are written and read with
//! `time.RFC3339Nano`, JSON with `encoding/json`. Wherever the engine accepts or produces
//! such text it must agree with Go exactly — including Go's leniencies — so each rule
//! lives here once, with tests that pin the Go behaviour, instead of in every module
//! that needs it. This crate depends on nothing else in the workspace.
//!
//! Today it holds the RFC 3339 parser ([`rfc3339`]); the Go JSON reader/writer, lenient
//! base64 and Go quoting are still in the engine (`decode/s3/gojson.rs`,
//! `decode/sqs/gojson.rs`) and are to move here.

pub mod rfc3339;
