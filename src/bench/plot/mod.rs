//! The bench charts: one figure of four panels per phase — response-time distribution,
//! server generation-time distribution, request timeline, throughput over time — drawn with
//! plotters as PNG or SVG (chosen by the file extension) and written atomically.
//!
//! Only measured requests are drawn (warm-up ones are counted in the subtitle). A run of both
//! test types gets both phases, one 2×2 grid under the other. Failures are never dropped: they
//! are red bars with their reason in the timeline, a red rate in the throughput panel, and the
//! histograms (successes only) say how many were left out. Text uses the embedded DejaVu Sans;
//! Chinese labels need a CJK font found at run time (see [`fonts`]).

mod figure;
pub(crate) mod fonts;
mod histogram;
pub(crate) mod labels;
mod series;
pub(crate) mod style;
mod throughput;
mod timeline;

#[cfg(test)]
mod tests;

pub use fonts::CJK_FONT_ENV;

use crate::bench::model::BenchResults;
use crate::cli::Lang;
use figure::Figure;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the charts could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot draw {path}: unsupported file type (use .png or .svg)")]
    UnsupportedExtension { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("drawing the charts failed: {0}")]
    Drawing(String),
    #[error("chart font: {0}")]
    Font(String),
}

/// The seed tool's chart file name.
/// The line that says where the charts were drawn.
pub fn saved_line(path: &Path, lang: Lang) -> String {
    format!(
        "{}{}",
        crate::bench::report::text::tr(lang, "📈 charts saved to ", "📈 图表已保存到 "),
        path.display()
    )
}

pub fn default_plot_name() -> &'static str {
    "throughput_test_results.png"
}

/// The image formats the charts can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Svg,
}

impl Format {
    fn from_path(path: &Path) -> Result<Format, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(PlotError::UnsupportedExtension {
                path: path.to_path_buf(),
            }),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Format::Png => ".png",
            Format::Svg => ".svg",
        }
    }
}

/// A drawing of a known pixel size, for [`write`].
pub(crate) trait Canvas {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

impl Canvas for Figure<'_> {
    fn size(&self) -> (u32, u32) {
        Figure::size(self)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        Figure::draw(self, root)
    }
}

/// Checks that a chart can be written to `path` (.png or .svg, any case).
pub(crate) fn check_path(path: &Path) -> Result<(), PlotError> {
    Format::from_path(path).map(|_| ())
}

/// Draws the charts of `results` to `path` (.png or .svg, any case), atomically (see [`write`]).
pub fn render(results: &BenchResults, path: &Path, lang: Lang) -> Result<(), PlotError> {
    check_path(path)?;
    let fonts = fonts::select(lang)?;
    write(&Figure::new(results, fonts), path)
}

/// Draws `canvas` to `path` (.png or .svg, any case). The file is rendered to a temporary file
/// in the same directory and renamed over `path`, so a reader never sees half a chart and a
/// failure leaves any previous file untouched.
pub(crate) fn write(canvas: &impl Canvas, path: &Path) -> Result<(), PlotError> {
    let format = Format::from_path(path)?;
    let figure = canvas;
    let io_err = |source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".fluxprobe-plot-")
        .suffix(format.suffix())
        .tempfile_in(dir)
        .map_err(io_err)?;
    let size = figure.size();
    match format {
        Format::Png => {
            // The bitmap backend encodes by file extension when presented; the temporary file's
            // suffix is .png.
            let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
            figure.draw(&root)?;
            root.present().map_err(style::drawing)?;
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                figure.draw(&root)?;
                root.present().map_err(style::drawing)?;
            }
            tmp.write_all(svg.as_bytes()).map_err(io_err)?;
        }
    }
    tmp.as_file().sync_all().map_err(io_err)?;
    // A chart is for reading: not the temporary file's owner-only mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(io_err)?;
    }
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    tracing::debug!(path = %path.display(), width = size.0, height = size.1, "charts written");
    Ok(())
}
