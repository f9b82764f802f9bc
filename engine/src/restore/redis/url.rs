//! `--address`: `redis://[[user]:password@]host[:port][/db]` (or bare `host:port`), the
//! form every Redis tool accepts, so an operator can paste the URL they already use.

use super::RestoreError;

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` for `TcpStream::connect` and for messages.
    pub address: String,
    /// ACL user name (Redis 6+), if the URL names one.
    pub user: Option<String>,
    /// Password for `AUTH`, if the URL has one.
    pub password: Option<String>,
    /// Database number from the URL path, if any.
    pub db: Option<u32>,
}

/// Default Redis port.
pub const DEFAULT_PORT: u16 = 6379;

fn bad(address: &str, why: impl Into<String>) -> RestoreError {
    RestoreError::Address {
        address: address.to_string(),
        why: why.into(),
    }
}

fn percent_decode(address: &str, s: &str) -> Result<String, RestoreError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(address, "malformed %-escape in the user or password"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(address, "user or password is not UTF-8"))
}

/// Parses an `--address` value.
pub fn parse(address: &str) -> Result<Target, RestoreError> {
    let rest = if let Some(r) = address.strip_prefix("redis://") {
        r
    } else if address.starts_with("rediss://") || address.starts_with("unix://") {
        return Err(bad(
            address,
            "only plain TCP (redis://) is supported; put a TLS tunnel (stunnel, ssh -L) in front",
        ));
    } else if address.contains("://") {
        return Err(bad(address, "expected redis://HOST:PORT"));
    } else {
        address
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => match ui.split_once(':') {
            Some((u, p)) => (
                Some(percent_decode(address, u)?).filter(|u| !u.is_empty()),
                Some(percent_decode(address, p)?),
            ),
            None => (None, Some(percent_decode(address, ui)?)),
        },
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        // [ipv6]:port
        let (h, tail) = h
            .split_once(']')
            .ok_or_else(|| bad(address, "unterminated [IPv6] host"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p,
            None if tail.is_empty() => "",
            None => return Err(bad(address, "junk after the [IPv6] host")),
        };
        (format!("[{h}]"), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(bad(address, "no host"));
    }
    let port: u16 = if port.is_empty() {
        DEFAULT_PORT
    } else {
        port.parse()
            .map_err(|_| bad(address, format!("port {port:?} is not a number 0-65535")))?
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let db = if path.is_empty() {
        None
    } else {
        Some(
            path.parse()
                .map_err(|_| bad(address, format!("database {path:?} is not a number")))?,
        )
    };
    Ok(Target {
        address: format!("{host}:{port}"),
        user,
        password,
        db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let t = parse("redis://127.0.0.1:6380").unwrap();
        assert_eq!(t.address, "127.0.0.1:6380");
        assert_eq!((t.user, t.password, t.db), (None, None, None));
        let t = parse("localhost").unwrap();
        assert_eq!(t.address, "localhost:6379");
        let t = parse("redis://:s%40cret@h:1/3").unwrap();
        assert_eq!(t.password.as_deref(), Some("s@cret"));
        assert_eq!(t.user, None);
        assert_eq!(t.db, Some(3));
        let t = parse("redis://alice:pw@h:2").unwrap();
        assert_eq!(t.user.as_deref(), Some("alice"));
        assert_eq!(t.password.as_deref(), Some("pw"));
        let t = parse("redis://[::1]:7000/0").unwrap();
        assert_eq!(t.address, "[::1]:7000");
        assert_eq!(t.db, Some(0));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        for a in [
            "rediss://h:1",
            "http://h:1",
            "redis://:1",
            "redis://h:x",
            "redis://h:1/db",
            "redis://[::1",
        ] {
            assert!(parse(a).is_err(), "{a}");
        }
    }
}
