//! Live dump ≡ snapshot decode: for every golden case with an `expected/` tree, a loopback
//! cluster loaded from its `input.fsm` (split over three groups) and dumped over gRPC gives
//! the same tree as `decode` of that file — every file byte for byte — except MANIFEST.json,
//! whose phase fields differ by design (and the CHECKSUMS line that follows from it). Cases
//! the decoder refuses are refused by the live dump with the same message.

mod common;

use common::*;

fn check_case(name: &str) {
    let case = golden_dir().join(name);
    let refusal = std::fs::read_to_string(case.join("expected_error.txt")).ok();
    let server = golden_cluster(name);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap().to_string();
    let addr = server.addr().to_string();
    let extra = case_args(&case);
    // Small pages so that every case crosses page boundaries.
    let mut args: Vec<&str> = vec![
        "dump",
        "--address",
        &addr,
        "--output",
        &out_s,
        "--scan-page-size",
        "3",
    ];
    args.extend(extra.iter().map(String::as_str));
    let res = run(tmp.path(), &args);
    let stderr = String::from_utf8_lossy(&res.stderr);
    if let Some(want) = refusal {
        // The live dump refuses the same data with upstream's message.
        let msg = want
            .lines()
            .find(|l| l.starts_with("elastickv-snapshot-decode: "))
            .expect("message line");
        let core = msg.split_once("decode input.fsm: ").map_or(msg, |x| x.1);
        assert!(!res.status.success(), "{name}: the live dump should refuse");
        assert!(
            stderr.contains(core),
            "{name}: stderr lacks {core:?}\nstderr: {stderr}"
        );
        assert!(
            !out.join("MANIFEST.json").exists(),
            "{name}: a refused run wrote MANIFEST.json"
        );
        assert_eq!(
            server.cluster().active_pins(),
            0,
            "{name}: a pin was left behind"
        );
        return;
    }
    assert!(res.status.success(), "{name}: live dump failed: {stderr}");
    assert_eq!(
        server.cluster().active_pins(),
        0,
        "{name}: a pin was left behind"
    );
    assert_eq!(
        server
            .cluster()
            .stats
            .end_calls
            .load(std::sync::atomic::Ordering::Acquire),
        1,
        "{name}: EndBackup calls"
    );
    let ours = read_tree(&out);
    let diffs: Vec<String> = compare_trees(&ours, &read_tree(&case.join("expected")), true)
        .into_iter()
        .filter(|d| !d.starts_with("content differs: MANIFEST.json"))
        .collect();
    assert!(
        diffs.is_empty(),
        "{name}: {} difference(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    let manifest = String::from_utf8_lossy(&ours["MANIFEST.json"]).into_owned();
    assert!(
        manifest.contains("\"phase\": \"phase1-live-pinned\""),
        "{manifest}"
    );
    assert!(manifest.contains("\"pin_token_sha256\": \""), "{manifest}");
    assert!(!manifest.contains("\"source\""), "{manifest}");
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_case(stringify!($name));
            }
        )*
    };
}

cases! {
    empty_snapshot,
    ddb_hash_only,
    ddb_hash_range,
    ddb_binary_keys,
    ddb_gsi,
    ddb_dot_range_key,
    s3_meta_suffix_no_rename,
    s3_basic,
    s3_multichunk,
    s3_user_meta_suffix_key,
    redis_strings,
    redis_collections,
    redis_zsets,
    redis_streams_hll,
    sqs_standard,
    sqs_fifo,
    sqs_message_states,
    sqs_preserve_visibility,
    sqs_side_records,
    mixed_all,
    adapter_subset,
}
