//! A live dump of a multi-node loopback cluster over real sockets (spec 50 §1.2, §2.8): 3
//! nodes, 12 groups with two replicas each, several seeds. The scenario moves every leader
//! twice, SIGKILL-stops and restarts a node mid-scan and stalls renewals past a deadline;
//! the dump must equal `decode` of the cluster's state at its `read_ts`. A group no
//! reachable node hosts fails the dump naming the group (pin released, no MANIFEST); a seed
//! that does not host a group is never read for it (`--group-endpoint` supplies one).

mod common;
mod live_support;

use elastickv_backup_gen as gen;
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use live_support::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

const GROUPS: u64 = 12;

fn cluster(scale: usize, ttl_ms: u64) -> LoopbackServer {
    LoopbackServer::start(
        ServerConfig {
            groups: GROUPS,
            nodes: 3,
            backup_max_ttl_ms: ttl_ms,
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        load::from_pairs(gen::sample(scale), gen::EPOCH_MS << 16),
    )
    .unwrap()
}

fn seeds(s: &LoopbackServer) -> String {
    s.node_addrs()
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn pages(s: &LoopbackServer) -> u64 {
    s.cluster().stats.pages.load(Ordering::Acquire)
}

fn move_all_leaders(s: &LoopbackServer) {
    for g in 1..=GROUPS {
        s.cluster().placement.move_leader(g);
    }
}

#[test]
fn three_nodes_survive_leader_moves_a_killed_node_and_stalled_renewals() {
    let mut s = cluster(10, 3000);
    let c = s.cluster().clone();
    c.faults.scan_delay_ms.store(20, Ordering::Release);
    c.faults.renew_stall_ms.store(10_000, Ordering::Release);
    c.faults.renew_stall_calls.store(2, Ordering::Release);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (addrs, out_s) = (seeds(&s), out.to_str().unwrap().to_string());
    let dumper = std::thread::spawn(move || {
        dump_cli(&[
            "--address",
            &addrs,
            "--output",
            &out_s,
            "--scan-page-size",
            "1",
            "--ttl-ms",
            "3000",
        ])
    });
    wait_until("the scan to start", || pages(&s) > 100);
    move_all_leaders(&s);
    let p = pages(&s);
    wait_until("more pages", || pages(&s) > p + 150);
    s.kill_node(1);
    std::thread::sleep(Duration::from_millis(500));
    s.restart_node(1).unwrap();
    let p = pages(&s);
    wait_until("more pages", || pages(&s) > p + 150);
    move_all_leaders(&s);
    dumper.join().unwrap().unwrap();
    assert_eq!(
        c.faults.renew_stall_calls.load(Ordering::Acquire),
        0,
        "the dump ended before the stalled renewals"
    );
    let read_ts = manifest_read_ts(&out);
    assert_same_data(&out, &decode_state_at(&c, read_ts, t.path(), "reference"));
    assert_eq!(c.active_pins(), 0, "pin left on the server");
}

#[test]
fn a_group_without_a_reachable_host_fails_naming_it() {
    let mut s = cluster(10, 3_600_000);
    let c = s.cluster().clone();
    c.placement.set_hosts(5, vec![2]);
    c.faults.scan_delay_ms.store(20, Ordering::Release);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (addrs, out_s) = (seeds(&s), out.to_str().unwrap().to_string());
    let dumper = std::thread::spawn(move || {
        dump_cli(&[
            "--address",
            &addrs,
            "--output",
            &out_s,
            "--scan-page-size",
            "1",
            "--group-retry-budget",
            "1s",
        ])
    });
    wait_until("the scan to start", || pages(&s) > 50);
    s.kill_node(2);
    let e = dumper.join().unwrap().unwrap_err().to_string();
    assert!(e.contains("group 5"), "{e}");
    assert!(e.contains("no reachable node hosts it"), "{e}");
    assert_no_dump(&out);
    assert_eq!(c.active_pins(), 0, "pin left on the server");
    assert_eq!(c.stats.end_calls.load(Ordering::Acquire), 1);
    // A new dump is refused before anything is pinned.
    let begins = c.stats.begin_calls.load(Ordering::Acquire);
    let out2 = t.path().join("out2");
    let e = dump_cli(&["--address", &seeds(&s), "--output", out2.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("group 5: no reachable node hosts it"), "{e}");
    assert_eq!(c.stats.begin_calls.load(Ordering::Acquire), begins);
    assert_no_dump(&out2);
}

#[test]
fn a_seed_is_never_read_for_a_group_it_does_not_host() {
    let s = cluster(1, 3_600_000);
    let c = s.cluster().clone();
    let nodes = s.node_addrs();
    let (n0, n1) = (nodes[0].to_string(), nodes[1].to_string());
    let missing: Vec<u64> = (1..=GROUPS).filter(|g| !c.placement.hosts(0, *g)).collect();
    assert!(!missing.is_empty());
    let t = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--allow-unpinned"][..]] {
        let out = t.path().join(format!("refused{}", extra.len()));
        let mut args = vec!["--address", &n0, "--output", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let e = dump_cli(&args).unwrap_err().to_string();
        assert!(
            e.contains(&format!("group {}: no reachable node hosts it", missing[0])),
            "{e}"
        );
        assert!(e.contains("does not host"), "{e}");
        assert_no_dump(&out);
    }
    assert_eq!(c.stats.begin_calls.load(Ordering::Acquire), 0);
    // Explicit endpoints for the groups the seed lacks complete the dump.
    let endpoints: Vec<String> = missing
        .iter()
        .map(|g| {
            let host = (0..3).find(|n| c.placement.hosts(*n, *g)).unwrap();
            format!("{g}={}", nodes[host])
        })
        .collect();
    let out = t.path().join("out");
    let mut args = vec!["--address", &n0, "--output", out.to_str().unwrap()];
    for e in &endpoints {
        args.extend_from_slice(&["--group-endpoint", e]);
    }
    dump_cli(&args).unwrap();
    let read_ts = manifest_read_ts(&out);
    assert_same_data(&out, &decode_state_at(&c, read_ts, t.path(), "reference"));
    // And so does a second seed.
    let out = t.path().join("out-two-seeds");
    dump_cli(&[
        "--address",
        &n0,
        "--address",
        &n1,
        "--output",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let read_ts = manifest_read_ts(&out);
    assert_same_data(&out, &decode_state_at(&c, read_ts, t.path(), "reference2"));
    assert_eq!(c.active_pins(), 0);
}

/// `serve --nodes 3 --fault …` as a separate process: the faults scheduled on its command line
/// hit a dump of all three seeds, which completes with the same data as the embedded
/// cluster holding the same sample.
#[test]
fn serve_fault_switches_from_the_command_line() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut serve = Command::new(common::bin())
        .args([
            "serve",
            "--nodes",
            "3",
            "--groups",
            "6",
            "--generate",
            "3",
            "--fault",
            "0s=scan-delay:20",
            "--fault",
            "700ms=kill-node:1",
            "--fault",
            "1200ms=restart-node:1",
            "--fault",
            "900ms=move-leader:all",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let addrs: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let r = Command::new(common::bin())
        .args(["dump", "--address", &addrs.join(","), "--output"])
        .arg(&out)
        .args(["--scan-page-size", "1"])
        .output()
        .unwrap();
    let _ = serve.kill();
    let served = serve.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    let applied = String::from_utf8_lossy(&served.stderr);
    for f in ["KillNode(1)", "RestartNode(1)", "MoveLeader(None)"] {
        assert!(applied.contains(f), "fault {f} not applied: {applied}");
    }
    assert!(
        err.contains("retrying"),
        "the faults did not reach the dump: {err}"
    );
    let embedded = t.path().join("embedded");
    dump_cli(&[
        "--embedded",
        "--groups",
        "6",
        "--sample-scale",
        "3",
        "--output",
        embedded.to_str().unwrap(),
    ])
    .unwrap();
    assert_same_data(&out, &embedded);
}
