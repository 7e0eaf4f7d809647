//! The simulated FLUX API.

use crate::cli::SimulateArgs;
use crate::exit::Exit;

pub async fn run_cli(_args: SimulateArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("simulate is being built")
}
