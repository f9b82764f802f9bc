//! TLS for the gRPC connections of a live dump and of the loopback server: which addresses
//! are dialled with TLS, the client's trust roots and certificate (`dump --ca-cert
//! --client-cert --client-key`), the server's identity (`serve --tls-cert --tls-key
//! [--tls-client-ca]`), and what a failed connection says about TLS.
//!
//! rustls (ring) through tonic: no OpenSSL at run time. Without `--ca-cert` the system's
//! roots are trusted. A dump never falls back to plaintext for an address marked TLS, and
//! never sends the bearer token over a connection it did not secure as asked.

use super::error::LiveError;
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The client's TLS files, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// PEM bundle of the CA(s) that sign the nodes' certificates (`--ca-cert`); `None` =
    /// the system roots.
    pub ca_cert: Option<PathBuf>,
    /// PEM certificate chain presented to nodes that require client certificates.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

impl ClientTlsFiles {
    /// Whether any TLS file was given: then addresses without a scheme are dialled with
    /// TLS too (giving a CA or a client certificate and speaking plaintext would be a
    /// silent downgrade).
    pub fn any(&self) -> bool {
        self.ca_cert.is_some() || self.client_cert.is_some() || self.client_key.is_some()
    }

    /// Reads and checks the files into tonic's client configuration.
    ///
    /// Errors: [`LiveError::TlsConfig`] naming the file that is missing, unreadable or not
    /// PEM of the expected kind, or the flag given without its partner.
    pub fn load(&self) -> Result<ClientTlsConfig, LiveError> {
        let mut cfg = ClientTlsConfig::new();
        cfg = match &self.ca_cert {
            Some(ca) => cfg.ca_certificate(Certificate::from_pem(read_pem(ca, PemKind::Cert)?)),
            None => cfg.with_native_roots(),
        };
        match (&self.client_cert, &self.client_key) {
            (Some(c), Some(k)) => {
                let cert = read_pem(c, PemKind::Cert)?;
                let key = read_pem(k, PemKind::Key)?;
                cfg = cfg.identity(Identity::from_pem(cert, key));
            }
            (None, None) => {}
            (Some(c), None) => return Err(missing_partner(c, "--client-key")),
            (None, Some(k)) => return Err(missing_partner(k, "--client-cert")),
        }
        Ok(cfg)
    }

    /// The files given, for error messages about the configuration as a whole.
    pub fn describe(&self) -> String {
        let names: Vec<String> = [&self.ca_cert, &self.client_cert, &self.client_key]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        if names.is_empty() {
            "system trust roots".into()
        } else {
            names.join(", ")
        }
    }
}

fn missing_partner(given: &Path, partner: &str) -> LiveError {
    LiveError::TlsConfig {
        file: given.display().to_string(),
        detail: format!("a client certificate needs its key and vice versa: also pass {partner}"),
    }
}

/// The loopback server's TLS files (`serve --tls-cert --tls-key [--tls-client-ca]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    /// PEM certificate chain of the listener.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// PEM CA bundle; when given, every client must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
}

impl ServerTlsFiles {
    /// Reads and checks the files into tonic's server configuration.
    ///
    /// Errors: [`LiveError::TlsConfig`] naming the file that is missing, unreadable or not
    /// PEM of the expected kind.
    pub fn load(&self) -> Result<ServerTlsConfig, LiveError> {
        let cert = read_pem(&self.cert, PemKind::Cert)?;
        let key = read_pem(&self.key, PemKind::Key)?;
        let mut cfg = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &self.client_ca {
            cfg = cfg
                .client_ca_root(Certificate::from_pem(read_pem(ca, PemKind::Cert)?))
                .client_auth_optional(false);
        }
        Ok(cfg)
    }

    /// The files, for error messages.
    pub fn describe(&self) -> String {
        format!("{}, {}", self.cert.display(), self.key.display())
    }
}

/// What a PEM file must hold.
#[derive(Debug, Clone, Copy)]
enum PemKind {
    Cert,
    Key,
}

/// Reads `path` and checks it holds a PEM block of `kind`, so a swapped or truncated file
/// is reported by name before any connection is tried.
fn read_pem(path: &Path, kind: PemKind) -> Result<Vec<u8>, LiveError> {
    let bad = |detail: String| LiveError::TlsConfig {
        file: path.display().to_string(),
        detail,
    };
    let raw = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let text = String::from_utf8_lossy(&raw);
    let ok = match kind {
        PemKind::Cert => text.contains("-----BEGIN CERTIFICATE-----"),
        PemKind::Key => text
            .lines()
            .any(|l| l.starts_with("-----BEGIN ") && l.ends_with("PRIVATE KEY-----")),
    };
    if !ok {
        return Err(bad(match kind {
            PemKind::Cert => {
                "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)".into()
            }
            PemKind::Key => {
                "no PEM private key in it (expected -----BEGIN … PRIVATE KEY-----)".into()
            }
        }));
    }
    Ok(raw)
}

/// How one address is dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URI given to the channel.
    pub uri: String,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// `host:port`, for hints.
    pub host: String,
}

/// The URI and transport of `address`: `https://` is TLS, `http://` plaintext; without a
/// scheme, TLS exactly when `tls_default` (some seed is `https://` or a TLS file was given).
///
/// Errors: [`LiveError::Connect`] for a scheme other than http/https.
pub fn target(address: &str, tls_default: bool) -> Result<Target, LiveError> {
    let lower = address.to_ascii_lowercase();
    let (tls, host) = if let Some(rest) = lower.strip_prefix("https://") {
        (
            true,
            address.get(address.len() - rest.len()..).unwrap_or(rest),
        )
    } else if let Some(rest) = lower.strip_prefix("http://") {
        (
            false,
            address.get(address.len() - rest.len()..).unwrap_or(rest),
        )
    } else if address.contains("://") {
        return Err(LiveError::Connect {
            address: address.to_string(),
            message: "unsupported scheme: use host:port, http://host:port or https://host:port"
                .into(),
        });
    } else {
        (tls_default, address)
    };
    let host = host.trim_end_matches('/').to_string();
    let scheme = if tls { "https" } else { "http" };
    Ok(Target {
        uri: format!("{scheme}://{host}"),
        tls,
        host,
    })
}

/// Whether any of `seeds` is marked `https://`.
pub fn any_https(seeds: &[String]) -> bool {
    seeds
        .iter()
        .any(|s| s.to_ascii_lowercase().starts_with("https://"))
}

/// Every message in `e`'s source chain, outermost first, joined with `: `.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.last().is_some_and(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Whether the failure was a refused or unreachable TCP connection (no TLS involved).
fn tcp_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable
            ) {
                return true;
            }
        }
        cur = s.source();
    }
    false
}

/// The error of an eager connection to `t` that failed with `e`. A refused, unreachable
/// or timed-out TCP connection is [`LiveError::Connect`]; anything after TCP connected is
/// the protocols disagreeing: over TLS the handshake's fault ([`LiveError::TlsHandshake`]),
/// in plaintext a peer that is not plaintext gRPC ([`LiveError::NotPlaintext`]).
pub fn connect_failure(address: &str, t: &Target, e: &tonic::transport::Error) -> LiveError {
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    let unreachable = ["timed out", "dns error", "failed to lookup"]
        .iter()
        .any(|h| lower.contains(h));
    if tcp_failure(e) || unreachable {
        return LiveError::Connect {
            address: address.to_string(),
            message: detail,
        };
    }
    if t.tls {
        LiveError::TlsHandshake {
            endpoint: address.to_string(),
            detail,
        }
    } else {
        LiveError::NotPlaintext {
            endpoint: address.to_string(),
            host: t.host.clone(),
            detail,
        }
    }
}

/// Whether a failed call broke at the transport (no gRPC answer at all): what a first call
/// sees when the peer speaks another protocol — a TLS listener answers the HTTP/2 preface
/// with an alert and closes; a TLS 1.3 server refuses a client certificate after the
/// handshake.
pub fn broken_transport(s: &tonic::Status) -> bool {
    let m = status_detail(s).to_ascii_lowercase();
    !m.contains("connection refused")
        && [
            "frame with invalid size",
            "invalid http version",
            "protocol error",
            "connection closed",
            "connection reset",
            "broken pipe",
            "transport error",
            "tls",
            "certificate",
        ]
        .iter()
        .any(|h| m.contains(h))
}

/// A status's code, message and the chain of errors under it.
pub fn status_detail(s: &tonic::Status) -> String {
    use std::error::Error as _;
    match s.source() {
        Some(src) => format!("{:?}: {}: {}", s.code(), s.message(), chain(src)),
        None => format!("{:?}: {}", s.code(), s.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_the_scheme_or_the_default() {
        let t = |a: &str, d: bool| target(a, d).unwrap();
        assert_eq!(
            t("https://n1:7000", false),
            Target {
                uri: "https://n1:7000".into(),
                tls: true,
                host: "n1:7000".into()
            }
        );
        assert!(!t("http://n1:7000", true).tls);
        assert!(t("n1:7000", true).tls);
        assert_eq!(t("n1:7000", false).uri, "http://n1:7000");
        assert_eq!(t("HTTPS://N1:7000/", false).uri, "https://N1:7000");
        assert!(target("unix:///tmp/x", false).is_err());
        assert!(any_https(&["a:1".into(), "HTTPS://b:2".into()]));
        assert!(!any_https(&["a:1".into()]));
    }

    #[test]
    fn broken_transports_are_told_from_answers() {
        use tonic::Status;
        for s in [
            Status::unknown("transport error"),
            Status::cancelled("operation was canceled: connection closed"),
            Status::internal("h2 protocol error: frame with invalid size"),
        ] {
            assert!(broken_transport(&s), "{s:?}");
        }
        for s in [
            Status::unavailable("tcp connect error: connection refused"),
            Status::permission_denied("invalid admin token"),
            Status::unimplemented("ListRoutes"),
        ] {
            assert!(!broken_transport(&s), "{s:?}");
        }
    }

    #[test]
    fn files_are_checked_by_name() {
        let d = tempfile::tempdir().unwrap();
        let cert = d.path().join("c.pem");
        let key = d.path().join("k.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let missing = d.path().join("nope.pem");
        let err = |f: ClientTlsFiles| f.load().unwrap_err().to_string();
        let e = err(ClientTlsFiles {
            ca_cert: Some(missing.clone()),
            ..Default::default()
        });
        assert!(e.contains("nope.pem") && e.contains("cannot read"), "{e}");
        let e = err(ClientTlsFiles {
            ca_cert: Some(key.clone()),
            ..Default::default()
        });
        assert!(
            e.contains("k.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = err(ClientTlsFiles {
            client_cert: Some(cert.clone()),
            ..Default::default()
        });
        assert!(e.contains("--client-key"), "{e}");
        let e = err(ClientTlsFiles {
            client_cert: Some(cert.clone()),
            client_key: Some(cert.clone()),
            ..Default::default()
        });
        assert!(e.contains("no PEM private key"), "{e}");
        let e = ServerTlsFiles {
            cert: cert.clone(),
            key: missing,
            client_ca: None,
        }
        .load()
        .unwrap_err()
        .to_string();
        assert!(e.contains("nope.pem"), "{e}");
        assert!(ServerTlsFiles {
            cert: cert.clone(),
            key,
            client_ca: Some(cert),
        }
        .load()
        .is_ok());
    }
}
