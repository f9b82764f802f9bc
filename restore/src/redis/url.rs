//! `--address`: `redis://[[user]:password@]host[:port][/db]` (or bare `host:port`), the
//! form every Redis tool accepts, so an operator can paste the URL they already use.
//! Parsed by the `url` crate (WHATWG rules: IPv6 hosts, %-escapes in the user info);
//! this module only maps the parts onto what `restore redis` does with them.

use url::Url;

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

/// Why an `--address` value cannot be used. Shown by clap after the value, so each says
/// what to write instead.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// Not a URL at all (bad characters, a port that is not a number 0-65535, …).
    #[error(
        "not a Redis URL ({0}); expected redis://[[user]:password@]host[:port][/db] or host:port"
    )]
    Malformed(#[from] url::ParseError),
    /// TLS or a Unix socket: not spoken by this client.
    #[error("only plain TCP (redis://) is supported; put a TLS tunnel (stunnel, ssh -L) in front")]
    UnsupportedScheme,
    /// Another scheme than `redis`.
    #[error("scheme {0:?} is not redis; expected redis://HOST:PORT")]
    WrongScheme(String),
    /// No host (`redis://:6379`).
    #[error("no host; expected redis://HOST:PORT")]
    NoHost,
    /// The path is not a database number.
    #[error("database {0:?} is not a number (the path of redis://host:port/DB)")]
    BadDatabase(String),
    /// A %-escape in the user or password decodes to invalid UTF-8.
    #[error("the user or password is not UTF-8 once %-escapes are decoded")]
    NotUtf8,
}

fn decode(s: &str) -> Result<String, AddressError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| AddressError::NotUtf8)
}

/// Parses an `--address` value (also its clap value parser).
pub fn parse(address: &str) -> Result<Target, AddressError> {
    let url = if address.contains("://") {
        Url::parse(address)?
    } else {
        Url::parse(&format!("redis://{address}"))?
    };
    match url.scheme() {
        "redis" => {}
        "rediss" | "unix" => return Err(AddressError::UnsupportedScheme),
        other => return Err(AddressError::WrongScheme(other.to_string())),
    }
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => return Err(AddressError::NoHost),
    };
    if host.is_empty() {
        return Err(AddressError::NoHost);
    }
    let port = url.port().unwrap_or(DEFAULT_PORT);
    let user = Some(decode(url.username())?).filter(|u| !u.is_empty());
    let password = url.password().map(decode).transpose()?;
    // `redis://secret@host`: a lone user-info is the password, as redis-cli reads it.
    let (user, password) = match (user, password) {
        (Some(u), None) => (None, Some(u)),
        other => other,
    };
    let path = url.path().trim_start_matches('/');
    let db = if path.is_empty() {
        None
    } else {
        Some(
            path.parse()
                .map_err(|_| AddressError::BadDatabase(path.to_string()))?,
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
        let t = parse("10.0.0.5:7000").unwrap();
        assert_eq!(t.address, "10.0.0.5:7000");
        let t = parse("redis://:s%40cret@h:1/3").unwrap();
        assert_eq!(t.password.as_deref(), Some("s@cret"));
        assert_eq!(t.user, None);
        assert_eq!(t.db, Some(3));
        let t = parse("redis://alice:pw@h:2").unwrap();
        assert_eq!(t.user.as_deref(), Some("alice"));
        assert_eq!(t.password.as_deref(), Some("pw"));
        let t = parse("redis://onlypw@h").unwrap();
        assert_eq!((t.user, t.password.as_deref()), (None, Some("onlypw")));
        let t = parse("redis://[::1]:7000/0").unwrap();
        assert_eq!(t.address, "[::1]:7000");
        assert_eq!(t.db, Some(0));
        let t = parse("redis://h:1?timeout=5#x").unwrap();
        assert_eq!((t.address.as_str(), t.db), ("h:1", None));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        type Check = fn(&AddressError) -> bool;
        let cases: [(&str, Check); 7] = [
            ("rediss://h:1", |e| {
                matches!(e, AddressError::UnsupportedScheme)
            }),
            ("http://h:1", |e| matches!(e, AddressError::WrongScheme(_))),
            ("redis://:1", |e| {
                matches!(e, AddressError::Malformed(_) | AddressError::NoHost)
            }),
            ("redis://h:x", |e| matches!(e, AddressError::Malformed(_))),
            ("redis://h:1/db", |e| {
                matches!(e, AddressError::BadDatabase(_))
            }),
            ("redis://[::1", |e| matches!(e, AddressError::Malformed(_))),
            ("redis://:%ff@h", |e| matches!(e, AddressError::NotUtf8)),
        ];
        for (a, want) in cases {
            match parse(a) {
                Ok(t) => panic!("{a}: accepted as {t:?}"),
                Err(e) => assert!(want(&e), "{a}: {e:?}"),
            }
        }
    }
}
