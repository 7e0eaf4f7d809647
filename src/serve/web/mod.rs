//! The daemon's own web server: which control endpoints are on, the web configuration file
//! (TLS, basic auth, security headers, as Prometheus's exporter-toolkit has them), and serving
//! the router over plain TCP or TLS.
//!
//! The web configuration file is read at start (an invalid one stops the start) and read again
//! whenever it changes on disk, so certificates and users can be rotated without a restart; a
//! changed file that is invalid, or that would switch TLS on or off, is refused with an error in
//! the log and the running web configuration kept.

pub mod auth;
pub mod config;
pub mod listener;

pub use config::{WebConfig, WebConfigError};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How the daemon's endpoints are served.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// The web configuration file (`--web.config.file`); `None`: plain HTTP, no auth.
    pub config_file: Option<PathBuf>,
    /// POST /-/reload is on (`--web.enable-lifecycle`).
    pub enable_lifecycle: bool,
    /// POST /-/burst/{target}/{burst} is on (`--web.enable-burst-api`).
    pub enable_burst_api: bool,
}

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

struct Loaded {
    stamp: Option<Stamp>,
    config: Arc<WebConfig>,
}

/// The web configuration in force, read again when its file changes.
pub struct WebState {
    path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    /// Verified credentials, so that bcrypt runs once per user and password.
    pub(crate) auth: auth::AuthCache,
}

impl WebState {
    /// Loads the file (or nothing, for plain HTTP without auth).
    pub fn load(path: Option<&Path>) -> Result<WebState, WebConfigError> {
        let (stamp, config) = match path {
            None => (
                None,
                WebConfig {
                    tls: None,
                    users: Default::default(),
                    headers: Vec::new(),
                },
            ),
            Some(p) => (stamp(p), config::load(p)?),
        };
        Ok(WebState {
            path: path.map(Path::to_path_buf),
            loaded: Mutex::new(Loaded {
                stamp,
                config: Arc::new(config),
            }),
            auth: auth::AuthCache::default(),
        })
    }

    /// Whether the endpoints are served over TLS (fixed at start).
    pub fn tls(&self) -> bool {
        self.lock().config.tls.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The web configuration to use now: the file is read again if it changed since the last
    /// look (one `stat` per call).
    pub fn current(&self) -> Arc<WebConfig> {
        let Some(path) = &self.path else {
            return self.lock().config.clone();
        };
        let now = stamp(path);
        let mut loaded = self.lock();
        if now.is_none() || now == loaded.stamp {
            // A file that vanished keeps the last good configuration (a secret being swapped).
            return loaded.config.clone();
        }
        loaded.stamp = now;
        match config::load(path) {
            Ok(c) if c.tls.is_some() != loaded.config.tls.is_some() => {
                tracing::error!(
                    "web config {}: the new file would switch TLS {}; that needs a restart, keeping the running web configuration",
                    path.display(),
                    if c.tls.is_some() { "on" } else { "off" }
                );
            }
            Ok(c) => {
                tracing::info!("web config {}: reloaded", path.display());
                loaded.config = Arc::new(c);
                self.auth.clear();
            }
            Err(e) => {
                tracing::error!("{e}; keeping the running web configuration");
            }
        }
        loaded.config.clone()
    }
}

/// `fluxprobe hash-password`: the bcrypt hash of a password, for `basic_auth_users`. The
/// password comes from standard input (its first line), asked for without echo on a terminal.
pub async fn hash_password_cli(
    args: crate::cli::HashPasswordArgs,
) -> anyhow::Result<crate::exit::Exit> {
    use anyhow::Context;
    use std::io::{BufRead, IsTerminal};
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ").context("reading the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        return Err(crate::exit::UsageError("the password is empty".to_string()).into());
    }
    let cost = args.cost;
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .context("hashing")?
        .context("hashing")?;
    println!("{hash}");
    Ok(crate::exit::Exit::Ok)
}
