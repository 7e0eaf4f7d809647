//! `fluxprobe bench` and `fluxprobe report`: the one-shot throughput test.

pub mod model;
pub mod report;
pub mod results;
pub mod slo;
pub mod summary;

use crate::cli::{BenchArgs, ReportArgs};
use crate::exit::{Exit, UsageError};

pub async fn run_cli(_args: BenchArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("bench is being built")
}

/// `fluxprobe report FILE`: the text report (or `--json` summary) of a saved results file,
/// fluxprobe's or the seed tool's. A file that cannot be read as results is a usage error.
/// When the run had objectives (`--slo`), they are judged again and shown; the exit code stays
/// 0 (it is `bench` that fails a run on them).
pub async fn report_cli(args: ReportArgs) -> anyhow::Result<Exit> {
    let results = results::read_file(&args.file).map_err(|e| UsageError(e.to_string()))?;
    if let Some(path) = &args.plot {
        draw_charts(&results, path, args.lang)?;
    }
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
    Ok(Exit::Ok)
}

/// Where `--plot` meets the chart module (`crate::bench::plot::render`), which lives on its own
/// branch: until the two are joined, asking for charts is refused with a clear message.
fn draw_charts(
    _results: &model::BenchResults,
    path: &std::path::Path,
    _lang: crate::cli::Lang,
) -> anyhow::Result<()> {
    Err(UsageError(format!(
        "--plot {}: charts are not available in this build",
        path.display()
    ))
    .into())
}
