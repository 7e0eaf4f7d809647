//! `fluxprobe bench` and `fluxprobe report`: the one-shot throughput test; `fluxprobe sweep`
//! ([`sweep`]): a bench per load level, for capacity planning.

pub mod arrivals;
pub mod checkpoint;
pub mod command;
pub mod interrupt;
pub mod model;
pub mod plot;
pub mod progress;
pub mod report;
pub mod requests;
pub mod results;
pub mod run;
pub mod saturation;
pub mod setup;
pub mod slo;
pub mod status;
pub mod summary;
pub mod sweep;

use crate::cli::{BenchArgs, ReportArgs};
use crate::exit::{Exit, UsageError};

/// `fluxprobe bench`: see [`command::run`].
pub async fn run_cli(args: BenchArgs) -> anyhow::Result<Exit> {
    command::run(args).await
}

/// True when `path` is a results file written by `fluxprobe sweep`.
fn is_sweep_file(path: &std::path::Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some("sweep"))
}

/// `fluxprobe report FILE`: the text report (or `--json` summary) of a saved results file,
/// fluxprobe's or the seed tool's. A file that cannot be read as results is a usage error.
/// When the run had objectives (`--slo`), they are judged again and shown; the exit code stays
/// 0 (it is `bench` that fails a run on them). `--plot [FILE]` also draws the charts, after the
/// report is printed (by default next to the results file, with .png).
pub async fn report_cli(args: ReportArgs) -> anyhow::Result<Exit> {
    if is_sweep_file(&args.file) {
        return Err(UsageError(format!(
            "{} holds a sweep (\"kind\": \"sweep\"), not bench results: its points, knee and \
             search are in the file itself; `fluxprobe report` reads bench results",
            args.file.display()
        ))
        .into());
    }
    // The chart's path is checked before anything is printed.
    let plot_path = args.plot.as_ref().map(|p| {
        if p.is_empty() {
            args.file.with_extension("png")
        } else {
            std::path::PathBuf::from(p)
        }
    });
    if let Some(p) = &plot_path {
        plot::check_path(p).map_err(|e| UsageError(format!("--plot: {e}")))?;
    }
    let results = results::read_file(&args.file).map_err(|e| UsageError(e.to_string()))?;
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&results::summary_json(&results))?;
        s.push('\n');
        s
    } else {
        let mut text = report::render_report(&results, args.lang);
        if let Some(expr) = &results.config.slo {
            match slo::Slo::parse(expr) {
                Ok(objectives) => {
                    text.push('\n');
                    text.push_str(&slo::render(
                        &slo::evaluate_results(&objectives, &results),
                        args.lang,
                    ));
                }
                Err(e) => tracing::warn!("objectives saved in the file are not readable: {e}"),
            }
        }
        text
    };
    print!("{out}");
    if let Some(path) = &plot_path {
        // The extension was checked above: what fails here is drawing or writing.
        plot::render(&results, path, args.lang)?;
        eprintln!("{}", plot::saved_line(path, args.lang));
    }
    Ok(Exit::Ok)
}
