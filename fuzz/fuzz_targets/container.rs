//! Arbitrary bytes as a snapshot file: the container reader and MVCC row decoding must
//! return an error or entries, never panic or read out of bounds.
#![no_main]

use elastickv_backup_engine::sources::snapshot::SnapshotShard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(shard) = SnapshotShard::from_bytes("fuzz.fsm", bytes::Bytes::copy_from_slice(data)) {
        let _ = shard.validate();
    }
});
