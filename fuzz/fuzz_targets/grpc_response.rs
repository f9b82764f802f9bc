//! Hostile gRPC responses: arbitrary bytes decoded as every response the producer reads
//! must not panic, and RawScanAt pages pushed through the live reorder stage must come
//! out in encoded-key order with nothing lost or duplicated.
#![no_main]

use bytes::Bytes;
use elastickv_backup_live::source::reorder::{cmp_encoded, Reorder};
use elastickv_backup_engine::sources::RawEntry;
use elastickv_backup_proto::wire;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let _ = wire::BeginBackupResponse::decode(data);
    let _ = wire::RenewBackupResponse::decode(data);
    let _ = wire::ListAdaptersAndScopesResponse::decode(data);
    let _ = wire::ListRoutesResponse::decode(data);
    let _ = wire::GetTimestampResponse::decode(data);
    let _ = wire::RawLatestCommitTsResponse::decode(data);
    let _ = wire::RawGetResponse::decode(data);
    let Ok(page) = wire::RawScanAtResponse::decode(data) else { return };
    // A well-behaved server returns strictly ascending user keys; feed only those.
    let mut keys: Vec<Vec<u8>> = page.kv.iter().map(|kv| kv.key.to_vec()).collect();
    keys.sort();
    keys.dedup();
    let mut re = Reorder::default();
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        re.push(
            RawEntry {
                user_key: Bytes::copy_from_slice(k),
                commit_ts: 1000 + i as u64,
                expire_at_ms: 0,
                tombstone: false,
                value: Bytes::new(),
            },
            &mut out,
        );
    }
    re.finish(&mut out);
    assert_eq!(out.len(), keys.len(), "reorder lost or duplicated entries");
    for w in out.windows(2) {
        assert!(cmp_encoded(&w[0], &w[1]).is_lt(), "reorder output not in encoded order");
    }
});
