//! Ctrl-C during a bench: the first one stops sending and gives in-flight requests a grace
//! period, after which they are aborted; a second one aborts them at once. Either way the run
//! still ends with a report and (with --save) a complete file.

use super::run::RunControl;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Watches for Ctrl-C (and SIGTERM) until dropped.
pub struct InterruptWatch {
    task: tokio::task::JoinHandle<()>,
    interrupted: Arc<AtomicBool>,
}

impl InterruptWatch {
    /// Installs the handler for `control`. `say` prints a line for the user.
    pub fn install(
        control: RunControl,
        grace: Duration,
        say: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> InterruptWatch {
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&interrupted);
        let task = tokio::spawn(async move {
            if wait_for_signal().await.is_err() {
                return;
            }
            flag.store(true, Ordering::SeqCst);
            control.stop.cancel();
            say(&format!(
                "⏹  interrupted: no new requests; waiting up to {:.1}s for those in flight (Ctrl-C again to stop now)",
                grace.as_secs_f64()
            ));
            let abort = control.abort.clone();
            let grace_timer = tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                abort.cancel();
            });
            if wait_for_signal().await.is_ok() {
                say("⏹  stopping now: requests still in flight are counted as aborted");
            }
            control.abort.cancel();
            grace_timer.abort();
        });
        InterruptWatch { task, interrupted }
    }

    /// True once Ctrl-C was pressed.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

impl Drop for InterruptWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
