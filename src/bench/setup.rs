//! What `bench` and `sweep` share before the first request: checking the options every run
//! needs, reading the objectives, headers and prompts, starting the simulated API when asked,
//! building the client, and describing the run ([`RunConfig`]).

use super::model::RunConfig;
use super::requests::{RequestSource, read_prompts};
use super::slo::Slo;
use crate::api::client::parse_header_arg;
use crate::api::{ClientConfig, FluxClient};
use crate::cli::{BenchArgs, SeedArg};
use crate::exit::UsageError;
use crate::stats::confidence::valid_level;
use anyhow::Context;

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Checks the options every run needs, whatever drives it.
pub fn validate_common(a: &BenchArgs) -> anyhow::Result<()> {
    if a.concurrent == 0 {
        return Err(usage("--concurrent must be at least 1"));
    }
    if a.duration.is_some_and(|d| d.is_zero()) {
        return Err(usage("--duration must be longer than zero"));
    }
    if a.timeout.is_zero() {
        return Err(usage("--timeout must be longer than zero"));
    }
    if a.width == 0 || a.height == 0 || a.steps == 0 {
        return Err(usage("--width, --height and --steps must be at least 1"));
    }
    if !(a.sim_time_scale.is_finite() && a.sim_time_scale >= 0.0) {
        return Err(usage("--sim-time-scale must be zero or a positive number"));
    }
    if a.max_in_flight == 0 {
        return Err(usage("--max-in-flight must be at least 1"));
    }
    if !valid_level(a.confidence) {
        return Err(usage(
            "--confidence must be a number between 0 and 1, e.g. 0.95",
        ));
    }
    if !(valid_level(a.slo_confidence) && a.slo_confidence > 0.5) {
        return Err(usage(
            "--slo-confidence must be a number above 0.5 and below 1, e.g. 0.99",
        ));
    }
    Ok(())
}

fn seed_label(seed: Option<SeedArg>) -> String {
    match seed {
        None => "none".to_string(),
        Some(SeedArg::Random) => "random".to_string(),
        Some(SeedArg::Fixed(n)) => n.to_string(),
    }
}

/// A target ready to be sent requests, and what the run is.
pub struct Prepared {
    pub client: FluxClient,
    /// The in-process simulated API, when `--simulate`; shut it down after the run.
    pub simulator: Option<crate::sim::SimHandle>,
    pub config: RunConfig,
    pub source: RequestSource,
    pub slo: Option<Slo>,
}

impl Prepared {
    /// Stops the simulated API, if there is one.
    pub async fn shutdown(self) {
        if let Some(sim) = self.simulator {
            sim.shutdown().await;
        }
    }
}

/// Reads the objectives, headers and prompts, starts the simulated API when asked and builds
/// the client. Anything the user must fix is a [`UsageError`].
pub async fn prepare(args: &BenchArgs) -> anyhow::Result<Prepared> {
    let slo = match &args.slo {
        Some(s) => Some(Slo::parse(s).map_err(|e| usage(format!("--slo: {e}")))?),
        None => None,
    };
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header_arg(h).map_err(|e| usage(format!("--header: {e}"))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let prompts = match (&args.prompt, &args.prompts) {
        (Some(p), _) => vec![p.clone()],
        (None, Some(path)) => read_prompts(path).map_err(|e| usage(e.to_string()))?,
        (None, None) => Vec::new(),
    };

    // The target: a URL, or the simulated API in this process.
    let mut simulator = None;
    let base_url = if args.simulate {
        let cfg = crate::sim::SimConfig {
            gpus: args.sim_gpus.max(1),
            time_scale: args.sim_time_scale,
            ..crate::sim::SimConfig::default()
        };
        let handle = crate::sim::start(cfg, "127.0.0.1:0".parse().expect("a valid address"))
            .await
            .context("cannot start the simulated API")?;
        let url = handle.base_url();
        simulator = Some(handle);
        url
    } else {
        url::Url::parse(&args.url).map_err(|e| {
            usage(format!(
                "--url {:?}: {e}",
                crate::redact::url_str(&args.url)
            ))
        })?
    };
    let mut client_cfg = ClientConfig::new(base_url);
    client_cfg.headers = headers.clone();
    client_cfg.timeout = args.timeout;
    client_cfg.max_body_bytes = args.max_body_bytes;
    client_cfg.pool_max_idle_per_host = (args.concurrent as usize).max(8);
    client_cfg.tls = crate::api::client::TlsOptions {
        ca_file: args.cacert.clone(),
        cert_file: args.cert.clone(),
        key_file: args.key.clone(),
        insecure_skip_verify: args.insecure,
    };
    let client = FluxClient::new(&client_cfg).map_err(|e| usage(e.to_string()))?;

    let config = RunConfig {
        url: client.display_url(),
        requests: args.requests,
        concurrent: args.concurrent,
        test_type: args.test_type,
        rate: args.rate,
        duration_seconds: args.duration.map(|d| d.as_secs_f64()),
        timeout_seconds: args.timeout.as_secs_f64(),
        warmup: args.warmup,
        steps: args.steps,
        guidance: args.guidance,
        width: args.width,
        height: args.height,
        seed: seed_label(args.seed),
        prompt_count: prompts.len().max(1),
        header_names: headers.iter().map(|(n, _)| n.clone()).collect(),
        slo: args.slo.clone(),
        simulated: args.simulate,
        confidence: args.confidence,
        slo_confidence: args.slo_confidence,
        arrivals: args.arrivals.to_string(),
        arrival_seed: args.arrival_seed,
    };
    let source = RequestSource {
        prompts,
        steps: args.steps,
        guidance: args.guidance,
        width: args.width,
        height: args.height,
        seed: args.seed,
    };
    Ok(Prepared {
        client,
        simulator,
        config,
        source,
        slo,
    })
}
