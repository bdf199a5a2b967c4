//! `[budget]`: how many gzip bytes a bundle, a page and the whole build may weigh. A build over
//! budget warns with the block's place (an error with `--strict`); `stapler check` reports it
//! from the bundles on disk.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[budget]` as written: each limit a number of bytes or a size such as `"120 KiB"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    /// Gzip bytes of any one bundle.
    pub bundle: Option<Size>,
    /// Gzip bytes of the bundles one page loads: every block of one template in one offline
    /// context.
    pub page: Option<Size>,
    /// Gzip bytes of every bundle of the build together.
    pub total: Option<Size>,
}

/// A size as written in a settings file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

/// The limits, in gzip bytes; `None` where no limit is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub bundle: Option<u64>,
    pub page: Option<u64>,
    pub total: Option<u64>,
}

impl Budget {
    pub fn is_set(&self) -> bool {
        self.bundle.is_some() || self.page.is_some() || self.total.is_some()
    }
}

pub(super) fn resolve(section: Option<BudgetSection>, origin: &str) -> Result<Budget, ConfigError> {
    let Some(section) = section else {
        return Ok(Budget::default());
    };
    let limit = |key: &str, size: Option<Size>| -> Result<Option<u64>, ConfigError> {
        size.map(|size| match size {
            Size::Bytes(bytes) => Ok(bytes),
            Size::Text(text) => parse_size(&text).ok_or_else(|| ConfigError {
                origin: format!("{origin} [budget]"),
                message: format!(
                    "`{key}` is {text:?}, not a size; write bytes (120000) or a number and a unit: \"120 KiB\", \"1.5 MB\" (B, kB/KB, KiB, MB, MiB)"
                ),
            }),
        })
        .transpose()
    };
    Ok(Budget {
        bundle: limit("bundle", section.bundle)?,
        page: limit("page", section.page)?,
        total: limit("total", section.total)?,
    })
}

/// `"120 KiB"`, `"1.5MB"`, `"900"`: bytes, with binary (KiB, MiB) or decimal (kB, KB, MB)
/// units.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "kB" | "KB" | "k" | "K" => 1e3,
        "KiB" => 1024.0,
        "MB" | "M" => 1e6,
        "MiB" => 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * factor;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then(|| bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_their_units() {
        assert_eq!(parse_size("900"), Some(900));
        assert_eq!(parse_size("120 KiB"), Some(122_880));
        assert_eq!(parse_size("1.5MB"), Some(1_500_000));
        assert_eq!(parse_size(" 2 MiB "), Some(2 * 1024 * 1024));
        assert_eq!(parse_size("10 kB"), Some(10_000));
        assert_eq!(parse_size("ten KiB"), None);
        assert_eq!(parse_size("10 GB"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("1.2.3 KiB"), None);
    }

    #[test]
    fn a_bad_size_names_the_key_and_the_units() {
        let section = BudgetSection {
            page: Some(Size::Text("lots".into())),
            ..BudgetSection::default()
        };
        let error = resolve(Some(section), "stapler.toml").unwrap_err();
        assert_eq!(error.origin, "stapler.toml [budget]");
        assert!(error.message.starts_with("`page` is \"lots\", not a size"));
    }
}
