//! `bench --vs-upstream PATH`: upstream's own decoder (`elastickv-snapshot-decode`, built
//! by the operator; nothing of it ships here) against ours on one snapshot, alternated,
//! with both outputs compared file by file.
//!
//! Why a snapshot of its own: upstream reads every stored version of a key instead of the
//! visible one (docs/COMPATIBILITY.md, "Version visibility") and refuses generated data
//! with history, and it takes a single `--input`. So the dataset is decoded and encoded
//! back (`encode`: one file, one version per key) and both decoders read that file. Both
//! are spawned the same way and measured from outside (wall and CPU from `wait4`, peak RSS
//! from `/proc/<pid>/status` while it runs); each run is followed by a timed `syncfs` of the scratch filesystem, because
//! upstream leaves its output in the page cache and ours syncs before MANIFEST.json:
//! the durable times compare like with like.

use super::child::{spawn_and_wait, Waited};
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::progress::human_bytes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One decoder's fastest run (by durable time).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side {
    /// Spawn to exit.
    pub wall: Duration,
    /// Spawn to exit, plus the `syncfs` that followed.
    pub durable: Duration,
    /// User + system CPU.
    pub cpu: Duration,
    /// Peak RSS (sampled `VmHWM`, see [`Waited::peak_kib`]), KiB.
    pub maxrss_kib: u64,
}

impl Side {
    /// Keeps the faster (by durable time) of `self` and `other`.
    pub fn fastest(self, other: Side) -> Side {
        if other.durable < self.durable {
            other
        } else {
            self
        }
    }
}

/// Whether the two outputs are the same tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TreeCheck {
    /// Every compared file is present in both, with the same bytes.
    Identical {
        /// Files compared.
        files: u64,
    },
    /// The first difference found, in words.
    Differs(String),
}

/// Files of the output root that are not compared: MANIFEST.json differs by its wall time
/// and our `producer` block, CHECKSUMS by MANIFEST.json's line, and upstream leaves a
/// `.scratch/` directory behind (docs/COMPATIBILITY.md).
const NOT_COMPARED: [&str; 3] = ["MANIFEST.json", "CHECKSUMS", ".scratch"];

/// Every regular file under `root` by relative path (symlinks are not followed).
fn files(root: &Path) -> Result<BTreeMap<PathBuf, PathBuf>, Error> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display(), e))? {
            let e = e.map_err(|e| Error::io(dir.display(), e))?;
            if rel.as_os_str().is_empty() && NOT_COMPARED.iter().any(|n| e.file_name() == *n) {
                continue;
            }
            let ft = e
                .file_type()
                .map_err(|err| Error::io(e.path().display(), err))?;
            let r = rel.join(e.file_name());
            if ft.is_dir() {
                stack.push(r);
            } else {
                out.insert(r, e.path());
            }
        }
    }
    Ok(out)
}

/// Compares the trees under `ours` and `upstream`.
pub(crate) fn compare_trees(ours: &Path, upstream: &Path) -> Result<TreeCheck, Error> {
    let (a, b) = (files(ours)?, files(upstream)?);
    if let Some(p) = a.keys().find(|p| !b.contains_key(*p)) {
        return Ok(TreeCheck::Differs(format!(
            "{} is only in ours",
            p.display()
        )));
    }
    if let Some(p) = b.keys().find(|p| !a.contains_key(*p)) {
        return Ok(TreeCheck::Differs(format!(
            "{} is only in upstream's",
            p.display()
        )));
    }
    for (rel, pa) in &a {
        let pb = &b[rel];
        let x = std::fs::read(pa).map_err(|e| Error::io(pa.display(), e))?;
        let y = std::fs::read(pb).map_err(|e| Error::io(pb.display(), e))?;
        if x != y {
            return Ok(TreeCheck::Differs(format!(
                "{} differs ({} vs {} bytes)",
                rel.display(),
                x.len(),
                y.len()
            )));
        }
    }
    Ok(TreeCheck::Identical {
        files: a.len() as u64,
    })
}

/// Runs `exe args` to completion; `who` names it in a failure.
fn run(exe: &Path, args: &[&std::ffi::OsStr], who: &str) -> Result<Waited, Error> {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    let done = spawn_and_wait(cmd, exe, true)?;
    if !done.ok {
        return Err(Error::Internal(format!(
            "{who} failed (`{} {}`, status {}):\n{}",
            exe.display(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            done.status,
            done.stderr_tail()
        )));
    }
    Ok(done)
}

/// Decodes `data` (a directory of shards) and encodes the result back into `fsm`: the
/// visible data, one version per key, in one file upstream can read.
pub(crate) fn prepare(data: &Path, work: &Path, fsm: &Path) -> Result<u64, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let src = work.join("upstream-src");
    run(
        &exe,
        &[
            "decode".as_ref(),
            "--input-snap-dir".as_ref(),
            data.as_os_str(),
            "--output".as_ref(),
            src.as_os_str(),
        ],
        "decoding the dataset for the upstream comparison",
    )?;
    run(
        &exe,
        &[
            "encode".as_ref(),
            "--input".as_ref(),
            src.as_os_str(),
            "--output".as_ref(),
            fsm.as_os_str(),
        ],
        "encoding the single-version snapshot for the upstream comparison",
    )?;
    std::fs::remove_dir_all(&src).map_err(|e| Error::io(src.display(), e))?;
    Ok(std::fs::metadata(fsm)
        .map_err(|e| Error::io(fsm.display(), e))?
        .len())
}

/// Runs upstream's decoder at `upstream` on `fsm` into `out`, timed until durable.
pub(crate) fn run_upstream(upstream: &Path, fsm: &Path, out: &Path) -> Result<Side, Error> {
    let done = run(
        upstream,
        &[
            "--input".as_ref(),
            fsm.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
        ],
        "the upstream decoder (--vs-upstream)",
    )?;
    side(&done, out)
}

/// Runs our decoder on `fsm` into `out` with `threads` threads, timed until durable.
pub(crate) fn run_ours(fsm: &Path, out: &Path, threads: usize) -> Result<Side, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let threads = threads.to_string();
    let done = run(
        &exe,
        &[
            "decode".as_ref(),
            "--input".as_ref(),
            fsm.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
            "--threads".as_ref(),
            threads.as_ref(),
        ],
        "our decoder (upstream comparison)",
    )?;
    side(&done, out)
}

fn side(done: &Waited, out: &Path) -> Result<Side, Error> {
    let t = Instant::now();
    super::ceilings::syncfs(out)?;
    let flush = t.elapsed();
    Ok(Side {
        wall: done.wall,
        durable: done.wall + flush,
        cpu: done.cpu(),
        maxrss_kib: done.peak_kib(),
    })
}

/// What the comparison found, ready to print.
pub(crate) struct Comparison<'a> {
    /// The upstream binary.
    pub upstream_exe: &'a Path,
    /// Bytes of the single-version snapshot both read.
    pub fsm_bytes: u64,
    /// Rounds measured.
    pub rounds: usize,
    /// Our thread count.
    pub threads: usize,
    /// Fastest of each.
    pub upstream: Side,
    /// Fastest of ours.
    pub ours: Side,
    /// The first round's outputs, compared.
    pub tree: TreeCheck,
    /// The durable file-creation ceiling of the same tree, when measured in this run.
    pub files_ceiling: Option<Duration>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

impl Comparison<'_> {
    /// The section printed after the main tables, and its ratio lines.
    pub fn render(&self) -> (String, Vec<String>) {
        let row = |who: &str, s: &Side| {
            format!(
                "  {who}: wall {:.2} s, durable {:.2} s, cpu {:.2} s, peak RSS {}\n",
                s.wall.as_secs_f64(),
                s.durable.as_secs_f64(),
                s.cpu.as_secs_f64(),
                human_bytes(s.maxrss_kib * 1024)
            )
        };
        let mut text = format!(
            "upstream comparison: the same single-version snapshot ({}), per-item layout, \
             alternated, fastest of {} by durable time (wall + the syncfs after it):\n",
            human_bytes(self.fsm_bytes),
            self.rounds
        );
        text.push_str(&row(
            &format!("upstream decoder {}", self.upstream_exe.display()),
            &self.upstream,
        ));
        text.push_str(&row(
            &format!("ours, decode --input, threads {}", self.threads),
            &self.ours,
        ));
        text.push_str(&match &self.tree {
            TreeCheck::Identical { files } => format!(
                "  outputs: identical ({files} files; MANIFEST.json, CHECKSUMS and upstream's .scratch/ not compared)\n"
            ),
            TreeCheck::Differs(what) => format!("  outputs: DIFFERENT: {what}\n"),
        });
        let speed = secs(self.upstream.durable) / secs(self.ours.durable);
        let mut ratios = vec![
            format!("  ours vs upstream's decoder, durable (speed-up): {speed:.2} (goal ≥ 10)"),
            format!(
                "  upstream's peak RSS vs ours: {:.2}",
                self.upstream.maxrss_kib as f64 / self.ours.maxrss_kib.max(1) as f64
            ),
        ];
        if let Some(c) = self.files_ceiling {
            ratios.push(format!(
                "    upstream vs the durable file-creation ceiling of the same files (writing them, nothing decoded): {:.2}",
                secs(self.upstream.durable) / secs(c)
            ));
        }
        (text, ratios)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    #[test]
    fn trees_compare_by_path_and_bytes_but_not_manifest_checksums_or_scratch() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        for r in [&a, &b] {
            write(r, "redis/db_0/strings/k", b"v");
            write(r, "s3/b/x/y", b"body");
        }
        write(&a, "MANIFEST.json", b"{1}");
        write(&b, "MANIFEST.json", b"{2}");
        write(&b, "CHECKSUMS", b"x");
        write(&b, ".scratch/tmp", b"left behind");
        assert_eq!(
            compare_trees(&a, &b).unwrap(),
            TreeCheck::Identical { files: 2 }
        );
        // A nested .scratch is data, not upstream's leftover.
        write(&b, "s3/b/.scratch", b"d");
        assert_eq!(
            compare_trees(&a, &b).unwrap(),
            TreeCheck::Differs("s3/b/.scratch is only in upstream's".into())
        );
        write(&a, "s3/b/.scratch", b"e");
        assert_eq!(
            compare_trees(&a, &b).unwrap(),
            TreeCheck::Differs("s3/b/.scratch differs (1 vs 1 bytes)".into())
        );
        std::fs::remove_file(b.join("s3/b/.scratch")).unwrap();
        assert_eq!(
            compare_trees(&a, &b).unwrap(),
            TreeCheck::Differs("s3/b/.scratch is only in ours".into())
        );
    }

    #[test]
    fn the_faster_side_is_the_one_durable_sooner() {
        let s = |wall, durable| Side {
            wall: Duration::from_millis(wall),
            durable: Duration::from_millis(durable),
            cpu: Duration::ZERO,
            maxrss_kib: 1,
        };
        // Sooner to exit but later on the disk loses.
        assert_eq!(s(100, 900).fastest(s(200, 300)).durable.as_millis(), 300);
        assert_eq!(s(200, 300).fastest(s(100, 900)).durable.as_millis(), 300);
    }
}
