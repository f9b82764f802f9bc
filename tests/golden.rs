//! Every case of `../shared/fixtures/golden`: decode its `input.fsm` with its
//! `decode_args.txt` and compare the tree byte for byte with `expected/` (or the refusal
//! with `expected_error.txt`). Only the MANIFEST fields the fixtures' README names may differ.

mod common;

use common::*;

fn check_case(name: &str) {
    let case = golden_dir().join(name);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap().to_string();
    let extra = case_args(&case);
    let mut args: Vec<&str> = vec!["decode", "--input", "input.fsm", "--output", &out_s];
    args.extend(extra.iter().map(String::as_str));
    let res = run(&case, &args);
    let stderr = String::from_utf8_lossy(&res.stderr);
    if let Ok(want) = std::fs::read_to_string(case.join("expected_error.txt")) {
        let code: i32 = want
            .lines()
            .find_map(|l| l.strip_prefix("exit_code: "))
            .and_then(|c| c.trim().parse().ok())
            .expect("exit_code line");
        let msg = want
            .lines()
            .find(|l| l.starts_with("elastickv-snapshot-decode: "))
            .expect("message line");
        let core = msg.split_once("decode input.fsm: ").map_or(msg, |x| x.1);
        assert_eq!(
            res.status.code(),
            Some(code),
            "{name}: exit status; stderr: {stderr}"
        );
        assert!(
            stderr.contains(&format!("decode input.fsm: {core}")),
            "{name}: stderr lacks upstream's message {core:?}\nstderr: {stderr}"
        );
        assert!(
            !out.join("MANIFEST.json").exists(),
            "{name}: a refused run wrote MANIFEST.json"
        );
        assert!(
            !out.join("CHECKSUMS").exists(),
            "{name}: a refused run wrote CHECKSUMS"
        );
        return;
    }
    assert!(res.status.success(), "{name}: decode failed: {stderr}");
    let diffs = compare_trees(&read_tree(&out), &read_tree(&case.join("expected")), false);
    assert!(
        diffs.is_empty(),
        "{name}: {} difference(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

macro_rules! golden {
    ($($name:ident $(: $pending:literal)?),* $(,)?) => {
        $(
            #[test]
            $(#[ignore = $pending])?
            fn $name() {
                check_case(stringify!($name));
            }
        )*

        /// Every case directory in the fixtures has a test above (none silently skipped).
        #[test]
        fn every_fixture_case_is_listed() {
            let listed = [$(stringify!($name)),*];
            for e in std::fs::read_dir(golden_dir()).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    assert!(listed.contains(&n.as_str()), "golden case {n} has no test");
                }
            }
        }
    };
}

golden! {
    empty_snapshot,
    ddb_hash_only,
    ddb_hash_range,
    ddb_binary_keys,
    ddb_gsi,
    ddb_dot_range_key,
    s3_basic,
    s3_multichunk,
    s3_user_meta_suffix_key,
    s3_meta_suffix_no_rename,
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
