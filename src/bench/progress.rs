//! The progress bar shown while a bench runs, on a terminal only (indicatif draws to stderr and
//! hides itself when stderr is not a terminal).

use super::run::Progress;
use crate::probe::ProbeRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

/// A bar counting finished requests, with successes, failures and skips in its message.
pub struct Bar {
    bar: ProgressBar,
    ok: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
}

impl Bar {
    /// A bar for `total` requests; hidden unless stderr is a terminal and `enabled`.
    pub fn new(total: u64, label: &str, enabled: bool) -> Bar {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
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
    }

    fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(1);
        self.refresh();
    }
}
