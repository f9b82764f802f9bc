//! TLS between `dump` and a cluster over real sockets (issue 13 item 4): a CA, a server
//! certificate (127.0.0.1/localhost) and a client certificate are made at test time with
//! the `openssl` CLI. A TLS dump equals a plaintext dump of the same data; mutual TLS
//! refuses a client without a certificate; `https://` to a plaintext listener, `http://` to
//! a TLS one and a certificate from another CA are refused with errors that say so — and
//! no failure leaves a pin on the server.

mod common;
mod live_support;

use elastickv_backup_gen as gen;
use elastickv_backup_live::source::tls::ServerTlsFiles;
use elastickv_backup_loopback::{load, LoopbackServer, ServerConfig};
use live_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

/// Test PKI: a CA, a server and a client certificate signed by it, and an unrelated CA.
struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI (Debian package openssl) is needed by this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(
                dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN={ca}"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
        }
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("client.ext"),
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
        )
        .unwrap();
        for (name, serial) in [("server", "2"), ("client", "3")] {
            openssl(
                dir,
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-set_serial",
                    serial,
                    "-days",
                    "2",
                    "-out",
                    &format!("{name}.pem"),
                    "-extfile",
                    &format!("{name}.ext"),
                ],
            );
        }
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    fn server(&self, client_ca: bool) -> ServerTlsFiles {
        ServerTlsFiles {
            cert: self.dir.join("server.pem"),
            key: self.dir.join("server.key"),
            client_ca: client_ca.then(|| self.dir.join("ca.pem")),
        }
    }
}

fn server(tls: Option<ServerTlsFiles>, token: Option<&str>) -> LoopbackServer {
    LoopbackServer::start(
        ServerConfig {
            groups: 3,
            tls,
            admin_token: token.map(String::from),
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
        load::from_pairs(gen::sample(1), gen::EPOCH_MS << 16),
    )
    .unwrap()
}

/// Runs a dump into `out` with `extra` flags.
fn dump(address: &str, out: &Path, extra: &[&str]) -> Result<(), String> {
    let out = out.to_str().unwrap();
    let mut args = vec!["--address", address, "--output", out];
    args.extend_from_slice(extra);
    dump_cli(&args).map_err(|e| e.to_string())
}

/// The failure left nothing behind on the server: no pin was taken (or it was released).
fn assert_no_pin(s: &LoopbackServer) {
    assert_eq!(s.cluster().active_pins(), 0, "pin left on the server");
}

#[test]
fn tls_and_mutual_tls_dumps_equal_the_plaintext_dump() {
    let t = tempfile::tempdir().unwrap();
    let pki = Pki::new(&t.path().join("pki"));
    let token = t.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let token_s = token.to_str().unwrap();

    let plain = server(None, Some("s3cret"));
    let want = t.path().join("plain");
    dump(
        &plain.addr().to_string(),
        &want,
        &["--admin-token-file", token_s],
    )
    .unwrap();

    let tls = server(Some(pki.server(false)), Some("s3cret"));
    let got = t.path().join("tls");
    dump(
        &format!("https://{}", tls.addr()),
        &got,
        &[
            "--ca-cert",
            &pki.path("ca.pem"),
            "--admin-token-file",
            token_s,
        ],
    )
    .unwrap();
    assert_same_data(&got, &want);
    assert!(tls.cluster().stats.begin_calls.load(Ordering::Acquire) == 1);
    assert_no_pin(&tls);

    // Mutual TLS: with the client certificate the dump is the same; a bare host:port is
    // dialled with TLS because TLS files were given.
    let mtls = server(Some(pki.server(true)), Some("s3cret"));
    let got = t.path().join("mtls");
    dump(
        &mtls.addr().to_string(),
        &got,
        &[
            "--ca-cert",
            &pki.path("ca.pem"),
            "--client-cert",
            &pki.path("client.pem"),
            "--client-key",
            &pki.path("client.key"),
            "--admin-token-file",
            token_s,
        ],
    )
    .unwrap();
    assert_same_data(&got, &want);
    assert_no_pin(&mtls);

    // Without the client certificate the server refuses the connection.
    let e = dump(
        &format!("https://{}", mtls.addr()),
        &t.path().join("no-client-cert"),
        &[
            "--ca-cert",
            &pki.path("ca.pem"),
            "--admin-token-file",
            token_s,
        ],
    )
    .unwrap_err();
    assert!(e.contains("TLS handshake failed"), "{e}");
    assert!(e.contains(&mtls.addr().to_string()), "{e}");
    assert_no_dump(&t.path().join("no-client-cert"));
    assert_eq!(mtls.cluster().stats.begin_calls.load(Ordering::Acquire), 1);
    assert_no_pin(&mtls);
}

#[test]
fn mismatched_transports_and_untrusted_certificates_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let pki = Pki::new(&t.path().join("pki"));
    let plain = server(None, None);
    let tls = server(Some(pki.server(false)), None);

    // https:// to a plaintext listener: the handshake fails, nothing is sent in clear.
    let e = dump(
        &format!("https://{}", plain.addr()),
        &t.path().join("a"),
        &["--ca-cert", &pki.path("ca.pem")],
    )
    .unwrap_err();
    assert!(e.contains("TLS handshake failed"), "{e}");
    assert_eq!(plain.cluster().stats.begin_calls.load(Ordering::Acquire), 0);
    assert_no_pin(&plain);

    // http:// to a TLS listener: said so, with the https:// hint.
    let e = dump(&format!("http://{}", tls.addr()), &t.path().join("b"), &[]).unwrap_err();
    assert!(e.contains("did not answer plaintext gRPC"), "{e}");
    assert!(e.contains(&format!("https://{}", tls.addr())), "{e}");

    // A certificate signed by a CA the dump does not trust.
    let e = dump(
        &format!("https://{}", tls.addr()),
        &t.path().join("c"),
        &["--ca-cert", &pki.path("other-ca.pem")],
    )
    .unwrap_err();
    assert!(e.contains("TLS handshake failed"), "{e}");
    assert!(e.to_ascii_lowercase().contains("issuer"), "{e}");
    assert_eq!(tls.cluster().stats.begin_calls.load(Ordering::Acquire), 0);
    assert_no_pin(&tls);

    // A file that is not a certificate is named before anything is dialled.
    let e = dump(
        &format!("https://{}", tls.addr()),
        &t.path().join("d"),
        &["--ca-cert", &pki.path("ca.key")],
    )
    .unwrap_err();
    assert!(
        e.contains("ca.key") && e.contains("no PEM certificate"),
        "{e}"
    );
    for d in ["a", "b", "c", "d"] {
        assert_no_dump(&t.path().join(d));
    }
}

#[test]
fn serve_speaks_tls_from_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let pki = Pki::new(&t.path().join("pki"));
    let mut child = Command::new(common::bin())
        .args([
            "serve",
            "--groups",
            "2",
            "--tls-cert",
            &pki.path("server.pem"),
            "--tls-key",
            &pki.path("server.key"),
        ])
        .env("ELASTICKV_ADMIN_TOKEN", "from-env")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().to_string();
    let token = t.path().join("token");
    std::fs::write(&token, "from-env").unwrap();
    let wrong = t.path().join("wrong");
    std::fs::write(&wrong, "nope").unwrap();
    let ca = pki.path("ca.pem");
    let ok = dump(
        &format!("https://{addr}"),
        &t.path().join("out"),
        &[
            "--ca-cert",
            &ca,
            "--admin-token-file",
            token.to_str().unwrap(),
        ],
    );
    // The token came from the server's environment: a wrong one is refused.
    let refused = dump(
        &format!("https://{addr}"),
        &t.path().join("out2"),
        &[
            "--ca-cert",
            &ca,
            "--admin-token-file",
            wrong.to_str().unwrap(),
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    ok.unwrap();
    let e = refused.unwrap_err();
    assert!(e.to_ascii_lowercase().contains("token"), "{e}");
    assert!(t.path().join("out/MANIFEST.json").is_file());
}

/// Runs the binary with `args`; stdout on success, stderr as the error.
fn run_bin(args: &[&str]) -> Result<String, String> {
    let o = Command::new(common::bin()).args(args).output().unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

#[test]
fn partitioned_dump_runs_over_mutual_tls() {
    let t = tempfile::tempdir().unwrap();
    let pki = Pki::new(&t.path().join("pki"));
    let plain = server(None, None);
    let want = t.path().join("plain");
    dump(&plain.addr().to_string(), &want, &[]).unwrap();

    let mtls = server(Some(pki.server(true)), None);
    let addr = format!("https://{}", mtls.addr());
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );
    let tls = [
        "--ca-cert",
        ca.as_str(),
        "--client-cert",
        cert.as_str(),
        "--client-key",
        key.as_str(),
    ];
    let out = t.path().join("parts");
    let out_s = out.to_str().unwrap();
    let with_tls = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(tls.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let strs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    let begin = with_tls(&[
        "dump",
        "begin",
        "--address",
        &addr,
        "--output",
        out_s,
        "--partitions",
        "2",
    ]);
    let token = run_bin(&begin.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{}: {e}", strs(&begin)));
    let token = token.trim().to_string();
    assert_eq!(mtls.cluster().active_pins(), 1, "begin keeps the pin");

    // A partition without the client certificate is refused by the TLS handshake and
    // leaves the job as it was.
    let e = run_bin(&["dump", "--join", &token, "--partition", "0/2"]).unwrap_err();
    assert!(e.contains("TLS handshake failed"), "{e}");

    for i in 0..2 {
        let p = format!("{i}/2");
        let join = with_tls(&["dump", "--join", &token, "--partition", &p]);
        run_bin(&join.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("{}: {e}", strs(&join)));
    }
    let finish = with_tls(&["dump", "finish", "--output", out_s]);
    run_bin(&finish.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{}: {e}", strs(&finish)));
    assert_same_data(&out, &want);
    // finish ended the pin over TLS.
    assert_no_pin(&mtls);
}
