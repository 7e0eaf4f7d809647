//! `fluxprobe bench` from start to finish: check the options, start the simulated API when
//! asked, read the system status, run each phase with a progress bar and Ctrl-C handling, then
//! save, plot, print the report and choose the exit code.

use super::checkpoint::{CheckpointTask, Recorder};
use super::interrupt::InterruptWatch;
use super::model::{BenchResults, Load, PhaseResult, target_unavailable};
use super::progress::Bar;
use super::report::text::tr;
use super::run::{OpenLoopOptions, PhasePlan, RunControl, run_phase_with};
use super::setup::{prepare, usage, validate_common};
use super::{plot, report, results, slo, status};
use crate::cli::{BenchArgs, Lang, TestType};
use crate::exit::Exit;
use crate::probe::ProbeMode;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long the status check before a run may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks option combinations that clap cannot express.
fn validate(a: &BenchArgs) -> anyhow::Result<()> {
    validate_common(a)?;
    // Where the results go is checked before any request is sent: a run must not be lost to a
    // typo in a path.
    if let Some(save) = a.save.as_deref().filter(|s| !s.is_empty()) {
        let dir = match std::path::Path::new(save).parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            return Err(usage(format!(
                "--save {save}: the directory {} does not exist",
                dir.display()
            )));
        }
    }
    if let Some(p) = a.plot.as_deref().filter(|s| !s.is_empty()) {
        plot::check_path(std::path::Path::new(p)).map_err(|e| usage(format!("--plot: {e}")))?;
    }
    if a.checkpoint.is_some_and(|d| d.is_zero()) {
        return Err(usage("--checkpoint must be longer than zero"));
    }
    if a.rate.is_none() && a.requests == 0 {
        return Err(usage("--requests must be at least 1"));
    }
    match (a.rate, a.duration) {
        (Some(_), None) => return Err(usage("--rate needs --duration (e.g. --duration 60s)")),
        (None, Some(_)) => return Err(usage("--duration needs --rate (open loop)")),
        _ => {}
    }
    if let Some(r) = a.rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err(usage(
            "--rate must be a positive number of requests per second",
        ));
    }
    if let (Some(rate), Some(d)) = (a.rate, a.duration) {
        super::arrivals::schedule(a.arrivals, rate, d.as_secs_f64(), a.warmup, a.arrival_seed)
            .map_err(|e| usage(format!("--rate/--duration: {e}")))?;
    }
    Ok(())
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
    let prepared = prepare(&args).await?;
    let client = prepared.client.clone();
    let config = prepared.config.clone();
    let source = prepared.source.clone();
    let slo = prepared.slo.clone();

    let say: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(|line: &str| eprintln!("{line}"));
    let lang = args.lang;
    say(&format!(
        "🚀 fluxprobe bench → {}{}",
        config.url,
        if args.simulate {
            tr(lang, " (simulated API)", " (模拟 API)")
        } else {
            ""
        }
    ));
    let system_status = if args.no_status {
        Default::default()
    } else {
        say(tr(lang, "🔍 checking system status …", "🔍 检查系统状态 …"));
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
    let open = OpenLoopOptions {
        arrivals: args.arrivals,
        seed: args.arrival_seed,
        stop_on_saturation: args.stop_on_saturation,
    };
    let control = RunControl::new();
    let watch = InterruptWatch::install(control.clone(), args.grace, lang, Arc::clone(&say));
    // Named at the start, so that checkpoints and the final results go to one file.
    let save_path = args.save.as_deref().map(|save| {
        if save.is_empty() {
            PathBuf::from(results::default_results_name(&chrono::Local::now()))
        } else {
            PathBuf::from(save)
        }
    });
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
            Load::Open { .. } => plan.schedule(&open).map(|s| s.len() as u64).unwrap_or(0),
        };
        let label = match mode {
            ProbeMode::Generate => "concurrent",
            ProbeMode::Queue => "queue",
        };
        let load_text = describe_load(&load, args.warmup, &config.arrivals, lang);
        say(&match lang {
            Lang::En => format!("▶  {label} test: {load_text}"),
            Lang::Zh => format!("▶  {label} 测试: {load_text}"),
        });
        let bar = Arc::new(Bar::new(total, label, !args.json));
        let recorder = Arc::new(Recorder::new(bar.clone()));
        let checkpoints = match (args.checkpoint, &save_path) {
            (Some(every), Some(path)) => Some(CheckpointTask::start(
                every,
                path.clone(),
                BenchResults {
                    config: config.clone(),
                    system_status: system_status.clone(),
                    phases: phases.clone(),
                    interrupted: true,
                    tool_version: env!("CARGO_PKG_VERSION").to_string(),
                },
                plan.clone(),
                Arc::clone(&recorder),
            )),
            _ => None,
        };
        let phase = run_phase_with(&client, &plan, &open, &source, &control, recorder).await;
        if let Some(c) = checkpoints {
            c.stop().await;
        }
        bar.finish();
        if let Some(why) = &phase.stopped_early {
            say(&match lang {
                Lang::En => format!("⏹  {label} test stopped early: {why}"),
                Lang::Zh => format!("⏹  {label} 测试提前停止: {why}"),
            });
        }
        phases.push(phase);
    }
    let interrupted = watch.interrupted();
    drop(watch);
    prepared.shutdown().await;

    let results = BenchResults {
        config,
        system_status,
        phases,
        interrupted,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    if let Some(path) = &save_path {
        results::write_atomic(path, &results::to_json(&results))
            .with_context(|| format!("cannot save the results to {}", path.display()))?;
        say(&format!(
            "{}{}",
            tr(lang, "💾 results saved to ", "💾 结果已保存到 "),
            path.display()
        ));
    }
    if let Some(p) = &args.plot {
        let path = if p.is_empty() {
            PathBuf::from(plot::default_plot_name())
        } else {
            PathBuf::from(p)
        };
        match plot::render(&results, &path, args.lang) {
            Ok(()) => say(&plot::saved_line(&path, lang)),
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
    Ok(exit_code(&results, verdicts.as_deref(), lang, &say))
}

fn describe_load(load: &Load, warmup: u64, arrivals: &str, lang: Lang) -> String {
    let w = match (warmup, lang) {
        (0, _) => String::new(),
        (_, Lang::En) => format!(" (+{warmup} warm-up)"),
        (_, Lang::Zh) => format!(" (+{warmup} 预热)"),
    };
    match *load {
        Load::Closed {
            requests: n,
            concurrency: c,
        } => match lang {
            Lang::En => format!("{n} requests, {c} concurrent{w}"),
            Lang::Zh => format!("{n} 请求, {c} 并发{w}"),
        },
        Load::Open {
            rate: r,
            duration_seconds: d,
            max_in_flight: m,
        } => match lang {
            Lang::En => format!("{r} requests/s ({arrivals}) for {d}s, at most {m} in flight{w}"),
            Lang::Zh => format!("{r} 请求/秒 ({arrivals}), 持续 {d} 秒, 最多 {m} 个进行中{w}"),
        },
    }
}

/// Interrupted wins, then an unreachable target, then the objectives' verdict.
fn exit_code(
    results: &BenchResults,
    verdicts: Option<&[slo::SloReport]>,
    lang: Lang,
    say: &Arc<dyn Fn(&str) + Send + Sync>,
) -> Exit {
    if results.interrupted {
        return Exit::Interrupted;
    }
    if target_unavailable(results.phases.iter().flat_map(|p| p.measured())) {
        say(tr(
            lang,
            "❌ the target could not be reached or was not ready",
            "❌ 目标无法连接或未就绪",
        ));
        return Exit::TargetUnavailable;
    }
    verdicts.map_or(Exit::Ok, |v| slo::overall(v).exit())
}
