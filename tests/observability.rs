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
            "--embedded",
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

/// The screen a terminal of `width` columns shows after `raw` (enough of a VT100 for what
/// indicatif and our log lines send: printable text with auto-wrap, CR, LF, cursor up and
/// down, erase in line and below; other escape sequences are skipped).
fn screen(raw: &str, width: usize) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        while rows.len() <= row {
            rows.push(Vec::new());
        }
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
            }
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut arg = String::new();
                let mut cmd = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        cmd = c;
                        break;
                    }
                    arg.push(c);
                }
                let n: usize = arg.parse().unwrap_or(1).max(1);
                match (cmd, arg.as_str()) {
                    ('A', _) => row = row.saturating_sub(n),
                    ('B', _) => row += n,
                    ('K', "2") => rows[row].clear(),
                    ('K', "" | "0") => rows[row].truncate(col),
                    ('J', "" | "0") => {
                        rows[row].truncate(col);
                        rows.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            c if !c.is_control() => {
                if col == width {
                    row += 1;
                    col = 0;
                    while rows.len() <= row {
                        rows.push(Vec::new());
                    }
                }
                let line = &mut rows[row];
                if line.len() <= col {
                    line.resize(col + 1, ' ');
                }
                line[col] = c;
                col += 1;
            }
            _ => {}
        }
    }
    rows.into_iter()
        .map(|r| r.into_iter().collect::<String>().trim_end().to_string())
        .collect()
}

#[test]
fn screen_emulator_shows_interleaving() {
    // A warning written straight after the bar (no clear first) shares its line: the
    // check below would catch a logger that bypasses the bar.
    let s = screen("\r\x1b[2Kprogress: [==>  ] 12%warning: x\r\n", 40);
    assert_eq!(s[0], "progress: [==>  ] 12%warning: x");
    let s = screen(
        "progress: [==>  ] 12%\r\x1b[2Kwarning: x\r\nprogress: [==>  ] 12%",
        40,
    );
    assert_eq!(s[..2], ["warning: x", "progress: [==>  ] 12%"]);
}

/// On a terminal (a real pseudo-terminal, through util-linux `script`), warnings logged
/// while the progress bar is drawn appear on lines of their own above it, never on the
/// bar's line, and the bar is gone at the end, the summary line last.
#[test]
fn terminal_run_prints_warnings_above_the_bar() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // `dev gen` data has stale-generation DynamoDB rows and SQS messages: two warnings,
    // the first while the bar shows 0%, the second later in the run. (Into an archive:
    // 36k small files synced to a busy disk would make this test slow.)
    let g = run(t, &["dev", "gen", "--size", "16MiB", "-o", "snap"]);
    assert!(g.status.success(), "{g:?}");
    let width = 100;
    let cmd = format!(
        "stty cols {width} rows 40; '{}' decode -j 1 --input-snap-dir snap -o out.tar --archive tar",
        bin().display()
    );
    let o = std::process::Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(t)
        .output()
        .expect("script (util-linux/bsdutils, installed by .ci/run)");
    let raw = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{raw}");
    let first_bar = raw.find("progress: [").expect("no progress bar drawn");
    let first_warning = raw.find("warning:").expect("no warning printed");
    assert!(
        first_bar < first_warning,
        "the bar was not on screen before the warning:\n{raw}"
    );
    let lines = screen(&raw, width);
    let warnings: Vec<&String> = lines.iter().filter(|l| l.contains("warning:")).collect();
    assert!(warnings.len() >= 2, "{lines:#?}");
    for w in &warnings {
        assert!(
            w.starts_with("elastickv-backup: warning: ") && !w.contains("progress:"),
            "warning interleaved with the bar: {w:?}\n{lines:#?}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("progress: [")),
        "bar left on screen: {lines:#?}"
    );
    // The summary (wrapped over several rows) is the last thing on screen.
    let summary = lines
        .iter()
        .rposition(|l| l.starts_with("elastickv-backup: "))
        .unwrap();
    assert!(
        lines[summary].starts_with("elastickv-backup: snapshot decoded"),
        "{lines:#?}"
    );
}

#[test]
fn dump_quiet_prints_only_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let loud = run(t, &["dump", "--embedded", "-o", "loud"]);
    assert!(loud.status.success(), "{loud:?}");
    let loud_err = String::from_utf8_lossy(&loud.stderr);
    assert!(loud_err.contains("live dump complete"), "{loud_err}");
    assert!(loud_err.contains("not a real cluster"), "{loud_err}");

    let quiet = run(t, &["dump", "--embedded", "--quiet", "-o", "quiet"]);
    assert!(quiet.status.success(), "{quiet:?}");
    let quiet_err = String::from_utf8_lossy(&quiet.stderr);
    // The sample-cluster notice is a warning: it stays; the summary goes.
    assert!(
        quiet_err.contains("warning:") && quiet_err.contains("not a real cluster"),
        "{quiet_err}"
    );
    assert!(!quiet_err.contains("live dump complete"), "{quiet_err}");
    assert_eq!(quiet_err.lines().count(), 1, "{quiet_err}");
    assert!(t.join("quiet/MANIFEST.json").is_file());

    // The flags of logs and reports are accepted after the partitioned-dump steps too.
    let begin = run(
        t,
        &[
            "dump",
            "begin",
            "--quiet",
            "--address",
            "127.0.0.1:1",
            "--output",
            "p",
            "--partitions",
            "0",
        ],
    );
    let begin_err = String::from_utf8_lossy(&begin.stderr);
    assert!(!begin_err.contains("unexpected argument"), "{begin_err}");
}
