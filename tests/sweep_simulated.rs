//! `fluxprobe sweep` against the simulated API, in process: the concurrency sweep finds the
//! knee where the simulated GPUs run out (C = 1 with one, C = 4 with four), an explicit list
//! runs exactly its points, and the `--max-rate-under` search on one GPU lands within one
//! step of the rate an M/D/1 queue allows — computed here from the queue's own waiting-time
//! distribution, not from the code under test. Time-scaled: no test waits on real generation
//! times, and none asserts on wall-clock time.

use clap::Parser;
use fluxprobe::bench::run::RunControl;
use fluxprobe::bench::slo::Verdict;
use fluxprobe::bench::sweep::point::{Offered, Stage};
use fluxprobe::bench::sweep::{Sweep, exit_code, measure};
use fluxprobe::cli::{Cli, Command, SweepArgs};
use fluxprobe::exit::Exit;
use fluxprobe::sim::{self, SimConfig, TimingModel};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

/// Service time of one 512×512, 10-step request on the simulated GPU, unscaled.
const SERVICE_SECONDS: f64 = 1.72 + 0.08;

fn args(extra: &[&str]) -> SweepArgs {
    let mut argv = vec!["fluxprobe", "sweep", "--no-status"];
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).expect("valid options").command {
        Command::Sweep(s) => s,
        _ => unreachable!("a sweep was parsed"),
    }
}

async fn sweep(extra: &[&str]) -> Sweep {
    let quiet = Arc::new(|_: &str| {});
    measure(&args(extra), RunControl::new(), quiet, false)
        .await
        .expect("the sweep runs")
}

fn offered_concurrency(s: &Sweep) -> Vec<u32> {
    s.points
        .iter()
        .map(|p| match p.offered {
            Offered::Concurrency(c) => c,
            Offered::Rate(_) => panic!("a rate point in a concurrency sweep"),
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gpu_knees_at_one_with_flat_throughput_and_linear_latency() {
    let scale = 0.05;
    let s_time = SERVICE_SECONDS * scale;
    let s = sweep(&[
        "--simulate",
        "--sim-time-scale",
        "0.05",
        "--concurrency",
        "auto",
        "--requests",
        "8",
    ])
    .await;
    // Doubling stops at the first step that no longer pays: 1 → 2.
    assert_eq!(offered_concurrency(&s), vec![1, 2]);
    let knee = s.knee.expect("a knee");
    assert_eq!((knee.concurrency, knee.next_concurrency), (1, 2));
    for p in &s.points {
        assert_eq!(p.summary.success, p.summary.total);
        assert!(
            close(p.throughput(), 1.0 / s_time, 0.10),
            "{}",
            p.throughput()
        );
    }
    assert_eq!(s.points[1].summary.total, 16, "rounds × C requests");
    assert_eq!(exit_code(&s), Exit::Ok);

    // An explicit list runs exactly its points; latency grows with C (each request waits
    // for the C − 1 ahead of it), throughput stays at 1 / service time, the knee is still 1.
    let s = sweep(&[
        "--simulate",
        "--sim-time-scale",
        "0.05",
        "--concurrency",
        "1,2,4",
        "--requests",
        "8",
    ])
    .await;
    assert_eq!(offered_concurrency(&s), vec![1, 2, 4]);
    assert_eq!(s.knee.map(|k| k.concurrency), Some(1));
    for p in &s.points {
        let c = match p.offered {
            Offered::Concurrency(c) => f64::from(c),
            Offered::Rate(_) => unreachable!(),
        };
        let p50 = p.summary.response_time.percentile(50.0).unwrap();
        assert!(close(p50, c * s_time, 0.15), "C={c}: p50 {p50}");
        assert!(close(p.throughput(), 1.0 / s_time, 0.10));
    }
    assert_eq!(s.single_stream_rps, Some(s.points[0].throughput()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_gpus_knee_at_four() {
    let s_time = SERVICE_SECONDS * 0.05;
    let s = sweep(&[
        "--simulate",
        "--sim-gpus",
        "4",
        "--sim-time-scale",
        "0.05",
        "--concurrency",
        "auto",
        "--requests",
        "8",
    ])
    .await;
    assert_eq!(offered_concurrency(&s), vec![1, 2, 4, 8]);
    let knee = s.knee.expect("a knee");
    assert_eq!((knee.concurrency, knee.next_concurrency), (4, 8));
    let thr: Vec<f64> = s.points.iter().map(|p| p.throughput()).collect();
    for (got, gpus_busy) in thr.iter().zip([1.0, 2.0, 4.0, 4.0]) {
        assert!(close(*got, gpus_busy / s_time, 0.10), "{thr:?}");
    }
    let sat = s.saturated_rps.unwrap();
    assert_eq!(sat, thr.iter().copied().fold(0.0, f64::max));
}

/// M/D/1 with service time 1 and utilisation ρ < 1: P(W ≤ t) for the waiting time W, by
/// Erlang's formula (1 − ρ) Σ_{k=0}^{⌊t⌋} (ρ(k − t))^k / k! · e^{−ρ(k − t)}.
fn md1_wait_cdf(t: f64, rho: f64) -> f64 {
    let mut sum = 0.0;
    let mut factorial = 1.0;
    for k in 0..=(t.floor() as u32) {
        if k > 0 {
            factorial *= f64::from(k);
        }
        let x = rho * (f64::from(k) - t);
        sum += x.powi(k as i32) / factorial * (-x).exp();
    }
    (1.0 - rho) * sum
}

/// The same probability by simulating the queue: Lindley's recursion W' = max(0, W + 1 − A)
/// over `n` seeded exponential gaps A of mean 1 / ρ.
fn md1_wait_cdf_simulated(t: f64, rho: f64, n: usize) -> f64 {
    let mut rng = StdRng::seed_from_u64(7);
    let mut w = 0.0f64;
    let mut within = 0usize;
    for _ in 0..n {
        let u: f64 = rng.random::<f64>();
        let gap = -(1.0 - u).ln() / rho;
        w = (w + 1.0 - gap).max(0.0);
        if w <= t {
            within += 1;
        }
    }
    within as f64 / n as f64
}

/// The utilisation at which the q-quantile of the response time (waiting + 1) is `bound`
/// service times: P(W > bound − 1) = 1 − q, by bisection on ρ.
fn md1_utilisation_for(q: f64, bound: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 0.999_999f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if 1.0 - md1_wait_cdf(bound - 1.0, mid) > 1.0 - q {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lo
}

#[test]
fn the_md1_reference_agrees_with_itself() {
    // Below one service time nobody waits but with probability 1 − ρ; a known value.
    assert!((md1_wait_cdf(0.0, 0.5) - 0.5).abs() < 1e-12);
    // Erlang's formula and Lindley's recursion agree where the rate search looks.
    let rho = md1_utilisation_for(0.90, 5.0);
    let exact = md1_wait_cdf(4.0, rho);
    assert!((exact - 0.90).abs() < 1e-9);
    let simulated = md1_wait_cdf_simulated(4.0, rho, 2_000_000);
    assert!((exact - simulated).abs() < 0.005, "{exact} vs {simulated}");
}

/// One GPU, deterministic service time S, Poisson arrivals at rate λ: an M/D/1 queue. The
/// highest rate whose p90 stays under 5 S is ρ* / S with ρ* ≈ 0.758 (computed above); the
/// search must land within one step (resolution × upper end) of it.
///
/// Why p90 and not p99: LoadGen's rule needs 459 requests with none over a p99 bound before
/// it can say PASS at 99 % (and about twice that near the bound), and a queue's response
/// times come in correlated runs, so each probe would need thousands of requests; a p90
/// bound is decided with a few hundred, which keeps this test within seconds at a small time
/// scale. The rule is conservative — PASS needs the share over the bound to be clearly under
/// 10 % — so the answer tends to sit a little below ρ*.
///
/// The probes are reproducible: each one's arrival schedule comes from the sweep's seed mixed
/// with its rate, and the simulator plans service on virtual time, so each probe's count of
/// slow requests is what Lindley's recursion gives on that schedule ([`modelled_search`]), to
/// within the timing noise of the machine (a few requests; about ten near the bound on a
/// loaded 2-core machine). The test first replays the search on the model and checks that,
/// with its seed, every probe's count is at least half its allowance away from the PASS
/// threshold for any constant overhead of 0.1–0.25 S on top of the queue; then the real
/// search must take the model's path, probe for probe. When the schedules change (another
/// draw of gaps, another seed mixing), the first check fails and names the probes: choose a
/// seed for which `modelled_search` clears them again. Over many seeds, about 70 % of
/// searches with 400 requests per probe land within one step and the rest land lower: slow
/// requests come in correlated runs (busy periods), so a probe near the bound can see many
/// more than 10 % of them. The README says so: give probes more requests (or a longer
/// `--duration`) for a tighter answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rate_under_p90_lands_within_one_step_of_md1() {
    let scale = 0.006;
    let s_time = SERVICE_SECONDS * scale;
    let cfg = SimConfig {
        gpus: 1,
        time_scale: scale,
        // Exactly deterministic service, as the M/D/1 model has it.
        timing: TimingModel {
            jitter: 0.0,
            ..TimingModel::default()
        },
        ..SimConfig::default()
    };
    let sim = sim::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let bound_ms = 5.0 * s_time * 1000.0;
    let objective = format!("p90<{bound_ms:.3}ms");
    let capacity = 1.0 / s_time;
    let (seed, warmup) = (90u64, 40u64);
    let url = sim.base_url().to_string();
    let capacity_text = capacity.to_string();
    let (seed_text, warmup_text) = (seed.to_string(), warmup.to_string());
    let extra = [
        "--url",
        url.as_str(),
        "--max-rate-under",
        &objective,
        "--max-rate",
        &capacity_text,
        "--resolution",
        "0.1",
        "--requests",
        "400",
        "--warmup",
        &warmup_text,
        "--arrival-seed",
        &seed_text,
    ];

    // The model's search on the sweep's own schedules, for overheads of 0.1–0.25 S.
    let plan = fluxprobe::bench::sweep::plan::Plan::from_args(&args(&extra)).unwrap();
    let bound = 5.0 * s_time;
    let paths: Vec<Vec<ModelProbe>> = [0.10, 0.15, 0.20, 0.25]
        .iter()
        .map(|o| modelled_search(&plan, seed, warmup, s_time, o * s_time, bound))
        .collect();
    let rates = |p: &[ModelProbe]| p.iter().map(|x| x.rate.to_bits()).collect::<Vec<_>>();
    for path in &paths {
        assert_eq!(
            rates(path),
            rates(&paths[0]),
            "the overhead changes the path: {paths:?}"
        );
        for p in path {
            assert!(
                (p.over as f64 - p.allowed as f64).abs() >= 0.5 * p.allowed as f64,
                "seed {seed}: a probe is too near its PASS threshold for timing noise not to \
                 flip it; choose another seed: {p:?} in {paths:?}"
            );
        }
    }

    let s = sweep(&extra).await;
    sim.shutdown().await;

    let analytic = md1_utilisation_for(0.90, 5.0) / s_time;
    let o = s.search.expect("a search ran");
    let found = o.max_rate.expect("some rate passed");
    let step = 0.1 * capacity;
    assert!((o.step - step).abs() < 1e-9);
    // Rate, verdict, requests, requests over the bound, the most allowed, fastest response.
    type Probe = (
        f64,
        Option<Verdict>,
        u64,
        Option<u64>,
        Option<u64>,
        Option<f64>,
    );
    let probes: Vec<Probe> = s
        .search_points()
        .map(|p| {
            let clause = p.slo.as_ref().map(|r| &r.results[0]);
            (
                p.offered.value(),
                p.verdict(),
                p.summary.total,
                clause.and_then(|c| c.violations),
                clause.and_then(|c| c.allowed_violations),
                p.summary.response_time.min,
            )
        })
        .collect();
    let real_rates: Vec<u64> = probes.iter().map(|p| p.0.to_bits()).collect();
    assert_eq!(
        real_rates,
        rates(&paths[0]),
        "the search left the model's path: probes {probes:?}, model {:?}",
        paths[0]
    );
    assert!(
        (found - analytic).abs() <= step,
        "found {found:.2}/s, M/D/1 says {analytic:.2}/s, step {step:.2}/s; probes {probes:?}"
    );
    // Every probe is a full open-loop bench with its own verdict.
    assert!(s.search_points().all(|p| p.stage == Stage::Search));
    assert!(s.search_points().all(|p| p.summary.total >= 300));
    assert!(s.search_points().all(|p| p.verdict().is_some()));
    assert_eq!(exit_code(&s), Exit::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupting_keeps_the_points_measured() {
    let control = RunControl::new();
    let stop = control.stop.clone();
    // Stop as soon as the first point has reported.
    let say = Arc::new(move |line: &str| {
        if line.contains("C=1:") {
            stop.cancel();
        }
    });
    let s = measure(
        &args(&[
            "--simulate",
            "--sim-time-scale",
            "0.02",
            "--concurrency",
            "1,2,4",
        ]),
        control,
        say,
        false,
    )
    .await
    .unwrap();
    assert!(s.interrupted);
    assert_eq!(offered_concurrency(&s), vec![1]);
    assert_eq!(exit_code(&s), Exit::Interrupted);
}

/// One probe of the rate search as the M/D/1 model sees it on the sweep's own schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ModelProbe {
    rate: f64,
    /// Measured requests (warm-up left out).
    requests: u64,
    /// Measured requests whose response time, waiting + service + `overhead`, reached the bound.
    over: u64,
    /// The most a PASS allows with this many requests (LoadGen's rule).
    allowed: u64,
}

/// The rate search the sweep runs, replayed on the model: each probe's schedule is the one the
/// sweep sends (the same arrivals, seed mixing and warm-up), its queue is Lindley's recursion
/// with a deterministic service time, and the bisection is the sweep's own.
fn modelled_search(
    plan: &fluxprobe::bench::sweep::plan::Plan,
    seed: u64,
    warmup: u64,
    service: f64,
    overhead: f64,
    bound: f64,
) -> Vec<ModelProbe> {
    use fluxprobe::bench::arrivals::{self, Arrivals};
    use fluxprobe::bench::sweep::runner::point_seed;
    use fluxprobe::bench::sweep::search::Bisection;
    use fluxprobe::stats::early_stopping;
    let top = plan.max_rate.expect("the test gives --max-rate");
    let mut b = Bisection::new(top, plan.resolution);
    let mut probes = Vec::new();
    while let Some(rate) = b.next() {
        let offsets = arrivals::schedule(
            Arrivals::Poisson,
            rate,
            plan.rate_point_seconds(rate, 0.99),
            warmup,
            point_seed(seed, rate),
        )
        .expect("a valid schedule");
        let mut finish = f64::NEG_INFINITY;
        let mut over = 0u64;
        for (i, at) in offsets.iter().enumerate() {
            let start = finish.max(*at);
            finish = start + service;
            if i as u64 >= warmup && finish - at + overhead >= bound {
                over += 1;
            }
        }
        let requests = offsets.len() as u64 - warmup;
        let allowed = early_stopping::max_violations(requests, 0.9, 0.99).unwrap_or(0);
        b.record(rate, over <= allowed);
        probes.push(ModelProbe {
            rate,
            requests,
            over,
            allowed,
        });
    }
    probes
}
