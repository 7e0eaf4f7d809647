//! The web configuration file of the daemon's own endpoints, in the format of Prometheus's
//! exporter-toolkit (`--web.config.file`): `tls_server_config` (certificate, key, client
//! certificates, TLS versions), `basic_auth_users` (bcrypt hashes) and
//! `http_server_config.headers`. Relative paths are taken from the file's own directory. Keys
//! that fluxprobe does not implement are refused by name rather than silently ignored.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a web configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("web config {path}: cannot read it: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("web config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A loaded web configuration: what the listener and the auth layer need.
#[derive(Clone)]
pub struct WebConfig {
    /// TLS for the daemon's endpoints; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// User name → bcrypt hash. Empty: no authentication.
    pub users: BTreeMap<String, String>,
    /// Extra response headers (the security headers exporter-toolkit allows).
    pub headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hashes are not secrets in the strict sense, but they need not be printed.
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// The response headers a web config may set (exporter-toolkit's list).
const ALLOWED_HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
];

/// How the daemon asks for client certificates (exporter-toolkit's names for the ones rustls
/// can do: every certificate it takes is verified against `client_ca_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    VerifyIfGiven,
    RequireAndVerify,
}

/// Reads and checks a web configuration file.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base).map_err(|message| WebConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses a web configuration; `base` is the directory relative paths start from.
pub fn parse(text: &str, base: &Path) -> Result<WebConfig, String> {
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        serde_saphyr::from_str::<Option<RawWebConfig>>(text)
            .map_err(|e| explain_yaml_error(&e.to_string()))?
            .unwrap_or_default()
    };
    let tls = match raw.tls_server_config {
        None => None,
        Some(t) => Some(Arc::new(server_config(&t, base)?)),
    };
    let users = raw.basic_auth_users.unwrap_or_default();
    for (user, hash) in &users {
        if user.is_empty() || user.contains(':') {
            return Err(format!(
                "basic_auth_users: {user:?} is not a user name (it must be non-empty and without ':')"
            ));
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(format!(
                "basic_auth_users: the value for {user:?} is not a bcrypt hash (make one with `fluxprobe hash-password`)"
            ));
        }
    }
    let mut headers = Vec::new();
    for (name, value) in raw
        .http_server_config
        .and_then(|h| h.headers)
        .unwrap_or_default()
    {
        let Some(allowed) = ALLOWED_HEADERS
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&name))
        else {
            return Err(format!(
                "http_server_config.headers: {name:?} cannot be set (allowed: {})",
                ALLOWED_HEADERS.join(", ")
            ));
        };
        let value = axum::http::HeaderValue::from_str(&value).map_err(|_| {
            format!("http_server_config.headers: the value of {name} is not a valid header value")
        })?;
        let name = axum::http::HeaderName::from_bytes(allowed.as_bytes())
            .map_err(|_| format!("http_server_config.headers: {allowed} is not a header name"))?;
        headers.push((name, value));
    }
    Ok(WebConfig {
        tls,
        users,
        headers,
    })
}

/// serde's message names the unknown field; add what fluxprobe does instead.
fn explain_yaml_error(message: &str) -> String {
    for (key, why) in [
        (
            "cipher_suites",
            "rustls offers only modern cipher suites and cannot be narrowed here",
        ),
        (
            "curve_preferences",
            "rustls chooses among its modern key exchange groups",
        ),
        (
            "prefer_server_cipher_suites",
            "rustls always prefers the server's order",
        ),
        (
            "http2",
            "the daemon always speaks HTTP/1.1 and, over TLS or prior knowledge, HTTP/2",
        ),
        (
            "client_allowed_sans",
            "client certificates are checked against client_ca_file only",
        ),
    ] {
        if message.contains(key) {
            return format!("{key} is not supported: {why} ({message})");
        }
    }
    message.to_string()
}

fn resolve(base: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {}: holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn tls_version(name: &str, key: &str) -> Result<&'static rustls::SupportedProtocolVersion, String> {
    match name.trim().to_ascii_uppercase().as_str() {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(format!(
            "tls_server_config.{key}: {name} is not offered (rustls speaks TLS12 and TLS13)"
        )),
        _ => Err(format!(
            "tls_server_config.{key}: {name:?} is not a TLS version (TLS12 or TLS13)"
        )),
    }
}

fn client_auth(name: Option<&str>) -> Result<ClientAuth, String> {
    match name.map(str::trim).unwrap_or("NoClientCert") {
        "" | "NoClientCert" => Ok(ClientAuth::None),
        "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyIfGiven),
        "RequireAndVerifyClientCert" => Ok(ClientAuth::RequireAndVerify),
        n @ ("RequestClientCert" | "RequireAnyClientCert") => Err(format!(
            "tls_server_config.client_auth_type: {n} (a client certificate taken unverified) is not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
        )),
        n => Err(format!(
            "tls_server_config.client_auth_type: {n:?} is not one of NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
        )),
    }
}

fn server_config(t: &RawTls, base: &Path) -> Result<rustls::ServerConfig, String> {
    let (Some(cert_file), Some(key_file)) = (&t.cert_file, &t.key_file) else {
        return Err("tls_server_config needs both cert_file and key_file".to_string());
    };
    let cert_path = resolve(base, cert_file);
    let key_path = resolve(base, key_file);
    let certs = read_certs(&cert_path, "cert_file")?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
        format!(
            "key_file {}: no usable private key ({e})",
            key_path.display()
        )
    })?;
    let min = tls_version(t.min_version.as_deref().unwrap_or("TLS12"), "min_version")?;
    let max = tls_version(t.max_version.as_deref().unwrap_or("TLS13"), "max_version")?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| {
                let n = u16::from(v.version);
                n >= u16::from(min.version) && n <= u16::from(max.version)
            })
            .collect();
    if versions.is_empty() {
        return Err("tls_server_config: min_version is above max_version".to_string());
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let mode = client_auth(t.client_auth_type.as_deref())?;
    let builder = match (mode, &t.client_ca_file) {
        (ClientAuth::None, None) => builder.with_no_client_auth(),
        (ClientAuth::None, Some(_)) => {
            return Err(
                "tls_server_config: client_ca_file is given but client_auth_type is NoClientCert; set client_auth_type to RequireAndVerifyClientCert or VerifyClientCertIfGiven"
                    .to_string(),
            );
        }
        (_, None) => {
            return Err(
                "tls_server_config: client_auth_type verifies client certificates, which needs client_ca_file"
                    .to_string(),
            );
        }
        (mode, Some(ca)) => {
            let ca_path = resolve(base, ca);
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(&ca_path, "client_ca_file")? {
                roots
                    .add(c)
                    .map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            );
            let verifier = if mode == ClientAuth::VerifyIfGiven {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file and key_file do not make a certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
    }

    fn err(text: &str) -> String {
        parse(text, &tls_dir()).unwrap_err()
    }

    #[test]
    fn empty_file_means_plain_http_without_auth() {
        for text in ["", "\n", "# nothing\n", "{}\n"] {
            let c = parse(text, Path::new(".")).unwrap();
            assert!(c.tls.is_none() && c.users.is_empty() && c.headers.is_empty());
        }
    }

    #[test]
    fn tls_paths_are_relative_to_the_file() {
        let c = parse(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n",
            &tls_dir(),
        )
        .unwrap();
        assert!(c.tls.is_some());
        let e = parse(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n",
            Path::new("/nonexistent"),
        )
        .unwrap_err();
        assert!(e.contains("/nonexistent/server.pem"), "{e}");
    }

    #[test]
    fn client_certificates_need_a_ca_and_a_verifying_mode() {
        let ok = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n";
        assert!(parse(ok, &tls_dir()).unwrap().tls.is_some());
        let e = err(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
        );
        assert!(e.contains("needs client_ca_file"), "{e}");
        let e = err(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: ca.pem\n",
        );
        assert!(e.contains("NoClientCert"), "{e}");
        let e = err(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.pem\n",
        );
        assert!(e.contains("not supported"), "{e}");
    }

    #[test]
    fn bad_tls_settings_are_named() {
        assert!(err("tls_server_config:\n  cert_file: server.pem\n").contains("key_file"));
        let e = err(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS10\n",
        );
        assert!(e.contains("TLS10"), "{e}");
        let e = err(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\n",
        );
        assert!(e.contains("above max_version"), "{e}");
        // A key file given as the certificate: no certificate in it.
        let e = err("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n");
        assert!(e.contains("no PEM certificate"), "{e}");
        // A certificate and the wrong key.
        let e = err("tls_server_config:\n  cert_file: server.pem\n  key_file: client.key\n");
        assert!(e.contains("do not make a certificate"), "{e}");
        let e = err(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
        );
        assert!(e.contains("cipher_suites is not supported"), "{e}");
    }

    #[test]
    fn users_need_bcrypt_hashes() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = parse(
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.users.get("alice"), Some(&hash));
        let e = parse("basic_auth_users:\n  alice: plaintext\n", Path::new(".")).unwrap_err();
        assert!(e.contains("not a bcrypt hash"), "{e}");
        assert!(!e.contains("plaintext"), "the value is never echoed: {e}");
        let e = parse(
            &format!("basic_auth_users:\n  'a:b': '{hash}'\n"),
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.contains("without ':'"), "{e}");
        assert!(!format!("{c:?}").contains(&hash), "Debug leaves hashes out");
    }

    #[test]
    fn only_security_headers_may_be_set() {
        let c = parse(
            "http_server_config:\n  headers:\n    x-frame-options: deny\n    Strict-Transport-Security: max-age=31536000\n",
            Path::new("."),
        )
        .unwrap();
        let names: Vec<_> = c.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["strict-transport-security", "x-frame-options"]);
        let e = parse(
            "http_server_config:\n  headers:\n    Set-Cookie: a=b\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.contains("Set-Cookie"), "{e}");
    }

    #[test]
    fn the_shipped_example_loads_and_each_of_its_sections_parses_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/web.yml");
        let c = load(&path).unwrap();
        assert!(c.tls.is_none() && c.users.is_empty());
        // Uncommented, the header section is valid as written.
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find("# http_server_config:").unwrap();
        let headers: String = text[start..]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        let c = parse(&headers, Path::new(".")).unwrap();
        assert_eq!(c.headers.len(), 5);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse("basic_auth_user:\n  a: b\n", Path::new(".")).unwrap_err();
        assert!(e.contains("basic_auth_user"), "{e}");
        assert!(parse("[1, 2]\n", Path::new(".")).is_err());
    }
}
