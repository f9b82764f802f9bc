//! A small blocking RESP2 client: one TCP connection, commands written in pipelined
//! batches and their replies read back in order. Enough for Redis and for elastickv's
//! Redis adapter; no connection pool, no cluster redirects, no RESP3.

use super::resp::{self, ReadError, Reply};
use super::url::Target;
use super::RestoreError;
use std::io::{BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Socket buffer for replies.
const READ_BUF: usize = 64 << 10;

/// One connection to a Redis-protocol server.
pub struct Client {
    address: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    sent_bytes: u64,
}

impl Client {
    /// Connects (trying each resolved address), then authenticates if the target has a
    /// password. `timeout` bounds the connect and every later read or write, so a stalled
    /// server fails the run instead of hanging it.
    pub fn connect(target: &Target, timeout: Duration) -> Result<Self, RestoreError> {
        let address = target.address.clone();
        let conn_err = |what, source| RestoreError::Connection {
            address: address.clone(),
            what,
            source,
        };
        let addrs = target
            .address
            .to_socket_addrs()
            .map_err(|e| conn_err("resolving the host", e))?;
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address resolved");
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| conn_err("connecting", last))?;
        stream
            .set_nodelay(true)
            .and_then(|_| stream.set_read_timeout(Some(timeout)))
            .and_then(|_| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| conn_err("configuring the socket", e))?;
        let writer = stream
            .try_clone()
            .map_err(|e| conn_err("configuring the socket", e))?;
        let mut c = Client {
            address: address.clone(),
            reader: BufReader::with_capacity(READ_BUF, stream),
            writer,
            sent_bytes: 0,
        };
        if let Some(pw) = &target.password {
            let reply = match &target.user {
                Some(u) => c.call(&[b"AUTH", u.as_bytes(), pw.as_bytes()])?,
                None => c.call(&[b"AUTH", pw.as_bytes()])?,
            };
            if let Some(e) = reply.as_error() {
                return Err(RestoreError::Refused {
                    address,
                    command: "AUTH",
                    message: e.to_string(),
                });
            }
        }
        Ok(c)
    }

    /// `host:port` of the server.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Bytes written to the server so far.
    pub fn sent_bytes(&self) -> u64 {
        self.sent_bytes
    }

    fn conn_err(&self, what: &'static str, source: std::io::Error) -> RestoreError {
        RestoreError::Connection {
            address: self.address.clone(),
            what,
            source,
        }
    }

    /// Writes already-encoded commands (their replies are read with [`Client::read_reply`]).
    pub fn send(&mut self, encoded: &[u8]) -> Result<(), RestoreError> {
        self.writer
            .write_all(encoded)
            .map_err(|e| self.conn_err("sending commands", e))?;
        self.sent_bytes += encoded.len() as u64;
        Ok(())
    }

    /// Writes `len` bytes read from `src` as the body of a bulk string whose header the
    /// caller has sent (then the closing CRLF), without holding them in memory. A read
    /// failure here is fatal: the command is half written and the connection unusable.
    pub fn send_from<R: Read>(&mut self, src: &mut R, len: u64) -> Result<(), RestoreError> {
        let mut buf = vec![0u8; 256 << 10];
        let mut left = len;
        while left > 0 {
            let want = (left as usize).min(buf.len());
            let chunk = &mut buf[..want];
            src.read_exact(chunk)
                .map_err(|e| self.conn_err("streaming a dump file (command cut short)", e))?;
            self.send(chunk)?;
            left -= want as u64;
        }
        self.send(b"\r\n")
    }

    /// Reads the next reply.
    pub fn read_reply(&mut self) -> Result<Reply, RestoreError> {
        resp::read_reply(&mut self.reader).map_err(|e| match e {
            ReadError::Io(e) => self.conn_err("reading replies", e),
            ReadError::Protocol(why) => RestoreError::Protocol {
                address: self.address.clone(),
                why,
            },
        })
    }

    /// One command, one reply (a round trip; for setup and checks, not for bulk writes).
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Reply, RestoreError> {
        let mut buf = Vec::new();
        resp::encode_command(&mut buf, args);
        self.send(&buf)?;
        self.read_reply()
    }

    /// Several commands in one round trip; their replies in order.
    pub fn call_many(&mut self, encoded: &[u8], n: usize) -> Result<Vec<Reply>, RestoreError> {
        self.send(encoded)?;
        (0..n).map(|_| self.read_reply()).collect()
    }

    /// `SELECT db`; a refusal stops the restore (writing into another database would be
    /// worse than not writing).
    pub fn select(&mut self, db: u32) -> Result<(), RestoreError> {
        let n = db.to_string();
        let reply = self.call(&[b"SELECT", n.as_bytes()])?;
        match reply.as_error() {
            Some(e) => Err(RestoreError::Refused {
                address: self.address.clone(),
                command: "SELECT",
                message: e.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// Whether an error reply means "this server has no such command" (Redis says `unknown
/// command`, elastickv `unsupported command`).
pub fn is_unknown_command(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("unknown command") || m.contains("unsupported command")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_missing_commands() {
        assert!(is_unknown_command(
            "ERR unknown command 'PEXPIREAT', with args beginning with: "
        ));
        assert!(is_unknown_command("ERR unsupported command 'XSETID'"));
        assert!(!is_unknown_command("WRONGTYPE Operation against a key"));
    }
}
