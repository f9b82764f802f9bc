//! Shared by the live load and resume tests: a write workload over all four adapters'
//! key families (puts, overwrites, deletes — each record written as one atomic batch, as
//! the adapters do), built on the sample generator's real storage layouts; the server's
//! MVCC state at a timestamp decoded with the binary (the independent reference); and a
//! few helpers.
#![allow(dead_code)]

use crate::common::{compare_trees, read_tree, run};
use elastickv_backup_format::Family;
use elastickv_backup_gen as gen;
use elastickv_backup_loopback::Cluster;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A storage key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);
/// One atomic batch: `Some` puts, `None` deletes.
pub type Batch = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    /// Seeded (never zero).
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A DynamoDB item value (docs/format/10-dynamodb.md §4) whose attributes are all strings: `\x00DI\x01` and
/// one map entry per attribute, sorted by name (Go's deterministic marshalling).
pub fn ddb_string_item(attrs: &[(&str, &str)]) -> Vec<u8> {
    let mut attrs = attrs.to_vec();
    attrs.sort();
    let mut out = b"\x00DI\x01".to_vec();
    for (name, v) in attrs {
        let mut av = Vec::new();
        field(&mut av, 0x0a, v.as_bytes());
        let mut entry = Vec::new();
        field(&mut entry, 0x0a, name.as_bytes());
        field(&mut entry, 0x12, &av);
        field(&mut out, 0x0a, &entry);
    }
    out
}

/// A Redis string value: envelope version 1, no TTL.
fn redis_string(body: &[u8]) -> Vec<u8> {
    [b"\xff\x01\x00".as_slice(), body].concat()
}

fn wide(prefix: &[u8], user_key: &[u8], rest: &[u8]) -> Vec<u8> {
    [
        prefix,
        &(user_key.len() as u32).to_be_bytes(),
        user_key,
        rest,
    ]
    .concat()
}

/// One adapter's writer: its records and how to change them.
trait Writer: Send {
    fn step(&mut self, rng: &mut Rng) -> Batch;
}

/// DynamoDB: new `orders`/`users` items, users re-written with a new email, deletes.
struct Ddb {
    fresh: Vec<Pair>,
    users: Vec<(Vec<u8>, String)>,
    live: Vec<Vec<u8>>,
    n: usize,
}

impl Ddb {
    fn new(initial: &[Pair], big: usize) -> Self {
        let have: HashSet<&Vec<u8>> = initial.iter().map(|(k, _)| k).collect();
        let mut all = Vec::new();
        gen::dynamodb::generate(big, &mut all);
        let items = |v: &[Pair]| -> Vec<Pair> {
            v.iter()
                .filter(|(k, _)| k.starts_with(Family::DdbItem.prefix()))
                .cloned()
                .collect()
        };
        let fresh: Vec<Pair> = items(&all)
            .into_iter()
            .filter(|(k, _)| !have.contains(k))
            .collect();
        let live: Vec<Vec<u8>> = items(initial).into_iter().map(|(k, _)| k).collect();
        // The generator's users items: `id` = "user {i}/ü", `email` = "u{i}@example.com".
        let users = (0..big)
            .filter_map(|i| {
                let id = format!("user {i}/ü");
                let want = ddb_string_item(&[("email", &format!("u{i}@example.com")), ("id", &id)]);
                let (k, _) = initial.iter().find(|(_, v)| *v == want)?;
                Some((k.clone(), id))
            })
            .collect::<Vec<_>>();
        assert!(
            !users.is_empty(),
            "no users items found in the initial data"
        );
        Ddb {
            fresh,
            users,
            live,
            n: 0,
        }
    }
}

impl Writer for Ddb {
    fn step(&mut self, rng: &mut Rng) -> Batch {
        self.n += 1;
        match rng.below(3) {
            0 if !self.fresh.is_empty() => {
                let (k, v) = self.fresh.swap_remove(rng.below(self.fresh.len()));
                self.live.push(k.clone());
                vec![(k, Some(v))]
            }
            1 if !self.users.is_empty() => {
                let (k, id) = &self.users[rng.below(self.users.len())];
                let email = format!("changed-{}@example.org", self.n);
                vec![(
                    k.clone(),
                    Some(ddb_string_item(&[("email", &email), ("id", id)])),
                )]
            }
            _ if !self.live.is_empty() => {
                let k = self.live.swap_remove(rng.below(self.live.len()));
                self.users.retain(|(u, _)| *u != k);
                vec![(k, None)]
            }
            _ => Vec::new(),
        }
    }
}

/// S3: new objects, objects re-uploaded with a new body, deleted objects (manifest and
/// chunk together).
struct S3 {
    names: Vec<String>,
    n: usize,
}

fn s3_object(name: &str, body: &[u8]) -> Vec<Pair> {
    let mut v = Vec::new();
    gen::s3::object(&mut v, "photos", name, body, "text/plain");
    v
}

impl Writer for S3 {
    fn step(&mut self, rng: &mut Rng) -> Batch {
        self.n += 1;
        let body = format!("load body {} ", self.n).repeat(1 + rng.below(40));
        match rng.below(3) {
            0 => {
                let name = format!("load/{:05}.txt", self.n);
                self.names.push(name.clone());
                s3_object(&name, body.as_bytes())
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .collect()
            }
            1 if !self.names.is_empty() => {
                let name = &self.names[rng.below(self.names.len())];
                s3_object(name, body.as_bytes())
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .collect()
            }
            _ if !self.names.is_empty() => {
                let name = self.names.swap_remove(rng.below(self.names.len()));
                s3_object(&name, b"x")
                    .into_iter()
                    .map(|(k, _)| (k, None))
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Redis: strings set/overwritten/deleted; hash fields added/overwritten/removed with the
/// hash's field count updated in the same batch.
struct Redis {
    strings: Vec<Vec<u8>>,
    fields: Vec<Vec<u8>>,
    hash_meta: Vec<u8>,
    n: usize,
}

impl Redis {
    fn new(initial: &[Pair]) -> Self {
        let ttl: HashSet<Vec<u8>> = initial
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(b"!redis|ttl|".as_slice()))
            .map(<[u8]>::to_vec)
            .collect();
        let strings = initial
            .iter()
            .filter_map(|(k, _)| {
                let uk = k.strip_prefix(b"!redis|str|".as_slice())?;
                (!ttl.contains(uk)).then(|| k.clone())
            })
            .collect();
        let hash_meta = wide(b"!hs|meta|", b"profile", b"");
        let fields = initial
            .iter()
            .filter(|(k, _)| k.starts_with(&wide(b"!hs|fld|", b"profile", b"")))
            .map(|(k, _)| k.clone())
            .collect();
        Redis {
            strings,
            fields,
            hash_meta,
            n: 0,
        }
    }

    fn meta(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        (
            self.hash_meta.clone(),
            Some((self.fields.len() as u64).to_be_bytes().to_vec()),
        )
    }
}

impl Writer for Redis {
    fn step(&mut self, rng: &mut Rng) -> Batch {
        self.n += 1;
        let body = format!("redis value {}", self.n).into_bytes();
        match rng.below(6) {
            0 => {
                let k = format!("!redis|str|load:{:05}", self.n).into_bytes();
                self.strings.push(k.clone());
                vec![(k, Some(redis_string(&body)))]
            }
            1 if !self.strings.is_empty() => {
                let k = self.strings[rng.below(self.strings.len())].clone();
                vec![(k, Some(redis_string(&body)))]
            }
            2 if !self.strings.is_empty() => {
                let k = self.strings.swap_remove(rng.below(self.strings.len()));
                vec![(k, None)]
            }
            3 => {
                let k = wide(
                    b"!hs|fld|",
                    b"profile",
                    format!("load{:05}", self.n).as_bytes(),
                );
                self.fields.push(k.clone());
                vec![(k, Some(body)), self.meta()]
            }
            4 if !self.fields.is_empty() => {
                let k = self.fields[rng.below(self.fields.len())].clone();
                vec![(k, Some(body))]
            }
            _ if self.fields.len() > 1 => {
                let k = self.fields.swap_remove(rng.below(self.fields.len()));
                vec![(k, None), self.meta()]
            }
            _ => Vec::new(),
        }
    }
}

/// SQS: messages sent (data record and its two index rows) and deleted.
struct Sqs {
    fresh: Vec<Vec<Pair>>,
    live: Vec<Vec<Vec<u8>>>,
}

impl Sqs {
    fn new(initial: &[Pair], big: usize) -> Self {
        let have: HashSet<&Vec<u8>> = initial.iter().map(|(k, _)| k).collect();
        let mut all = Vec::new();
        gen::sqs::generate(big, &mut all);
        // generate() writes the queue's two metadata rows, then three rows per message.
        let messages: Vec<Vec<Pair>> = all
            .get(2..2 + 3 * big)
            .unwrap_or_default()
            .chunks(3)
            .map(<[Pair]>::to_vec)
            .collect();
        assert!(messages
            .iter()
            .all(|m| m.len() == 3 && m[0].0.starts_with(b"!sqs|msg|data|")));
        let (live, fresh): (Vec<Vec<Pair>>, Vec<Vec<Pair>>) =
            messages.into_iter().partition(|m| have.contains(&m[0].0));
        Sqs {
            fresh,
            live: live
                .into_iter()
                .map(|m| m.into_iter().map(|(k, _)| k).collect())
                .collect(),
        }
    }
}

impl Writer for Sqs {
    fn step(&mut self, rng: &mut Rng) -> Batch {
        if rng.below(2) == 0 && !self.fresh.is_empty() {
            let m = self.fresh.remove(0);
            self.live.push(m.iter().map(|(k, _)| k.clone()).collect());
            return m.into_iter().map(|(k, v)| (k, Some(v))).collect();
        }
        if self.live.is_empty() {
            return Vec::new();
        }
        let m = self.live.swap_remove(rng.below(self.live.len()));
        m.into_iter().map(|k| (k, None)).collect()
    }
}

/// Commit timestamps of one writer's batches.
pub struct Writers {
    handles: Vec<JoinHandle<Vec<u64>>>,
    stop: Arc<AtomicBool>,
    counts: Vec<Arc<std::sync::atomic::AtomicUsize>>,
}

impl Writers {
    /// Four writers (one per adapter) over the data `initial` was loaded from, each doing
    /// at most `max_ops` batches, `pause` apart, until [`Writers::stop`].
    pub fn start(
        c: &Arc<Cluster>,
        initial: &[Pair],
        scale: usize,
        max_ops: usize,
        pause: Duration,
    ) -> Self {
        let big = 8 * scale * 4;
        let writers: Vec<Box<dyn Writer>> = vec![
            Box::new(Ddb::new(initial, big)),
            Box::new(S3 {
                names: (0..8 * scale).map(|i| format!("img/{i:04}.txt")).collect(),
                n: 0,
            }),
            Box::new(Redis::new(initial)),
            Box::new(Sqs::new(initial, big)),
        ];
        let stop = Arc::new(AtomicBool::new(false));
        let mut counts = Vec::new();
        let handles = writers
            .into_iter()
            .enumerate()
            .map(|(i, mut w)| {
                let c = c.clone();
                let stop = stop.clone();
                let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                counts.push(count.clone());
                std::thread::spawn(move || {
                    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
                    let mut ts = Vec::new();
                    let started = Instant::now();
                    while !stop.load(Ordering::Acquire)
                        && ts.len() < max_ops
                        && started.elapsed() < Duration::from_secs(40)
                    {
                        let batch = w.step(&mut rng);
                        if !batch.is_empty() {
                            ts.push(c.commit_batch(&batch));
                            count.fetch_add(1, Ordering::AcqRel);
                        }
                        std::thread::sleep(pause);
                    }
                    ts
                })
            })
            .collect();
        Writers {
            handles,
            stop,
            counts,
        }
    }

    /// Blocks until every writer committed at least `n` batches.
    pub fn wait_for(&self, n: usize) {
        let t = Instant::now();
        while self.counts.iter().any(|c| c.load(Ordering::Acquire) < n) {
            assert!(t.elapsed() < Duration::from_secs(20), "writers too slow");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops the writers; returns every commit timestamp.
    pub fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Release);
        self.handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer panicked"))
            .collect()
    }
}

/// The cluster's state at `ts`, exported as snapshot files and decoded with the binary.
pub fn decode_state_at(c: &Cluster, ts: u64, dir: &Path, name: &str) -> PathBuf {
    let snap = dir.join(format!("{name}-fsm"));
    c.export_fsm(ts, &snap).unwrap();
    let out = dir.join(name);
    let res = run(
        dir,
        &[
            "decode",
            "--input-snap-dir",
            snap.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        res.status.success(),
        "decode of the export failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// Differences between two trees, MANIFEST.json (and its CHECKSUMS line) aside.
pub fn data_diffs(ours: &Path, reference: &Path) -> Vec<String> {
    compare_trees(&read_tree(ours), &read_tree(reference), true)
        .into_iter()
        .filter(|d| !d.starts_with("content differs: MANIFEST.json"))
        .collect()
}

/// Asserts two trees hold the same data.
pub fn assert_same_data(ours: &Path, reference: &Path) {
    let d = data_diffs(ours, reference);
    assert!(d.is_empty(), "{} difference(s):\n{}", d.len(), d.join("\n"));
}

/// `live.read_ts` of a dump's MANIFEST.json.
pub fn manifest_read_ts(out: &Path) -> u64 {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("MANIFEST.json")).unwrap()).unwrap();
    m["live"]["read_ts"].as_u64().expect("live.read_ts")
}

/// `elastickv-backup ARGS…` parsed and run in process as the CLI would (no signal
/// handlers), for the `dump` command.
pub fn dump_cli(args: &[&str]) -> Result<(), elastickv_backup_engine::error::Error> {
    use clap::Parser;
    use elastickv_backup_cli::{dump::run_dump_with, Cli, Command};
    use elastickv_backup_engine::error::Error;
    let mut full = vec!["elastickv-backup", "dump"];
    full.extend_from_slice(args);
    match Cli::try_parse_from(full)
        .map_err(|e| Error::Usage(e.to_string()))?
        .command
    {
        Command::Dump(a) => run_dump_with(a, false),
        _ => Err(Error::Usage("not a dump command".into())),
    }
}

/// Polls `f` every 2 ms until it holds; panics naming `what` after 30 s.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Asserts a failed dump left no MANIFEST.json or CHECKSUMS in `out`.
pub fn assert_no_dump(out: &Path) {
    assert!(!out.join("MANIFEST.json").exists(), "MANIFEST.json written");
    assert!(!out.join("CHECKSUMS").exists(), "CHECKSUMS written");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_encoder_matches_the_generator() {
        let mut v = Vec::new();
        gen::dynamodb::generate(2, &mut v);
        let want = ddb_string_item(&[("id", "user 1/ü"), ("email", "u1@example.com")]);
        assert!(v.iter().any(|(_, val)| *val == want));
    }
}
