//! RESP2, the Redis wire protocol, both ways: commands are arrays of bulk strings; replies
//! are parsed from a buffered reader. Only what a restore and its checks need, which is
//! the whole of RESP2 (RESP3 is never requested, so never received).

use std::io::BufRead;

/// Appends one command (`*<n>` then one `$<len>` bulk string per argument).
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    write_array_header(out, args.len());
    for a in args {
        write_bulk(out, a);
    }
}

/// Appends `*<n>\r\n`, the head of an array of `n` arguments.
pub fn write_array_header(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    push_decimal(out, n as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string argument.
pub fn write_bulk(out: &mut Vec<u8>, arg: &[u8]) {
    write_bulk_header(out, arg.len() as u64);
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

/// Appends `$<len>\r\n`, the head of a bulk string whose bytes follow (then `\r\n`).
pub fn write_bulk_header(out: &mut Vec<u8>, len: u64) {
    out.push(b'$');
    push_decimal(out, len);
    out.extend_from_slice(b"\r\n");
}

fn push_decimal(out: &mut Vec<u8>, v: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    let mut v = v;
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`-style status line.
    Status(Vec<u8>),
    /// `-ERR …` error line (a per-command failure; the connection stays usable).
    Error(String),
    /// `:<n>` integer.
    Int(i64),
    /// `$<len>` bulk string; `None` for the null bulk `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*<n>` array; `None` for the null array `*-1`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The error text, if this is an error reply.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Reply::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// Longest bulk string or array accepted from a server (Redis' own proto-max-bulk-len).
const MAX_BULK: i64 = 512 << 20;
/// Deepest array nesting accepted (a check against garbage, not a Redis limit).
const MAX_DEPTH: usize = 64;

/// A reply that could not be parsed: the transport failed or the bytes are not RESP2.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed (includes timeouts and EOF).
    Io(std::io::Error),
    /// The bytes are not RESP2.
    Protocol(String),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads one complete reply.
pub fn read_reply<R: BufRead>(r: &mut R) -> Result<Reply, ReadError> {
    read_at_depth(r, 0)
}

fn read_line<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        )));
    }
    if line.len() < 2 || line[line.len() - 2] != b'\r' {
        return Err(ReadError::Protocol(format!(
            "reply line not terminated by CRLF: {:?}",
            String::from_utf8_lossy(&line)
        )));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(b: &[u8]) -> Result<i64, ReadError> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ReadError::Protocol(format!("bad integer {:?}", String::from_utf8_lossy(b))))
}

fn read_at_depth<R: BufRead>(r: &mut R, depth: usize) -> Result<Reply, ReadError> {
    if depth > MAX_DEPTH {
        return Err(ReadError::Protocol("reply nested too deeply".into()));
    }
    let line = read_line(r)?;
    let (&kind, rest) = line
        .split_first()
        .ok_or_else(|| ReadError::Protocol("empty reply line".into()))?;
    match kind {
        b'+' => Ok(Reply::Status(rest.to_vec())),
        b'-' => Ok(Reply::Error(String::from_utf8_lossy(rest).into_owned())),
        b':' => Ok(Reply::Int(parse_int(rest)?)),
        b'$' => {
            let n = parse_int(rest)?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            if n > MAX_BULK {
                return Err(ReadError::Protocol(format!("bulk reply of {n} bytes")));
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf)?;
            if !buf.ends_with(b"\r\n") {
                return Err(ReadError::Protocol(
                    "bulk reply not terminated by CRLF".into(),
                ));
            }
            buf.truncate(n as usize);
            Ok(Reply::Bulk(Some(buf)))
        }
        b'*' => {
            let n = parse_int(rest)?;
            if n < 0 {
                return Ok(Reply::Array(None));
            }
            if n > MAX_BULK {
                return Err(ReadError::Protocol(format!("array reply of {n} elements")));
            }
            let mut items = Vec::with_capacity((n as usize).min(4096));
            for _ in 0..n {
                items.push(read_at_depth(r, depth + 1)?);
            }
            Ok(Reply::Array(Some(items)))
        }
        other => Err(ReadError::Protocol(format!(
            "unknown reply type byte {:?}",
            other as char
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        let mut out = Vec::new();
        write_array_header(&mut out, 10);
        write_bulk_header(&mut out, 1234567);
        assert_eq!(out, b"*10\r\n$1234567\r\n");
    }

    #[test]
    fn parses_every_reply_type() {
        let mut r: &[u8] =
            b"+OK\r\n-ERR bad\r\n:-42\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n$1\r\nx\r\n*0\r\n*-1\r\n";
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Status(b"OK".to_vec()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Error("ERR bad".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Int(-42));
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Reply::Bulk(Some(b"a\r\n".to_vec()))
        );
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Bulk(None));
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"x".to_vec())),
                Reply::Array(Some(vec![]))
            ]))
        );
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Array(None));
        assert!(matches!(read_reply(&mut r), Err(ReadError::Io(_))));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"?x\r\n"[..],
            b"+OK\n",
            b":abc\r\n",
            b"$2\r\nabcd",
            b"\r\n",
        ] {
            let mut r = bad;
            assert!(
                read_reply(&mut r).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
