//! A real S3-compatible server for the end-to-end tests: moto in server mode
//! (`pip install "moto[server]"`, which `.ci/run` does), started on a free port of
//! 127.0.0.1, waited for until it answers, and killed when the handle is dropped.
//!
//! Kept to this one job so the restore tests' harness can be merged with it later.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long moto gets to start answering (a cold Python start on a busy 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// A port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// One plain HTTP/1.1 request; the status code of the answer.
pub fn http_status(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:?}")))
}

/// One plain HTTP/1.1 GET; the status code and the body (the connection is closed by the
/// server after the answer).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut all = Vec::new();
    s.read_to_end(&mut all)?;
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let status = String::from_utf8_lossy(&all[..split.min(12)])
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))?;
    Ok((status, all[split + 4..].to_vec()))
}

impl Moto {
    /// Starts moto on a free port and waits until it answers HTTP.
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install it with pip install \"moto[server]\" (.ci/run does)")
            });
        let mut m = Moto { child, port };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if http_status(port, "GET", "/").is_ok() {
                return m;
            }
            if let Ok(Some(st)) = m.child.try_wait() {
                panic!("moto_server exited before answering: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on 127.0.0.1:{port} within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto does not check signatures, so a plain PUT does).
    pub fn create_bucket(&self, name: &str) {
        let st = http_status(self.port, "PUT", &format!("/{name}")).expect("PUT bucket");
        assert_eq!(st, 200, "creating bucket {name}");
    }

    /// The environment a client needs for this server: static test credentials, a region,
    /// no profile files and no instance-metadata lookups (nothing leaves the machine).
    pub fn client_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ]
    }

    /// Keys of the multipart uploads still open in `bucket` (ListMultipartUploads, read
    /// without the client under test).
    pub fn open_uploads(&self, bucket: &str) -> Vec<String> {
        let (st, body) = http_get(self.port, &format!("/{bucket}?uploads")).expect("list uploads");
        assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
        let text = String::from_utf8_lossy(&body);
        text.split("<Upload>")
            .skip(1)
            .filter_map(|u| {
                let k = u.split_once("<Key>")?.1;
                Some(k.split_once("</Key>")?.0.to_string())
            })
            .collect()
    }

    /// Stops the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}
