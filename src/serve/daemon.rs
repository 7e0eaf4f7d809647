//! One prober daemon: its registry, its targets, its HTTP server, reloads and shutdown. Several
//! can run in one process (each has its own registry and listener), which is how the tests run.

use super::config::{self, ServeConfig};
use super::config_error::ConfigError;
use super::otlp::{Otlp, OtlpError};
use super::recent::Recent;
use super::registry::Metrics;
use super::shared::Shared;
use super::target::TargetRuntime;
use super::web::{WebConfigError, WebOptions, WebState};
use crate::api::ClientError;
use crate::probe::Clock;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why a daemon could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("target {target}: {source}")]
    Client { target: String, source: ClientError },
    #[error("{0}")]
    Otlp(#[from] OtlpError),
    #[error("the daemon was not started from a configuration file, so there is nothing to reload")]
    NoConfigFile,
    #[error(transparent)]
    Web(#[from] WebConfigError),
    #[error("serving on {addr}")]
    Serve {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How a daemon is started beyond its configuration.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// Overrides the configuration's `listen` (tests pass 127.0.0.1:0).
    pub listen: Option<SocketAddr>,
    /// The web configuration file and which control endpoints are on.
    pub web: WebOptions,
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub unchanged: Vec<String>,
    /// Settings that only apply at start (listen, buckets, otlp) and were left as they were.
    pub needs_restart: Vec<&'static str>,
}

/// How shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// True when in-flight probes were still running at the end of the grace period (they
    /// were ended and counted as aborted).
    pub aborted_in_flight: bool,
}

pub(crate) struct Inner {
    pub shared: Arc<Shared>,
    pub targets: RwLock<BTreeMap<String, Arc<TargetRuntime>>>,
    pub config: RwLock<Arc<ServeConfig>>,
    reload_lock: tokio::sync::Mutex<()>,
    ready: AtomicBool,
    pub stopping: CancellationToken,
    /// Which control endpoints are on.
    pub web: WebOptions,
}

impl Inner {
    pub fn target(&self, name: &str) -> Option<Arc<TargetRuntime>> {
        self.targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn targets(&self) -> Vec<Arc<TargetRuntime>> {
        self.targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn config(&self) -> Arc<ServeConfig> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Ready once the configuration is loaded and every target of the first configuration had
    /// its first status scrape attempted (it stays ready afterwards).
    pub fn is_ready(&self) -> bool {
        if self.ready.load(Ordering::SeqCst) {
            return true;
        }
        let all = self.targets().iter().all(|t| t.first_scrape_done());
        if all {
            self.ready.store(true, Ordering::SeqCst);
        }
        all
    }

    /// Re-reads the configuration file and applies it.
    pub async fn reload_file(&self) -> Result<ReloadSummary, ServeError> {
        let Some(path) = self.config().source.clone() else {
            return Err(ServeError::NoConfigFile);
        };
        match config::load_file(&path) {
            Ok(cfg) => self.reload_from(cfg).await,
            Err(e) => {
                self.shared.metrics.config_loaded(false);
                tracing::error!("reload failed, keeping the running configuration: {e}");
                Err(e.into())
            }
        }
    }

    /// Applies a new configuration: unchanged targets keep running untouched, changed ones
    /// restart, removed ones stop and lose every series, new ones start.
    pub async fn reload_from(&self, new: ServeConfig) -> Result<ReloadSummary, ServeError> {
        let _guard = self.reload_lock.lock().await;
        let old = self.config();
        let mut summary = ReloadSummary::default();
        if new.listen != old.listen {
            summary.needs_restart.push("listen");
        }
        if new.buckets != old.buckets {
            summary.needs_restart.push("buckets");
        }
        if new.otlp != old.otlp {
            summary.needs_restart.push("otlp");
        }
        // Build every new runtime first: a client that cannot be built fails the reload whole.
        let current: BTreeMap<String, Arc<TargetRuntime>> = self
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut fresh: Vec<Arc<TargetRuntime>> = Vec::new();
        for t in &new.targets {
            match current.get(&t.name) {
                Some(rt) if *rt.cfg == *t => summary.unchanged.push(t.name.clone()),
                existing => {
                    let rt = TargetRuntime::new(Arc::new(t.clone()), self.shared.clone()).map_err(
                        |source| {
                            self.shared.metrics.config_loaded(false);
                            ServeError::Client {
                                target: t.name.clone(),
                                source,
                            }
                        },
                    )?;
                    if existing.is_some() {
                        summary.restarted.push(t.name.clone());
                    } else {
                        summary.added.push(t.name.clone());
                    }
                    fresh.push(rt);
                }
            }
        }
        for name in current.keys() {
            if !new.targets.iter().any(|t| &t.name == name) {
                summary.removed.push(name.clone());
            }
        }
        // Stop what goes away or restarts; wait for its tasks so nothing records afterwards.
        for name in summary.removed.iter().chain(summary.restarted.iter()) {
            if let Some(rt) = current.get(name) {
                rt.retire();
                rt.wait().await;
            }
        }
        for name in &summary.removed {
            self.shared.metrics.remove_target(name);
            self.shared.recent.remove_target(name);
        }
        for name in &summary.restarted {
            let (Some(old_rt), Some(new_cfg)) = (
                current.get(name),
                new.targets.iter().find(|t| &t.name == name),
            ) else {
                continue;
            };
            // Probes that no longer exist lose their series; the rest keep counting.
            for probe in old_rt.cfg.probe_names() {
                if !new_cfg.probe_names().contains(&probe)
                    || (probe == config::TRICKLE && new_cfg.trickle.is_none())
                {
                    self.shared.metrics.remove_probe(name, &probe);
                    self.shared.recent.remove_burst(name, &probe);
                }
            }
        }
        {
            let mut targets = self.targets.write().unwrap_or_else(|e| e.into_inner());
            for name in &summary.removed {
                targets.remove(name);
            }
            for rt in &fresh {
                targets.insert(rt.name().to_string(), rt.clone());
            }
        }
        for rt in &fresh {
            rt.start();
        }
        let mut kept = new;
        // Settings that apply at start only stay as they are.
        kept.listen = old.listen;
        kept.buckets = old.buckets.clone();
        kept.otlp = old.otlp.clone();
        if kept.source.is_none() {
            kept.source = old.source.clone();
        }
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(kept);
        self.shared.metrics.config_loaded(true);
        for s in &summary.needs_restart {
            tracing::warn!("configuration reloaded, but `{s}` changes only at restart");
        }
        tracing::info!(
            added = ?summary.added,
            removed = ?summary.removed,
            restarted = ?summary.restarted,
            unchanged = summary.unchanged.len(),
            "configuration reloaded"
        );
        Ok(summary)
    }
}

/// This host's name for the OTLP instance id (the HOSTNAME variable, else "localhost").
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// Starts daemons.
pub struct Daemon;

/// A running daemon.
pub struct DaemonHandle {
    inner: Arc<Inner>,
    addr: SocketAddr,
    scheme: &'static str,
    server: JoinHandle<()>,
}

impl Daemon {
    /// Starts probing and serving, over plain HTTP with the control endpoints off. `listen`
    /// overrides the configuration's address (tests pass 127.0.0.1:0 and read
    /// [`DaemonHandle::addr`]).
    pub async fn start(
        config: ServeConfig,
        listen: Option<SocketAddr>,
    ) -> Result<DaemonHandle, ServeError> {
        Daemon::start_with(
            config,
            DaemonOptions {
                listen,
                ..Default::default()
            },
        )
        .await
    }

    /// Starts probing and serving as `options` say.
    /// With an `otlp:` section, OTLP export starts too (call it inside the tokio runtime).
    pub async fn start_with(
        config: ServeConfig,
        options: DaemonOptions,
    ) -> Result<DaemonHandle, ServeError> {
        let web_state = Arc::new(WebState::load(options.web.config_file.as_deref())?);
        if let Some(path) = &options.web.config_file {
            let web = web_state.current();
            tracing::info!(
                web_config = %path.display(),
                tls = web.tls.is_some(),
                basic_auth_users = web.users.len(),
                "web config loaded"
            );
        }
        let metrics = Metrics::new(&config.buckets)?;
        let addr = options.listen.unwrap_or(config.listen);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let otlp = match &config.otlp {
            None => None,
            Some(o) => {
                let mut o = o.clone();
                // Both exports bucket alike.
                o.buckets = Some(config.buckets.clone());
                let instance = format!("{}:{}", hostname(), addr.port());
                Some(Arc::new(Otlp::start(&o, metrics.registry(), &instance)?))
            }
        };
        let shared = Arc::new(Shared {
            metrics,
            clock: Clock::new(),
            recent: Recent::default(),
            otlp: std::sync::RwLock::new(otlp),
            otlp_counted: Default::default(),
        });
        let mut runtimes = BTreeMap::new();
        for t in &config.targets {
            let rt = TargetRuntime::new(Arc::new(t.clone()), shared.clone()).map_err(|source| {
                ServeError::Client {
                    target: t.name.clone(),
                    source,
                }
            })?;
            runtimes.insert(t.name.clone(), rt);
        }
        shared.metrics.config_loaded(true);
        let inner = Arc::new(Inner {
            shared,
            targets: RwLock::new(runtimes),
            config: RwLock::new(Arc::new(config)),
            reload_lock: tokio::sync::Mutex::new(()),
            ready: AtomicBool::new(false),
            stopping: CancellationToken::new(),
            web: options.web.clone(),
        });
        for rt in inner.targets() {
            rt.start();
        }
        let app = super::http::router(inner.clone(), web_state.clone());
        let scheme = if web_state.tls() { "https" } else { "http" };
        let server = super::web::listener::serve(listener, app, web_state, inner.stopping.clone())
            .map_err(|source| ServeError::Serve { addr, source })?;
        tracing::info!("serving /metrics on {scheme}://{addr}/metrics");
        Ok(DaemonHandle {
            inner,
            addr,
            scheme,
            server,
        })
    }
}

impl DaemonHandle {
    /// The address of /metrics and the status page.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "https" when the web configuration has TLS, else "http".
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The daemon's own registry.
    pub fn registry(&self) -> &prometheus::Registry {
        self.inner.shared.metrics.registry()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.shared.metrics
    }

    /// The text exposition, as /metrics serves it.
    pub fn render_metrics(&self) -> String {
        self.inner.shared.sync_otlp_dropped();
        self.inner.shared.metrics.render()
    }

    pub fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    /// The running configuration.
    pub fn config(&self) -> Arc<ServeConfig> {
        self.inner.config()
    }

    /// Applies a new configuration (as SIGHUP or POST /-/reload do from the file).
    pub async fn reload_from(&self, config: ServeConfig) -> Result<ReloadSummary, ServeError> {
        self.inner.reload_from(config).await
    }

    /// Re-reads the configuration file; a bad file keeps the running configuration and sets
    /// fluxprobe_config_last_reload_successful to 0.
    pub async fn reload(&self) -> Result<ReloadSummary, ServeError> {
        self.inner.reload_file().await
    }

    /// Starts a burst now, as POST /-/burst/{target}/{burst} does.
    pub fn trigger_burst(
        &self,
        target: &str,
        burst: &str,
    ) -> Result<(), super::burst::BurstStartError> {
        let rt = self.inner.target(target).ok_or_else(|| {
            super::burst::BurstStartError::UnknownBurst(target.to_string(), burst.to_string())
        })?;
        super::burst::start_burst(&rt, burst, super::burst::Trigger::Manual)
    }

    /// Stops scheduling, lets in-flight probes finish for up to the grace period (the rest end
    /// as aborted), flushes the sinks and stops the HTTP server.
    pub async fn shutdown(self) -> ShutdownReport {
        let grace = self.inner.config().grace_period;
        let targets = self.inner.targets();
        for rt in &targets {
            rt.stop_scheduling();
        }
        let all_done = futures::future::join_all(targets.iter().map(|t| t.wait()));
        let aborted = tokio::time::timeout(grace, all_done).await.is_err();
        if aborted {
            tracing::warn!(
                "grace period over: ending the probes still in flight (counted as aborted)"
            );
            for rt in &targets {
                rt.abort_in_flight();
            }
            // Aborted probes end at once; bound the wait all the same.
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                futures::future::join_all(targets.iter().map(|t| t.wait())),
            )
            .await;
        }
        let otlp_timeout = self
            .inner
            .config()
            .otlp
            .as_ref()
            .and_then(|o| o.timeout)
            .unwrap_or(Duration::from_secs(10));
        self.inner.shared.sync_otlp_dropped();
        let otlp = self
            .inner
            .shared
            .otlp
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // The targets' tasks have ended, so this is the last reference; were one still held,
        // dropping ours leaves the flush to the exporter's own background thread.
        if let Some(o) = otlp {
            match Arc::into_inner(o) {
                Some(o) => o.shutdown(otlp_timeout).await,
                None => {
                    tracing::debug!("OTLP exporter still referenced; it flushes in the background")
                }
            }
        }
        self.inner.stopping.cancel();
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            // Idle keep-alive connections must not hold the exit.
            server.abort();
        }
        ShutdownReport {
            aborted_in_flight: aborted,
        }
    }
}
