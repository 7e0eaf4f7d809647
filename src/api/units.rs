//! Tolerant parsing of the figures the FLUX API sends: numbers, numeric strings and strings with
//! units ("1.72s", "8.50GB", "31.4", "8704MiB"). The service's "GB" are GiB (bytes / 1024³), and
//! so are its "MB" (MiB) and bare memory numbers. Missing or null is `Absent`, never zero;
//! anything unparseable is `Invalid`, never a panic.

use serde_json::Value;

/// The result of reading one field from the network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parsed<T> {
    /// The field is missing or null.
    Absent,
    /// The field held a usable value.
    Ok(T),
    /// The field was present but not a usable value (counted as a parse error by callers).
    Invalid,
}

impl<T> Parsed<T> {
    /// The value, if there was one.
    pub fn ok(self) -> Option<T> {
        match self {
            Parsed::Ok(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self, Parsed::Invalid)
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::Ok(v) => Parsed::Ok(f(v)),
            Parsed::Absent => Parsed::Absent,
            Parsed::Invalid => Parsed::Invalid,
        }
    }
}

const KIB: f64 = 1024.0;
const MIB: f64 = KIB * 1024.0;
const GIB: f64 = MIB * 1024.0;
const TIB: f64 = GIB * 1024.0;

/// Splits "  8.50 GB " into (8.50, "gb"). The number must come first and be finite.
fn split_number_unit(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    // "e" may start a unit only in theory; none of ours does, but keep "1e3s" working by
    // trying the longest numeric prefix first and backing off.
    let mut cut = end;
    while cut > 0 {
        if let Ok(n) = s[..cut].parse::<f64>() {
            if !n.is_finite() {
                return None;
            }
            let unit = s[cut..].trim().to_ascii_lowercase();
            return Some((n, unit));
        }
        cut -= 1;
        while cut > 0 && !s.is_char_boundary(cut) {
            cut -= 1;
        }
    }
    None
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A duration in seconds: `1.72`, `"1.72s"`, `"1.72 s"`, `"1720ms"`, `"2m"`, `"1.72"`.
/// Negative values are invalid.
pub fn seconds(v: Option<&Value>) -> Parsed<f64> {
    let v = match v {
        None | Some(Value::Null) => return Parsed::Absent,
        Some(v) => v,
    };
    let secs = match v {
        Value::Number(_) => number_of(v),
        Value::String(s) if s.trim().is_empty() => return Parsed::Absent,
        Value::String(s) => split_number_unit(s).and_then(|(n, unit)| {
            let factor = match unit.as_str() {
                "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
                "ms" | "msec" | "milliseconds" => 1e-3,
                "us" | "µs" | "microseconds" => 1e-6,
                "m" | "min" | "mins" | "minutes" => 60.0,
                "h" | "hr" | "hours" => 3600.0,
                _ => return None,
            };
            Some(n * factor)
        }),
        _ => None,
    };
    match secs {
        Some(s) if s >= 0.0 => Parsed::Ok(s),
        _ => Parsed::Invalid,
    }
}

/// A memory figure in bytes. Bare numbers (and numeric strings) are GiB, as the service sends
/// them; "GB"/"GiB" are GiB, "MB"/"MiB" MiB, "TB"/"TiB" TiB, "KB"/"KiB" KiB, "B" bytes.
pub fn gib_bytes(v: Option<&Value>) -> Parsed<f64> {
    let v = match v {
        None | Some(Value::Null) => return Parsed::Absent,
        Some(v) => v,
    };
    let bytes = match v {
        Value::Number(_) => number_of(v).map(|n| n * GIB),
        Value::String(s) if s.trim().is_empty() => return Parsed::Absent,
        Value::String(s) => split_number_unit(s).and_then(|(n, unit)| {
            let factor = match unit.as_str() {
                "" | "g" | "gb" | "gib" => GIB,
                "m" | "mb" | "mib" => MIB,
                "t" | "tb" | "tib" => TIB,
                "k" | "kb" | "kib" => KIB,
                "b" | "bytes" => 1.0,
                _ => return None,
            };
            Some(n * factor)
        }),
        _ => None,
    };
    match bytes {
        Some(b) if b >= 0.0 => Parsed::Ok(b.round()),
        _ => Parsed::Invalid,
    }
}

/// A plain number (a float, or a numeric string).
pub fn number(v: Option<&Value>) -> Parsed<f64> {
    match v {
        None | Some(Value::Null) => Parsed::Absent,
        Some(Value::String(s)) if s.trim().is_empty() => Parsed::Absent,
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Parsed::Ok(n),
            _ => Parsed::Invalid,
        },
        Some(v @ Value::Number(_)) => number_of(v).map_or(Parsed::Invalid, Parsed::Ok),
        Some(_) => Parsed::Invalid,
    }
}

/// A non-negative whole number (a count or an index). `3.0` and `"3"` are accepted; `3.5` is not.
pub fn count(v: Option<&Value>) -> Parsed<u64> {
    match number(v) {
        Parsed::Ok(n) if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 => {
            Parsed::Ok(n as u64)
        }
        Parsed::Ok(_) => Parsed::Invalid,
        Parsed::Absent => Parsed::Absent,
        Parsed::Invalid => Parsed::Invalid,
    }
}

/// A boolean: `true`, `"true"`, `"True"`, `1`, `"yes"`.
pub fn boolean(v: Option<&Value>) -> Parsed<bool> {
    match v {
        None | Some(Value::Null) => Parsed::Absent,
        Some(Value::Bool(b)) => Parsed::Ok(*b),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Parsed::Ok(false),
            Some(1) => Parsed::Ok(true),
            _ => Parsed::Invalid,
        },
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Parsed::Ok(true),
            "false" | "no" | "0" => Parsed::Ok(false),
            "" => Parsed::Absent,
            _ => Parsed::Invalid,
        },
        Some(_) => Parsed::Invalid,
    }
}

/// A short text: strings as they are, numbers and booleans in their JSON spelling.
pub fn text(v: Option<&Value>) -> Parsed<String> {
    match v {
        None | Some(Value::Null) => Parsed::Absent,
        Some(Value::String(s)) => Parsed::Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Parsed::Ok(v.to_string()),
        Some(_) => Parsed::Invalid,
    }
}

/// Formats bytes the way the service does ("8.50GB", GiB with two decimals).
pub fn format_gib(bytes: f64) -> String {
    format!("{:.2}GB", bytes / GIB)
}

/// Bytes per GiB, for callers that convert back.
pub const BYTES_PER_GIB: f64 = GIB;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: Value) -> Parsed<f64> {
        seconds(Some(&v))
    }
    fn b(v: Value) -> Parsed<f64> {
        gib_bytes(Some(&v))
    }

    #[test]
    fn seconds_in_every_spelling() {
        assert_eq!(s(json!("1.72s")), Parsed::Ok(1.72));
        assert_eq!(s(json!(" 1.72 s ")), Parsed::Ok(1.72));
        assert_eq!(s(json!("12.89s")), Parsed::Ok(12.89));
        assert_eq!(s(json!(1.72)), Parsed::Ok(1.72));
        assert_eq!(s(json!("1.72")), Parsed::Ok(1.72));
        assert_eq!(s(json!("1720ms")), Parsed::Ok(1.72));
        assert_eq!(s(json!("2m")), Parsed::Ok(120.0));
        assert_eq!(s(json!(0)), Parsed::Ok(0.0));
    }

    #[test]
    fn seconds_absent_and_invalid() {
        assert_eq!(seconds(None), Parsed::Absent);
        assert_eq!(s(Value::Null), Parsed::Absent);
        assert_eq!(s(json!("")), Parsed::Absent);
        assert_eq!(s(json!("N/A")), Parsed::Invalid);
        assert_eq!(s(json!("fast")), Parsed::Invalid);
        assert_eq!(s(json!("-1s")), Parsed::Invalid);
        assert_eq!(s(json!("NaN")), Parsed::Invalid);
        assert_eq!(s(json!("inf")), Parsed::Invalid);
        assert_eq!(s(json!("1e400")), Parsed::Invalid);
        assert_eq!(s(json!("1.72 fortnights")), Parsed::Invalid);
        assert_eq!(s(json!([1.72])), Parsed::Invalid);
        assert_eq!(s(json!({"s": 1})), Parsed::Invalid);
        assert_eq!(s(json!(true)), Parsed::Invalid);
    }

    #[test]
    fn memory_uses_gib_convention() {
        // Independent computation: 8.50 × 1024³.
        assert_eq!(b(json!("8.50GB")), Parsed::Ok(9_126_805_504.0));
        assert_eq!(
            b(json!("31.4")),
            Parsed::Ok((31.4f64 * 1073741824.0).round())
        );
        assert_eq!(b(json!(31.4)), Parsed::Ok((31.4f64 * 1073741824.0).round()));
        assert_eq!(b(json!("8704MiB")), Parsed::Ok(8704.0 * 1048576.0));
        assert_eq!(b(json!("8704MB")), Parsed::Ok(8704.0 * 1048576.0));
        assert_eq!(b(json!("0.00GB")), Parsed::Ok(0.0));
        assert_eq!(
            b(json!("144.09GB")),
            Parsed::Ok((144.09f64 * 1073741824.0).round())
        );
        assert_eq!(b(json!("1TiB")), Parsed::Ok(1099511627776.0));
        assert_eq!(b(json!("512 B")), Parsed::Ok(512.0));
        assert_eq!(b(json!("8.5 GiB")), Parsed::Ok(9_126_805_504.0));
    }

    #[test]
    fn memory_absent_and_invalid() {
        assert_eq!(gib_bytes(None), Parsed::Absent);
        assert_eq!(b(Value::Null), Parsed::Absent);
        assert_eq!(b(json!("N/A")), Parsed::Invalid);
        assert_eq!(b(json!("-3GB")), Parsed::Invalid);
        assert_eq!(b(json!("8.5 parsecs")), Parsed::Invalid);
        assert_eq!(b(json!("1e400")), Parsed::Invalid);
        assert_eq!(b(json!({})), Parsed::Invalid);
    }

    #[test]
    fn counts_and_booleans() {
        assert_eq!(count(Some(&json!(10))), Parsed::Ok(10));
        assert_eq!(count(Some(&json!("10"))), Parsed::Ok(10));
        assert_eq!(count(Some(&json!(3.0))), Parsed::Ok(3));
        assert_eq!(count(Some(&json!(3.5))), Parsed::Invalid);
        assert_eq!(count(Some(&json!(-1))), Parsed::Invalid);
        assert_eq!(count(Some(&json!("many"))), Parsed::Invalid);
        assert_eq!(count(None), Parsed::Absent);
        assert_eq!(boolean(Some(&json!(true))), Parsed::Ok(true));
        assert_eq!(boolean(Some(&json!("True"))), Parsed::Ok(true));
        assert_eq!(boolean(Some(&json!(0))), Parsed::Ok(false));
        assert_eq!(boolean(Some(&json!("maybe"))), Parsed::Invalid);
        assert_eq!(boolean(Some(&Value::Null)), Parsed::Absent);
        assert_eq!(text(Some(&json!(12.0))), Parsed::Ok("12.0".to_string()));
        assert_eq!(text(Some(&json!([1]))), Parsed::Invalid);
    }

    #[test]
    fn format_round_trips() {
        assert_eq!(format_gib(9_126_805_504.0), "8.50GB");
        assert_eq!(
            b(json!(format_gib(12_345_678_901.0)))
                .ok()
                .map(|x| (x / 1e7).round()),
            Some(1235.0)
        );
    }
}
