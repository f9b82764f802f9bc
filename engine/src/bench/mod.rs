//! `bench`: generated data → measured decode (and live dump) runs → per-stage tables,
//! ceilings measured in the same run, and the ratios the performance targets are stated in.
//!
//! Every measured run is a child process (see [`child`]) so peak RSS is the run's own.
//! Between measurements dirty pages are synced (untimed), so each measurement starts from
//! a quiet disk. Everything lives in one scratch directory that is removed at the end
//! unless `--keep`.

pub mod ceilings;
pub mod child;
pub mod report;

use crate::error::Error;
use crate::gen::plan::{generate, GenConfig, Mix};
use crate::gen::writer::ShardInfo;
use crate::progress::human_bytes;
use crate::server::{load, LoopbackServer, ServerConfig};
use child::ChildRun;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// DynamoDB layout of the measured runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One file per item (upstream's layout; file-creation bound).
    PerItem,
    /// JSONL bundles (sequential-write bound).
    Jsonl,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Dataset size, bytes.
    pub size: u64,
    /// Shard files.
    pub shards: usize,
    /// Generator seed.
    pub seed: u64,
    /// Adapter mix.
    pub mix: Mix,
    /// DynamoDB layout.
    pub layout: Layout,
    /// Worker threads of the measured runs.
    pub threads: usize,
    /// `--archive` format of the measured runs (`tar`, `tar.zst`), none for a directory.
    pub archive: Option<String>,
    /// Where the scratch directory goes (default: the system temp directory).
    pub work_dir: Option<PathBuf>,
    /// Keep the scratch directory.
    pub keep: bool,
    /// Measure the ceilings.
    pub ceilings: bool,
    /// Also run with this many threads.
    pub vs_threads: Option<usize>,
    /// Also run on the same data split into this many shards.
    pub vs_shards: Option<usize>,
    /// Also run on a dataset of this size (peak RSS comparison).
    pub vs_size: Option<u64>,
    /// Also dump the same data live from the embedded cluster.
    pub live: bool,
}

struct Bench<'a> {
    cfg: &'a BenchConfig,
    work: PathBuf,
    out: &'a mut dyn Write,
    /// Labels of the runs done.
    runs: Vec<String>,
    ratios: Vec<String>,
}

fn w(out: &mut dyn Write, s: &str) -> Result<(), Error> {
    out.write_all(s.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("standard output", e))
}

fn ratio_line(what: &str, value: f64, target: Option<f64>) -> String {
    match target {
        Some(t) => format!(
            "  {what}: {value:.2} (target ≥ {t:.2}: {})",
            if value >= t { "met" } else { "MISSED" }
        ),
        None => format!("  {what}: {value:.2}"),
    }
}

impl Bench<'_> {
    fn say(&mut self, s: &str) -> Result<(), Error> {
        w(self.out, s)
    }

    fn dataset(&mut self, size: u64, shards: usize) -> Result<(PathBuf, Vec<ShardInfo>), Error> {
        let dir = self.work.join(format!("data-{size}-{shards}"));
        let cfg = GenConfig {
            size,
            shards,
            seed: self.cfg.seed,
            mix: self.cfg.mix,
        };
        eprintln!(
            "elastickv-backup bench: generating {} in {shards} shard(s)...",
            human_bytes(size)
        );
        let r = generate(&cfg, &dir)?;
        let text = format!(
            "dataset {} ({} shards, seed {}), generated in {:.1} s:\n{}\n",
            dir.display(),
            shards,
            self.cfg.seed,
            r.elapsed.as_secs_f64(),
            crate::cli::gen::describe(&r)
        );
        self.say(&text)?;
        ceilings::sync();
        Ok((dir, r.shards))
    }

    fn layout_args(&self) -> Vec<String> {
        match self.cfg.layout {
            Layout::PerItem => vec![],
            Layout::Jsonl => vec!["--dynamodb-bundle-mode".into(), "jsonl".into()],
        }
    }

    fn output_path(&self, label: &str) -> PathBuf {
        let ext = match self.cfg.archive.as_deref() {
            Some("tar") => ".tar",
            Some(_) => ".tar.zst",
            None => "",
        };
        self.work.join(format!("out-{label}{ext}"))
    }

    /// Runs `args` (a decode or dump command line) in a child; prints its table; returns
    /// the run and the output's shape (directory output) or archive size.
    fn measure(
        &mut self,
        label: &str,
        title: &str,
        mut args: Vec<String>,
        threads: usize,
        archive: bool,
    ) -> Result<(ChildRun, Option<ceilings::Shape>, Option<u64>), Error> {
        let output = self.output_path(label);
        args.extend(["--output".into(), output.display().to_string()]);
        args.extend(["--threads".into(), threads.to_string()]);
        args.extend(self.layout_args());
        if archive {
            if let Some(a) = &self.cfg.archive {
                args.extend(["--archive".into(), a.clone()]);
            }
        }
        eprintln!("elastickv-backup bench: run {label}: {}", args.join(" "));
        let run = child::spawn(&args, &self.work)?;
        let (shape, size) = if output.is_dir() {
            (Some(ceilings::shape(&output)?), None)
        } else {
            let len = std::fs::metadata(&output)
                .map_err(|e| Error::io(output.display(), e))?
                .len();
            (None, Some(len))
        };
        let zst = archive && self.cfg.archive.as_deref() == Some("tar.zst");
        let rows = report::rows(&run, archive && self.cfg.archive.is_some(), size.filter(|_| zst));
        let text = report::render(title, &run, threads, &rows);
        self.say(&text)?;
        remove(&output);
        ceilings::sync();
        self.runs.push(label.to_string());
        Ok((run, shape, size))
    }

    fn decode_args(data: &Path) -> Vec<String> {
        vec![
            "decode".into(),
            "--input-snap-dir".into(),
            data.display().to_string(),
        ]
    }

    fn ceilings(
        &mut self,
        run: &ChildRun,
        shape: Option<&ceilings::Shape>,
        archive_size: Option<u64>,
    ) -> Result<(), Error> {
        let threads = self.cfg.threads;
        let ours = run.wall;
        let mut text = String::from("ceilings (same machine, same run, no decoding):\n");
        let seq_bytes = archive_size.unwrap_or(run.stats.output_bytes);
        let path = self.work.join("ceiling-seq.bin");
        let seq = ceilings::sequential(&path, seq_bytes, false)?;
        remove(&path);
        ceilings::sync();
        let seq_sha = ceilings::sequential(&path, seq_bytes, true)?;
        remove(&path);
        ceilings::sync();
        let line = |what: String, d: Duration, bytes: u64| {
            format!(
                "  {what}: {:.2} s ({}); ours/ceiling = {:.2}\n",
                d.as_secs_f64(),
                report::rate(bytes, d),
                d.as_secs_f64() / ours.as_secs_f64().max(1e-9)
            )
        };
        text.push_str(&line(
            format!("sequential write of {} as one stream", human_bytes(seq_bytes)),
            seq,
            seq_bytes,
        ));
        text.push_str(&line(
            "the same with SHA-256 on (one thread)".to_string(),
            seq_sha,
            seq_bytes,
        ));
        let seq_ratio = seq_sha.as_secs_f64() / ours.as_secs_f64().max(1e-9);
        if let Some(s) = shape {
            let root = self.work.join("ceiling-files");
            let d = ceilings::create_files(s, &root, threads)?;
            remove(&root);
            ceilings::sync();
            text.push_str(&line(
                format!(
                    "create {} files in {} directories with the same sizes ({} threads)",
                    s.files,
                    s.dirs.len(),
                    threads
                ),
                d,
                s.bytes,
            ));
            if self.cfg.layout == Layout::PerItem {
                self.ratios.push(ratio_line(
                    "per-item layout vs file-creation ceiling",
                    d.as_secs_f64() / ours.as_secs_f64().max(1e-9),
                    Some(0.70),
                ));
            }
        }
        if self.cfg.layout == Layout::Jsonl {
            self.ratios.push(ratio_line(
                "jsonl layout vs sequential-write ceiling with SHA-256",
                seq_ratio,
                Some(0.80),
            ));
        }
        self.say(&text)
    }

    fn run_all(&mut self) -> Result<(), Error> {
        let cfg = self.cfg.clone();
        let (data, shards) = self.dataset(cfg.size, cfg.shards)?;
        let base_title = format!(
            "run A: snapshot decode, {} shards, threads {}",
            cfg.shards, cfg.threads
        );
        let (base, shape, archive_size) = self.measure(
            "A",
            &base_title,
            Self::decode_args(&data),
            cfg.threads,
            true,
        )?;
        if cfg.ceilings {
            self.ceilings(&base, shape.as_ref(), archive_size)?;
        }
        let wall = |r: &ChildRun| r.wall.as_secs_f64().max(1e-9);
        if let Some(t) = cfg.vs_threads {
            let title = format!("run T: snapshot decode, {} shards, threads {t}", cfg.shards);
            let (r, _, _) = self.measure("T", &title, Self::decode_args(&data), t, true)?;
            let (lo, hi) = if t < cfg.threads {
                (&r, &base)
            } else {
                (&base, &r)
            };
            let (tlo, thi) = (t.min(cfg.threads), t.max(cfg.threads));
            let target = (tlo == 1 && thi == 2).then_some(1.7);
            self.ratios.push(ratio_line(
                &format!("threads {thi} vs threads {tlo} (speed-up)"),
                wall(lo) / wall(hi),
                target,
            ));
        }
        if let Some(n) = cfg.vs_shards {
            let (d2, _) = self.dataset(cfg.size, n)?;
            let title = format!("run S: snapshot decode, {n} shards, threads {}", cfg.threads);
            let (r, _, _) = self.measure("S", &title, Self::decode_args(&d2), cfg.threads, true)?;
            remove(&d2);
            let target = (n > cfg.shards).then_some(0.9);
            self.ratios.push(ratio_line(
                &format!("{n} shards vs {} shards (throughput)", cfg.shards),
                wall(&base) / wall(&r),
                target,
            ));
        }
        if cfg.live {
            let files: Vec<String> = shards.iter().map(|s| s.path.display().to_string()).collect();
            eprintln!("elastickv-backup bench: loading the embedded cluster...");
            let entries = load::from_snapshots(&files)?;
            let server = LoopbackServer::start(
                ServerConfig {
                    groups: cfg.shards.clamp(1, 16) as u64,
                    compaction_interval: None,
                    ..ServerConfig::default()
                },
                "127.0.0.1:0",
                entries,
            )?;
            let args = vec![
                "dump".into(),
                "--address".into(),
                server.addr().to_string(),
            ];
            let title = format!(
                "run L: live dump of the same data from the embedded cluster ({} groups, in this process), threads {}",
                cfg.shards.clamp(1, 16),
                cfg.threads
            );
            let r = self.measure("L", &title, args, cfg.threads, false);
            server.shutdown();
            let (r, _, _) = r?;
            if r.stats.files != base.stats.files {
                self.ratios.push(format!(
                    "  NOTE: live dump wrote {} files, snapshot decode {}",
                    r.stats.files, base.stats.files
                ));
            }
            self.ratios.push(ratio_line(
                "live dump vs snapshot decode (throughput)",
                wall(&base) / wall(&r),
                Some(0.7),
            ));
        }
        if let Some(size) = cfg.vs_size {
            let (d3, _) = self.dataset(size, cfg.shards)?;
            let title = format!(
                "run Z: snapshot decode of {}, {} shards, threads {}",
                human_bytes(size),
                cfg.shards,
                cfg.threads
            );
            let (r, _, _) = self.measure("Z", &title, Self::decode_args(&d3), cfg.threads, true)?;
            remove(&d3);
            self.ratios.push(ratio_line(
                &format!(
                    "peak RSS at {} vs at {} ({} vs {})",
                    human_bytes(size),
                    human_bytes(cfg.size),
                    human_bytes(r.maxrss_kib * 1024),
                    human_bytes(base.maxrss_kib * 1024)
                ),
                r.maxrss_kib as f64 / base.maxrss_kib.max(1) as f64,
                None,
            ));
            self.ratios.push(ratio_line(
                &format!(
                    "throughput at {} vs at {}",
                    human_bytes(size),
                    human_bytes(cfg.size)
                ),
                (r.stats.input_bytes as f64 / wall(&r))
                    / (base.stats.input_bytes as f64 / wall(&base)),
                None,
            ));
        }
        if !self.ratios.is_empty() {
            let mut text = String::from("ratios (measured in this run):\n");
            for r in &self.ratios {
                text.push_str(r);
                text.push('\n');
            }
            self.say(&text)?;
        }
        eprintln!("elastickv-backup bench: done (runs {})", self.runs.join(", "));
        Ok(())
    }
}

fn remove(p: &Path) {
    let _ = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
}

/// Runs the benchmark, printing to `out`.
pub fn run(cfg: &BenchConfig, out: &mut dyn Write) -> Result<(), Error> {
    let base = cfg.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).map_err(|e| Error::io(base.display(), e))?;
    let tmp = tempfile::Builder::new()
        .prefix("ekvb-bench-")
        .tempdir_in(&base)
        .map_err(|e| Error::io(base.display(), e))?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    w(
        out,
        &format!(
            "elastickv-backup bench: {} in {} shards, layout {}, threads {}, {} output; {} CPU(s) visible (load from other processes is not controlled: figures from a shared machine are noisy)\n",
            human_bytes(cfg.size),
            cfg.shards,
            match cfg.layout {
                Layout::PerItem => "per-item",
                Layout::Jsonl => "jsonl",
            },
            cfg.threads,
            cfg.archive.as_deref().unwrap_or("directory"),
            cpus
        ),
    )?;
    let mut b = Bench {
        cfg,
        work: tmp.path().to_path_buf(),
        out,
        runs: Vec::new(),
        ratios: Vec::new(),
    };
    let r = b.run_all();
    if cfg.keep {
        let kept = tmp.keep();
        eprintln!("elastickv-backup bench: kept {}", kept.display());
    }
    r
}
