//! The fixed set of probe outcomes. These strings are label values (`reason`, `outcome`) and JSON
//! values, so they never change and nothing else is ever used in their place.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How one probe ended. `Success` plus the failure reasons of DESIGN.md "Outcomes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// No complete answer within the per-request timeout (headers or body).
    Timeout,
    /// TCP connection refused, unreachable, DNS failure.
    Connect,
    /// TLS handshake or certificate failure.
    Tls,
    /// Connection reset or closed mid-answer, broken framing.
    Transport,
    /// Any 4xx other than 429.
    #[serde(rename = "http_4xx")]
    Http4xx,
    #[serde(rename = "http_429")]
    Http429,
    /// Any 5xx that is not a recognised queue-full or not-ready answer; also a generation the
    /// server reported as failed in queue mode.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// The server's queue is full ("Queue is full").
    Rejected,
    /// A success status whose body is not the expected JSON.
    InvalidBody,
    /// The body exceeded the configured cap.
    BodyTooLarge,
    /// The service answered that its model is not ready (503 "Model not ready").
    NotReady,
    /// Interrupted by the user or still in flight at the deadline.
    Aborted,
}

impl Outcome {
    /// Every outcome, success first.
    pub const ALL: [Outcome; 13] = [
        Outcome::Success,
        Outcome::Timeout,
        Outcome::Connect,
        Outcome::Tls,
        Outcome::Transport,
        Outcome::Http4xx,
        Outcome::Http429,
        Outcome::Http5xx,
        Outcome::Rejected,
        Outcome::InvalidBody,
        Outcome::BodyTooLarge,
        Outcome::NotReady,
        Outcome::Aborted,
    ];

    /// Every failure reason (all outcomes but success).
    pub fn failures() -> impl Iterator<Item = Outcome> {
        Self::ALL.into_iter().filter(|o| !o.is_success())
    }

    pub fn is_success(self) -> bool {
        self == Outcome::Success
    }

    /// The label / JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::Tls => "tls",
            Outcome::Transport => "transport",
            Outcome::Http4xx => "http_4xx",
            Outcome::Http429 => "http_429",
            Outcome::Http5xx => "http_5xx",
            Outcome::Rejected => "rejected",
            Outcome::InvalidBody => "invalid_body",
            Outcome::BodyTooLarge => "body_too_large",
            Outcome::NotReady => "not_ready",
            Outcome::Aborted => "aborted",
        }
    }

    /// Parses a label value back; `None` for anything outside the set.
    pub fn parse(s: &str) -> Option<Outcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The outcome for an HTTP status that is not a success, before looking at the body.
    pub fn from_http_status(status: u16) -> Outcome {
        match status {
            429 => Outcome::Http429,
            400..=499 => Outcome::Http4xx,
            _ => Outcome::Http5xx,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for o in Outcome::ALL {
            assert!(seen.insert(o.as_str()));
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
        }
        assert_eq!(Outcome::failures().count(), 12);
        assert_eq!(Outcome::parse("garbage"), None);
    }

    #[test]
    fn http_status_classes() {
        assert_eq!(Outcome::from_http_status(429), Outcome::Http429);
        assert_eq!(Outcome::from_http_status(422), Outcome::Http4xx);
        assert_eq!(Outcome::from_http_status(404), Outcome::Http4xx);
        assert_eq!(Outcome::from_http_status(500), Outcome::Http5xx);
        assert_eq!(Outcome::from_http_status(502), Outcome::Http5xx);
    }
}
