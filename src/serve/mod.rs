//! `fluxprobe serve`: the continuous prober and its Prometheus / OTLP exporter.

pub mod burst;
pub mod config;
pub mod config_error;
pub mod config_raw;
pub mod envsubst;
pub mod metrics;
pub mod otlp;
pub mod recent;
pub mod registry;
pub mod schedule;
pub mod shared;
pub mod slo;
pub mod status;
pub mod target;

use crate::cli::{CheckConfigArgs, HealthcheckArgs, ServeArgs};
use crate::exit::Exit;

pub async fn run_cli(_args: ServeArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("serve is being built")
}

pub async fn check_config_cli(_args: CheckConfigArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("check-config is being built")
}

pub async fn healthcheck_cli(_args: HealthcheckArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("healthcheck is being built")
}
