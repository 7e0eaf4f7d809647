//! `fluxprobe bench` and `fluxprobe report`: the one-shot throughput test.

pub mod interrupt;
pub mod model;
pub mod plot;
pub mod progress;
pub mod requests;
pub mod run;
pub mod status;

use crate::cli::{BenchArgs, ReportArgs};
use crate::exit::Exit;

pub async fn run_cli(_args: BenchArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("bench is being built")
}

pub async fn report_cli(_args: ReportArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("report is being built")
}
