//! A short soak: the daemon probes instant simulators as fast as it can while every fault of the
//! simulator takes its turn (errors, hangs, resets, malformed and huge bodies, a full queue, a
//! loading or broken model, "N/A" and null figures, a down server, failing status endpoints, 422
//! answers, a shrinking GPU list). Between rounds of faults, with the simulators healthy again,
//! the daemon's open file descriptors, live tasks and series are read: they must not grow with
//! the number of probes. The simulators run as separate `fluxprobe simulate` processes, so that
//! what they hold (a hung request keeps its connection until shutdown) is not counted as the
//! daemon's.

mod serve_support;

use fluxprobe::serve::{Daemon, config};
use fluxprobe::sim::{Faults, FiguresMode, HealthMode};
use serve_support::{closed_port, scrape, sum, wait_metrics, wait_until};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `fluxprobe simulate` process at time scale 0 with 8 GPUs, killed when dropped.
struct SimProcess {
    child: Child,
    addr: SocketAddr,
}

impl SimProcess {
    async fn start() -> SimProcess {
        let addr = closed_port();
        let child = Command::new(env!("CARGO_BIN_EXE_fluxprobe"))
            .args([
                "simulate",
                "--listen",
                &addr.to_string(),
                "--time-scale",
                "0",
                "--gpus",
                "8",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sim = SimProcess { child, addr };
        let c = control();
        wait_until(BOUND, "the simulator answers", || {
            let c = c.clone();
            async move { c.get(format!("http://{addr}/health")).send().await.is_ok() }
        })
        .await;
        sim
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn set(&self, faults: &Faults, gpus: u32) {
        let c = control();
        let r = c
            .put(format!("{}/_sim/faults", self.url()))
            .json(faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "faults: {}", r.status());
        let r = c
            .put(format!("{}/_sim/gpus", self.url()))
            .json(&serde_json::json!({ "gpus": gpus }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "gpus: {}", r.status());
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's own client for the simulators' control endpoints: it keeps no connection open,
/// so that the descriptors counted are the daemon's.
fn control() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

const TARGETS: [&str; 3] = ["a", "b", "c"];
/// How long each fault is in force.
const TURN: Duration = Duration::from_millis(200);
/// The longest the test waits for any one thing.
const BOUND: Duration = Duration::from_secs(120);

/// Every fault of the simulator, one at a time (the GPU list shrinking is done beside them).
fn faults() -> Vec<Faults> {
    let off = Faults::default;
    vec![
        Faults {
            error_rate: 0.5,
            ..off()
        },
        Faults {
            hang_rate: 0.3,
            ..off()
        },
        Faults {
            reset_rate: 0.5,
            ..off()
        },
        Faults {
            malformed_rate: 0.5,
            ..off()
        },
        Faults {
            huge_body_rate: 0.5,
            huge_body_bytes: 256 * 1024,
            ..off()
        },
        Faults {
            queue_full: true,
            ..off()
        },
        Faults {
            health: HealthMode::Loading,
            ..off()
        },
        Faults {
            health: HealthMode::Error,
            ..off()
        },
        Faults {
            figures: FiguresMode::NotAvailable,
            ..off()
        },
        Faults {
            figures: FiguresMode::Null,
            ..off()
        },
        Faults {
            down: true,
            ..off()
        },
        Faults {
            status_fail_rate: 0.5,
            ..off()
        },
        Faults {
            validation_error: true,
            ..off()
        },
        Faults {
            vram_leak_mib_per_generation: 1.0,
            ..off()
        },
    ]
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// What must not grow: open descriptors, live tasks, series.
#[derive(Debug, Clone)]
struct Footprint {
    probes: f64,
    fds: usize,
    tasks: usize,
    series: std::collections::BTreeSet<String>,
}

async fn footprint(addr: SocketAddr) -> Footprint {
    let samples = scrape(addr).await;
    Footprint {
        probes: sum(&samples, "fluxprobe_requests_total", &[]),
        fds: open_fds(),
        tasks: tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        series: samples
            .iter()
            .map(|s| format!("{}{:?}", s.name, s.labels))
            .collect(),
    }
}

/// One round: every fault in turn on every simulator, the GPU list shrinking and growing back,
/// then healthy again until the daemon has made `settle` more probes.
async fn round(sims: &[SimProcess], addr: SocketAddr, settle: f64) {
    for (i, f) in faults().into_iter().enumerate() {
        for s in sims {
            s.set(&f, if i % 2 == 0 { 8 } else { 2 }).await;
        }
        tokio::time::sleep(TURN).await;
    }
    for s in sims {
        s.set(&Faults::default(), 8).await;
    }
    let from = sum(&scrape(addr).await, "fluxprobe_requests_total", &[]);
    wait_metrics(addr, BOUND, "probes after a round of faults", |s| {
        (sum(s, "fluxprobe_requests_total", &[]) >= from + settle).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_in_turn_leaves_no_growth_behind() {
    let mut sims = Vec::new();
    for _ in TARGETS {
        sims.push(SimProcess::start().await);
    }
    let mut yaml = String::from(
        "grace_period: 1s
defaults:
  timeout: 300ms
  max_in_flight: 8
  max_body_bytes: 64KiB
  status_interval: 50ms
  trickle: {interval: 1ms}
targets:
",
    );
    for (name, s) in TARGETS.iter().zip(&sims) {
        yaml.push_str(&format!("  - name: {name}\n    url: {}\n", s.url()));
        yaml.push_str("    bursts:\n      - {name: burst, schedule: '* * * * * *', requests: 20, concurrency: 4}\n");
    }
    let cfg = config::parse(&yaml, "soak.yml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let daemon = Daemon::start(cfg, Some("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let addr = daemon.addr();

    // The first round brings out every series there will be (each HTTP code, each reason),
    // and the connection pools fill; what follows must stay at that.
    round(&sims, addr, 500.0).await;
    let first = footprint(addr).await;
    let mut last = first.clone();
    for _ in 0..3 {
        round(&sims, addr, 500.0).await;
        last = footprint(addr).await;
    }
    eprintln!(
        "after the first round: {} probes, {} fds, {} tasks, {} series; after four: {} probes, {} fds, {} tasks, {} series",
        first.probes,
        first.fds,
        first.tasks,
        first.series.len(),
        last.probes,
        last.fds,
        last.tasks,
        last.series.len()
    );
    let made = last.probes - first.probes;
    assert!(made >= 3000.0, "only {made} probes in three rounds");
    // The series may differ only where they are meant to come and go: an HTTP code a probe
    // first met later (the simulator sends a fixed few), and the last burst's quantiles, which
    // are removed when a burst had no success. Anything else would be a leak into labels.
    let codes = ["200", "422", "500", "503"];
    let expected_change = |s: &&String| {
        s.starts_with("fluxprobe_burst_last_response_seconds{")
            || (s.starts_with("fluxprobe_http_responses_total{")
                && codes
                    .iter()
                    .any(|c| s.contains(&format!("\"code\": \"{c}\""))))
    };
    let added: Vec<&String> = last.series.difference(&first.series).collect();
    let removed: Vec<&String> = first.series.difference(&last.series).collect();
    assert!(
        added.iter().all(expected_change) && removed.iter().all(expected_change),
        "the series moved: added {added:?}, removed {removed:?}"
    );
    assert!(
        last.series.len() <= first.series.len() + TARGETS.len() * 2 * codes.len(),
        "{} series after the first round, {} after four",
        first.series.len(),
        last.series.len()
    );
    // Pooled and hung connections come and go; growth with the number of probes would be
    // hundreds.
    assert!(
        last.fds <= first.fds + 24,
        "open descriptors grew from {} to {} over {made} probes",
        first.fds,
        last.fds
    );
    assert!(
        last.tasks <= first.tasks + 32,
        "live tasks grew from {} to {} over {made} probes",
        first.tasks,
        last.tasks
    );
    // Every fault left its mark on the counters: the daemon saw them all.
    let samples = scrape(addr).await;
    for reason in [
        "http_5xx",
        "timeout",
        "transport",
        "invalid_body",
        "body_too_large",
        "http_4xx",
    ] {
        assert!(
            sum(
                &samples,
                "fluxprobe_request_failures_total",
                &[("reason", reason)]
            ) > 0.0,
            "no {reason} failure counted"
        );
    }
    daemon.shutdown().await;
    drop(sims);
}
