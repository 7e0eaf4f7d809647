//! The simulated FLUX API: `fluxprobe simulate`, and the in-process target of `bench --simulate`,
//! `serve --simulate` and every test. It speaks the real service's wire format (see the
//! fixtures described in API.md) for both generations of it, and models its timing.
//!
//! # API generations
//! - **v1**, the older "FLUX API": `steps` and `guidance_scale` are ignored (10 steps always),
//!   request bodies are type-checked only, no /ready, /live or /generate-and-return-image.
//! - **v2**, the newer "Diffusion API": width and height 256..=1024, steps 1..=100 and seed
//!   0..=2^32-1 are validated (422 in FastAPI's format), /ready (503 `{"detail": "Model not
//!   ready"}` until loaded) and /live; POST /generate ignores the requested steps and runs 20.
//!   Queue mode runs the steps requested.
//!
//! Both: an empty prompt answers 500 "Request processing failed: 400: Prompt cannot be empty";
//! a body that is not valid JSON or has wrong types answers 422 with pydantic's error list;
//! unknown paths 404 `{"detail": "Not Found"}`, wrong methods 405. With no GPU, POST /generate
//! answers 500 "Request processing failed: 500: Failed to load … model" and /gpu-info has the
//! no-CUDA shape.
//!
//! # Timing
//! Each GPU runs one generation at a time; requests are served first come first served by the
//! first GPU to be free (synchronous /generate and queue mode share the GPUs). Generation
//! seconds = 1.72 × (steps / 10) × (width·height / 512²) × (1 + jitter), jitter drawn in
//! [0, 1 %] from the seeded source and skewed towards 0; the GPU is busy for that plus 0.08 s.
//! Every duration is multiplied by `time_scale` (0 = instant). Scheduling is computed on
//! virtual time from the previous job's planned end ([`gpu`]), so there is no drift and no
//! busy-waiting at any scale.
//!
//! **Reported times are scaled.** `generation_time` is the generation as simulated, i.e. already
//! multiplied by the time scale, so that it is consistent with what a client measures (response
//! time ≥ generation time, queue wait = response − generation). At time scale ≥ 1 it has two
//! decimals like the real service ("1.72s"); at smaller scales it carries more decimals so that
//! three significant digits survive ("0.0860s" at 0.05). Divide by the time scale to get the real
//! figure back. The scale is in every answer's `x-sim-time-scale` header, in GET /_sim/config,
//! and in [`SimHandle::time_scale`]. Queue-mode timestamps (`created_at`, `started_at`,
//! `completed_at`) are wall-clock Unix seconds of the scaled events.
//!
//! **Status endpoints block.** The real server runs a generation on its event loop, so /health,
//! /ready, /live, /model-status, /gpu-info and /queue-stats answer only once the generation
//! running on GPU 0 at their arrival has finished (`SimConfig::blocking_status`, default on).
//!
//! **Slow start.** For `slow_start × time_scale` after start the model is loading: /health says
//! `"status": "model_loading"` (HTTP 200), /ready 503, /model-status `model_loaded: false`, no
//! model VRAM; generate requests that arrive meanwhile wait for the load (the first request is
//! slow, as on the real service).
//!
//! **VRAM.** The model holds 8.87 GiB ("8.9") on every GPU once loaded; a running generation adds
//! 1.5 GiB × pixels / 512²; the `vram_leak_mib_per_generation` fault adds that much for good per
//! successful generation (up to the GPU's 31.36 GiB, "31.4"). A generation that does not fit
//! fails with the service's CUDA out-of-memory message. /gpu-info writes one-decimal GiB strings
//! with free = total − allocated; /model-status reports GPU 0's allocated memory ("8.87GB").
//!
//! # Faults
//! See [`Faults`]: error, hang, reset, malformed and huge-body rates, queue full, health and
//! figure modes, down, status failures, VRAM leak, validation errors. Which request gets which
//! fault comes from the seeded random source. A hung request is answered only by shutdown (its
//! connection is then dropped); a reset sends the status line, the headers announcing the full
//! length and half of the body, then closes (a transport error for the client); `down` closes
//! every new connection unanswered, and answers nothing on open ones, except control requests.
//!
//! # Control endpoints
//! `GET/PUT/PATCH /_sim/faults`, `GET/PUT /_sim/gpus`, `GET /_sim/stats`, `GET /_sim/config`:
//! see [`control`]. For example `curl -X PATCH localhost:8000/_sim/faults -d '{"error_rate":
//! 0.2}'` or `curl -X PUT localhost:8000/_sim/gpus -d '{"gpus": 1}'`.

pub mod bodies;
pub mod config;
pub mod control;
pub mod faults;
pub mod gpu;
mod listener;
pub mod queue;
pub mod request;
mod respond;
mod routes;
pub mod snapshot;
mod state;

pub use config::{HardwareModel, MAX_SIM_GPUS, SimConfig, SimConfigError, TimingModel};
pub use faults::{DEFAULT_HUGE_BODY_BYTES, Faults, FiguresMode, HealthMode};
pub use snapshot::{SimGpu, SimStats};

use crate::cli::SimulateArgs;
use crate::exit::{Exit, UsageError};
use anyhow::Context;
use state::Shared;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long [`SimHandle::shutdown`] waits for connections to close before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A running simulator. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

/// Starts a simulator listening on `listen` (port 0 picks a free port).
pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let tcp = tokio::net::TcpListener::bind(listen).await?;
    let addr = tcp.local_addr()?;
    let shared = Arc::new(Shared::new(config));
    let listener = listener::SimListener::new(tcp, shared.clone());
    let app = axum::Router::new()
        .fallback(routes::dispatch)
        .with_state(shared.clone());
    let stop = shared.token.clone();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "simulated FLUX API stopped with an error");
        }
    });
    tracing::debug!(%addr, config = %shared.config.describe(), "simulated FLUX API started");
    Ok(SimHandle {
        shared,
        addr,
        server: Some(server),
    })
}

impl SimHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`; an unspecified listen address (0.0.0.0, ::) becomes loopback.
    pub fn base_url(&self) -> url::Url {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let addr = SocketAddr::new(ip, self.addr.port());
        url::Url::parse(&format!("http://{addr}/")).expect("a socket address forms a valid URL")
    }

    /// The configuration it was started with (faults and GPUs may have changed since).
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// The time scale: reported and measured durations are real ones multiplied by it.
    pub fn time_scale(&self) -> f64 {
        self.shared.config.time_scale
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Replaces the faults. Out-of-range figures are clamped (rates to 0..=1, NaN to 0).
    pub fn set_faults(&self, f: Faults) {
        self.shared.set_faults(f.sanitized());
    }

    /// Changes the number of GPUs (0..=[`MAX_SIM_GPUS`], clamped). /gpu-info follows at once;
    /// generations running on a removed GPU finish there.
    pub fn set_gpus(&self, n: u32) {
        self.shared.set_gpus(n.min(MAX_SIM_GPUS) as usize);
    }

    /// The counters, with the running and waiting generations of this instant.
    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    /// Every GPU's memory exactly as /gpu-info reports it now (one-decimal GiB strings and the
    /// bytes a client reads from them), regardless of the `figures` fault.
    pub fn gpu_memory(&self) -> Vec<SimGpu> {
        self.shared.gpu_memory()
    }

    /// Stops the server: hung and waiting requests have their connections dropped, idle ones are
    /// closed; returns when everything is down (cut off after a few seconds at worst).
    pub async fn shutdown(mut self) {
        self.shared.token.cancel();
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shared.token.cancel();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Resolves `--listen` ("127.0.0.1:8000", "localhost:8000", "[::]:8000").
async fn resolve(listen: &str) -> Result<SocketAddr, UsageError> {
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let mut addrs = tokio::net::lookup_host(listen)
        .await
        .map_err(|e| UsageError(format!("--listen {listen:?} is not an address: {e}")))?;
    addrs
        .next()
        .ok_or_else(|| UsageError(format!("--listen {listen:?} resolves to no address")))
}

/// Waits for Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `fluxprobe simulate`: serves until Ctrl-C or SIGTERM.
pub async fn run_cli(args: SimulateArgs) -> anyhow::Result<Exit> {
    let config = SimConfig::from(&args);
    config.validate().map_err(|e| UsageError(e.to_string()))?;
    let addr = resolve(&args.listen).await?;
    let describe = config.describe();
    if config.faults != Faults::default() {
        tracing::info!(faults = ?config.faults, "simulator starts with faults");
    }
    let handle = start(config, addr)
        .await
        .with_context(|| format!("the simulated FLUX API cannot listen on {addr}"))?;
    tracing::info!(
        "simulated FLUX API ({describe}) listening on {}",
        handle.base_url()
    );
    tracing::info!(
        "faults can be switched at run time: GET/PUT/PATCH {}_sim/faults, PUT {}_sim/gpus",
        handle.base_url(),
        handle.base_url()
    );
    stop_signal().await;
    tracing::info!("simulated FLUX API shutting down");
    handle.shutdown().await;
    tracing::debug!("simulated FLUX API stopped");
    Ok(Exit::Ok)
}
