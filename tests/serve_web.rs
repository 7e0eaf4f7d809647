//! The daemon's own endpoints behind a web configuration file (exporter-toolkit's format): TLS
//! with the test CA, client certificates, basic auth with bcrypt hashes on every path, security
//! headers, a file changed while the daemon runs (new users in, an invalid file refused), the
//! healthcheck command through all of it, and `serve` refusing a bad file at start.

mod serve_support;

use fluxprobe::serve::healthcheck::{self, HealthcheckError, HealthcheckOptions};
use fluxprobe::serve::web::WebOptions;
use fluxprobe::serve::{Daemon, DaemonHandle, DaemonOptions, config};
use serve_support::{closed_port, crate_path, wait_until};
use std::path::{Path, PathBuf};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);
const USER: &str = "prom";
const PASSWORD: &str = "correct horse battery staple";

fn tls_file(name: &str) -> PathBuf {
    crate_path(&format!("tests/tls/{name}"))
}

/// Cost 4 keeps the tests quick; the daemon checks any cost the same way.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

fn tls_section(client_auth: bool) -> String {
    let mut s = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        tls_file("server.pem").display(),
        tls_file("server.key").display()
    );
    if client_auth {
        s.push_str(&format!(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            tls_file("ca.pem").display()
        ));
    }
    s
}

fn users_section(users: &[(&str, &str)]) -> String {
    let mut s = String::from("basic_auth_users:\n");
    for (u, p) in users {
        s.push_str(&format!("  {u}: '{}'\n", hash(p)));
    }
    s
}

async fn daemon(web_file: &Path) -> DaemonHandle {
    let down = closed_port();
    let cfg = config::parse(
        &format!(
            "targets:\n  - name: t\n    url: http://{down}\n    trickle: {{interval: 100ms}}\n    status_interval: 1s\n"
        ),
        "t.yml",
        &|_| None,
    )
    .unwrap();
    Daemon::start_with(
        cfg,
        DaemonOptions {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            web: WebOptions {
                config_file: Some(web_file.to_path_buf()),
                enable_lifecycle: true,
                ..Default::default()
            },
        },
    )
    .await
    .unwrap()
}

fn https_client(identity: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(tls_file("ca.pem")).unwrap()).unwrap();
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .tls_certs_only([ca]);
    if identity {
        let mut pem = std::fs::read(tls_file("client.pem")).unwrap();
        pem.extend(std::fs::read(tls_file("client.key")).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

async fn status(
    client: &reqwest::Client,
    url: &str,
    auth: Option<(&str, &str)>,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut r = client.get(url);
    if let Some((u, p)) = auth {
        r = r.basic_auth(u, Some(p));
    }
    r.send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_basic_auth_guard_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "{}{}http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
            tls_section(false),
            users_section(&[(USER, PASSWORD)])
        ),
    )
    .unwrap();
    let d = daemon(&web).await;
    assert_eq!(d.scheme(), "https");
    let base = format!("https://{}", d.addr());
    let c = https_client(false);

    // Plain HTTP to the TLS port gets no page.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/metrics", d.addr()))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.as_ref().map(|r| r.status() != 200).unwrap_or(true),
        "{plain:?}"
    );

    for path in [
        "/metrics",
        "/",
        "/-/healthy",
        "/-/ready",
        "/api/v1/recent",
        "/nope",
    ] {
        let r = status(&c, &format!("{base}{path}"), None).await.unwrap();
        assert_eq!(r.status(), 401, "{path} without credentials");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Basic realm=\"fluxprobe\"",
            "{path}"
        );
        for wrong in [(USER, "wrong"), ("nobody", PASSWORD), (USER, "")] {
            let r = status(&c, &format!("{base}{path}"), Some(wrong))
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{path} with {wrong:?}");
        }
    }
    let r = status(&c, &format!("{base}/metrics"), Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "deny");
    assert!(r.text().await.unwrap().contains("fluxprobe_requests_total"));
    let r = status(&c, &format!("{base}/nope"), Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // POST too.
    let r = c.post(format!("{base}/-/reload")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // The healthcheck command's library side.
    let opts = HealthcheckOptions {
        timeout: Duration::from_secs(5),
        basic_auth: Some((USER.into(), PASSWORD.into())),
        cacert: Some(tls_file("ca.pem")),
        insecure: false,
    };
    healthcheck::check(&base, &opts).await.unwrap();
    let e = healthcheck::check(
        &base,
        &HealthcheckOptions {
            basic_auth: None,
            ..opts.clone()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HealthcheckError::NeedsAuth), "{e}");
    let e = healthcheck::check(
        &base,
        &HealthcheckOptions {
            basic_auth: Some((USER.into(), "wrong".into())),
            ..opts.clone()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HealthcheckError::BadCredentials), "{e}");
    // The private CA is not among the system's roots…
    let e = healthcheck::check(
        &base,
        &HealthcheckOptions {
            cacert: None,
            ..opts.clone()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HealthcheckError::Untrusted(_)), "{e}");
    assert!(e.to_string().contains("--cacert"), "{e}");
    // …unless checks are off.
    healthcheck::check(
        &base,
        &HealthcheckOptions {
            cacert: None,
            insecure: true,
            ..opts.clone()
        },
    )
    .await
    .unwrap();
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, tls_section(true)).unwrap();
    let d = daemon(&web).await;
    let url = format!("https://{}/-/healthy", d.addr());
    assert!(
        status(&https_client(false), &url, None).await.is_err(),
        "no client certificate: no answer"
    );
    let r = status(&https_client(true), &url, None).await.unwrap();
    assert_eq!(r.status(), 200);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_web_config_applies_to_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, users_section(&[("old", "one")])).unwrap();
    let d = daemon(&web).await;
    assert_eq!(d.scheme(), "http");
    let url = format!("http://{}/metrics", d.addr());
    let c = reqwest::Client::new();
    assert_eq!(
        status(&c, &url, Some(("old", "one")))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(status(&c, &url, None).await.unwrap().status(), 401);

    // Rotated: the new user gets in, the old one no longer does (the cache is dropped too).
    let tmp = dir.path().join("web.yml.new");
    std::fs::write(&tmp, users_section(&[("new", "two")])).unwrap();
    std::fs::rename(&tmp, &web).unwrap();
    wait_until(LIMIT, "the new user accepted", || async {
        status(&c, &url, Some(("new", "two")))
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    assert_eq!(
        status(&c, &url, Some(("old", "one")))
            .await
            .unwrap()
            .status(),
        401
    );

    // An invalid file, and one that would switch TLS on: both refused, "new" still works.
    for bad in [
        "basic_auth_users:\n  new: not-a-hash\n".to_string(),
        format!("{}{}", tls_section(false), users_section(&[("new", "two")])),
    ] {
        std::fs::write(&tmp, bad).unwrap();
        std::fs::rename(&tmp, &web).unwrap();
        assert_eq!(
            status(&c, &url, Some(("new", "two")))
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(status(&c, &url, None).await.unwrap().status(), 401);
    }
    // A file with no users: open again.
    std::fs::write(&tmp, "{}\n").unwrap();
    std::fs::rename(&tmp, &web).unwrap();
    wait_until(LIMIT, "auth switched off", || async {
        status(&c, &url, None).await.unwrap().status() == 200
    })
    .await;
    d.shutdown().await;
}

#[test]
fn serve_refuses_a_bad_web_config_at_start_and_hash_password_makes_a_usable_hash() {
    let bin = env!("CARGO_BIN_EXE_fluxprobe");
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: k.pem\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "serve",
            "--simulate",
            "--listen",
            "127.0.0.1:0",
            "--web.config.file",
        ])
        .arg(&web)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing.pem"), "{err}");

    let mut child = std::process::Command::new(bin)
        .args(["hash-password", "--cost", "4"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim();
    assert!(bcrypt::verify("s3cret", hash).unwrap(), "{hash}");
    assert!(!bcrypt::verify("s3cret\n", hash).unwrap());
    // The hash is accepted by the web config loader.
    std::fs::write(&web, format!("basic_auth_users:\n  a: '{hash}'\n")).unwrap();
    assert!(fluxprobe::serve::web::config::load(&web).is_ok());
}
