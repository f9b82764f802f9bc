//! Replays one key file at a time: read and check the file (first pass), decide from its
//! TTL and the mode whether to write it, then send its commands (second pass) through the
//! pipeline, followed by its expiry.

use super::collection::{self, Element};
use super::commands::{send, Chunker, CmdSink, Held, Role};
use super::hll::{walk_members, MEMBER_SET_MAGIC};
use super::json::JsonReader;
use super::kind::Kind;
use super::pipeline::Pipe;
use super::resp::{encode_command, Reply};
use super::source::Source;
use super::stream::{self, format_id};
use super::value::score_arg;
use super::{Mode, RestoreError};
use elastickv_backup_dumptree::redis::names::KeyFile as Named;
use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

/// Keys held back per EXISTS round trip in `--mode skip-existing`.
const GROUP_KEYS: usize = 256;
/// Bytes of held commands per EXISTS round trip.
const GROUP_BYTES: usize = 4 << 20;
/// Warnings kept for the summary (the rest are only counted).
const MAX_WARNINGS: usize = 20;

/// How expiries are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlMode {
    /// `PEXPIREAT key <ms>`: the dump's absolute time, exactly.
    Absolute,
    /// `PEXPIRE key <ms from now>`, for servers without PEXPIREAT (elastickv): computed
    /// when the command is built, so it can be late by the time a batch takes to send.
    Relative,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Keys not written on purpose, per [`Kind`].
#[derive(Debug, Default, Clone)]
pub struct Skips {
    /// Already expired (`expire_at_ms` ≤ now) and not `--preserve-ttl`.
    pub expired: [u64; 7],
    /// Present on the server (`--mode skip-existing`).
    pub existing: [u64; 7],
    /// Empty collections (Redis cannot hold an empty hash, list, set, zset; nor a stream
    /// with no entries and last ID 0-0).
    pub empty: [u64; 7],
}

/// What a key file turned out to hold after the first pass.
enum Job {
    /// Raw bytes for SET (strings, opaque HLL bodies).
    Blob,
    /// An elastickv member-set HLL: PFADD its members.
    HllMembers,
    /// A hash, list, set or zset with at least one element.
    Collection,
    /// A stream.
    Stream(stream::Summary),
}

struct Pending {
    kind: Kind,
    key: Vec<u8>,
    display: String,
    held: Held,
}

/// Replays key files into one database of the server.
pub struct Replayer {
    pipe: Pipe,
    mode: Mode,
    preserve_ttl: bool,
    ttl_mode: TtlMode,
    /// Keys skipped on purpose.
    pub skips: Skips,
    /// Notes for the operator (first [`MAX_WARNINGS`]).
    pub warnings: Vec<String>,
    /// All warnings, including those not kept.
    pub warning_count: u64,
    group: Vec<Pending>,
    group_bytes: usize,
}

fn format_err(src: &Source, why: impl Into<String>) -> RestoreError {
    RestoreError::format(src.path(), 0, why)
}

impl Replayer {
    /// A replayer writing through `pipe`.
    pub fn new(pipe: Pipe, mode: Mode, preserve_ttl: bool, ttl_mode: TtlMode) -> Self {
        Replayer {
            pipe,
            mode,
            preserve_ttl,
            ttl_mode,
            skips: Skips::default(),
            warnings: Vec::new(),
            warning_count: 0,
            group: Vec::new(),
            group_bytes: 0,
        }
    }

    /// The pipeline (for its outcome and connection).
    pub fn pipe(&mut self) -> &mut Pipe {
        &mut self.pipe
    }

    /// Records a note for the operator.
    pub fn warn(&mut self, w: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        }
    }

    /// Restores one key file. Problems with this file alone are counted and the run goes
    /// on; an error is returned only when the run cannot continue (connection lost).
    pub fn restore(&mut self, kind: Kind, named: &Named) -> Result<(), RestoreError> {
        let key = match &named.key {
            Ok(k) => k,
            Err(why) => {
                self.pipe
                    .outcome
                    .fail_other(kind, &named.stem, &why.to_string());
                return Ok(());
            }
        };
        match self.restore_key(kind, key, named) {
            Err(e) if e.is_per_file() => {
                self.pipe
                    .outcome
                    .fail_other(kind, &named.stem, &e.to_string());
                Ok(())
            }
            other => other,
        }
    }

    fn restore_key(&mut self, kind: Kind, key: &[u8], named: &Named) -> Result<(), RestoreError> {
        let src = Source::open(&named.path)?;
        let (job, ttl) = self.first_pass(kind, &src, named)?;
        let Some(job) = job else {
            self.skips.empty[kind.index()] += 1;
            return Ok(());
        };
        let ttl = ttl.filter(|&t| t != 0);
        if ttl.is_some_and(|t| t <= now_ms()) && !self.preserve_ttl {
            self.skips.expired[kind.index()] += 1;
            return Ok(());
        }
        let streamed_blob = matches!(job, Job::Blob) && !src.is_small();
        if self.mode == Mode::SkipExisting && src.is_small() {
            let mut held = Held::default();
            self.render(kind, key, &src, &job, ttl, &mut held)?;
            self.group_bytes += held.bytes.len();
            self.group.push(Pending {
                kind,
                key: key.to_vec(),
                display: named.stem.clone(),
                held,
            });
            if self.group.len() >= GROUP_KEYS || self.group_bytes >= GROUP_BYTES {
                self.resolve_group()?;
            }
            return Ok(());
        }
        if self.mode == Mode::SkipExisting {
            self.resolve_group()?;
            let mut enc = Vec::new();
            encode_command(&mut enc, &[b"EXISTS", key]);
            let reply = self.pipe.query(&enc, 1)?.pop();
            if !self.exists_says_absent(kind, &named.stem, reply) {
                return Ok(());
            }
        }
        self.pipe.begin_key(kind, &named.stem);
        if self.mode == Mode::Replace && !matches!(job, Job::Blob) {
            // SET replaces any value (and its TTL) by itself; everything else is merged
            // into what is there, so clear it first.
            send(&mut self.pipe, &[b"DEL", key], Role::Write)?;
        }
        if streamed_blob {
            let mut r = src.reader()?;
            self.pipe.set_streamed(key, &mut r, src.size())?;
            if let Some(t) = ttl {
                let ttl_mode = self.ttl_mode;
                expire(&mut self.pipe, ttl_mode, key, t)?;
            }
            return Ok(());
        }
        let ttl_mode = self.ttl_mode;
        render_into(kind, key, &src, &job, ttl, ttl_mode, &mut self.pipe)
    }

    /// Whether an EXISTS reply lets the key be written; counts the skip or failure if not.
    fn exists_says_absent(&mut self, kind: Kind, display: &str, reply: Option<Reply>) -> bool {
        match reply {
            Some(Reply::Int(0)) => true,
            Some(Reply::Int(_)) => {
                self.skips.existing[kind.index()] += 1;
                false
            }
            Some(Reply::Error(e)) => {
                self.pipe
                    .outcome
                    .fail_other(kind, display, &format!("EXISTS refused: {e}"));
                false
            }
            other => {
                self.pipe.outcome.fail_other(
                    kind,
                    display,
                    &format!("unexpected EXISTS reply {other:?}"),
                );
                false
            }
        }
    }

    fn render(
        &mut self,
        kind: Kind,
        key: &[u8],
        src: &Source,
        job: &Job,
        ttl: Option<u64>,
        held: &mut Held,
    ) -> Result<(), RestoreError> {
        render_into(kind, key, src, job, ttl, self.ttl_mode, held)
    }

    /// Checks the held keys with one EXISTS round trip and sends the absent ones.
    pub fn resolve_group(&mut self) -> Result<(), RestoreError> {
        if self.group.is_empty() {
            return Ok(());
        }
        let group = std::mem::take(&mut self.group);
        self.group_bytes = 0;
        let mut enc = Vec::new();
        for p in &group {
            encode_command(&mut enc, &[b"EXISTS", &p.key]);
        }
        let replies = self.pipe.query(&enc, group.len())?;
        for (p, reply) in group.into_iter().zip(replies) {
            if self.exists_says_absent(p.kind, &p.display, Some(reply)) {
                self.pipe.begin_key(p.kind, &p.display);
                self.pipe.release(p.held)?;
            }
        }
        Ok(())
    }

    /// Sends everything still held or buffered.
    pub fn finish(&mut self) -> Result<(), RestoreError> {
        self.resolve_group()?;
        self.pipe.flush()
    }

    /// Reads and checks the whole file once: what to write, and its expiry. `None` job:
    /// nothing Redis can hold (an empty collection).
    fn first_pass(
        &mut self,
        kind: Kind,
        src: &Source,
        named: &Named,
    ) -> Result<(Option<Job>, Option<u64>), RestoreError> {
        match kind {
            Kind::String => Ok((Some(Job::Blob), named.ttl)),
            Kind::Hll => {
                if src.head(MEMBER_SET_MAGIC.len())? != MEMBER_SET_MAGIC {
                    return Ok((Some(Job::Blob), named.ttl));
                }
                let mut r = src.reader()?;
                let mut magic = [0u8; 4];
                r.read_exact(&mut magic)
                    .map_err(|e| RestoreError::io(src.path(), e))?;
                match walk_members(&mut r, &mut |_| Ok(())) {
                    Ok(_) => Ok((Some(Job::HllMembers), named.ttl)),
                    Err(why) => {
                        self.warn(format!(
                            "{}: starts like an elastickv HLL member set but is not one ({why}); restored byte for byte with SET",
                            src.path().display()
                        ));
                        Ok((Some(Job::Blob), named.ttl))
                    }
                }
            }
            Kind::Hash | Kind::List | Kind::Set | Kind::Zset => {
                let mut r = JsonReader::new(src.reader()?, src.path());
                let h = collection::walk(&mut r, kind, &mut |_| Ok(()))?;
                Ok(((h.count > 0).then_some(Job::Collection), h.expire_at_ms))
            }
            Kind::Stream => {
                let mut r = JsonReader::new(src.reader()?, src.path());
                let s = stream::walk(&mut r, &mut |_| Ok(()))?;
                if !s.ascending {
                    return Err(format_err(
                        src,
                        "stream entry IDs do not strictly increase (XADD would refuse them)",
                    ));
                }
                if s.meta.length != s.entries as i64 {
                    self.warn(format!(
                        "{}: meta length {} but {} entries; the entries are restored",
                        src.path().display(),
                        s.meta.length,
                        s.entries
                    ));
                }
                if s.entries == 0 && s.meta.last_id == (0, 0) {
                    return Ok((None, s.meta.expire_at_ms));
                }
                let ttl = s.meta.expire_at_ms;
                Ok((Some(Job::Stream(s)), ttl))
            }
        }
    }
}

/// Sends the expiry command.
fn expire<S: CmdSink + ?Sized>(
    sink: &mut S,
    mode: TtlMode,
    key: &[u8],
    at_ms: u64,
) -> Result<(), RestoreError> {
    let at = at_ms.min(i64::MAX as u64);
    match mode {
        TtlMode::Absolute => {
            let t = at.to_string();
            send(sink, &[b"PEXPIREAT", key, t.as_bytes()], Role::Write)
        }
        TtlMode::Relative => {
            // ≤ 0 deletes the key at once, as PEXPIREAT with a past time would.
            let rel = at.saturating_sub(now_ms()).to_string();
            send(sink, &[b"PEXPIRE", key, rel.as_bytes()], Role::Write)
        }
    }
}

/// The second pass: the key's write commands, then its expiry.
fn render_into<S: CmdSink>(
    kind: Kind,
    key: &[u8],
    src: &Source,
    job: &Job,
    ttl: Option<u64>,
    ttl_mode: TtlMode,
    sink: &mut S,
) -> Result<(), RestoreError> {
    match job {
        Job::Blob => {
            let mut body = Vec::with_capacity(src.size() as usize);
            src.reader()?
                .read_to_end(&mut body)
                .map_err(|e| RestoreError::io(src.path(), e))?;
            send(sink, &[b"SET", key, &body], Role::Write)?;
        }
        Job::HllMembers => {
            let mut r = src.reader()?;
            let mut magic = [0u8; 4];
            r.read_exact(&mut magic)
                .map_err(|e| RestoreError::io(src.path(), e))?;
            let mut ch = Chunker::new(&[b"PFADD", key]);
            let mut failure = None;
            let n = walk_members(&mut r, &mut |m| {
                ch.push(&[&m], sink).map_err(|e| {
                    let s = e.to_string();
                    failure = Some(e);
                    s
                })
            });
            if let Some(e) = failure {
                return Err(e);
            }
            let n = n.map_err(|why| format_err(src, why))?;
            if n == 0 {
                send(sink, &[b"PFADD", key], Role::Write)?;
            }
            ch.flush(sink)?;
        }
        Job::Collection => {
            let cmd: &[u8] = match kind {
                Kind::Hash => b"HSET",
                Kind::List => b"RPUSH",
                Kind::Set => b"SADD",
                _ => b"ZADD",
            };
            let mut ch = Chunker::new(&[cmd, key]);
            let mut r = JsonReader::new(src.reader()?, src.path());
            collection::walk(&mut r, kind, &mut |e| match e {
                Element::Field(n, v) => ch.push(&[&n, &v], sink),
                Element::Item(i) => ch.push(&[&i], sink),
                Element::Scored(m, s) => ch.push(&[score_arg(s).as_bytes(), &m], sink),
            })?;
            ch.flush(sink)?;
        }
        Job::Stream(summary) => {
            let mut r = JsonReader::new(src.reader()?, src.path());
            stream::walk(&mut r, &mut |e| {
                let id = format_id(e.id);
                let mut args: Vec<&[u8]> = Vec::with_capacity(3 + 2 * e.fields.len());
                args.extend([&b"XADD"[..], key, id.as_bytes()]);
                for (n, v) in &e.fields {
                    args.push(n);
                    args.push(v);
                }
                send(sink, &args, Role::Write)
            })?;
            let last = format_id(summary.meta.last_id);
            match summary.max_id {
                // No entries: add one at the last ID and trim it away in the same command,
                // which leaves an empty stream whose last ID is right.
                None => send(
                    sink,
                    &[b"XADD", key, b"MAXLEN", b"0", last.as_bytes(), b"_", b""],
                    Role::Write,
                )?,
                Some(max) if max < summary.meta.last_id => {
                    send(sink, &[b"XSETID", key, last.as_bytes()], Role::SetId)?
                }
                Some(_) => {}
            }
        }
    }
    if let Some(t) = ttl {
        expire(sink, ttl_mode, key, t)?;
    }
    Ok(())
}
