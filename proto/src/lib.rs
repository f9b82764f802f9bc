//! Generated gRPC types for the elastickv wire surface.
//!
//! The `.proto` files in `protos/` have no `package` line, exactly like upstream's, so every
//! method path is `/<Service>/<Method>` (`/RawKV/RawScanAt`, `/Admin/BeginBackup`, …) and a
//! real node understands our calls. prost puts package-less definitions in a module named `_`;
//! [`wire`] re-exports it under a usable name.

#![allow(missing_docs)]

/// Everything generated from `protos/*.proto`: messages, `*_client` and `*_server` modules.
pub mod wire {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}

pub use wire::admin_client::AdminClient;
pub use wire::admin_server::{Admin, AdminServer};
pub use wire::distribution_client::DistributionClient;
pub use wire::distribution_server::{Distribution, DistributionServer};
pub use wire::raft_admin_client::RaftAdminClient;
pub use wire::raft_admin_server::{RaftAdmin, RaftAdminServer};
pub use wire::raw_kv_client::RawKvClient;
pub use wire::raw_kv_server::{RawKv, RawKvServer};

/// The path prefix every Admin method shares; authentication keys on it (spec §2.6). Kept in one
/// constant because a future upstream `package` line would change it on both sides at once.
pub const ADMIN_PATH_PREFIX: &str = "/Admin/";

/// Nodes send and accept messages up to 64 MiB; tonic's default of 4 MiB breaks on large pages.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::wire::*;
    use prost::Message;

    #[test]
    fn method_paths_have_no_package_prefix() {
        assert_eq!(
            <super::RawKvServer<()> as tonic::server::NamedService>::NAME,
            "RawKV"
        );
    }

    #[test]
    fn scan_request_field_numbers() {
        let req = RawScanAtRequest {
            start_key: b"a".to_vec(),
            end_key: vec![],
            limit: 2,
            ts: 1,
            reverse: false,
            group_id: 3,
            keys_only: true,
        };
        // 0a 01 61 | 18 02 | 20 01 | 30 03 | 38 01
        assert_eq!(
            req.encode_to_vec(),
            vec![0x0a, 0x01, b'a', 0x18, 0x02, 0x20, 0x01, 0x30, 0x03, 0x38, 0x01]
        );
    }

    #[test]
    fn raw_get_request_skips_field_two() {
        let req = RawGetRequest {
            key: b"k".to_vec(),
            ts: 5,
            group_id: 1,
        };
        assert_eq!(
            req.encode_to_vec(),
            vec![0x0a, 0x01, b'k', 0x18, 0x05, 0x20, 0x01]
        );
    }

    #[test]
    fn begin_backup_response_field_numbers() {
        let resp = BeginBackupResponse {
            read_ts: 1,
            pin_token: vec![9],
            ttl_ms_effective: 2,
            shards: vec![ShardApplied {
                group_id: "1".into(),
                applied_index: 3,
            }],
            expected_keys: vec![ScopeKeyCount {
                scope_id: "s".into(),
                key_count: 4,
                applied_index_at_count: 5,
            }],
        };
        assert_eq!(
            resp.encode_to_vec(),
            vec![
                0x08, 1, 0x12, 1, 9, 0x18, 2, 0x22, 5, 0x0a, 1, b'1', 0x10, 3, 0x2a, 7, 0x0a, 1,
                b's', 0x10, 4, 0x18, 5
            ]
        );
    }
}
