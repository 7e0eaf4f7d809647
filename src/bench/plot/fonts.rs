//! Fonts for the charts. plotters' `ab_glyph` text path only knows fonts registered by family
//! name, so the embedded DejaVu Sans is registered under every generic family name once per
//! process. Chinese labels need a CJK font: one is looked for on the system at run time
//! (`FLUXPROBE_CJK_FONT`, then the usual Debian/Fedora/Arch/macOS/Windows paths); without one the
//! charts fall back to English labels and say so in the log.

use super::PlotError;
use super::labels::ChartLang;
use crate::cli::Lang;
use plotters::style::{FontStyle, register_font};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// DejaVu Sans 2.37, see assets/fonts/README.md for its licence.
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The family every Latin text is drawn with (also what an SVG viewer is told to use).
pub(crate) const LATIN_FAMILY: &str = "sans-serif";

/// The family name the CJK font is registered under. In an SVG it is a CSS font list, so a
/// viewer picks a CJK font it has.
pub(crate) const CJK_FAMILY: &str =
    "Noto Sans CJK SC, WenQuanYi Micro Hei, PingFang SC, Microsoft YaHei, sans-serif";

/// Environment variable naming a CJK font file to use for Chinese labels.
pub const CJK_FONT_ENV: &str = "FLUXPROBE_CJK_FONT";

/// Where CJK fonts are usually installed (TrueType/OpenType files and collections).
const CJK_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\simhei.ttf",
];

/// Largest font file read (a full Noto CJK collection is ~20 MB).
const MAX_FONT_BYTES: u64 = 64 * 1024 * 1024;

/// The font choice for one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fonts {
    /// Family name to draw every text with.
    pub family: &'static str,
    /// The language the labels can be drawn in with that family.
    pub lang: ChartLang,
}

/// Registers the fonts (once per process) and picks the family for `lang`.
pub(crate) fn select(lang: Lang) -> Result<Fonts, PlotError> {
    embedded()?;
    let latin = Fonts {
        family: LATIN_FAMILY,
        lang: ChartLang::En,
    };
    if lang == Lang::En {
        return Ok(latin);
    }
    match cjk() {
        Some(path) => {
            tracing::debug!(font = %path.display(), "chart labels in Chinese");
            Ok(Fonts {
                family: CJK_FAMILY,
                lang: ChartLang::Zh,
            })
        }
        None => {
            tracing::warn!(
                "no CJK font found (install fonts-wqy-microhei or fonts-noto-cjk, or set {CJK_FONT_ENV}); chart labels are in English"
            );
            Ok(latin)
        }
    }
}

/// Registers DejaVu Sans under the generic family names plotters may ask for.
fn embedded() -> Result<(), PlotError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        ["sans-serif", "serif", "monospace", LATIN_FAMILY]
            .into_iter()
            .all(|family| register_font(family, FontStyle::Normal, DEJAVU_SANS).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font(
            "the embedded DejaVu Sans could not be loaded".to_string(),
        ))
    }
}

/// Finds, reads and registers a CJK font once per process; the path it came from.
fn cjk() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let from_env = std::env::var_os(CJK_FONT_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
            from_env
                .into_iter()
                .chain(CJK_CANDIDATES.iter().map(PathBuf::from))
                .find(|path| register_cjk(path))
        })
        .as_deref()
}

/// Reads one font file and registers it as the CJK family; false when it is missing or unusable.
fn register_cjk(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() > MAX_FONT_BYTES {
        tracing::debug!(font = %path.display(), "not a font file of a usable size");
        return false;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(font = %path.display(), error = %e, "cannot read font");
            return false;
        }
    };
    // plotters keeps registered fonts for the life of the process; this runs at most once per
    // candidate that exists, and stops at the first one that loads.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let ok = register_font(CJK_FAMILY, FontStyle::Normal, bytes).is_ok();
    if !ok {
        tracing::debug!(font = %path.display(), "not a font ab_glyph can load");
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_always_works() {
        let f = select(Lang::En).unwrap();
        assert_eq!(f.family, LATIN_FAMILY);
        assert_eq!(f.lang, ChartLang::En);
    }

    #[test]
    fn chinese_uses_a_cjk_font_only_when_one_loads() {
        let f = select(Lang::Zh).unwrap();
        match cjk() {
            Some(_) => assert_eq!(
                f,
                Fonts {
                    family: CJK_FAMILY,
                    lang: ChartLang::Zh
                }
            ),
            None => assert_eq!(
                f,
                Fonts {
                    family: LATIN_FAMILY,
                    lang: ChartLang::En
                }
            ),
        }
    }

    #[test]
    fn a_file_that_is_not_a_font_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fake.ttc");
        std::fs::write(&p, b"definitely not a font").unwrap();
        assert!(!register_cjk(&p));
        assert!(!register_cjk(&dir.path().join("missing.ttf")));
        assert!(!register_cjk(dir.path()));
    }
}
