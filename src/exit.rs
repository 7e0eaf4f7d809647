//! Process exit codes, one meaning each (documented in the README).

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// A runtime error.
    Runtime = 1,
    /// A usage or configuration error.
    Usage = 2,
    /// An `--slo` clause failed.
    SloFailed = 3,
    /// The target was not reachable or not ready.
    TargetUnavailable = 4,
    /// An `--slo` verdict is inconclusive (too few requests).
    SloInconclusive = 5,
    /// Interrupted (results were still written).
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that is the user's to fix (bad option, bad config): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error that reached `main`.
pub fn code_for_error(e: &anyhow::Error) -> Exit {
    if e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()) {
        Exit::Usage
    } else {
        Exit::Runtime
    }
}
