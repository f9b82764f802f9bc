//! Synthetic S3 buckets for `gen`: objects from empty to tens of MiB.
//!
//! * `app-logs` — many small text objects (200 B – 256 KiB, log-uniform).
//! * `media` — images and videos (8 KiB – 12 MiB, log-uniform, incompressible); objects
//!   above 8 MiB are multipart; every 400th object is empty; a few names with spaces and
//!   non-ASCII characters.
//! * `backups` — a few 12–48 MiB multipart dumps.
//! * `empty-bucket` — no objects.
//!
//! Bodies are cut into 1 MiB chunks (the live adapter's size) and produced one chunk at a
//! time, so a 48 MiB object never sits in memory. About 3% of objects were overwritten
//! (an older manifest version and the older upload's chunks remain, as before GC) and 1%
//! deleted (tombstones over the manifest and every chunk).
//!
//! ETags: a single-chunk object's ETag is the MD5 of its body, as S3's; a larger object's
//! is derived from its description (the decoder never checks it, and computing it would
//! mean producing every body twice, since chunks sort before manifests).

use super::bucket_meta;
use crate::enc::md5_hex;
use crate::rng::Rng;
use crate::synth::{older, ts_ago, Fate};
use crate::version::{fixed, units, Family, Version};
use elastickv_backup_engine::decode::Family as KeyFamily;
use elastickv_backup_format::keys::s3;

const CHUNK: u64 = 1 << 20;
const PART: u64 = 8 << 20;
const S3: u64 = 0x53;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Logs,
    Media,
    Backups,
}

struct BucketDef {
    name: &'static str,
    kind: Kind,
    share: u64,
}

const BUCKETS: &[BucketDef] = &[
    BucketDef {
        name: "app-logs",
        kind: Kind::Logs,
        share: 15,
    },
    BucketDef {
        name: "backups",
        kind: Kind::Backups,
        share: 35,
    },
    BucketDef {
        name: "media",
        kind: Kind::Media,
        share: 50,
    },
];

/// One upload of an object: its id, commit time and parts (each a list of chunk sizes).
#[derive(Clone)]
struct Upload {
    id: String,
    ts: u64,
    size: u64,
    multipart: bool,
    /// (part number, part version, chunk sizes).
    parts: Vec<(u64, u64, Vec<u64>)>,
    /// Which body seed this upload's bytes come from.
    body: u64,
}

fn upload(rng: &mut Rng, ts: u64, size: u64, body: u64) -> Upload {
    let multipart = size > PART;
    let mut parts = Vec::new();
    let mut left = size;
    let mut no = 1;
    while left > 0 {
        let p = if multipart { left.min(PART) } else { left };
        let mut chunks = Vec::new();
        let mut c = p;
        while c > 0 {
            chunks.push(c.min(CHUNK));
            c -= c.min(CHUNK);
        }
        let version = if multipart { ts + no } else { 0 };
        parts.push((no, version, chunks));
        left -= p;
        no += 1;
    }
    Upload {
        id: format!("{:016x}{}", ts, rng.alnum(12)),
        ts,
        size,
        multipart,
        parts,
        body,
    }
}

/// One object: its name, fate and uploads (oldest first; the last one is current).
struct Obj {
    name: String,
    fate: Fate,
    uploads: Vec<Upload>,
    text: bool,
    content_type: &'static str,
    meta: bool,
}

fn draw_size(kind: Kind, i: u64, rng: &mut Rng) -> u64 {
    match kind {
        Kind::Logs => rng.log_uniform(200, 256 << 10),
        Kind::Media if i % 400 == 399 => 0,
        Kind::Media => rng.log_uniform(8 << 10, 12 << 20),
        Kind::Backups => rng.between(12 << 20, 48 << 20),
    }
}

/// Object `i` of bucket `b`, its current body capped at `cap` bytes.
fn object(seed: u64, b: usize, kind: Kind, i: u64, cap: u64) -> Obj {
    let mut rng = Rng::derive(seed, &[S3, b as u64, i]);
    let size = draw_size(kind, i, &mut rng).min(cap);
    let fate = Fate::draw(&mut rng, 30, 10);
    let (name, content_type) = match kind {
        Kind::Logs => {
            let json = rng.chance(200);
            let ext = if json { "json" } else { "log" };
            let ct = if json {
                "application/json"
            } else {
                "text/plain"
            };
            (format!("app/{:05}/events-{i:09}.{ext}", i / 1000), ct)
        }
        Kind::Media => {
            let video = size > 4 << 20;
            let extra = match i % 997 {
                13 => " copy (2)",
                500 => " Ünïcødé 写真",
                _ => "",
            };
            let (ext, ct) = if video {
                ("mp4", "video/mp4")
            } else {
                ("jpg", "image/jpeg")
            };
            (format!("albums/{:06}/IMG_{i:08}{extra}.{ext}", i / 200), ct)
        }
        Kind::Backups => (format!("db/{i:06}/dump.tar.zst"), "application/zstd"),
    };
    let ts = ts_ago(1000 + rng.below(90 * 86_400_000), (i % 1000) as u16);
    let mut uploads = Vec::new();
    if fate != Fate::Live {
        let old_size = size.min(rng.log_uniform(100, 64 << 10));
        uploads.push(upload(&mut rng, older(ts), old_size, 1));
    }
    if fate != Fate::Deleted {
        uploads.push(upload(&mut rng, ts, size, 2));
    }
    Obj {
        name,
        fate,
        uploads,
        text: kind == Kind::Logs,
        content_type,
        meta: rng.chance(300),
    }
}

/// Stored bytes an object takes (bodies plus a rough per-version overhead).
fn object_bytes(o: &Obj) -> u64 {
    o.uploads
        .iter()
        .map(|u| u.size + 200 * (u.parts.iter().map(|p| p.2.len() as u64).sum::<u64>() + 2))
        .sum()
}

/// The objects of one bucket: how many fit its budget. Each object's size is capped by
/// what is left, so small budgets still get objects.
fn plan_count(seed: u64, b: usize, kind: Kind, budget: u64) -> u64 {
    let mut left = budget;
    let mut i = 0;
    while left > 0 {
        let o = object(seed, b, kind, i, left);
        left = left.saturating_sub(object_bytes(&o).max(1));
        i += 1;
    }
    i
}

/// Replays the per-object caps of [`plan_count`] (every family walks the same way).
struct Walk {
    seed: u64,
    b: usize,
    kind: Kind,
    left: u64,
}

impl Walk {
    fn next(&mut self, i: u64) -> Obj {
        let o = object(self.seed, self.b, self.kind, i, self.left);
        self.left = self.left.saturating_sub(object_bytes(&o).max(1));
        o
    }
}

/// The bytes of one chunk: object `(bucket, index)`, `(part, chunk)` of upload `u`.
fn body_chunk(
    seed: u64,
    (b, i): (usize, u64),
    u: &Upload,
    (part, chunk): (u64, u64),
    size: u64,
    text: bool,
) -> Vec<u8> {
    let mut rng = Rng::derive(seed, &[S3, 1, b as u64, i, u.body, part, chunk]);
    let mut out = Vec::with_capacity(size as usize);
    if text {
        rng.text(&mut out, size as usize);
    } else {
        rng.bytes(&mut out, size as usize);
    }
    out
}

/// Chunk keys of one object in key order: uploads by id, then part, chunk, version.
fn chunk_list(o: &Obj) -> Vec<(usize, u64, u64, u64, u64)> {
    let mut ups: Vec<usize> = (0..o.uploads.len()).collect();
    ups.sort_by(|a, b| o.uploads[*a].id.cmp(&o.uploads[*b].id));
    let mut v = Vec::new();
    for ui in ups {
        for (no, ver, chunks) in &o.uploads[ui].parts {
            for (c, size) in chunks.iter().enumerate() {
                v.push((ui, *no, c as u64, *ver, *size));
            }
        }
    }
    v
}

/// The blob family of one bucket: one chunk at a time.
struct Blobs {
    seed: u64,
    bucket: &'static str,
    b: usize,
    count: u64,
    walk: Walk,
    i: u64,
    obj: Option<Obj>,
    chunks: std::vec::IntoIter<(usize, u64, u64, u64, u64)>,
    pending: Option<Version>,
}

impl Iterator for Blobs {
    type Item = Version;

    fn next(&mut self) -> Option<Version> {
        if let Some(v) = self.pending.take() {
            return Some(v);
        }
        loop {
            if let Some(o) = &self.obj {
                if let Some((ui, part, chunk, ver, size)) = self.chunks.next() {
                    let u = &o.uploads[ui];
                    let key = s3::chunk(
                        KeyFamily::S3Blob,
                        self.bucket.as_bytes(),
                        1,
                        o.name.as_bytes(),
                        u.id.as_bytes(),
                        part,
                        chunk,
                        ver,
                    );
                    let i = self.i - 1;
                    let body = body_chunk(self.seed, (self.b, i), u, (part, chunk), size, o.text);
                    let v = Version::put(&key, u.ts, 0, &body);
                    if o.fate == Fate::Deleted {
                        self.pending = Some(v);
                        return Some(Version::tombstone(&key, u.ts + (60_000 << 16)));
                    }
                    return Some(v);
                }
            }
            if self.i >= self.count {
                return None;
            }
            let o = self.walk.next(self.i);
            self.i += 1;
            self.chunks = chunk_list(&o).into_iter();
            self.obj = Some(o);
        }
    }
}

fn etag(seed: u64, b: usize, i: u64, o: &Obj, u: &Upload) -> String {
    let single = u.parts.len() == 1 && u.parts[0].2.len() == 1 && !u.multipart;
    if u.size == 0 {
        md5_hex(b"")
    } else if single {
        md5_hex(&body_chunk(seed, (b, i), u, (1, 0), u.size, o.text))
    } else {
        let d = md5_hex(format!("{seed}/{b}/{i}/{}", u.id).as_bytes());
        if u.multipart {
            format!("{d}-{}", u.parts.len())
        } else {
            d
        }
    }
}

fn manifest(seed: u64, b: usize, i: u64, o: &Obj, u: &Upload) -> Vec<u8> {
    let mut m = format!(
        r#"{{"upload_id":"{}","etag":"\"{}\"","size_bytes":{},"last_modified_hlc":{},"content_type":"{}""#,
        u.id,
        etag(seed, b, i, o, u),
        u.size,
        u.ts,
        o.content_type
    );
    if o.text {
        m.push_str(r#","cache_control":"no-cache""#);
    }
    if o.meta {
        m.push_str(&format!(
            r#","user_metadata":{{"origin":"gen","owner":"team-{}"}}"#,
            i % 17
        ));
    }
    if !u.parts.is_empty() {
        m.push_str(r#","parts":["#);
        for (k, (no, ver, chunks)) in u.parts.iter().enumerate() {
            if k > 0 {
                m.push(',');
            }
            let size: u64 = chunks.iter().sum();
            let sizes: Vec<String> = chunks.iter().map(u64::to_string).collect();
            m.push_str(&format!(
                r#"{{"part_no":{no},"etag":"\"{}\"","size_bytes":{size},"chunk_count":{},"chunk_sizes":[{}]"#,
                md5_hex(format!("{}/{no}", u.id).as_bytes()),
                chunks.len(),
                sizes.join(",")
            ));
            if *ver != 0 {
                m.push_str(&format!(r#","part_version":{ver}"#));
            }
            m.push('}');
        }
        m.push(']');
    }
    m.push('}');
    m.into_bytes()
}

/// The S3 families for `budget` bytes.
pub fn families(seed: u64, budget: u64) -> Vec<Family> {
    let mut out: Vec<Family> = Vec::new();
    let mut metas = Vec::new();
    let created = ts_ago(500 * 86_400_000, 0);
    for (b, def) in BUCKETS.iter().enumerate() {
        let share = budget * def.share / 100;
        let count = plan_count(seed, b, def.kind, share);
        let walk = || Walk {
            seed,
            b,
            kind: def.kind,
            left: share,
        };
        out.push(Box::new(Blobs {
            seed,
            bucket: def.name,
            b,
            count,
            walk: walk(),
            i: 0,
            obj: None,
            chunks: Vec::new().into_iter(),
            pending: None,
        }));
        let mut w = walk();
        let bucket = def.name;
        out.push(units(count, move |i, v| {
            let o = w.next(i);
            let key = s3::manifest(bucket.as_bytes(), 1, o.name.as_bytes());
            let last = o.uploads.len().saturating_sub(1);
            match o.fate {
                Fate::Deleted => {
                    let u = &o.uploads[0];
                    v.push(Version::tombstone(&key, u.ts + (60_000 << 16)));
                    v.push(Version::put(&key, u.ts, 0, &manifest(seed, b, i, &o, u)));
                }
                _ => {
                    // Newest first: the current upload, then the overwritten one.
                    for u in o.uploads.iter().rev() {
                        v.push(Version::put(&key, u.ts, 0, &manifest(seed, b, i, &o, u)));
                    }
                    debug_assert!(last < o.uploads.len());
                }
            }
        }));
    }
    for name in BUCKETS.iter().map(|d| d.name).chain(["empty-bucket"]) {
        metas.push(Version::put(
            &s3::bucket_gen(name.as_bytes()),
            created,
            0,
            &1u64.to_be_bytes(),
        ));
        metas.push(Version::put(
            &s3::bucket_meta(name.as_bytes()),
            created,
            0,
            &bucket_meta(name, 1, "gen", created),
        ));
    }
    out.push(fixed(metas));
    out
}
