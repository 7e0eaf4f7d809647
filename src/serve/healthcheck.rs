//! `fluxprobe healthcheck`: GET {url}/-/healthy of a running daemon, for container health checks
//! (an image without a shell or curl can still check itself).

use std::time::Duration;

/// Why the daemon is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("{0:?} is not an http:// URL")]
    BadUrl(String),
    #[error("no answer from the daemon: {0}")]
    Unreachable(String),
    #[error("the daemon answered HTTP {0}")]
    Status(u16),
}

/// Asks `{base}/-/healthy`; Ok when it answers 200 within `timeout`.
pub async fn check(base: &str, timeout: Duration) -> Result<(), HealthcheckError> {
    let mut url =
        url::Url::parse(base.trim()).map_err(|_| HealthcheckError::BadUrl(base.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(HealthcheckError::BadUrl(base.to_string()));
    }
    let path = format!("{}/-/healthy", url.path().trim_end_matches('/'));
    url.set_path(&path);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| HealthcheckError::Unreachable(e.to_string()))?;
    let resp = client.get(url).send().await.map_err(|e| {
        HealthcheckError::Unreachable(if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "connection failed".to_string()
        } else {
            "request failed".to_string()
        })
    })?;
    match resp.status().as_u16() {
        200 => Ok(()),
        s => Err(HealthcheckError::Status(s)),
    }
}
