//! `fluxprobe bench` from start to finish: check the options, start the simulated API when
//! asked, read the system status, run each phase with a progress bar and Ctrl-C handling, then
//! save, plot, print the report and choose the exit code.

use super::interrupt::InterruptWatch;
use super::model::{BenchResults, Load, PhaseResult, RunConfig};
use super::progress::Bar;
use super::requests::{RequestSource, read_prompts};
use super::run::{PhasePlan, RunControl, run_phase};
use super::{plot, report, results, slo, status};
use crate::api::client::parse_header_arg;
use crate::api::{ClientConfig, FluxClient};
use crate::cli::{BenchArgs, SeedArg, TestType};
use crate::exit::{Exit, UsageError};
use crate::outcome::Outcome;
use crate::probe::ProbeMode;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long the status check before a run may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Checks option combinations that clap cannot express.
fn validate(a: &BenchArgs) -> anyhow::Result<()> {
    if a.concurrent == 0 {
        return Err(usage("--concurrent must be at least 1"));
    }
    if a.rate.is_none() && a.requests == 0 {
        return Err(usage("--requests must be at least 1"));
    }
    if let Some(r) = a.rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err(usage(
            "--rate must be a positive number of requests per second",
        ));
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
    Ok(())
}

fn seed_label(seed: Option<SeedArg>) -> String {
    match seed {
        None => "none".to_string(),
        Some(SeedArg::Random) => "random".to_string(),
        Some(SeedArg::Fixed(n)) => n.to_string(),
    }
}

/// The phases a test type runs, in order.
fn modes(t: TestType) -> Vec<ProbeMode> {
    match t {
        TestType::Concurrent => vec![ProbeMode::Generate],
        TestType::Queue => vec![ProbeMode::Queue],
        TestType::Both => vec![ProbeMode::Generate, ProbeMode::Queue],
    }
}

/// Runs `fluxprobe bench`.
pub async fn run(args: BenchArgs) -> anyhow::Result<Exit> {
    validate(&args)?;
    let slo = match &args.slo {
        Some(s) => Some(slo::Slo::parse(s).map_err(|e| usage(format!("--slo: {e}")))?),
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
    };
    let source = RequestSource {
        prompts,
        steps: args.steps,
        guidance: args.guidance,
        width: args.width,
        height: args.height,
        seed: args.seed,
    };

    let say: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(|line: &str| eprintln!("{line}"));
    say(&format!(
        "🚀 fluxprobe bench → {}{}",
        config.url,
        if args.simulate {
            " (simulated API)"
        } else {
            ""
        }
    ));
    let system_status = if args.no_status {
        Default::default()
    } else {
        say("🔍 checking system status …");
        status::check(&client, STATUS_TIMEOUT).await
    };

    let load = match (args.rate, args.duration) {
        (Some(rate), Some(d)) => Load::Open {
            rate,
            duration_seconds: d.as_secs_f64(),
            max_in_flight: args.max_in_flight,
        },
        _ => Load::Closed {
            requests: args.requests,
            concurrency: args.concurrent,
        },
    };
    let control = RunControl::new();
    let watch = InterruptWatch::install(control.clone(), args.grace, Arc::clone(&say));
    let mut phases: Vec<PhaseResult> = Vec::new();
    for mode in modes(args.test_type) {
        if watch.interrupted() {
            break;
        }
        let plan = PhasePlan {
            mode,
            load,
            warmup: args.warmup,
            timeout: args.timeout,
            poll_interval: args.poll_interval,
        };
        let total = match load {
            Load::Closed { requests, .. } => requests + args.warmup,
            Load::Open {
                rate,
                duration_seconds,
                ..
            } => super::run::open_loop_count(rate, duration_seconds) + args.warmup,
        };
        let label = match mode {
            ProbeMode::Generate => "concurrent",
            ProbeMode::Queue => "queue",
        };
        say(&format!(
            "▶  {label} test: {}",
            describe_load(&load, args.warmup)
        ));
        let bar = Arc::new(Bar::new(total, label, !args.json));
        let phase = run_phase(&client, &plan, &source, &control, bar.clone()).await;
        bar.finish();
        phases.push(phase);
    }
    let interrupted = watch.interrupted();
    drop(watch);
    if let Some(sim) = simulator {
        sim.shutdown().await;
    }

    let results = BenchResults {
        config,
        system_status,
        phases,
        interrupted,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    if let Some(save) = &args.save {
        let path = if save.is_empty() {
            PathBuf::from(results::default_results_name(&chrono::Local::now()))
        } else {
            PathBuf::from(save)
        };
        results::write_atomic(&path, &results::to_json(&results))
            .with_context(|| format!("cannot save the results to {}", path.display()))?;
        say(&format!("💾 results saved to {}", path.display()));
    }
    if let Some(p) = &args.plot {
        let path = if p.is_empty() {
            PathBuf::from(plot::default_plot_name())
        } else {
            PathBuf::from(p)
        };
        match plot::render(&results, &path, args.lang) {
            Ok(()) => say(&format!("📈 charts saved to {}", path.display())),
            // A chart that cannot be drawn must not lose the measurements.
            Err(e) => say(&format!(
                "⚠️  cannot draw the charts to {}: {e}",
                path.display()
            )),
        }
    }
    let verdicts = slo.as_ref().map(|s| slo::evaluate_results(s, &results));
    if args.json {
        let mut summary = results::summary_json(&results);
        if let (Some(v), Some(obj)) = (&verdicts, summary.as_object_mut()) {
            obj.insert("slo".to_string(), serde_json::to_value(v)?);
            obj.insert(
                "slo_verdict".to_string(),
                serde_json::to_value(slo::overall(v))?,
            );
        }
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", report::render_report(&results, args.lang));
        if let Some(v) = &verdicts {
            println!();
            print!("{}", slo::render(v, args.lang));
        }
    }
    Ok(exit_code(&results, verdicts.as_deref(), &say))
}

fn describe_load(load: &Load, warmup: u64) -> String {
    let w = if warmup > 0 {
        format!(" (+{warmup} warm-up)")
    } else {
        String::new()
    };
    match load {
        Load::Closed {
            requests,
            concurrency,
        } => format!("{requests} requests, {concurrency} concurrent{w}"),
        Load::Open {
            rate,
            duration_seconds,
            max_in_flight,
        } => {
            format!(
                "{rate} requests/s for {duration_seconds}s, at most {max_in_flight} in flight{w}"
            )
        }
    }
}

/// True when nothing got through and every failure says the target could not be reached or
/// was not ready.
fn target_unavailable(results: &BenchResults) -> bool {
    let mut any = false;
    for r in results.phases.iter().flat_map(|p| p.measured()) {
        any = true;
        if !matches!(
            r.outcome,
            Outcome::Connect | Outcome::Tls | Outcome::NotReady
        ) {
            return false;
        }
    }
    any
}

/// Interrupted wins, then an unreachable target, then the objectives' verdict.
fn exit_code(
    results: &BenchResults,
    verdicts: Option<&[slo::SloReport]>,
    say: &Arc<dyn Fn(&str) + Send + Sync>,
) -> Exit {
    if results.interrupted {
        return Exit::Interrupted;
    }
    if target_unavailable(results) {
        say("❌ the target could not be reached or was not ready");
        return Exit::TargetUnavailable;
    }
    verdicts.map_or(Exit::Ok, |v| slo::overall(v).exit())
}
