//! Small text helpers of the report: picking the English or Chinese wording, formatting
//! figures, and padding to a display width (CJK characters and emoji take two columns).

use crate::cli::Lang;

/// The wording for `lang`.
pub fn tr(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// Seconds with two decimals and the seed's unit ("13.45秒" / "13.45 s"); "N/A" when absent.
pub fn secs2(lang: Lang, v: Option<f64>) -> String {
    match v {
        Some(v) => match lang {
            Lang::En => format!("{v:.2} s"),
            Lang::Zh => format!("{v:.2}秒"),
        },
        None => "N/A".to_string(),
    }
}

/// Seconds with four decimals ("5.3871 s" / "5.3871秒"); "N/A" when absent.
pub fn secs4(lang: Lang, v: Option<f64>) -> String {
    match v {
        Some(v) => match lang {
            Lang::En => format!("{v:.4} s"),
            Lang::Zh => format!("{v:.4}秒"),
        },
        None => "N/A".to_string(),
    }
}

/// A plain figure with `decimals` decimals; "N/A" when absent.
pub fn num(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) => {
            let s = format!("{v:.decimals$}");
            // -0.0, or a tiny negative that rounds to zero, reads as 0.
            match s.strip_prefix('-') {
                Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
                _ => s,
            }
        }
        None => "N/A".to_string(),
    }
}

#[cfg(test)]
mod num_tests {
    use super::num;

    #[test]
    fn zero_never_carries_a_sign() {
        assert_eq!(num(Some(-0.0), 4), "0.0000");
        assert_eq!(num(Some(-0.00001), 2), "0.00");
        assert_eq!(num(Some(-0.5), 2), "-0.50");
        assert_eq!(num(Some(1.25), 1), "1.2");
        assert_eq!(num(None, 2), "N/A");
    }
}

/// Columns a character takes in a terminal: 2 for East Asian wide and full-width characters
/// and for emoji, 0 for combining marks and variation selectors, 1 otherwise.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F | 0x20D0..=0x20FF => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F680..=0x1F6FF
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        0x2705 | 0x274C | 0x2753..=0x2755 | 0x2757 | 0x23E9..=0x23EC | 0x23F0 | 0x23F3 => 2,
        _ => 1,
    }
}

/// Columns a string takes in a terminal.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` followed by spaces up to `width` columns (at least nothing added).
pub fn pad(s: &str, width: usize) -> String {
    let w = display_width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// An error message fit for one report line: control characters become spaces, at most
/// `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.chars().count() <= max {
        trimmed.to_string()
    } else {
        let cut: String = trimmed.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// An error message fit for one report line, cut in the middle when too long: the start says
/// what failed, the end says why (the root cause of an error chain comes last).
pub fn one_line_ends(s: &str, max: usize) -> String {
    let whole = one_line(s, usize::MAX);
    let n = whole.chars().count();
    if n <= max {
        return whole;
    }
    let head = max / 3;
    let tail = max.saturating_sub(head + 1);
    let start: String = whole.chars().take(head).collect();
    let end: String = whole.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_of_cjk_emoji_and_ascii() {
        assert_eq!(display_width("req_0000"), 8);
        assert_eq!(display_width("请求ID"), 6);
        assert_eq!(display_width("✅"), 2);
        assert_eq!(display_width("❌"), 2);
        assert_eq!(display_width("⏱️"), 1);
        assert_eq!(pad("状态", 8), "状态    ");
        assert_eq!(pad("toolong", 3), "toolong");
    }

    #[test]
    fn figures_and_lines() {
        assert_eq!(secs2(Lang::Zh, Some(13.454)), "13.45秒");
        assert_eq!(secs2(Lang::En, None), "N/A");
        assert_eq!(secs4(Lang::En, Some(4.85512)), "4.8551 s");
        assert_eq!(num(Some(0.55617), 2), "0.56");
        assert_eq!(one_line("a\nb\tc", 10), "a b c");
        assert_eq!(one_line("abcdefghijkl", 5), "abcd…");
        assert_eq!(one_line_ends("abcdefghijkl", 7), "ab…ijkl");
        assert_eq!(one_line_ends("abcdefghijkl", 7).chars().count(), 7);
        assert_eq!(one_line_ends("abc\ndef", 20), "abc def");
    }
}
