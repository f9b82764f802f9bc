//! `encode` against every golden case with an `expected/` tree: encoding the tree must give
//! back the case's `input.fsm` byte for byte (upstream's encoder produced those files from
//! these trees), and decoding the result with the case's flags must give the tree back.
//!
//! `adapter_subset`'s tree holds only the Redis and SQS data of its snapshot, so its
//! encoding is compared with the Redis and SQS records of `input.fsm`.

mod common;

use common::*;
use elastickv_backup_engine::decode::{route, AdapterKind};
use std::path::Path;

/// `(key, value)` of every framed entry of a bare payload, after the 16-byte header.
fn entries(payload: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut pos = 16;
    let le = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap()) as usize;
    while pos < payload.len() {
        let kl = le(&payload[pos..pos + 8]);
        let k = &payload[pos + 8..pos + 8 + kl];
        let vp = pos + 8 + kl;
        let vl = le(&payload[vp..vp + 8]);
        out.push((k, &payload[vp + 8..vp + 8 + vl]));
        pos = vp + 8 + vl;
    }
    out
}

/// The payload with only the entries routed to `keep`.
fn only_adapters(payload: &[u8], keep: &[AdapterKind]) -> Vec<u8> {
    let mut out = payload[..16].to_vec();
    for (k, v) in entries(payload) {
        let user = &k[..k.len() - 8];
        if route(user)
            .and_then(|r| r.adapter)
            .is_some_and(|a| keep.contains(&a))
        {
            out.extend_from_slice(&(k.len() as u64).to_le_bytes());
            out.extend_from_slice(k);
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
    out
}

/// A readable account of how two payloads differ.
fn payload_diff(ours: &[u8], want: &[u8]) -> String {
    if ours.len() < 16 || ours[..16] != want[..16] {
        return format!(
            "headers differ: {:?} vs {:?}",
            &ours[..16.min(ours.len())],
            &want[..16]
        );
    }
    let (a, b) = (entries(ours), entries(want));
    let mut lines = vec![format!("{} entries, expected {}", a.len(), b.len())];
    let esc =
        |x: &[u8]| String::from_utf8_lossy(&x.escape_ascii().collect::<Vec<u8>>()).into_owned();
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        if x != y {
            lines.push(format!(
                "first difference at entry {i}:\n  ours: {} = {}\n  want: {} = {}",
                esc(x.0),
                esc(x.1),
                esc(y.0),
                esc(y.1)
            ));
            break;
        }
    }
    lines.join("\n")
}

fn check_case(name: &str) {
    let case = golden_dir().join(name);
    let tmp = tempfile::tempdir().unwrap();
    let fsm = tmp.path().join("out.fsm");
    let fsm_s = fsm.to_str().unwrap();
    let res = run(&case, &["encode", "--input", "expected", "--output", fsm_s]);
    assert!(
        res.status.success(),
        "{name}: encode failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let ours = std::fs::read(&fsm).unwrap();
    let mut want = std::fs::read(case.join("input.fsm")).unwrap();
    if name == "adapter_subset" {
        want = only_adapters(&want, &[AdapterKind::Redis, AdapterKind::Sqs]);
    }
    assert!(
        ours == want,
        "{name}: payload differs: {}",
        payload_diff(&ours, &want)
    );

    let out = tmp.path().join("decoded");
    let out_s = out.to_str().unwrap();
    let extra = case_args(&case);
    let mut args: Vec<&str> = vec!["decode", "--input", fsm_s, "--output", out_s];
    args.extend(extra.iter().map(String::as_str));
    let res = run(tmp.path(), &args);
    assert!(
        res.status.success(),
        "{name}: decoding the encoded payload failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let diffs = compare_trees(&read_tree(&out), &read_tree(&case.join("expected")), true);
    assert!(
        diffs.is_empty(),
        "{name}: decode(encode(tree)) differs from the tree in {} place(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

macro_rules! roundtrip {
    ($($name:ident $(: $pending:literal)?),* $(,)?) => {
        $(
            #[test]
            $(#[ignore = $pending])?
            fn $name() {
                check_case(stringify!($name));
            }
        )*

        /// Every case with an `expected/` tree has a test above.
        #[test]
        fn every_case_with_a_tree_is_listed() {
            let listed = [$(stringify!($name)),*];
            for e in std::fs::read_dir(golden_dir()).unwrap() {
                let e = e.unwrap();
                let n = e.file_name().to_string_lossy().into_owned();
                if e.path().join("expected").is_dir() {
                    assert!(listed.contains(&n.as_str()), "golden case {n} has no encode test");
                }
            }
        }
    };
}

roundtrip! {
    empty_snapshot,
    ddb_hash_only,
    ddb_hash_range,
    ddb_binary_keys,
    ddb_gsi,
    sqs_standard,
    sqs_fifo,
    sqs_message_states,
    sqs_preserve_visibility,
    sqs_side_records,
    s3_basic,
    s3_multichunk,
    s3_user_meta_suffix_key,
    redis_strings,
    redis_collections,
    redis_zsets,
    redis_streams_hll,
    mixed_all,
    adapter_subset,
}

/// The command line's own rules: an existing output needs --force, a lower
/// --last-commit-ts is refused, a failed encode leaves no output file, and `-` streams to
/// standard output.
#[test]
fn command_line_rules() {
    let case = golden_dir().join("ddb_gsi");
    let tmp = tempfile::tempdir().unwrap();
    let fsm = tmp.path().join("x.fsm");
    let fsm_s = fsm.to_str().unwrap();
    let enc = |extra: &[&str]| {
        let mut a = vec!["encode", "--input", "expected", "--output", fsm_s];
        a.extend_from_slice(extra);
        run(&case, &a)
    };
    assert!(enc(&[]).status.success());
    let first = std::fs::read(&fsm).unwrap();
    let again = enc(&[]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "existing output without --force"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(enc(&["--force"]).status.success());
    assert_eq!(std::fs::read(&fsm).unwrap(), first);

    let low = enc(&["--force", "--last-commit-ts", "5"]);
    assert_eq!(low.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&low.stderr).contains("below the dump's last_commit_ts"));
    let high = enc(&["--force", "--last-commit-ts", "438817533984835"]);
    assert!(high.status.success());
    assert_eq!(
        &std::fs::read(&fsm).unwrap()[8..16],
        &438_817_533_984_835u64.to_le_bytes()
    );

    // Spilling sorted runs gives the same bytes.
    assert!(enc(&["--force", "--sort-memory", "1"]).status.success());
    assert_eq!(std::fs::read(&fsm).unwrap(), first);

    let stdout = run(&case, &["encode", "--input", "expected", "--output", "-"]);
    assert!(stdout.status.success());
    assert_eq!(stdout.stdout, first);

    // A broken tree: error names the file; no output, no temporary file left behind.
    let broken = tmp.path().join("broken");
    copy_tree(&case.join("expected"), &broken);
    std::fs::write(broken.join("dynamodb/users/items/u1.json"), "{").unwrap();
    let out = tmp.path().join("b.fsm");
    let res = run(
        tmp.path(),
        &[
            "encode",
            "--input",
            "broken",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(res.status.code(), Some(1));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("dynamodb/users/items/u1.json: invalid item json"),
        "{err}"
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Beyond upstream (whose encoder refuses both): a dump in the JSONL DynamoDB layout
/// encodes to the same snapshot as the per-item layout, whatever the part size.
#[test]
fn jsonl_dynamodb_layout_encodes_back() {
    for name in ["ddb_hash_range", "ddb_binary_keys", "ddb_gsi"] {
        let case = golden_dir().join(name);
        let tmp = tempfile::tempdir().unwrap();
        let dump = tmp.path().join("dump");
        let fsm = tmp.path().join("out.fsm");
        let res = run(
            &case,
            &[
                "decode",
                "--input",
                "input.fsm",
                "--output",
                dump.to_str().unwrap(),
                "--dynamodb-bundle-mode",
                "jsonl",
                "--dynamodb-bundle-size",
                "300",
            ],
        );
        assert!(
            res.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        let parts = std::fs::read_dir(dump.join("dynamodb"))
            .unwrap()
            .map(|t| {
                std::fs::read_dir(t.unwrap().path().join("items"))
                    .unwrap()
                    .count()
            })
            .sum::<usize>();
        assert!(parts > 1, "{name}: several parts expected");
        let res = run(
            tmp.path(),
            &[
                "encode",
                "--input",
                "dump",
                "--output",
                fsm.to_str().unwrap(),
            ],
        );
        assert!(
            res.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        let ours = std::fs::read(&fsm).unwrap();
        let want = std::fs::read(case.join("input.fsm")).unwrap();
        assert!(ours == want, "{name}: {}", payload_diff(&ours, &want));
    }
}

/// Beyond upstream (whose encoder refuses such dumps): a dump written with
/// `--preserve-sqs-visibility` keeps its messages' receive state through encode and decode.
#[test]
fn preserved_sqs_receive_state_round_trips() {
    let case = golden_dir().join("sqs_preserve_visibility");
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    copy_tree(&case.join("expected"), &tree);
    let jsonl = tree.join("sqs/states/messages.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let edited = text.replacen(
        r#""visible_at_millis":0,"receive_count":0,"queue_generation":1,"dead_letter"#,
        r#""visible_at_millis":1714400030001,"receive_count":2,"first_receive_millis":1714400000500,"current_receipt_token":"AAEC","queue_generation":1,"dead_letter"#,
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&jsonl, &edited).unwrap();
    let fsm = tmp.path().join("out.fsm");
    let res = run(
        tmp.path(),
        &[
            "encode",
            "--input",
            "tree",
            "--output",
            fsm.to_str().unwrap(),
        ],
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let out = tmp.path().join("decoded");
    let res = run(
        tmp.path(),
        &[
            "decode",
            "--input",
            fsm.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--preserve-sqs-visibility",
        ],
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sqs/states/messages.jsonl")).unwrap(),
        edited
    );
}
