//! The progress shown while a bench runs: an indicatif bar on a terminal; elsewhere (CI logs,
//! pipes) a plain line on stderr at every tenth of the run.

use super::run::Progress;
use crate::probe::ProbeRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

/// A bar counting finished requests, with successes, failures and skips in its message.
pub struct Bar {
    bar: ProgressBar,
    /// Not on a terminal: print a line every `line_every` finished requests (0: never).
    line_every: u64,
    total: u64,
    label: String,
    ok: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
}

impl Bar {
    /// A bar for `total` requests; hidden unless stderr is a terminal and `enabled`.
    pub fn new(total: u64, label: &str, enabled: bool) -> Bar {
        let terminal = std::io::stderr().is_terminal();
        let target = if enabled && terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let line_every = if enabled && !terminal {
            (total / 10).max(1)
        } else {
            0
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let style = ProgressStyle::with_template(
            "{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        Bar {
            bar,
            line_every,
            total,
            label: label.to_string(),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    fn refresh(&self) {
        let (ok, failed, skipped) = (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed),
        );
        let mut msg = format!("✅ {ok} ❌ {failed}");
        if skipped > 0 {
            msg.push_str(&format!(" ⏭ {skipped}"));
        }
        self.bar.set_message(msg);
    }

    /// The plain progress line, when not on a terminal.
    fn line(&self) {
        let done = self.bar.position();
        if self.line_every > 0 && (done % self.line_every == 0 || done == self.total) {
            eprintln!(
                "   {} {done}/{} finished (✅ {} ❌ {} ⏭ {})",
                self.label,
                self.total,
                self.ok.load(Ordering::Relaxed),
                self.failed.load(Ordering::Relaxed),
                self.skipped.load(Ordering::Relaxed)
            );
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Prints a line above the bar (or to stderr when hidden).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Progress for Bar {
    fn finished(&self, record: &ProbeRecord) {
        if record.is_success() {
            self.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.bar.inc(1);
        self.refresh();
        self.line();
    }

    fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(1);
        self.refresh();
        self.line();
    }
}
