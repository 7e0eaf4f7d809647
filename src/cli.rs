//! The command line: clap definitions of every subcommand. Handlers live in the modules they
//! drive (`bench`, `serve`, `sim`); this file only says what a user can type.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Throughput tester and continuous prober for FLUX image-generation APIs.
#[derive(Debug, Parser)]
#[command(name = "fluxprobe", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log format: human-readable text or JSON lines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FLUXPROBE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, in tracing's EnvFilter syntax (also RUST_LOG).
    #[arg(long, global = true, env = "FLUXPROBE_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments, printing clap's message and exiting on an error.
    pub fn parse_process() -> Self {
        Self::parse_from_checked(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` like [`Parser::try_parse_from`], and also notes the options whose default
    /// would otherwise hide a mistake: `sweep --concurrent N` is refused, since a sweep sets
    /// the concurrency of each point itself.
    pub fn parse_from_checked<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = <Self as clap::CommandFactory>::command().try_get_matches_from(args)?;
        let mut cli = <Self as clap::FromArgMatches>::from_arg_matches(&matches)?;
        if let Command::Sweep(sweep) = &mut cli.command
            && let Some(m) = matches.subcommand_matches("sweep")
        {
            sweep.concurrent_given =
                m.value_source("concurrent") == Some(clap::parser::ValueSource::CommandLine);
        }
        Ok(cli)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// One-shot throughput test: N requests at concurrency C (or a rate for a duration).
    Bench(BenchArgs),
    /// Capacity planning: a bench per concurrency or rate, the knee, or the highest rate an objective allows.
    Sweep(SweepArgs),
    /// Print the report of a saved results file (fluxprobe's or the seed tool's).
    Report(ReportArgs),
    /// Run the continuous prober and its /metrics endpoint.
    Serve(ServeArgs),
    /// Check a serve configuration file and exit (0 valid, 2 invalid).
    CheckConfig(CheckConfigArgs),
    /// Run the simulated FLUX API.
    Simulate(SimulateArgs),
    /// Ask a running `fluxprobe serve` whether it is healthy (for container health checks):
    /// exit 0 healthy, 1 not healthy or not reachable (Docker reserves 2).
    Healthcheck(HealthcheckArgs),
    /// Print the bcrypt hash of a password read from standard input, for `basic_auth_users`.
    HashPassword(HashPasswordArgs),
}

/// Which phase(s) a bench runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestType {
    /// N × POST /generate, at most C in flight.
    Concurrent,
    /// POST /submit-request, then poll /request-status/{id}.
    Queue,
    /// concurrent, then queue.
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    En,
    Zh,
}

/// `--seed N` or `--seed random`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedArg {
    Fixed(u64),
    Random,
}

impl std::str::FromStr for SeedArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("random") {
            return Ok(SeedArg::Random);
        }
        s.parse::<u64>()
            .map(SeedArg::Fixed)
            .map_err(|_| format!("expected a whole number or 'random', got {s:?}"))
    }
}

/// Parses "300s", "5m", "1.5s", or a bare number of seconds.
/// A byte count for --max-body-bytes: "4MiB", "512KiB", "1048576".
fn parse_max_body(s: &str) -> Result<usize, String> {
    let n = crate::serve::config_raw::parse_byte_size(s)?;
    if n == 0 {
        return Err("the body cap must be above 0".to_string());
    }
    usize::try_from(n).map_err(|_| format!("{s:?} is too large"))
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("{s:?} is not a valid duration"));
    }
    humantime::parse_duration(t).map_err(|e| format!("{s:?} is not a valid duration: {e}"))
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Base URL of the FLUX API.
    #[arg(
        long,
        default_value = "http://localhost:8000",
        conflicts_with = "simulate"
    )]
    pub url: String,
    /// Run against the built-in simulated API, in process (no GPU server needed).
    #[arg(long)]
    pub simulate: bool,
    /// Simulated GPUs (with --simulate).
    #[arg(long, default_value_t = 1, requires = "simulate")]
    pub sim_gpus: u32,
    /// Simulator time scale (with --simulate): 1 = real timings, 0.01 = 100× faster, 0 = instant.
    #[arg(long, default_value_t = 1.0, requires = "simulate")]
    pub sim_time_scale: f64,
    /// Number of requests (closed loop; sweep: per point, and a rate point without --duration
    /// lasts long enough for this many).
    #[arg(long, default_value_t = 10)]
    pub requests: u64,
    /// Most requests in flight at once (closed loop; a sweep sets its own).
    #[arg(long, default_value_t = 3)]
    pub concurrent: u32,
    /// Open loop: send this many requests per second on schedule, whatever the answers (needs --duration).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: how long to send for (e.g. 60s, 5m); needs --rate (sweep: per rate point).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Open loop: how sends are spaced: constant, poisson, or gamma:<burstiness> (1 = Poisson,
    /// below 1 burstier). Sweep rate points use poisson unless gamma is given.
    #[arg(long, default_value = "constant")]
    pub arrivals: crate::bench::arrivals::Arrivals,
    /// Open loop: seed of the send schedule (same seed, same schedule; sweep: mixed with each
    /// point's rate).
    #[arg(long, default_value_t = 1)]
    pub arrival_seed: u64,
    /// Open loop: stop sending when requests in flight and response times keep rising (saturation).
    #[arg(long)]
    pub stop_on_saturation: bool,
    /// Which test to run.
    #[arg(long, value_enum, default_value_t = TestType::Concurrent)]
    pub test_type: TestType,
    /// Save the results as JSON (default name throughput_test_results_YYYYMMDD_HHMMSS.json;
    /// sweep: sweep_results_YYYYMMDD_HHMMSS.json).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub save: Option<String>,
    /// Draw the charts (PNG or SVG by extension; default throughput_test_results.png; sweep:
    /// sweep_results_YYYYMMDD_HHMMSS.png).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub plot: Option<String>,
    /// Per-request timeout (whole exchange; queue mode: submit to completion).
    #[arg(long, value_parser = parse_duration, default_value = "300s")]
    pub timeout: Duration,
    /// Prompt to send.
    #[arg(long, conflicts_with = "prompts")]
    pub prompt: Option<String>,
    /// File of prompts, one per line, used in turn.
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// Inference steps requested.
    #[arg(long, default_value_t = 10)]
    pub steps: u32,
    /// Guidance scale requested.
    #[arg(long, default_value_t = 4.0)]
    pub guidance: f64,
    /// Image width.
    #[arg(long, default_value_t = 512)]
    pub width: u32,
    /// Image height.
    #[arg(long, default_value_t = 512)]
    pub height: u32,
    /// Seed: a number, or 'random' for a new one per request (default: none sent).
    #[arg(long)]
    pub seed: Option<SeedArg>,
    /// Extra request header 'Name: value' (repeatable; values are never printed or saved).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Requests sent first and left out of the statistics.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Service-level objectives, e.g. 'p95<8s,success>=0.99' (exit code 3 when one is missed, 5 when too few requests to tell).
    #[arg(long)]
    pub slo: Option<String>,
    /// Confidence level of the percentile intervals in the report and JSON.
    #[arg(long, default_value_t = crate::stats::DEFAULT_CONFIDENCE)]
    pub confidence: f64,
    /// Confidence of the --slo percentile verdicts (LoadGen's early-stopping rule uses 0.99).
    #[arg(long, default_value_t = crate::stats::early_stopping::LOADGEN_CONFIDENCE)]
    pub slo_confidence: f64,
    /// Queue mode: time between status polls.
    #[arg(long, value_parser = parse_duration, default_value = "250ms")]
    pub poll_interval: Duration,
    /// Open loop: most requests in flight; a send past it is skipped and counted.
    #[arg(long, default_value_t = 1000)]
    pub max_in_flight: u32,
    /// Report language.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Print a machine-readable summary on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Ctrl-C: how long in-flight requests may still finish.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub grace: Duration,
    /// Body-size cap per response: bytes, or with a unit (512KiB, 4MiB, 1GiB).
    #[arg(long, value_parser = parse_max_body, default_value = "4MiB")]
    pub max_body_bytes: usize,
    /// Skip the status checks before the run.
    #[arg(long)]
    pub no_status: bool,
    /// TLS: extra CA certificates (PEM) to trust besides the system's.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// TLS: client certificate (PEM) for mutual TLS; needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// TLS: private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// TLS: accept any certificate (test rigs only; a warning is printed).
    #[arg(long)]
    pub insecure: bool,
    /// With --save: rewrite the results file this often during the run (e.g. 1m), so that a
    /// run killed outright leaves every request finished by its last checkpoint.
    #[arg(long, value_parser = parse_duration, requires = "save")]
    pub checkpoint: Option<Duration>,
}

/// `fluxprobe sweep`: every bench option applies to each point (`--requests` and `--warmup` to
/// each concurrency point, `--duration` and `--arrivals` to each rate point, `--slo` judges
/// each point, `--save` and `--plot` write the sweep's JSON and chart).
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub bench: BenchArgs,
    /// `--concurrent` was given on the command line (set by [`Cli::parse_from_checked`]).
    #[arg(skip)]
    pub concurrent_given: bool,
    /// Concurrency sweep: 'auto' (1, 2, 4, … until the knee) or a list, e.g. 1,2,4,8.
    #[arg(long, value_name = "auto|LIST")]
    pub concurrency: Option<String>,
    /// Rate sweep: 'auto' (evenly spaced between single-stream and saturated throughput) or a list of requests/s.
    #[arg(long, value_name = "auto|LIST", conflicts_with = "concurrency")]
    pub rates: Option<String>,
    /// Find the highest rate whose verdict on this objective is PASS (bisection), e.g. 'p99<20s'.
    #[arg(long, value_name = "SLO", conflicts_with_all = ["concurrency", "rates"])]
    pub max_rate_under: Option<String>,
    /// Rate points of an automatic rate sweep.
    #[arg(long, default_value_t = 5)]
    pub points: u32,
    /// The knee: stop the concurrency sweep when throughput grows by less than this share while p50 rises.
    #[arg(long, default_value_t = 0.10)]
    pub knee_gain: f64,
    /// Highest concurrency an automatic sweep tries.
    #[arg(long, default_value_t = 64)]
    pub max_concurrency: u32,
    /// Each concurrency point sends at least this many rounds of C requests.
    #[arg(long, default_value_t = 8)]
    pub rounds: u64,
    /// Rate search: stop when the bracket is narrower than this share of the upper end (the
    /// saturated throughput, or --max-rate).
    #[arg(long, default_value_t = 0.05)]
    pub resolution: f64,
    /// Rate search: highest rate to try (default: the saturated throughput measured first).
    #[arg(long)]
    pub max_rate: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A results file: fluxprobe's or the seed tool's.
    pub file: PathBuf,
    /// Also draw the charts (PNG or SVG by extension; default: the results file's name with
    /// .png).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub plot: Option<String>,
    /// Print the machine-readable summary instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Language of the report and the charts.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Configuration file (YAML).
    #[arg(long, short = 'c', env = "FLUXPROBE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Probe the built-in simulated API (a demo with no configuration needed).
    #[arg(long)]
    pub simulate: bool,
    /// Address for /metrics and the status page (overrides the config).
    #[arg(long)]
    pub listen: Option<String>,
    /// Web configuration file (TLS, basic auth, headers), in the format of Prometheus's
    /// exporter-toolkit; re-read when it changes.
    #[arg(
        long = "web.config.file",
        env = "FLUXPROBE_WEB_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub web_config_file: Option<PathBuf>,
    /// Turn on POST /-/reload.
    #[arg(long = "web.enable-lifecycle", env = "FLUXPROBE_WEB_ENABLE_LIFECYCLE")]
    pub web_enable_lifecycle: bool,
    /// Turn on POST /-/burst/{target}/{burst} (and the status page's "run now" buttons).
    #[arg(long = "web.enable-burst-api", env = "FLUXPROBE_WEB_ENABLE_BURST_API")]
    pub web_enable_burst_api: bool,
}

#[derive(Debug, Clone, Args)]
pub struct HashPasswordArgs {
    /// bcrypt cost (4–31; each step doubles the work).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31))]
    pub cost: u32,
}

#[derive(Debug, Clone, Args)]
pub struct CheckConfigArgs {
    pub file: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The daemon's address.
    #[arg(long, default_value = "http://127.0.0.1:9464")]
    pub url: String,
    /// How long to wait for the answer.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub timeout: Duration,
    /// Basic-auth user, when the daemon's web config has `basic_auth_users`; the password is
    /// read from FLUXPROBE_HEALTHCHECK_PASSWORD.
    #[arg(long, env = "FLUXPROBE_HEALTHCHECK_USER")]
    pub user: Option<String>,
    /// Extra CA certificate (PEM) to trust for an https:// daemon.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Accept any certificate of an https:// daemon (e.g. a self-signed one on localhost).
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiVersion {
    /// The older "FLUX API" (FP4): steps and guidance fixed, no /ready.
    V1,
    /// The newer "Diffusion API": validation, /ready and /live.
    V2,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// Simulated GPUs (each serves one generation at a time).
    #[arg(long, default_value_t = 1)]
    pub gpus: u32,
    /// 1 = real timings, 0.01 = 100× faster, 0 = instant.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Which generation of the API to imitate.
    #[arg(long, value_enum, default_value_t = ApiVersion::V1)]
    pub api_version: ApiVersion,
    /// Fraction of generations that fail with a 500.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Fraction of requests that never answer.
    #[arg(long, default_value_t = 0.0)]
    pub hang_rate: f64,
    /// Fraction of requests whose connection is reset mid-answer.
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Fraction of generate answers with a malformed body.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Fraction of generate answers with a huge body.
    #[arg(long, default_value_t = 0.0)]
    pub huge_body_rate: f64,
    /// Model loading time at start, in unscaled seconds: like every timing it is multiplied by
    /// --time-scale (30s at 0.01 loads for 0.3 s). /health says model_loading until then.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub slow_start: Duration,
    /// Queue capacity of /submit-request (max_queue_size).
    #[arg(long, default_value_t = 100)]
    pub max_queue_size: u32,
    /// VRAM growth per generation in MiB (a leak), to exercise VRAM alerts.
    #[arg(long, default_value_t = 0.0)]
    pub vram_leak_mib: f64,
    /// Seed of the fault dice (reproducible runs).
    #[arg(long, default_value_t = 1)]
    pub rng_seed: u64,
    /// Size of a huge body in bytes (with --huge-body-rate).
    #[arg(long, default_value_t = crate::sim::DEFAULT_HUGE_BODY_BYTES)]
    pub huge_body_bytes: usize,
    /// Fraction of status requests (/health, /gpu-info, …) that answer 500.
    #[arg(long, default_value_t = 0.0)]
    pub status_fail_rate: f64,
    /// /submit-request always answers "Queue is full".
    #[arg(long)]
    pub queue_full: bool,
    /// What /health reports regardless of the model's state.
    #[arg(long, value_enum, default_value_t = crate::sim::HealthMode::Normal)]
    pub health: crate::sim::HealthMode,
    /// How status figures are written: real numbers, "N/A" strings or nulls.
    #[arg(long, value_enum, default_value_t = crate::sim::FiguresMode::Normal)]
    pub figures: crate::sim::FiguresMode,
    /// Status endpoints answer at once instead of waiting for the generation on GPU 0.
    #[arg(long)]
    pub no_blocking_status: bool,
    /// POST /generate answers in the shape that carries vram_usage_gb.
    #[arg(long)]
    pub report_vram: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seed_tool_options_parse() {
        let cli = Cli::try_parse_from([
            "fluxprobe",
            "bench",
            "--url",
            "http://gpu:8000",
            "--requests",
            "50",
            "--concurrent",
            "5",
            "--test-type",
            "both",
            "--save",
            "--plot",
        ])
        .unwrap();
        let Command::Bench(b) = cli.command else {
            panic!("not bench")
        };
        assert_eq!(b.requests, 50);
        assert_eq!(b.concurrent, 5);
        assert_eq!(b.test_type, TestType::Both);
        assert_eq!(b.save.as_deref(), Some(""));
        assert_eq!(b.plot.as_deref(), Some(""));
    }

    #[test]
    fn body_caps_take_units() {
        assert_eq!(parse_max_body("4MiB"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_max_body("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_max_body("1048576"), Ok(1 << 20));
        assert!(parse_max_body("0").is_err());
        assert!(parse_max_body("lots").is_err());
        let cli = Cli::try_parse_from(["fluxprobe", "bench", "--max-body-bytes", "1MiB"]).unwrap();
        let Command::Bench(b) = cli.command else {
            panic!("bench")
        };
        assert_eq!(b.max_body_bytes, 1 << 20);
        let cli = Cli::try_parse_from(["fluxprobe", "bench"]).unwrap();
        let Command::Bench(b) = cli.command else {
            panic!("bench")
        };
        assert_eq!(b.max_body_bytes, 4 << 20, "the default is 4 MiB");
    }

    #[test]
    fn durations_and_seeds() {
        assert_eq!(parse_duration("300s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!("random".parse::<SeedArg>().unwrap(), SeedArg::Random);
        assert_eq!("42".parse::<SeedArg>().unwrap(), SeedArg::Fixed(42));
        assert!("x".parse::<SeedArg>().is_err());
    }
}
