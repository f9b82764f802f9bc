//! The Redis adapter's errors. Each message ends in upstream's sentinel text (e.g.
//! `backup: invalid !redis|ttl| value`) so operators and the golden harness recognise the
//! failure, and names the key and what is wrong with it.

use std::fmt::Write as _;

/// Why the Redis adapter stopped.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// A value that does not decode. `family` is the key prefix (`!redis|str|`,
    /// `!hs|meta|`, …), as in upstream's message.
    #[error("{detail} (redis key {key}): backup: invalid {family} value")]
    InvalidValue {
        /// Key prefix of the record.
        family: &'static str,
        /// The Redis user key, quoted.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// A key whose layout cannot be parsed (truncated length prefix, short tail).
    #[error("{what} key: {key}: backup: malformed {family} key")]
    MalformedKey {
        /// Family prefix as upstream names it (`!hs|`, `!lst|`, `!st|`, `!zs|`, `!stream|`).
        family: &'static str,
        /// Which record kind (`meta`, `field`, `item`, `member`, `entry`).
        what: &'static str,
        /// The whole internal key, quoted.
        key: String,
    },
    /// The scratch space (temporary files outside the output tree) failed.
    #[error("redis: scratch file for {what}: {source}")]
    Scratch {
        /// What the scratch file was for.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Entries arrived out of key order, or scratch data did not read back as written.
    #[error("redis: internal error: {0}")]
    Internal(String),
}

impl RedisError {
    /// An invalid value of `family` for user key `uk`.
    pub fn value(family: &'static str, uk: &[u8], detail: impl Into<String>) -> Self {
        RedisError::InvalidValue {
            family,
            key: quote(uk),
            detail: detail.into(),
        }
    }

    /// A malformed key of `family` (the whole internal key `key`).
    pub fn key(family: &'static str, what: &'static str, key: &[u8]) -> Self {
        RedisError::MalformedKey {
            family,
            what,
            key: quote(key),
        }
    }

    /// A scratch-file I/O failure.
    pub fn scratch(what: &'static str, source: std::io::Error) -> Self {
        RedisError::Scratch { what, source }
    }
}

/// Go-`%q`-like quoting of arbitrary bytes: printable ASCII as is, the rest `\xNN`, so a
/// binary key is readable and unambiguous in a message.
pub fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_upstream_text() {
        let e = RedisError::value("!redis|ttl|", b"k\xff", "length 7 != 8");
        assert_eq!(
            e.to_string(),
            "length 7 != 8 (redis key \"k\\xff\"): backup: invalid !redis|ttl| value"
        );
        let e = RedisError::key("!hs|", "meta", b"!hs|meta|\x00");
        assert_eq!(
            e.to_string(),
            "meta key: \"!hs|meta|\\x00\": backup: malformed !hs| key"
        );
    }
}
