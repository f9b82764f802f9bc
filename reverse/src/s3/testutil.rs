//! Test helpers for the S3 and Redis encoders: the golden fixtures, a minimal `.fsm`
//! reader, and a decode of entries back to a tree through the real adapters, so tests can
//! check encode(tree) against `input.fsm` and decode(encode(tree)) against the tree.

use bytes::Bytes;
use elastickv_backup_engine::decode::{Adapter, Dispatcher};
use elastickv_backup_engine::encode::emitter::{FailState, WorkerPool};
use elastickv_backup_engine::encode::Emitter;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::DecodeOptions;
use elastickv_backup_engine::sinks::{DirSink, Sink};
use elastickv_backup_engine::sources::Entry;
use elastickv_backup_format::container::PAYLOAD_MAGIC;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Relative path → contents; directories end in `/` and map to nothing.
pub(crate) type Tree = BTreeMap<String, Vec<u8>>;

/// the repository's `fixtures/golden`, or `$EKVB_GOLDEN_DIR`.
pub(crate) fn golden_dir() -> PathBuf {
    if let Ok(d) = std::env::var("EKVB_GOLDEN_DIR") {
        return PathBuf::from(d);
    }
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/golden");
    assert!(d.is_dir(), "golden fixtures not found at {}", d.display());
    d
}

/// The golden cases with an `expected/` tree whose decode enabled `adapter`:
/// `(name, case dir)`.
pub(crate) fn golden_cases(adapter: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(golden_dir()).unwrap() {
        let p = e.unwrap().path();
        if !p.join("expected").is_dir() {
            continue;
        }
        let args = std::fs::read_to_string(p.join("decode_args.txt")).unwrap_or_default();
        let mut words = args.split_whitespace();
        let mut enabled = true;
        while let Some(w) = words.next() {
            if w == "--adapter" {
                enabled = words
                    .next()
                    .is_some_and(|l| l.split(',').any(|a| a == adapter));
            } else if let Some(l) = w.strip_prefix("--adapter=") {
                enabled = l.split(',').any(|a| a == adapter);
            }
        }
        if enabled {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, p));
        }
    }
    out.sort();
    out
}

/// The visible `(user_key, value body)` entries of a bare-payload snapshot file whose user key
/// satisfies `keep`, sorted.
pub(crate) fn read_fsm(path: &Path, keep: impl Fn(&[u8]) -> bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let d = std::fs::read(path).unwrap();
    assert_eq!(&d[..8], PAYLOAD_MAGIC);
    let mut p = 16;
    let mut take = |n: usize| {
        let s = &d[p..p + n];
        p += n;
        s
    };
    let mut out = Vec::new();
    let mut left = d.len() - 16;
    while left > 0 {
        let kl = u64::from_le_bytes(take(8).try_into().unwrap()) as usize;
        let k = take(kl);
        let vl = u64::from_le_bytes(take(8).try_into().unwrap()) as usize;
        let v = take(vl);
        left -= 16 + kl + vl;
        let uk = &k[..k.len() - 8];
        if v[0] & 1 == 0 && keep(uk) {
            out.push((uk.to_vec(), v[9..].to_vec()));
        }
    }
    out.sort();
    out
}

/// A directory's files and subdirectories (`name/`), recursively.
pub(crate) fn tree_of(root: &Path) -> Tree {
    fn walk(root: &Path, rel: &str, out: &mut Tree) {
        for e in std::fs::read_dir(root.join(rel)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{r}/"), Vec::new());
                walk(root, &r, out);
            } else {
                out.insert(r.clone(), std::fs::read(root.join(&r)).unwrap());
            }
        }
    }
    let mut t = Tree::new();
    walk(root, "", &mut t);
    t
}

/// Decodes `records` through `adapter` (as the merged, visible stream would deliver them)
/// into `root`, returning the written tree.
pub(crate) fn decode_into(
    root: &Path,
    mut records: Vec<(Vec<u8>, Vec<u8>)>,
    adapter: Box<dyn Adapter>,
    opts: DecodeOptions,
) -> Result<Tree, Error> {
    records.sort_by(|a, b| a.0.cmp(&b.0));
    let entries: Vec<Entry> = records
        .into_iter()
        .map(|(k, v)| Entry {
            user_key: Bytes::from(k),
            commit_ts: 1,
            expire_at_ms: 0,
            tombstone: false,
            value: Bytes::from(v),
        })
        .collect();
    let sink: Arc<dyn Sink> = Arc::new(DirSink::create(root, false)?);
    let fail = Arc::new(FailState::default());
    let pool = WorkerPool::start(2, sink.clone(), fail.clone());
    let opts = Arc::new(opts);
    let result = {
        let out = Emitter::new(sink.clone(), &pool, fail, opts.clone())?;
        let mut d = Dispatcher::new(vec![adapter]);
        let r = (|| {
            for e in &entries {
                d.index(e)?;
            }
            for e in &entries {
                d.dispatch(e, &out)?;
            }
            d.finish(&out)
        })();
        drop(out);
        r
    };
    let joined = pool.join();
    result?;
    joined?;
    Ok(tree_of(root))
}

/// Writes `files` (relative path → bytes) under `root`, creating directories.
pub(crate) fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (rel, data) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

/// The tree restricted to paths under `prefix` (with the prefix kept).
pub(crate) fn subtree(t: &Tree, prefix: &str) -> Tree {
    t.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
