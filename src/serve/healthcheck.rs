//! `fluxprobe healthcheck`: GET {url}/-/healthy of a running daemon, for container health checks
//! (an image without a shell or curl can still check itself). It speaks TLS and basic auth
//! when the daemon's web configuration asks for them.

use std::path::PathBuf;
use std::time::Duration;

/// How to reach the daemon beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct HealthcheckOptions {
    pub timeout: Duration,
    /// Basic-auth user and password.
    pub basic_auth: Option<(String, String)>,
    /// Extra CA certificate (PEM) for an https:// daemon.
    pub cacert: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure: bool,
}

/// Why the daemon is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("{0:?} is not an http:// URL")]
    BadUrl(String),
    #[error("no answer from the daemon at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the daemon answered HTTP {0}")]
    Status(u16),
    #[error(
        "the daemon asks for basic auth (HTTP 401): give --user and FLUXPROBE_HEALTHCHECK_PASSWORD"
    )]
    NeedsAuth,
    #[error("the daemon refused the credentials (HTTP 401)")]
    BadCredentials,
    #[error("--user is given but FLUXPROBE_HEALTHCHECK_PASSWORD is not set")]
    NoPassword,
    #[error(
        "the daemon's TLS certificate is not trusted ({0}): give its CA with --cacert, or --insecure for a self-signed one"
    )]
    Untrusted(String),
    #[error("--cacert {path}: {message}")]
    CaCert { path: String, message: String },
}

/// Asks `{base}/-/healthy`; Ok when it answers 200 within `opts.timeout`.
pub async fn check(base: &str, opts: &HealthcheckOptions) -> Result<(), HealthcheckError> {
    let mut url =
        url::Url::parse(base.trim()).map_err(|_| HealthcheckError::BadUrl(base.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(HealthcheckError::BadUrl(base.to_string()));
    }
    let path = format!("{}/-/healthy", url.path().trim_end_matches('/'));
    url.set_path(&path);
    let shown = crate::redact::url(&url);
    let mut builder = reqwest::Client::builder().timeout(opts.timeout);
    if let Some(path) = &opts.cacert {
        let ca_error = |message: String| HealthcheckError::CaCert {
            path: path.display().to_string(),
            message,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| ca_error("not PEM certificates".to_string()))?;
        if certs.is_empty() {
            return Err(ca_error("holds no PEM certificate".to_string()));
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    if opts.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    let client = builder.build().map_err(|e| HealthcheckError::Unreachable {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    let mut req = client.get(url);
    if let Some((user, password)) = &opts.basic_auth {
        req = req.basic_auth(user, Some(password));
    }
    let resp = req.send().await.map_err(|e| {
        if let Some(reason) = certificate_problem(&e) {
            return HealthcheckError::Untrusted(reason);
        }
        HealthcheckError::Unreachable {
            url: shown.clone(),
            reason: if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                "connection failed".to_string()
            } else {
                "request failed".to_string()
            },
        }
    })?;
    match resp.status().as_u16() {
        200 => Ok(()),
        401 if opts.basic_auth.is_none() => Err(HealthcheckError::NeedsAuth),
        401 => Err(HealthcheckError::BadCredentials),
        s => Err(HealthcheckError::Status(s)),
    }
}

/// The certificate error under a failed request, in rustls's words, if that is what it was.
fn certificate_problem(e: &reqwest::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = next {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(c) => Some(format!("{c:?}")),
                _ => None,
            };
        }
        // An io::Error's source() skips the error it wraps (rustls's sits two io::Errors deep).
        next = match s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => s.source(),
        };
    }
    None
}
