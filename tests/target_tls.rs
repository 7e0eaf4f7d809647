//! TLS towards targets: a server whose certificate comes from a private CA is refused as `tls`
//! until that CA is given (`ca_file`, `--cacert`) or checks are switched off
//! (`insecure_skip_verify`, `--insecure`, which warns); a server that asks for a client
//! certificate gets one from `cert_file` + `key_file` (`--cert`, `--key`). Bad TLS files are
//! errors that name the file. The certificates are in tests/tls/.

use fluxprobe::api::client::{ClientConfig, ClientError, FluxClient, TlsOptions};
use fluxprobe::api::wire::GenerateRequest;
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::{self, Clock, ProbeMode, ProbeRecord, ProbeSpec};
use reqwest::header::HeaderMap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const BODY: &str = r#"{"status": "success", "generation_time": "1.72s", "image_url": "/x.png"}"#;

fn tls_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tls")
        .join(name)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// An HTTPS server on 127.0.0.1 answering every request with the API's success body; with
/// `client_auth`, it requires a client certificate signed by the test CA.
async fn https_server(client_auth: bool) -> SocketAddr {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls_file("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(tls_file("server.key")).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(tls_file("ca.pem")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .unwrap()
    } else {
        builder
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap()
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn client(addr: SocketAddr, tls: TlsOptions) -> Result<FluxClient, ClientError> {
    let mut cfg = ClientConfig::new(format!("https://{addr}").parse().unwrap());
    cfg.timeout = Duration::from_secs(5);
    cfg.tls = tls;
    FluxClient::new(&cfg)
}

async fn probe_with(addr: SocketAddr, tls: TlsOptions) -> ProbeRecord {
    let spec = ProbeSpec {
        request: GenerateRequest::default(),
        mode: ProbeMode::Generate,
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
    };
    probe::execute(
        &client(addr, tls).unwrap(),
        &spec,
        &Clock::new(),
        None,
        0,
        &HeaderMap::new(),
        &CancellationToken::new(),
    )
    .await
}

fn with_ca() -> TlsOptions {
    TlsOptions {
        ca_file: Some(tls_file("ca.pem")),
        ..TlsOptions::default()
    }
}

#[tokio::test]
async fn a_private_ca_is_refused_until_it_is_given() {
    let addr = https_server(false).await;
    let rec = probe_with(addr, TlsOptions::default()).await;
    assert_eq!(rec.outcome, Outcome::Tls, "{rec:?}");
    let rec = probe_with(addr, with_ca()).await;
    assert_eq!(rec.outcome, Outcome::Success, "{rec:?}");
    assert_eq!(rec.generation_time, Some(1.72));
    let insecure = TlsOptions {
        insecure_skip_verify: true,
        ..TlsOptions::default()
    };
    let rec = probe_with(addr, insecure).await;
    assert_eq!(rec.outcome, Outcome::Success, "{rec:?}");
}

#[tokio::test]
async fn a_server_that_asks_for_a_client_certificate_gets_one() {
    let addr = https_server(true).await;
    let rec = probe_with(addr, with_ca()).await;
    assert!(
        matches!(rec.outcome, Outcome::Tls | Outcome::Transport),
        "without a client certificate: {rec:?}"
    );
    let mtls = TlsOptions {
        cert_file: Some(tls_file("client.pem")),
        key_file: Some(tls_file("client.key")),
        ..with_ca()
    };
    let rec = probe_with(addr, mtls).await;
    assert_eq!(rec.outcome, Outcome::Success, "{rec:?}");
}

#[test]
fn bad_tls_files_are_errors_that_name_them() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let missing = TlsOptions {
        ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
        ..TlsOptions::default()
    };
    let e = client(addr, missing).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    let not_pem = TlsOptions {
        ca_file: Some(tls_file("README.md")),
        ..TlsOptions::default()
    };
    let e = client(addr, not_pem).unwrap_err().to_string();
    assert!(e.contains("README.md"), "{e}");
    let half = TlsOptions {
        cert_file: Some(tls_file("client.pem")),
        ..TlsOptions::default()
    };
    assert!(matches!(client(addr, half), Err(ClientError::TlsPair)));
}

#[test]
fn serve_config_tls_paths_follow_the_file_and_a_half_pair_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fluxprobe.yml");
    std::fs::write(
        &path,
        "defaults:\n  tls: {ca_file: certs/ca.pem}\ntargets:\n  - name: a\n    url: https://127.0.0.1:8443\n  - name: b\n    url: https://127.0.0.1:8444\n    tls: {insecure_skip_verify: true}\n",
    )
    .unwrap();
    let cfg = fluxprobe::serve::config::load_file(&path).unwrap();
    assert_eq!(
        cfg.targets[0].tls.ca_file.as_deref(),
        Some(dir.path().join("certs/ca.pem").as_path())
    );
    // A target's tls replaces the defaults' as a whole.
    assert_eq!(
        cfg.targets[1].tls,
        TlsOptions {
            insecure_skip_verify: true,
            ..TlsOptions::default()
        }
    );
    let e = fluxprobe::serve::config::parse(
        "targets:\n  - name: a\n    url: https://127.0.0.1:8443\n    tls: {cert_file: c.pem}\n",
        "half.yml",
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("half.yml:4:"), "{e}");
    assert!(e.contains("key_file"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_takes_a_ca_and_warns_when_told_to_trust_anything() {
    let addr = https_server(false).await;
    let run = |extra: Vec<String>| {
        let url = format!("https://{addr}");
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_fluxprobe"))
                .args(["bench", "--url", &url, "--requests", "2", "--no-status"])
                .args(["--timeout", "5s"])
                .args(extra)
                .output()
                .unwrap()
        })
    };
    let out = run(vec![]).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "an unknown CA: target unavailable"
    );
    let ca = tls_file("ca.pem").display().to_string();
    let out = run(vec!["--cacert".into(), ca]).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(vec!["--insecure".into()]).await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("verification is OFF"), "{stderr}");
}
