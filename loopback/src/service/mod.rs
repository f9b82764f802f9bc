//! The gRPC services of the loopback node, package-less like upstream's.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod distribution;
pub(crate) mod raft_admin;
pub(crate) mod raw_kv;
