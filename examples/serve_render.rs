//! The daemon's /metrics render time measured in process, without HTTP: an in-process simulator
//! (8 GPUs, time scale 0) and a daemon with 10 targets probing it once a second, then the text
//! exposition rendered N times the way /metrics renders it. Used by `benches/serve_cost.sh`.
//!
//!   cargo run --release --example serve_render -- [RENDERS]
//!
//! Prints one line of `key=value` pairs: renders, median_us, p99_us, max_us, bytes, series.

use fluxprobe::serve::{Daemon, config};
use fluxprobe::sim::{self, SimConfig};
use std::time::{Duration, Instant};

const TARGETS: usize = 10;
const GPUS: u32 = 8;

/// Samples in the text format (lines that are not comments).
fn series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// How many targets have finished a probe and reported their GPUs.
fn targets_seen(text: &str) -> (usize, usize) {
    let probed = text
        .lines()
        .filter(|l| l.starts_with("fluxprobe_requests_total{") && !l.ends_with(" 0"))
        .count();
    let gpus = text
        .lines()
        .filter(|l| l.starts_with("fluxprobe_target_gpus{"))
        .count();
    (probed, gpus)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let renders: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1000,
    };
    let s = sim::start(
        SimConfig {
            gpus: GPUS,
            time_scale: 0.0,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let mut yml = String::from(
        "defaults:\n  trickle: {interval: 1s, jitter: 0s}\n  status_interval: 5s\ntargets:\n",
    );
    for i in 0..TARGETS {
        yml.push_str(&format!(
            "  - name: gpu-box-{i:02}\n    url: {}\n",
            s.base_url()
        ));
    }
    let cfg = config::parse(&yml, "serve_render.yml", &|_| None)?;
    let d = Daemon::start(cfg, Some("127.0.0.1:0".parse()?)).await?;

    // Every target probed at least twice and its GPUs scraped (bounded: 30 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (probed, gpus) = targets_seen(&d.render_metrics());
        if d.is_ready() && probed >= TARGETS && gpus >= TARGETS {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the daemon did not probe every target within 30 s ({probed} probed, {gpus} with GPUs)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut times = Vec::with_capacity(renders);
    let mut text = String::new();
    for _ in 0..renders {
        let t = Instant::now();
        text = d.render_metrics();
        times.push(t.elapsed());
    }
    times.sort();
    let pick = |q: f64| {
        // Nearest rank.
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
        times[rank - 1].as_secs_f64() * 1e6
    };
    println!(
        "renders={renders} median_us={:.0} p99_us={:.0} max_us={:.0} bytes={} series={}",
        pick(0.5),
        pick(0.99),
        times.last().map_or(0.0, |t| t.as_secs_f64() * 1e6),
        text.len(),
        series(&text)
    );
    d.shutdown().await;
    s.shutdown().await;
    Ok(())
}
