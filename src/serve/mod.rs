//! `fluxprobe serve`: the continuous prober and its Prometheus / OTLP exporter.
//!
//! A [`daemon::Daemon`] runs, per configured target, an open-loop trickle of generate probes,
//! cron bursts and status scrapes, and serves /metrics, a status page and its control endpoints.
//! `check-config` validates a configuration file; `healthcheck` asks a running daemon.

pub mod burst;
pub mod config;
pub mod config_error;
pub mod config_raw;
pub mod daemon;
pub mod envsubst;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod otlp;
pub mod page;
pub mod recent;
pub mod registry;
pub mod schedule;
pub mod shared;
pub mod simulate;
pub mod status;
pub mod target;
pub mod web;

pub use config::ServeConfig;
pub use daemon::{Daemon, DaemonHandle, DaemonOptions, ReloadSummary, ServeError, ShutdownReport};

use crate::cli::{CheckConfigArgs, HealthcheckArgs, ServeArgs};
use crate::exit::{Exit, UsageError};
use std::net::SocketAddr;

pub async fn run_cli(args: ServeArgs) -> anyhow::Result<Exit> {
    let listen: Option<SocketAddr> = match &args.listen {
        None => None,
        Some(l) => Some(l.trim().parse().map_err(|_| {
            UsageError(format!(
                "--listen {l:?} is not an address (write host:port with an IP, e.g. 0.0.0.0:9464)"
            ))
        })?),
    };
    let config = match (&args.config, args.simulate) {
        (Some(path), false) => match config::load_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return Ok(Exit::Usage);
            }
        },
        (None, false) => {
            return Err(UsageError(
                "serve needs --config FILE (or FLUXPROBE_CONFIG), or --simulate for a demo"
                    .to_string(),
            )
            .into());
        }
        (Some(_), true) => {
            return Err(
                UsageError("--simulate and --config exclude each other".to_string()).into(),
            );
        }
        (None, true) => return run_simulated(daemon_options(&args, listen)).await,
    };
    if config.otlp.is_some() {
        tracing::warn!(
            "an otlp: section is configured; this build exports metrics on /metrics only"
        );
    }
    let handle = match Daemon::start_with(config, daemon_options(&args, listen)).await {
        Ok(h) => h,
        Err(ServeError::Web(e)) => {
            eprintln!("{e}");
            return Ok(Exit::Usage);
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "fluxprobe serve: metrics at {}://{}/metrics",
        handle.scheme(),
        handle.addr()
    );
    run_until_signal(handle).await
}

fn daemon_options(args: &ServeArgs, listen: Option<SocketAddr>) -> DaemonOptions {
    DaemonOptions {
        listen,
        web: web::WebOptions {
            config_file: args.web_config_file.clone(),
            enable_lifecycle: args.web_enable_lifecycle,
            enable_burst_api: args.web_enable_burst_api,
        },
    }
}

/// `serve --simulate`: the simulated API in process, probed with the built-in configuration.
async fn run_simulated(options: DaemonOptions) -> anyhow::Result<Exit> {
    let sim = simulate::start_simulator()
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the simulated FLUX API: {e}"))?;
    let config = simulate::simulated_config(&sim.base_url())?;
    let handle = match Daemon::start_with(config, options).await {
        Ok(h) => h,
        Err(e) => {
            sim.shutdown().await;
            if let ServeError::Web(e) = e {
                eprintln!("{e}");
                return Ok(Exit::Usage);
            }
            return Err(e.into());
        }
    };
    eprintln!(
        "fluxprobe serve --simulate: probing the simulated FLUX API at {} (trickle every 10s, a burst every 5 minutes)",
        sim.base_url()
    );
    eprintln!(
        "metrics at {scheme}://{addr}/metrics, status page at {scheme}://{addr}/",
        scheme = handle.scheme(),
        addr = handle.addr()
    );
    let exit = run_until_signal(handle).await;
    sim.shutdown().await;
    exit
}

/// Serves until SIGTERM or SIGINT; SIGHUP reloads the configuration file.
async fn run_until_signal(handle: DaemonHandle) -> anyhow::Result<Exit> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    if let Err(e) = handle.reload().await {
                        tracing::error!("reload failed, keeping the running configuration: {e}");
                    }
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping: waiting for in-flight probes");
    let report = handle.shutdown().await;
    if report.aborted_in_flight {
        tracing::warn!(
            "some probes were still in flight at the end of the grace period (counted as aborted)"
        );
    }
    tracing::info!("stopped");
    Ok(Exit::Ok)
}

pub async fn check_config_cli(args: CheckConfigArgs) -> anyhow::Result<Exit> {
    match config::load_file(&args.file) {
        Ok(c) => {
            println!("{}: valid", args.file.display());
            print!("{}", c.summary());
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(Exit::Usage)
        }
    }
}

/// `fluxprobe healthcheck`: exit 0 when the daemon answers healthy, 1 when it does not or
/// cannot be asked (a bad URL or missing password included), since container runtimes read
/// only 0 and 1 (Docker reserves 2). Options clap cannot parse still exit 2, as every command's.
pub async fn healthcheck_cli(args: HealthcheckArgs) -> anyhow::Result<Exit> {
    let password = std::env::var("FLUXPROBE_HEALTHCHECK_PASSWORD").ok();
    if args.user.is_some() && password.is_none() {
        eprintln!(
            "fluxprobe healthcheck: {}",
            healthcheck::HealthcheckError::NoPassword
        );
        return Ok(Exit::Runtime);
    }
    let opts = healthcheck::HealthcheckOptions {
        timeout: args.timeout,
        basic_auth: args.user.clone().zip(password),
        cacert: args.cacert.clone(),
        insecure: args.insecure,
    };
    match healthcheck::check(&args.url, &opts).await {
        Ok(()) => Ok(Exit::Ok),
        Err(e) => {
            eprintln!("fluxprobe healthcheck: {e}");
            Ok(Exit::Runtime)
        }
    }
}
