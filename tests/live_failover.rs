//! Live dumps against failures a real cluster has, over real sockets: a node stopped
//! abruptly (every connection reset, as SIGKILL does) and restarted mid-scan, and pin
//! renewals that stall past their deadline (tonic's `CANCELLED "Timeout expired"`). The dump
//! must complete and hold exactly the cluster's data at its `read_ts`, with the pin released.

mod common;
mod live_support;

use elastickv_backup_gen as gen;
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use live_support::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn sample_server(cfg: ServerConfig) -> LoopbackServer {
    LoopbackServer::start(
        cfg,
        "127.0.0.1:0",
        load::from_pairs(gen::sample(1), gen::EPOCH_MS << 16),
    )
    .unwrap()
}

#[test]
fn node_killed_and_restarted_mid_scan_completes() {
    let mut s = sample_server(ServerConfig::default());
    let c = s.cluster().clone();
    c.faults.scan_delay_ms.store(2, Ordering::Release);
    let addr = s.addr().to_string();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let out_s = out.to_str().unwrap().to_string();
    let dumper = std::thread::spawn(move || {
        dump_cli(&[
            "--address",
            &addr,
            "--output",
            &out_s,
            "--scan-page-size",
            "2",
        ])
    });
    wait_until("the scan to start", || {
        c.stats.pages.load(Ordering::Acquire) > 20
    });
    s.kill_node(0);
    std::thread::sleep(Duration::from_millis(400));
    s.restart_node(0).unwrap();
    dumper.join().unwrap().unwrap();
    let read_ts = manifest_read_ts(&out);
    assert_same_data(&out, &decode_state_at(&c, read_ts, t.path(), "reference"));
    assert_eq!(c.active_pins(), 0, "pin left on the server");
}

#[test]
fn stalled_renewals_are_retried_within_the_ttl() {
    let s = sample_server(ServerConfig {
        backup_max_ttl_ms: 1500,
        ..ServerConfig::default()
    });
    let c = s.cluster().clone();
    c.faults.scan_delay_ms.store(15, Ordering::Release);
    // Two renewals stall far past any attempt's deadline; the third attempt of the round
    // must still land before the pin expires.
    c.faults.renew_stall_ms.store(10_000, Ordering::Release);
    c.faults.renew_stall_calls.store(2, Ordering::Release);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    dump_cli(&[
        "--address",
        &s.addr().to_string(),
        "--output",
        out.to_str().unwrap(),
        "--scan-page-size",
        "1",
        "--ttl-ms",
        "1500",
    ])
    .unwrap();
    assert_eq!(
        c.faults.renew_stall_calls.load(Ordering::Acquire),
        0,
        "the dump ended before the stalled renewals happened"
    );
    assert!(c.stats.renew_calls.load(Ordering::Acquire) >= 3);
    let read_ts = manifest_read_ts(&out);
    assert_same_data(&out, &decode_state_at(&c, read_ts, t.path(), "reference"));
    assert_eq!(c.active_pins(), 0, "pin left on the server");
}

#[test]
fn refused_renewal_still_fails_fast() {
    let s = sample_server(ServerConfig {
        backup_max_ttl_ms: 1500,
        ..ServerConfig::default()
    });
    let c = s.cluster().clone();
    c.faults.scan_delay_ms.store(15, Ordering::Release);
    let dropper = {
        let c = c.clone();
        std::thread::spawn(move || {
            wait_until("a renewal", || {
                c.stats.renew_calls.load(Ordering::Acquire) >= 1
            });
            for g in 1..=3 {
                c.drop_pins(g);
            }
        })
    };
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let e = dump_cli(&[
        "--address",
        &s.addr().to_string(),
        "--output",
        out.to_str().unwrap(),
        "--scan-page-size",
        "1",
        "--ttl-ms",
        "1500",
    ])
    .unwrap_err();
    dropper.join().unwrap();
    assert!(e.to_string().contains("NotFound"), "{e}");
    assert!(e.to_string().contains("after 1 attempt"), "{e}");
    assert_no_dump(&out);
}
