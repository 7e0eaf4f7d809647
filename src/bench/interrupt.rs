//! Ctrl-C during a bench: the first one stops sending and gives in-flight requests a grace
//! period, after which they are aborted; a second one aborts them at once. Either way the run
//! still ends with a report and (with --save) a complete file.

use super::run::RunControl;
use crate::cli::Lang;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Watches for Ctrl-C (and SIGTERM) until dropped.
pub struct InterruptWatch {
    task: tokio::task::JoinHandle<()>,
    interrupted: Arc<AtomicBool>,
}

impl InterruptWatch {
    /// Installs the handler for `control`. `say` prints a line for the user, in `lang`.
    pub fn install(
        control: RunControl,
        grace: Duration,
        lang: Lang,
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
            let grace_s = grace.as_secs_f64();
            say(&match lang {
                Lang::En => format!(
                    "⏹  interrupted: no new requests; waiting up to {grace_s:.1}s for those in flight (Ctrl-C again to stop now)"
                ),
                Lang::Zh => format!(
                    "⏹  已中断 (interrupted): 不再发送新请求; 最多等待 {grace_s:.1} 秒让进行中的请求完成 (再按 Ctrl-C 立即停止)"
                ),
            });
            let abort = control.abort.clone();
            let grace_timer = tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                abort.cancel();
            });
            if wait_for_signal().await.is_ok() {
                say(match lang {
                    Lang::En => "⏹  stopping now: requests still in flight are counted as aborted",
                    Lang::Zh => "⏹  立即停止: 仍在进行中的请求计为 aborted",
                });
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
