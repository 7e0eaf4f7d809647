//! The `fluxprobe` binary: parse the command line, hand over to the library, map the result to an
//! exit code.

use fluxprobe::cli::{Cli, Command};
use fluxprobe::exit::{Exit, code_for_error};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_process();
    fluxprobe::logging::init(cli.log_format, &cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fluxprobe: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Runtime.code());
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Bench(a) => fluxprobe::bench::run_cli(a).await,
            Command::Sweep(a) => fluxprobe::bench::sweep::run_cli(a).await,
            Command::Report(a) => fluxprobe::bench::report_cli(a).await,
            Command::Serve(a) => fluxprobe::serve::run_cli(a).await,
            Command::CheckConfig(a) => fluxprobe::serve::check_config_cli(a).await,
            Command::Healthcheck(a) => fluxprobe::serve::healthcheck_cli(a).await,
            Command::HashPassword(a) => fluxprobe::serve::web::hash_password_cli(a).await,
            Command::Simulate(a) => fluxprobe::sim::run_cli(a).await,
        }
    });
    // Background tasks (a hung connection, a blocked exporter) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("fluxprobe: {e:#}");
            ExitCode::from(code_for_error(&e).code())
        }
    }
}
