//! The whole figure: a title block (tool, target, load, start time, counts) and, for every phase
//! that ran, a 2×2 grid of the four panels. A run of both test types gets two grids stacked, each
//! under a header naming its phase.

use super::PlotError;
use super::fonts::Fonts;
use super::histogram::{self, HistogramPanel};
use super::labels::Labels;
use super::series::PhaseSeries;
use super::style::{
    self, BACKGROUND, FAILURE, INK, MUTED, PHASE_SIZE, SUBTITLE_SIZE, TITLE_SIZE, Theme, drawing,
};
use super::{throughput, timeline};
use crate::bench::model::{BenchResults, Load, PhaseResult};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

pub(super) const WIDTH: u32 = 1600;
/// Height of one phase's 2×2 grid.
const GRID_HEIGHT: u32 = 1000;
const TITLE_HEIGHT: u32 = 100;
/// Height of the header above each grid when there are several phases.
const PHASE_HEADER_HEIGHT: u32 = 44;
/// Longest target URL printed in the title.
const MAX_URL_CHARS: usize = 90;

/// A figure ready to draw: the results and the numbers of each phase.
pub(super) struct Figure<'a> {
    results: &'a BenchResults,
    phases: Vec<(&'a PhaseResult, PhaseSeries)>,
    labels: Labels,
    theme: Theme,
}

impl<'a> Figure<'a> {
    pub fn new(results: &'a BenchResults, fonts: Fonts) -> Figure<'a> {
        Figure {
            results,
            phases: results
                .phases
                .iter()
                .map(|p| (p, PhaseSeries::from_phase(p)))
                .collect(),
            labels: Labels::new(fonts.lang),
            theme: Theme {
                family: fonts.family,
            },
        }
    }

    fn several(&self) -> bool {
        self.phases.len() > 1
    }

    fn block_height(&self) -> u32 {
        GRID_HEIGHT
            + if self.several() {
                PHASE_HEADER_HEIGHT
            } else {
                0
            }
    }

    /// Pixel size of the figure.
    pub fn size(&self) -> (u32, u32) {
        let blocks = self.phases.len().max(1) as u32;
        (WIDTH, TITLE_HEIGHT + blocks * self.block_height())
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        root.fill(&BACKGROUND).map_err(drawing)?;
        let (title, rest) = root.split_vertically(TITLE_HEIGHT);
        self.draw_title(&title)?;
        if self.phases.is_empty() {
            return style::empty_panel(&rest, &self.theme, "", self.labels.no_phases());
        }
        let mut rest = rest;
        for (phase, series) in &self.phases {
            let (block, below) = rest.split_vertically(self.block_height());
            let grid = if self.several() {
                let (header, grid) = block.split_vertically(PHASE_HEADER_HEIGHT);
                self.draw_phase_header(&header, phase, series)?;
                grid
            } else {
                block
            };
            self.draw_grid(&grid, series)?;
            rest = below;
        }
        Ok(())
    }

    fn draw_title<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let (w, _) = area.dim_in_pixel();
        let center = (w / 2) as i32;
        let room = w.saturating_sub(48);
        let title = self.title();
        let size = style::fitting_size(area, &self.theme, &title, TITLE_SIZE, room)?;
        let title_style = self.theme.anchored(size, INK, HPos::Center, VPos::Top);
        area.draw(&Text::new(title, (center, 16), title_style))
            .map_err(drawing)?;
        let subtitle = self.subtitle();
        let size = style::fitting_size(area, &self.theme, &subtitle, SUBTITLE_SIZE, room)?;
        let sub_style = self.theme.anchored(size, MUTED, HPos::Center, VPos::Top);
        area.draw(&Text::new(subtitle, (center, 62), sub_style))
            .map_err(drawing)?;
        Ok(())
    }

    fn draw_phase_header<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        phase: &PhaseResult,
        series: &PhaseSeries,
    ) -> Result<(), PlotError> {
        let (w, h) = area.dim_in_pixel();
        area.draw(&PathElement::new(
            [(24, 2), (w as i32 - 24, 2)],
            style::AXIS.stroke_width(1),
        ))
        .map_err(drawing)?;
        let text = format!(
            "{} — {} — {}",
            self.labels.phase(phase.test_type),
            self.labels.load(&phase.load),
            self.phase_counts(phase, series)
        );
        let color = if series.failures > 0 { FAILURE } else { INK };
        let size = style::fitting_size(area, &self.theme, &text, PHASE_SIZE, w.saturating_sub(48))?;
        let st = self.theme.anchored(size, color, HPos::Center, VPos::Center);
        area.draw(&Text::new(text, ((w / 2) as i32, (h / 2) as i32 + 2), st))
            .map_err(drawing)
    }

    fn draw_grid<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        series: &PhaseSeries,
    ) -> Result<(), PlotError> {
        let cells = area.margin(6, 10, 10, 10).split_evenly((2, 2));
        let labels = &self.labels;
        let excluded = if series.failures > 0 {
            vec![(labels.failures_excluded(series.failures), FAILURE)]
        } else {
            Vec::new()
        };
        let empty_note = if series.bars.is_empty() {
            labels.no_records()
        } else {
            labels.no_successes()
        };
        let response = HistogramPanel {
            caption: labels.response_caption(),
            x_desc: Labels::x_response,
            values: &series.response_times,
            empty_note,
            notes: excluded.clone(),
        };
        histogram::draw(&cells[0], &response, labels, &self.theme)?;

        let mut generation_notes = excluded;
        let missing = series.successes - series.generation_times.len();
        if missing > 0 {
            generation_notes.push((labels.generation_missing(missing), MUTED));
        }
        let generation = HistogramPanel {
            caption: labels.generation_caption(),
            x_desc: Labels::x_generation,
            values: &series.generation_times,
            empty_note: if series.successes > 0 {
                labels.no_generation()
            } else {
                empty_note
            },
            notes: generation_notes,
        };
        histogram::draw(&cells[1], &generation, labels, &self.theme)?;
        timeline::draw(&cells[2], series, labels, &self.theme)?;
        throughput::draw(&cells[3], series, labels, &self.theme)
    }

    /// "fluxprobe — http://gpu:8000 — 10 requests, 3 concurrent".
    fn title(&self) -> String {
        let url = shorten(&self.results.config.url, MAX_URL_CHARS);
        match self.phases.first() {
            Some((p, _)) if !self.several() => {
                format!("fluxprobe — {url} — {}", self.labels.load(&p.load))
            }
            Some((p, _)) => {
                let modes = self
                    .phases
                    .iter()
                    .map(|(p, _)| p.test_type.as_str())
                    .collect::<Vec<_>>()
                    .join(" + ");
                format!(
                    "fluxprobe — {url} — {} ({modes})",
                    self.labels.load(&p.load)
                )
            }
            None => format!(
                "fluxprobe — {url} — {}",
                self.labels.load(&self.planned_load())
            ),
        }
    }

    /// The load the configuration asked for (used when no phase ran).
    fn planned_load(&self) -> Load {
        let c = &self.results.config;
        match (c.rate, c.duration_seconds) {
            (Some(rate), Some(duration_seconds)) => Load::Open {
                rate,
                duration_seconds,
                max_in_flight: 0,
            },
            _ => Load::Closed {
                requests: c.requests,
                concurrency: c.concurrent,
            },
        }
    }

    /// Start time, counts (when there is one phase) and whether the run was interrupted.
    fn subtitle(&self) -> String {
        let mut parts = Vec::new();
        let when = self
            .phases
            .first()
            .and_then(|(p, _)| local_time(p.wall_start))
            .or_else(|| self.results.system_status.timestamp.clone());
        if let Some(when) = when {
            parts.push(self.labels.started(&when));
        }
        if let [(p, s)] = self.phases.as_slice() {
            parts.push(self.phase_counts(p, s));
        }
        if self.results.interrupted {
            parts.push(self.labels.interrupted().to_string());
        }
        parts.join("  ·  ")
    }

    fn phase_counts(&self, phase: &PhaseResult, s: &PhaseSeries) -> String {
        let mut text = self.labels.counts(s.measured(), s.successes, s.failures);
        if s.warmup > 0 {
            text.push_str(&format!(" ({})", self.labels.warmup_hidden(s.warmup)));
        }
        if s.unusable > 0 {
            text.push_str(&format!(" ({})", self.labels.unusable(s.unusable)));
        }
        if phase.interrupted && !self.results.interrupted {
            text.push_str(&format!(" ({})", self.labels.interrupted()));
        }
        text
    }
}

/// Local time of a Unix timestamp, "2025-08-20 09:19:44 +08:00"; `None` for nonsense values.
fn local_time(unix: f64) -> Option<String> {
    if !(unix.is_finite() && unix > 0.0) {
        return None;
    }
    let secs = unix.floor();
    let nanos = ((unix - secs) * 1e9) as u32;
    let t = chrono::DateTime::from_timestamp(secs as i64, nanos.min(999_999_999))?;
    Some(
        t.with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
    )
}

/// At most `max` characters, the cut marked with "…".
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_urls_are_cut() {
        assert_eq!(shorten("http://a:1", 90), "http://a:1");
        let long = format!("http://{}", "x".repeat(200));
        let s = shorten(&long, 20);
        assert_eq!(s.chars().count(), 20);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn timestamps_are_local_and_tolerant() {
        assert_eq!(local_time(f64::NAN), None);
        assert_eq!(local_time(-5.0), None);
        let s = local_time(1_755_695_984.73).unwrap();
        assert!(s.starts_with("2025-08-"), "{s}");
    }
}
