//! `--metrics-file` and `--summary-json` on real runs of the binary: the textfile parses as
//! Prometheus text (prometheus-parse) and its counters agree with the dump on disk; the
//! summary JSON parses (serde_json and `jq`) and names the outcome, also of a failed run.

mod common;

use common::*;
use prometheus_parse::{Scrape, Value};
use std::collections::HashMap;
use std::path::Path;

/// Every unlabelled-by-stage sample of the textfile, by metric name (stage samples keyed
/// `name{stage}`).
fn metrics(path: &Path) -> HashMap<String, f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid textfile");
    let mut out = HashMap::new();
    for s in scrape.samples {
        let v = match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            other => panic!("{}: unexpected {other:?}", s.metric),
        };
        let key = match s.labels.get("stage").or(s.labels.get("phase")) {
            Some(l) => format!("{}{{{l}}}", s.metric),
            None => s.metric.clone(),
        };
        out.insert(key, v);
    }
    out
}

fn jq(expr: &str, file: &Path) -> String {
    let o = std::process::Command::new("jq")
        .args(["-r", expr])
        .arg(file)
        .output()
        .expect("jq (installed by .ci/run)");
    assert!(o.status.success(), "jq {expr}: {o:?}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn decode_writes_a_textfile_and_a_summary_that_match_the_dump() {
    let case = golden_dir().join("mixed_all");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let prom = tmp.path().join("ekvb.prom");
    let summary = tmp.path().join("summary.json");
    let mut args: Vec<String> = vec![
        "decode".into(),
        "-q".into(),
        "-i".into(),
        "input.fsm".into(),
        "-o".into(),
        out.display().to_string(),
        "--metrics-file".into(),
        prom.display().to_string(),
        "--summary-json".into(),
        summary.display().to_string(),
    ];
    args.extend(case_args(&case));
    let res = run(&case, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(res.status.success(), "{res:?}");
    // --quiet: no summary line.
    assert!(
        !String::from_utf8_lossy(&res.stderr).contains("snapshot decoded"),
        "{res:?}"
    );

    let tree = read_tree(&out);
    let data: Vec<_> = tree
        .iter()
        .filter(|(p, _)| *p != "MANIFEST.json" && *p != "CHECKSUMS")
        .collect();
    let data_bytes: usize = data.iter().map(|(_, b)| b.len()).sum();
    let manifest: serde_json::Value = serde_json::from_slice(&tree["MANIFEST.json"]).unwrap();
    let last_commit_ts = manifest["last_commit_ts"].as_u64().unwrap();

    let m = metrics(&prom);
    assert_eq!(m["elastickv_backup_run_success"], 1.0);
    assert_eq!(m["elastickv_backup_run_in_progress"], 0.0);
    assert_eq!(m["elastickv_backup_run_exit_code"], 0.0);
    assert_eq!(m["elastickv_backup_output_files_total"], data.len() as f64);
    assert_eq!(m["elastickv_backup_output_bytes_total"], data_bytes as f64);
    assert!(m["elastickv_backup_records_total"] > 0.0);
    assert_eq!(
        m["elastickv_backup_read_timestamp_seconds"],
        (last_commit_ts >> 16) as f64 / 1000.0
    );
    assert!(m.contains_key("elastickv_backup_stage_busy_seconds{scan}"));
    assert!(m.contains_key("elastickv_backup_phase_duration_seconds{write}"));
    // Nothing but the textfile is left in its directory's listing besides our files.
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    assert_eq!(jq(".outcome", &summary), "success");
    assert_eq!(jq(".read_ts", &summary), last_commit_ts.to_string());
    assert_eq!(jq(".files", &summary), data.len().to_string());
    assert_eq!(jq(".output_bytes", &summary), data_bytes.to_string());
    assert_eq!(
        jq(".records", &summary),
        (m["elastickv_backup_records_total"] as u64).to_string()
    );
    assert_eq!(jq(".phases | has(\"finalize\")", &summary), "true");
}

#[test]
fn a_failed_run_reports_failure_and_leaves_no_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut bad = SnapshotBuilder::new(1).bytes();
    bad.truncate(bad.len() - 3);
    std::fs::write(t.join("bad.fsm"), bad).unwrap();
    let res = run(
        t,
        &[
            "decode",
            "-i",
            "bad.fsm",
            "-o",
            "out",
            "--metrics-file",
            "m.prom",
            "--summary-json",
            "s.json",
            "--log-format",
            "json",
        ],
    );
    assert_eq!(res.status.code(), Some(1), "{res:?}");
    assert!(!t.join("out/MANIFEST.json").exists());
    // The error is one JSON log line.
    let stderr = String::from_utf8_lossy(&res.stderr);
    let line = stderr.lines().last().unwrap();
    let log: serde_json::Value = serde_json::from_str(line).expect(line);
    assert_eq!(log["level"], "ERROR");
    let m = metrics(&t.join("m.prom"));
    assert_eq!(m["elastickv_backup_run_success"], 0.0);
    assert_eq!(m["elastickv_backup_run_exit_code"], 1.0);
    assert_eq!(jq(".outcome", &t.join("s.json")), "failure");
    assert_eq!(
        jq(".error", &t.join("s.json")),
        log["message"].as_str().unwrap()
    );

    // A usage error found after parsing: exit 2, clap's format with the usage line, and
    // the report says so.
    let res = run(
        t,
        &[
            "decode",
            "-i",
            "bad.fsm",
            "-o",
            "out2",
            "--adapter",
            "redis",
            "--scope",
            "s3:media",
            "--summary-json",
            "u.json",
        ],
    );
    assert_eq!(res.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        stderr.contains("Usage: elastickv-backup decode"),
        "{stderr}"
    );
    assert_eq!(jq(".exit_code", &t.join("u.json")), "2");
}

#[test]
fn live_dump_reports_its_read_ts() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let res = run(
        t,
        &[
            "dump",
            "--output",
            "out",
            "--summary-json",
            "s.json",
            "--metrics-file",
            "m.prom",
        ],
    );
    assert!(res.status.success(), "{res:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("out/MANIFEST.json")).unwrap()).unwrap();
    let read_ts = manifest["live"]["read_ts"].as_u64().unwrap();
    // HLC timestamps exceed 2^53, which some jq versions round: compare exactly with
    // serde_json, and let jq read the rest.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("s.json")).unwrap()).unwrap();
    assert_eq!(summary["read_ts"].as_u64(), Some(read_ts));
    assert_eq!(jq(".outcome", &t.join("s.json")), "success");
    assert_eq!(jq(".command", &t.join("s.json")), "dump");
    let m = metrics(&t.join("m.prom"));
    assert_eq!(m["elastickv_backup_run_success"], 1.0);
    assert!(m["elastickv_backup_output_files_total"] > 0.0);
}
