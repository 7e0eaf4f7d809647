//! A configuration error that points at the file: `file:line:column: message`, plus a hint
//! saying how to fix it. Used for YAML syntax errors, unknown keys, wrong types and every
//! validation failure.

use serde_saphyr::{Location, Spanned};
use std::fmt;

/// A configuration error with its position (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 means no position (the file could not be read, an environment variable).
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Builds errors for one source (a file name and its text).
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    /// An error at a location.
    pub fn at(
        &self,
        loc: &Location,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: loc.line().max(1),
            column: loc.column().max(1),
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// An error at a spanned value.
    pub fn at_value<T>(
        &self,
        v: &Spanned<T>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> ConfigError {
        self.at(&v.referenced, message, hint)
    }

    /// An error at a character offset inside a spanned string value (skipping an opening quote).
    pub fn at_offset(
        &self,
        v: &Spanned<String>,
        chars: usize,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> ConfigError {
        let mut e = self.at(&v.referenced, message, hint);
        let quoted = v
            .referenced
            .span()
            .byte_offset()
            .and_then(|b| self.text.as_bytes().get(b as usize))
            .is_some_and(|c| *c == b'"' || *c == b'\'');
        // Only single-line values map character offsets to columns.
        if !v.value.contains('\n') {
            e.column += chars as u64 + u64::from(quoted);
        }
        e
    }

    /// An error with no better position than the start of the file.
    pub fn at_start(&self, message: impl Into<String>, hint: Option<&str>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: 1,
            column: 1,
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// Converts a YAML / serde error of the whole file.
    pub fn from_yaml(&self, e: &serde_saphyr::Error) -> ConfigError {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = plain_message(&e.without_snippet().to_string());
        let hint = hint_for(&message);
        ConfigError {
            file: self.file.to_string(),
            line: line.max(1),
            column: column.max(1),
            message,
            hint,
        }
    }
}

/// The first line of a serde-saphyr message, without its trailing position (we print ours).
fn plain_message(s: &str) -> String {
    let first = s.lines().next().unwrap_or("").trim();
    let cut = [" at line ", ", line "]
        .iter()
        .filter_map(|p| first.find(p))
        .min()
        .unwrap_or(first.len());
    let msg = first[..cut].trim_end_matches([',', '.', ' ']);
    if msg.is_empty() {
        "invalid configuration".to_string()
    } else {
        msg.to_string()
    }
}

fn hint_for(message: &str) -> Option<String> {
    let m = message.to_ascii_lowercase();
    let h = if m.contains("unknown field") {
        "check the spelling and the indentation of this key; examples/fluxprobe.yml lists every key"
    } else if m.contains("missing field") {
        "add the missing key (see examples/fluxprobe.yml)"
    } else if m.contains("unknown variant") {
        "use one of the values listed in the message"
    } else if m.contains("duration") {
        "write durations as 50ms, 15s, 5m or 1h30m"
    } else if m.contains("invalid type") || m.starts_with("invalid") {
        "the value has the wrong type here; compare with examples/fluxprobe.yml"
    } else if m.contains("duplicate") {
        "each key may appear once in a mapping"
    } else {
        "YAML is indentation-sensitive: check the indentation and quoting around this position"
    };
    Some(h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_then_hint() {
        let e = ConfigError {
            file: "f.yml".into(),
            line: 3,
            column: 7,
            message: "bad".into(),
            hint: Some("fix it".into()),
        };
        assert_eq!(e.to_string(), "f.yml:3:7: bad\n  hint: fix it");
        let unplaced = ConfigError {
            line: 0,
            column: 0,
            hint: None,
            ..e
        };
        assert_eq!(unplaced.to_string(), "f.yml: bad");
    }

    #[test]
    fn messages_lose_their_own_position() {
        assert_eq!(
            plain_message("unknown field `foo`, expected one of `a`, `b` at line 3 column 5"),
            "unknown field `foo`, expected one of `a`, `b`"
        );
        assert_eq!(plain_message(""), "invalid configuration");
    }
}
