//! The gRPC services of the loopback node, package-less like upstream's.

pub mod admin;
pub mod auth;
pub mod distribution;
pub mod raft_admin;
pub mod raw_kv;
