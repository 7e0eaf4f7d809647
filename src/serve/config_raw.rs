//! The serve configuration file as written: serde shapes with unknown keys rejected, every value
//! that validation may complain about kept with its file position (`Spanned`), and the small
//! value types the file uses (durations, byte sizes, seeds). `config.rs` turns this into the
//! checked [`super::config::ServeConfig`].

use super::otlp::OtlpConfig;
use crate::probe::ProbeMode;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A duration written as "50ms", "15s", "1m30s" or a bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 50ms, 15s, 5m or 1h30m")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|s| Dur(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                if (0.0..1e12).contains(&v) {
                    Ok(Dur(Duration::from_secs_f64(v)))
                } else {
                    Err(E::custom(
                        "a duration must be a finite, non-negative number of seconds",
                    ))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                crate::cli::parse_duration(v).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A byte count written as a number or with a unit: "4MiB", "512KiB", "1GiB", "10MB".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

/// Parses "4MiB", "4 MB", "4096".
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4MiB, 512KiB, 1048576)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kib" | "k" => 1024.0,
        "mib" | "m" => 1024.0 * 1024.0,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes.round() as u64)
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 4MiB or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_byte_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `seed: none`, `seed: random` or `seed: 42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedValue {
    None,
    Random,
    Fixed(u64),
}

impl<'de> Deserialize<'de> for SeedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SeedValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("none, random or a whole number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SeedValue, E> {
                Ok(SeedValue::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SeedValue, E> {
                u64::try_from(v)
                    .map(SeedValue::Fixed)
                    .map_err(|_| E::custom("a seed cannot be negative"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<SeedValue, E> {
                Ok(SeedValue::None)
            }
            fn visit_none<E: de::Error>(self) -> Result<SeedValue, E> {
                Ok(SeedValue::None)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SeedValue, E> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "none" => Ok(SeedValue::None),
                    "random" => Ok(SeedValue::Random),
                    other => other.parse::<u64>().map(SeedValue::Fixed).map_err(|_| {
                        E::custom(format!(
                            "expected none, random or a whole number, got {v:?}"
                        ))
                    }),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    #[serde(default)]
    pub grace_period: Option<Spanned<Dur>>,
    #[serde(default)]
    pub buckets: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    pub defaults: Option<RawSettings>,
    #[serde(default)]
    pub targets: Option<Spanned<Vec<RawTarget>>>,
    #[serde(default)]
    pub otlp: Option<Spanned<OtlpConfig>>,
}

/// Probe settings: the `defaults:` section, and the same keys on a target (which win).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    #[serde(default)]
    pub mode: Option<ProbeMode>,
    #[serde(default)]
    pub timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    pub poll_interval: Option<Spanned<Dur>>,
    #[serde(default)]
    pub max_in_flight: Option<Spanned<u32>>,
    #[serde(default)]
    pub max_body_bytes: Option<Spanned<ByteSize>>,
    #[serde(default)]
    pub status_interval: Option<Spanned<Dur>>,
    #[serde(default)]
    pub status_timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    pub request: Option<RawRequest>,
    #[serde(default)]
    pub trickle: Option<RawTrickle>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, Spanned<String>>>,
    #[serde(default)]
    pub tls: Option<Spanned<RawTls>>,
}

/// One target. The probe settings repeat here (a target's value wins over `defaults:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    #[serde(default)]
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub bursts: Vec<RawBurst>,
    #[serde(default)]
    pub mode: Option<ProbeMode>,
    #[serde(default)]
    pub timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    pub poll_interval: Option<Spanned<Dur>>,
    #[serde(default)]
    pub max_in_flight: Option<Spanned<u32>>,
    #[serde(default)]
    pub max_body_bytes: Option<Spanned<ByteSize>>,
    #[serde(default)]
    pub status_interval: Option<Spanned<Dur>>,
    #[serde(default)]
    pub status_timeout: Option<Spanned<Dur>>,
    #[serde(default)]
    pub request: Option<RawRequest>,
    #[serde(default)]
    pub trickle: Option<RawTrickle>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, Spanned<String>>>,
    #[serde(default)]
    pub tls: Option<Spanned<RawTls>>,
}

impl RawTarget {
    /// The target's own probe settings, apart from its identity.
    pub fn settings(&mut self) -> RawSettings {
        RawSettings {
            mode: self.mode.take(),
            timeout: self.timeout.take(),
            poll_interval: self.poll_interval.take(),
            max_in_flight: self.max_in_flight.take(),
            max_body_bytes: self.max_body_bytes.take(),
            status_interval: self.status_interval.take(),
            status_timeout: self.status_timeout.take(),
            request: self.request.take(),
            trickle: self.trickle.take(),
            headers: self.headers.take(),
            tls: self.tls.take(),
        }
    }
}

/// TLS towards a target: extra CA certificates, a client certificate, or no verification at all.
/// File paths are relative to the configuration file's directory.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub key_file: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// What each probe sends.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    #[serde(default)]
    pub prompt: Option<Spanned<String>>,
    #[serde(default)]
    pub prompts: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub steps: Option<Spanned<u32>>,
    #[serde(default)]
    pub guidance: Option<Spanned<f64>>,
    #[serde(default)]
    pub width: Option<Spanned<u32>>,
    #[serde(default)]
    pub height: Option<Spanned<u32>>,
    #[serde(default)]
    pub seed: Option<Spanned<SeedValue>>,
}

/// The open-loop trickle.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrickle {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub interval: Option<Spanned<Dur>>,
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub jitter: Option<Spanned<Dur>>,
}

/// One cron burst.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBurst {
    pub name: Spanned<String>,
    pub schedule: Spanned<String>,
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    pub requests: Spanned<u32>,
    pub concurrency: Spanned<u32>,
    #[serde(default)]
    pub slo: Option<Spanned<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("4MiB").unwrap(), 4 * 1024 * 1024);
        assert_eq!(parse_byte_size("512 KiB").unwrap(), 512 * 1024);
        assert_eq!(parse_byte_size("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_byte_size("4096").unwrap(), 4096);
        assert!(parse_byte_size("4 parsecs").is_err());
        assert!(parse_byte_size("lots").is_err());
    }
}
