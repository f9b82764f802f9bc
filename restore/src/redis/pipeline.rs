//! The write pipeline: commands for consecutive keys are buffered and sent in batches
//! (at most [`MAX_BATCH_COMMANDS`] commands or [`MAX_BATCH_BYTES`] bytes), then every reply
//! of the batch is read. Write replies are a few bytes each, so the server never blocks on
//! its output while a batch is being written. Each command remembers the key it belongs
//! to, so an error reply fails that key (once) with the server's message.

use super::client::{is_unknown_command, Client};
use super::commands::{CmdSink, Held, Role};
use super::kind::Kind;
use super::ratelimit::TokenBucket;
use super::resp::{self, Reply};
use super::RestoreError;
use elastickv_backup_engine::progress::counters;
use std::io::Read;
use std::sync::atomic::Ordering;

/// Commands per batch.
pub const MAX_BATCH_COMMANDS: usize = 1024;
/// Bytes per batch.
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// Error messages kept for the summary.
pub const MAX_MESSAGES: usize = 20;

/// What happened to the keys, per [`Kind`] (indexed by [`Kind::index`]).
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Keys whose commands were sent.
    pub written: [u64; 7],
    /// Of those, keys the server refused at least one command for.
    pub failed_writes: [u64; 7],
    /// Keys not written because of the dump (unreadable or malformed file, unmappable name)
    /// or a failed EXISTS check.
    pub failed_other: [u64; 7],
    /// Commands refused by the server.
    pub failed_commands: u64,
    /// The first [`MAX_MESSAGES`] failures, `<type dir> <file stem>: <why>`.
    pub messages: Vec<String>,
    /// Streams whose last ID (ahead of their last entry) could not be set: no XSETID.
    pub setid_unsupported: u64,
    /// Commands sent (writes, EXISTS checks).
    pub commands: u64,
}

impl Outcome {
    fn message(&mut self, kind: Kind, display: &str, why: &str) {
        if self.messages.len() < MAX_MESSAGES {
            self.messages
                .push(format!("{} {}: {}", kind.dir(), display, why));
        }
    }

    /// Records a key that was not written (the reason is the dump's or a failed check).
    pub fn fail_other(&mut self, kind: Kind, display: &str, why: &str) {
        self.failed_other[kind.index()] += 1;
        self.message(kind, display, why);
    }

    /// Keys failed, all causes.
    pub fn failed_total(&self) -> u64 {
        self.failed_writes.iter().chain(&self.failed_other).sum()
    }
}

/// A key with commands in the current batch.
struct Open {
    id: u64,
    kind: Kind,
    display: String,
}

/// Batches commands to one connection and accounts for their replies.
pub struct Pipe {
    client: Client,
    buf: Vec<u8>,
    roles: Vec<(u64, Role)>,
    open: Vec<Open>,
    next_id: u64,
    last_failed: Option<u64>,
    max_cmds: usize,
    limiter: Option<TokenBucket>,
    reported_bytes: u64,
    /// Results so far.
    pub outcome: Outcome,
}

impl Pipe {
    /// A pipeline over `client`, optionally rate-limited.
    pub fn new(client: Client, limiter: Option<TokenBucket>) -> Self {
        let max_cmds = limiter.as_ref().map_or(MAX_BATCH_COMMANDS, |l| {
            l.max_batch().clamp(1, MAX_BATCH_COMMANDS)
        });
        Pipe {
            client,
            buf: Vec::new(),
            roles: Vec::new(),
            open: Vec::new(),
            next_id: 0,
            last_failed: None,
            max_cmds,
            limiter,
            reported_bytes: 0,
            outcome: Outcome::default(),
        }
    }

    /// The connection (for setup commands between batches; call [`Pipe::flush`] first).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Starts a key: the commands that follow belong to it.
    pub fn begin_key(&mut self, kind: Kind, display: &str) {
        self.next_id += 1;
        self.outcome.written[kind.index()] += 1;
        counters().records.fetch_add(1, Ordering::Relaxed);
        self.open.push(Open {
            id: self.next_id,
            kind,
            display: display.to_string(),
        });
    }

    fn throttle(&mut self, n: usize) {
        if let Some(l) = &mut self.limiter {
            l.take(n);
        }
    }

    fn report_bytes(&mut self) {
        let now = self.client.sent_bytes();
        counters()
            .output_bytes
            .fetch_add(now - self.reported_bytes, Ordering::Relaxed);
        self.reported_bytes = now;
    }

    fn judge(&mut self, id: u64, role: Role, reply: &Reply) {
        let Some(msg) = reply.as_error() else {
            return;
        };
        if role == Role::SetId && is_unknown_command(msg) {
            self.outcome.setid_unsupported += 1;
            return;
        }
        self.outcome.failed_commands += 1;
        let Some(open) = self.open.iter().find(|o| o.id == id) else {
            return;
        };
        let (kind, display) = (open.kind, open.display.clone());
        if self.last_failed != Some(id) {
            self.last_failed = Some(id);
            self.outcome.failed_writes[kind.index()] += 1;
            self.outcome.message(kind, &display, msg);
        }
    }

    /// Sends the batch and reads its replies.
    pub fn flush(&mut self) -> Result<(), RestoreError> {
        if self.roles.is_empty() {
            return Ok(());
        }
        self.throttle(self.roles.len());
        self.client.send(&self.buf)?;
        self.buf.clear();
        let roles = std::mem::take(&mut self.roles);
        for &(id, role) in &roles {
            let reply = self.client.read_reply()?;
            self.judge(id, role, &reply);
        }
        self.roles = roles;
        self.roles.clear();
        let current = self.next_id;
        self.open.retain(|o| o.id == current);
        self.report_bytes();
        Ok(())
    }

    /// Sends `n` encoded commands at once (after the pending batch) and returns their
    /// replies: for checks such as EXISTS whose answers decide what to write.
    pub fn query(&mut self, encoded: &[u8], n: usize) -> Result<Vec<Reply>, RestoreError> {
        self.flush()?;
        self.throttle(n);
        self.outcome.commands += n as u64;
        let replies = self.client.call_many(encoded, n)?;
        self.report_bytes();
        Ok(replies)
    }

    /// Appends a key's held commands (the key must have been begun).
    pub fn release(&mut self, held: Held) -> Result<(), RestoreError> {
        let id = self.next_id;
        self.outcome.commands += held.roles.len() as u64;
        self.buf.extend_from_slice(&held.bytes);
        self.roles.extend(held.roles.into_iter().map(|r| (id, r)));
        self.maybe_flush()
    }

    /// `SET key <len bytes from src>`, streamed from the file without holding it in memory
    /// (for string bodies too large to buffer).
    pub fn set_streamed<R: Read>(
        &mut self,
        key: &[u8],
        src: &mut R,
        len: u64,
    ) -> Result<(), RestoreError> {
        self.flush()?;
        self.throttle(1);
        let mut head = Vec::new();
        resp::write_array_header(&mut head, 3);
        resp::write_bulk(&mut head, b"SET");
        resp::write_bulk(&mut head, key);
        resp::write_bulk_header(&mut head, len);
        self.client.send(&head)?;
        self.client.send_from(src, len)?;
        self.outcome.commands += 1;
        let reply = self.client.read_reply()?;
        self.judge(self.next_id, Role::Write, &reply);
        self.report_bytes();
        Ok(())
    }

    fn maybe_flush(&mut self) -> Result<(), RestoreError> {
        if self.roles.len() >= self.max_cmds || self.buf.len() >= MAX_BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

impl CmdSink for Pipe {
    fn command(&mut self, encoded: &[u8], role: Role) -> Result<(), RestoreError> {
        self.buf.extend_from_slice(encoded);
        self.roles.push((self.next_id, role));
        self.outcome.commands += 1;
        self.maybe_flush()
    }
}
