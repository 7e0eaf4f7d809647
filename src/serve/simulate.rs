//! `serve --simulate`: a demo with nothing to configure. The simulated FLUX API runs in process
//! (127.0.0.1, a free port, real timings, one GPU) and the daemon probes it with a built-in
//! configuration: a trickle every 10 s and a burst every 5 minutes.

use super::config::{self, ServeConfig};
use super::config_error::ConfigError;

/// The name of the simulated target.
pub const SIMULATED_TARGET: &str = "simulated";

/// The built-in configuration probing a simulator at `base_url`.
pub fn simulated_config(base_url: &url::Url) -> Result<ServeConfig, ConfigError> {
    let yaml = format!(
        "targets:\n  - name: {SIMULATED_TARGET}\n    url: {base_url}\n    labels: {{simulated: \"true\"}}\n    trickle: {{interval: 10s}}\n    timeout: 120s\n    bursts:\n      - name: every-5m\n        schedule: \"*/5 * * * *\"\n        requests: 12\n        concurrency: 3\n        slo: \"p50<15s,success>=0.99\"\n"
    );
    config::parse(&yaml, "(built-in --simulate configuration)", &|_| None)
}

/// Starts the simulator for `serve --simulate`.
pub async fn start_simulator() -> std::io::Result<crate::sim::SimHandle> {
    let cfg = crate::sim::SimConfig {
        gpus: 1,
        time_scale: 1.0,
        ..crate::sim::SimConfig::default()
    };
    crate::sim::start(cfg, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_configuration_is_valid() {
        let c = simulated_config(&url::Url::parse("http://127.0.0.1:8123/").unwrap()).unwrap();
        let t = &c.targets[0];
        assert_eq!(t.name, SIMULATED_TARGET);
        assert_eq!(
            t.trickle.unwrap().interval,
            std::time::Duration::from_secs(10)
        );
        assert_eq!(t.bursts[0].schedule.pattern, "*/5 * * * *");
    }
}
