//! Building the write commands: a sink that takes encoded commands (the pipeline, or a
//! per-key buffer while `--mode skip-existing` waits for EXISTS), and a chunker that splits
//! one big variadic command (HSET/RPUSH/SADD/ZADD/PFADD with a million arguments) into
//! commands of bounded size.

use super::resp::{write_array_header, write_bulk};
use super::RestoreError;

/// Arguments per variadic command (after the command name and key).
pub const MAX_ARGS: usize = 1024;
/// Bytes of arguments per variadic command.
pub const MAX_ARG_BYTES: usize = 1 << 20;

/// How a command's error reply is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An error fails the key.
    Write,
    /// XSETID: a server without the command only costs the stream its last-ID (a warning);
    /// any other error fails the key.
    SetId,
}

/// Takes encoded commands for the key being restored.
pub trait CmdSink {
    /// Appends one encoded command.
    fn command(&mut self, encoded: &[u8], role: Role) -> Result<(), RestoreError>;
}

/// Encodes and sends one fixed command.
pub fn send<S: CmdSink + ?Sized>(
    sink: &mut S,
    args: &[&[u8]],
    role: Role,
) -> Result<(), RestoreError> {
    let mut buf = Vec::new();
    super::resp::encode_command(&mut buf, args);
    sink.command(&buf, role)
}

/// Accumulates the arguments of a variadic command, emitting a full command every
/// [`MAX_ARGS`] arguments or [`MAX_ARG_BYTES`] bytes (groups pushed together — a field and
/// its value — are never split).
pub struct Chunker {
    prefix: Vec<Vec<u8>>,
    body: Vec<u8>,
    nargs: usize,
    scratch: Vec<u8>,
}

impl Chunker {
    /// A chunker for `prefix` (command name, key).
    pub fn new(prefix: &[&[u8]]) -> Self {
        Chunker {
            prefix: prefix.iter().map(|p| p.to_vec()).collect(),
            body: Vec::new(),
            nargs: 0,
            scratch: Vec::new(),
        }
    }

    /// Adds one group of arguments.
    pub fn push<S: CmdSink + ?Sized>(
        &mut self,
        args: &[&[u8]],
        sink: &mut S,
    ) -> Result<(), RestoreError> {
        for a in args {
            write_bulk(&mut self.body, a);
        }
        self.nargs += args.len();
        if self.nargs >= MAX_ARGS || self.body.len() >= MAX_ARG_BYTES {
            self.flush(sink)?;
        }
        Ok(())
    }

    /// Emits what has accumulated (nothing if empty).
    pub fn flush<S: CmdSink + ?Sized>(&mut self, sink: &mut S) -> Result<(), RestoreError> {
        if self.nargs == 0 {
            return Ok(());
        }
        self.scratch.clear();
        write_array_header(&mut self.scratch, self.prefix.len() + self.nargs);
        for p in &self.prefix {
            write_bulk(&mut self.scratch, p);
        }
        self.scratch.extend_from_slice(&self.body);
        self.body.clear();
        self.nargs = 0;
        sink.command(&self.scratch, Role::Write)
    }
}

/// Encoded commands held back (per key) until it is known whether to send them.
#[derive(Debug, Default)]
pub struct Held {
    /// The commands, back to back.
    pub bytes: Vec<u8>,
    /// One role per command.
    pub roles: Vec<Role>,
}

impl CmdSink for Held {
    fn command(&mut self, encoded: &[u8], role: Role) -> Result<(), RestoreError> {
        self.bytes.extend_from_slice(encoded);
        self.roles.push(role);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::resp::{read_reply, Reply};

    /// Parses held commands back (a command is an array of bulks, like a reply).
    fn decode(h: &Held) -> Vec<Vec<Vec<u8>>> {
        let mut r = h.bytes.as_slice();
        let mut out = Vec::new();
        while !r.is_empty() {
            match read_reply(&mut r).unwrap() {
                Reply::Array(Some(items)) => out.push(
                    items
                        .into_iter()
                        .map(|i| match i {
                            Reply::Bulk(Some(b)) => b,
                            other => panic!("{other:?}"),
                        })
                        .collect(),
                ),
                other => panic!("{other:?}"),
            }
        }
        out
    }

    #[test]
    fn splits_without_breaking_pairs() {
        let mut h = Held::default();
        let mut c = Chunker::new(&[b"HSET", b"k"]);
        for i in 0..1500u32 {
            let f = format!("f{i}");
            c.push(&[f.as_bytes(), b"v"], &mut h).unwrap();
        }
        c.flush(&mut h).unwrap();
        c.flush(&mut h).unwrap();
        let cmds = decode(&h);
        assert_eq!(cmds.len(), 3);
        assert_eq!(h.roles, vec![Role::Write; 3]);
        assert_eq!(cmds[0].len(), 2 + MAX_ARGS);
        assert_eq!(
            &cmds[0][..3],
            &[b"HSET".to_vec(), b"k".to_vec(), b"f0".to_vec()]
        );
        let total: usize = cmds.iter().map(|c| (c.len() - 2) / 2).sum();
        assert_eq!(total, 1500);
        assert!(cmds.iter().all(|c| c.len() % 2 == 0));
    }

    #[test]
    fn big_arguments_flush_early() {
        let mut h = Held::default();
        let mut c = Chunker::new(&[b"RPUSH", b"k"]);
        let big = vec![b'x'; MAX_ARG_BYTES / 2 + 1];
        for _ in 0..3 {
            c.push(&[&big], &mut h).unwrap();
        }
        c.flush(&mut h).unwrap();
        let cmds = decode(&h);
        assert_eq!(
            cmds.iter().map(|c| c.len() - 2).collect::<Vec<_>>(),
            vec![2, 1]
        );
    }
}
