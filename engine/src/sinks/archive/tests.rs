use super::header::BLOCK;
use super::*;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// An entry's type, as far as these tests care.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TarKind {
    File,
    Dir,
    Other(tar::EntryType),
}

struct Entry {
    name: String,
    kind: TarKind,
    mode: u32,
    data: Vec<u8>,
}

/// Reads an archive back with the `tar` crate's reader (not ours: `verify` has its own,
/// and a writer is best checked by a reader it does not share code with).
fn entries(bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(bytes);
    let mut v = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let kind = match e.header().entry_type() {
            tar::EntryType::Regular => TarKind::File,
            tar::EntryType::Directory => TarKind::Dir,
            other => TarKind::Other(other),
        };
        let mode = e.header().mode().unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        v.push(Entry {
            name,
            kind,
            mode,
            data,
        });
    }
    v
}

fn p(s: &str) -> RelPath {
    RelPath::parse(s).unwrap()
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Writes a small dump the way the pipeline does: files from several threads, a stream,
/// an empty directory, then MANIFEST.json, digests, CHECKSUMS.
fn write_dump(sink: &ArchiveSink) {
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..50 {
                    let path = p(&format!("dynamodb/t{t}/items/{i}.json"));
                    sink.write_file(&path, format!("{{\"i\":{i}}}").as_bytes())
                        .unwrap();
                }
            });
        }
    });
    sink.create_dir(&p("dynamodb/empty/items")).unwrap();
    let mut st = sink.open_stream(&p("sqs/q/messages.jsonl")).unwrap();
    for i in 0..1000 {
        st.write_all(format!("{{\"m\":{i}}}\n").as_bytes()).unwrap();
    }
    // A stream abandoned by a failing adapter never reaches the archive.
    let mut gone = sink.open_stream(&p("sqs/q/abandoned.jsonl")).unwrap();
    gone.write_all(b"partial").unwrap();
    drop(gone);
    st.finish().unwrap();
    sink.write_control("MANIFEST.json", b"{}\n").unwrap();
    let d = sink.digests().unwrap();
    sink.write_control("CHECKSUMS", &crate::encode::checksums::render(&d))
        .unwrap();
}

fn check_dump(v: &[Entry]) {
    let n = v.len();
    assert_eq!(v[n - 2].name, "MANIFEST.json");
    assert_eq!(v[n - 1].name, "CHECKSUMS");
    assert_eq!((v[n - 2].mode, v[n - 1].mode), (0o644, 0o644));
    let mut seen_dirs = std::collections::HashSet::new();
    let mut files = 0;
    for e in v {
        match e.kind {
            TarKind::Dir => {
                assert_eq!(e.mode, 0o755);
                seen_dirs.insert(e.name.trim_end_matches('/').to_string());
            }
            TarKind::File => {
                files += 1;
                if let Some((dir, _)) = e.name.rsplit_once('/') {
                    assert!(seen_dirs.contains(dir), "{} before its directory", e.name);
                    assert_eq!(e.mode, 0o600);
                }
            }
            k => panic!("unexpected {k:?}"),
        }
    }
    assert_eq!(files, 200 + 1 + 2);
    assert!(seen_dirs.contains("dynamodb/empty/items"));
    let msgs = v.iter().find(|e| e.name == "sqs/q/messages.jsonl").unwrap();
    assert_eq!(msgs.data.iter().filter(|&&b| b == b'\n').count(), 1000);
    assert!(!v.iter().any(|e| e.name.contains("abandoned")));
    // CHECKSUMS lists every file entry but itself, with the right digest.
    let sums = String::from_utf8(v[n - 1].data.clone()).unwrap();
    assert_eq!(sums.lines().count(), files - 1);
    for e in v
        .iter()
        .filter(|e| e.kind == TarKind::File && e.name != "CHECKSUMS")
    {
        let line = format!("{}  {}", hex::encode(Sha256::digest(&e.data)), e.name);
        assert!(sums.lines().any(|l| l == line), "{line}");
    }
}

#[test]
fn tar_file_is_complete_and_ordered() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dump.tar");
    let sink =
        ArchiveSink::create(&Destination::File(dest.clone()), Compression::None, false).unwrap();
    write_dump(&sink);
    drop(sink);
    assert_eq!(leftovers(t.path()), ["dump.tar"]);
    let bytes = std::fs::read(&dest).unwrap();
    assert_eq!(bytes.len() % BLOCK, 0);
    assert!(bytes.ends_with(&[0u8; 1024]));
    check_dump(&entries(&bytes));
}

#[test]
fn tar_zst_round_trips() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dump.tar.zst");
    let c = Compression::Zstd {
        level: DEFAULT_ZSTD_LEVEL,
        workers: 1,
    };
    let sink = ArchiveSink::create(&Destination::File(dest.clone()), c, false).unwrap();
    write_dump(&sink);
    drop(sink);
    let mut plain = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(&dest).unwrap())
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    check_dump(&entries(&plain));
}

#[test]
fn failed_run_leaves_nothing() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dump.tar");
    // Dropped before CHECKSUMS (an adapter failed): no archive, no temp file.
    let sink =
        ArchiveSink::create(&Destination::File(dest.clone()), Compression::None, false).unwrap();
    sink.write_file(&p("a/b"), b"x").unwrap();
    drop(sink);
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));

    // Two files at one path: refused before MANIFEST.json, and nothing completes it later.
    let sink =
        ArchiveSink::create(&Destination::File(dest.clone()), Compression::None, false).unwrap();
    sink.write_file(&p("a/b"), b"x").unwrap();
    sink.write_file(&p("a/b"), b"y").unwrap();
    let err = sink.write_control("MANIFEST.json", b"{}").unwrap_err();
    assert!(err.to_string().contains("a/b"), "{err}");
    assert!(sink.write_control("CHECKSUMS", b"").is_err());
    drop(sink);
    assert!(leftovers(t.path()).is_empty());

    // A path that is both a file and a directory.
    let sink =
        ArchiveSink::create(&Destination::File(dest.clone()), Compression::None, false).unwrap();
    sink.write_file(&p("a"), b"x").unwrap();
    sink.write_file(&p("a/b"), b"y").unwrap();
    let err = sink.write_control("MANIFEST.json", b"{}").unwrap_err();
    assert!(
        err.to_string()
            .contains("both as a file and as a directory"),
        "{err}"
    );
    drop(sink);
    assert!(leftovers(t.path()).is_empty());
}

#[test]
fn existing_output_needs_force() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("dump.tar");
    std::fs::write(&dest, b"old").unwrap();
    let err = ArchiveSink::create(&Destination::File(dest.clone()), Compression::None, false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("--force"), "{err}");
    assert!(ArchiveSink::create(
        &Destination::File(t.path().to_path_buf()),
        Compression::None,
        true
    )
    .is_err());
    let sink =
        ArchiveSink::create(&Destination::File(dest.clone()), Compression::None, true).unwrap();
    sink.write_control("MANIFEST.json", b"{}").unwrap();
    sink.write_control("CHECKSUMS", b"").unwrap();
    drop(sink);
    let v = entries(&std::fs::read(&dest).unwrap());
    assert_eq!(v.len(), 2);
    // Still refused after a failed write: later writes report it.
    assert!(leftovers(t.path()) == ["dump.tar"]);
}

#[test]
fn writes_after_finish_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let sink = ArchiveSink::create(
        &Destination::File(t.path().join("x.tar")),
        Compression::None,
        false,
    )
    .unwrap();
    sink.write_control("MANIFEST.json", b"{}").unwrap();
    sink.write_control("CHECKSUMS", b"").unwrap();
    assert!(sink.write_file(&p("late"), b"x").is_err());
}
