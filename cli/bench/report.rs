//! The per-stage table of one measured run.
//!
//! Stage rows (busy time summed over the threads running the stage; throughput = bytes /
//! busy time, i.e. per busy thread):
//!
//! | row | what | threads |
//! |---|---|---|
//! | scan | merge + visibility, as the decode thread waits for its next entry (includes waiting for the shard readers) | decode |
//! | decode | adapters (dispatch + finish), minus handing files over (queueing them, or running them itself when the workers are behind) and streamed-file hashing/writing | decode |
//! | encode | rendering file bytes | workers + decode |
//! | hash | the digest (SHA-256, or BLAKE3 with `--checksums blake3`) of every output byte | workers + decode |
//! | compress | zstd (archive only; runs inside the archive sink, not separately timed) | — |
//! | write | creating and writing files | workers + decode |

use super::child::ChildRun;
use elastickv_backup_engine::progress::{human_bytes, StageSnapshot};
use std::time::Duration;

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stage name.
    pub name: &'static str,
    /// Items (entries or files); `None` when not meaningful.
    pub items: Option<u64>,
    /// Bytes handled.
    pub bytes: u64,
    /// Busy time; `None` when not measured separately.
    pub busy: Option<Duration>,
    /// A note shown after the figures.
    pub note: &'static str,
}

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// The stage rows of a run; `archive` when the sink was an archive (`compressed` = its
/// size on disk when zstd was used).
pub fn rows(run: &ChildRun, archive: bool, compressed: Option<u64>) -> Vec<Row> {
    let s = &run.stats;
    let st = |n| s.stage(n);
    let (scan, decode, wait) = (st("scan"), st("decode"), st("send_wait"));
    let (enc, sink) = (st("encode"), st("sink"));
    let (fh, fw, sh, sw) = (
        st("file_hash"),
        st("file_write"),
        st("stream_hash"),
        st("stream_write"),
    );
    let decode_busy = decode
        .busy_ns
        .saturating_sub(wait.busy_ns + sh.busy_ns + sw.busy_ns);
    let mut v = vec![
        Row {
            name: "scan",
            items: Some(scan.items),
            bytes: s.input_bytes,
            busy: Some(ns(scan.busy_ns)),
            note: "entries delivered / input bytes",
        },
        Row {
            name: "decode",
            items: Some(decode.items),
            bytes: decode.bytes,
            busy: Some(ns(decode_busy)),
            note: "visible entries",
        },
        Row {
            name: "encode",
            items: Some(enc.items),
            bytes: enc.bytes,
            busy: Some(ns(enc.busy_ns)),
            note: "files rendered by workers",
        },
    ];
    if archive {
        v.push(Row {
            name: "hash",
            items: None,
            bytes: sh.bytes,
            busy: Some(ns(sh.busy_ns)),
            note: "streamed files only; whole files are hashed inside the archive sink (write row)",
        });
        v.push(Row {
            name: "compress",
            items: None,
            bytes: compressed.unwrap_or(0),
            busy: None,
            note: if compressed.is_some() {
                "bytes = archive size; zstd runs in the sink's worker, inside the write row"
            } else {
                "plain tar: none"
            },
        });
        v.push(Row {
            name: "write",
            items: Some(sink.items),
            bytes: sink.bytes + sw.bytes,
            busy: Some(ns(sink.busy_ns + sw.busy_ns)),
            note: "archive sink: hash + tar + compress hand-off",
        });
    } else {
        v.push(Row {
            name: "hash",
            items: Some(fh.items),
            bytes: fh.bytes + sh.bytes,
            busy: Some(ns(fh.busy_ns + sh.busy_ns)),
            note: "digest of every output byte (CHECKSUMS)",
        });
        v.push(Row {
            name: "compress",
            items: None,
            bytes: 0,
            busy: None,
            note: "directory output: none",
        });
        v.push(Row {
            name: "write",
            items: Some(fw.items),
            bytes: fw.bytes + sw.bytes,
            busy: Some(ns(fw.busy_ns + sw.busy_ns)),
            note: "create + write (whole files) and streamed writes",
        });
    }
    v
}

/// Human throughput.
pub fn rate(bytes: u64, d: Duration) -> String {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        return "-".into();
    }
    format!("{}/s", human_bytes((bytes as f64 / s) as u64))
}

/// Renders the table with a header line about the run.
pub fn render(title: &str, run: &ChildRun, threads: usize, rows: &[Row]) -> String {
    let s = &run.stats;
    let mut out = format!(
        "{title}\n  wall {:.2} s, cpu {:.2} s, peak RSS {}, {} threads; in {} ({} visible entries), out {} in {} files ({} per wall second)\n",
        run.wall.as_secs_f64(),
        run.cpu.as_secs_f64(),
        human_bytes(run.maxrss_kib * 1024),
        threads,
        human_bytes(s.input_bytes),
        s.records,
        human_bytes(s.output_bytes),
        s.files,
        rate(s.output_bytes, run.wall),
    );
    out.push_str(&format!(
        "  {:<9} {:>11} {:>11} {:>9} {:>12}\n",
        "stage", "items", "bytes", "busy s", "throughput"
    ));
    for r in rows {
        let items = r.items.map_or("-".to_string(), |i| i.to_string());
        let (busy, tp) = match r.busy {
            Some(b) => (format!("{:.2}", b.as_secs_f64()), rate(r.bytes, b)),
            None => ("-".into(), "-".into()),
        };
        out.push_str(&format!(
            "  {:<9} {:>11} {:>11} {:>9} {:>12}  {}\n",
            r.name,
            items,
            human_bytes(r.bytes),
            busy,
            tp,
            r.note
        ));
    }
    let st = |n: &str| -> StageSnapshot { s.stage(n) };
    let wall = run.wall.as_secs_f64().max(1e-9);
    let decode_thread = (st("scan").busy_ns + st("decode").busy_ns) as f64 / 1e9;
    let blocked = st("send_wait").busy_ns as f64 / 1e9;
    let workers = (st("encode").busy_ns + st("sink").busy_ns) as f64 / 1e9;
    out.push_str(&format!(
        "  decode thread decoding {:.0}% of wall (and {:.2} s running file jobs itself); file jobs busy {:.0}% of {} thread(s)\n",
        100.0 * (decode_thread - blocked) / wall,
        blocked,
        100.0 * workers / (wall * threads.max(1) as f64),
        threads
    ));
    out
}
