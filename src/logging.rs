//! Logging set-up through `tracing`: human-readable on a terminal, JSON lines on request.
//! Logs go to stderr so that stdout stays the report or JSON.

use crate::cli::LogFormat;
use tracing_subscriber::EnvFilter;

/// The certificate verifier logs every failed verification at ERROR; fluxprobe classifies it
/// (outcome `tls`) and reports it itself, so a target with a bad certificate does not flood the
/// log. `RUST_LOG` or `--log rustls_platform_verifier=debug` brings it back.
const QUIET_VERIFIER: &str = "rustls_platform_verifier=off";

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `filter`.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            if filter.contains("rustls_platform_verifier") {
                EnvFilter::try_new(filter)
            } else {
                EnvFilter::try_new(format!("{QUIET_VERIFIER},{filter}"))
            }
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
