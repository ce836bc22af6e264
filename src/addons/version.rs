//! Odoo series and module versions, normalised and compared exactly as Odoo does:
//! `adapt_version` (series prefix) and `odoo.tools.parse_version`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// An Odoo series such as `17.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    pub major: u16,
}

/// The series odoo-ci supports.
pub const SUPPORTED_SERIES: [&str; 6] = ["14.0", "15.0", "16.0", "17.0", "18.0", "19.0"];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VersionError {
    #[error(
        "`{0}` is not a supported Odoo series (expected one of 14.0, 15.0, 16.0, 17.0, 18.0, 19.0)"
    )]
    UnsupportedSeries(String),
    #[error("invalid version `{version}`: on {series} modules need `x.y`, `x.y.z`, `{series}.x.y` or `{series}.x.y.z`")]
    Invalid { version: String, series: Series },
    #[error("invalid version `{version}`: on {series} modules need 2 to 5 numeric parts after the series")]
    Invalid19 { version: String, series: Series },
}

impl FromStr for Series {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let major = s
            .strip_suffix(".0")
            .and_then(|m| m.parse::<u16>().ok())
            .filter(|m| (14..=19).contains(m))
            .ok_or_else(|| VersionError::UnsupportedSeries(s.to_string()))?;
        Ok(Series { major })
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.0", self.major)
    }
}

impl Series {
    /// Whether Odoo of this series still reads `__openerp__.py`.
    pub fn reads_openerp_manifest(self) -> bool {
        self.major < 19
    }

    /// Whether Odoo has `odoo neutralize` (16.0+); older series get odoo-ci's own SQL.
    pub fn has_neutralize_command(self) -> bool {
        self.major >= 16
    }

    /// Whether Odoo makes its asset bundles before browser tests
    /// (`ir.qweb._pregenerate_assets_bundles`, 16.0+), so that a template can hold them.
    pub fn pregenerates_asset_bundles(self) -> bool {
        self.major >= 16
    }

    /// Whether new databases get demo data unless told otherwise.
    pub fn demo_by_default(self) -> bool {
        self.major < 19
    }

    /// The series a normalised or prefixed version string starts with, if any.
    pub fn prefix_of(version: &str) -> Option<Series> {
        let mut parts = version.splitn(3, '.');
        let major = parts.next()?;
        let minor = parts.next()?;
        parts.next()?;
        if minor != "0" {
            return None;
        }
        format!("{major}.0").parse().ok()
    }
}

/// Odoo's `adapt_version`: prefixes the series when the manifest version lacks it, then
/// checks the form the series requires.
pub fn adapt_version(series: Series, version: &str) -> Result<String, VersionError> {
    let serie = series.to_string();
    let prefixed = format!("{serie}.");
    let (full, base) = if version == serie || !version.starts_with(&prefixed) {
        (format!("{serie}.{version}"), version)
    } else {
        (version.to_string(), &version[prefixed.len()..])
    };
    let parts: Vec<&str> = base.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match series.major {
        // 14.0-16.0 only prefix the series; 17.0 added the form check.
        14..=16 => {}
        17 | 18 => {
            if !numeric || !(2..=3).contains(&parts.len()) {
                return Err(VersionError::Invalid {
                    version: version.to_string(),
                    series,
                });
            }
        }
        _ => {
            if !numeric || !(2..=5).contains(&parts.len()) {
                return Err(VersionError::Invalid19 {
                    version: version.to_string(),
                    series,
                });
            }
        }
    }
    Ok(full)
}

/// A version as `odoo.tools.parse_version` sees it; ordering is Odoo's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedVersion(Vec<String>);

impl ParsedVersion {
    pub fn parse(version: &str) -> ParsedVersion {
        let lower = if version.is_empty() {
            "0.1".to_string()
        } else {
            version.to_lowercase()
        };
        let mut parts: Vec<String> = Vec::new();
        for part in components(&lower) {
            let part = match part {
                "pre" | "preview" | "rc" => "c",
                "-" | "_" => "final-",
                "dev" => "@",
                "saas" | "~" => "",
                other => other,
            };
            if part.is_empty() || part == "." {
                continue;
            }
            let item = if part.as_bytes()[0].is_ascii_digit() {
                format!("{part:0>8}")
            } else {
                format!("*{part}")
            };
            if item.starts_with('*') {
                if item.as_str() < "*final" {
                    while parts.last().is_some_and(|p| p == "*final-") {
                        parts.pop();
                    }
                }
                while parts.last().is_some_and(|p| p == "00000000") {
                    parts.pop();
                }
            }
            parts.push(item);
        }
        while parts.last().is_some_and(|p| p == "00000000") {
            parts.pop();
        }
        parts.push("*final".to_string());
        ParsedVersion(parts)
    }
}

/// Splits like Odoo's `component_re = (\d+ | [a-z]+ | \. | -)`, keeping the text between.
fn components(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut other_start = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let run_end = if c.is_ascii_digit() {
            run(bytes, i, |b| b.is_ascii_digit())
        } else if c.is_ascii_lowercase() {
            run(bytes, i, |b| b.is_ascii_lowercase())
        } else if c == b'.' || c == b'-' {
            i + 1
        } else {
            i += 1;
            continue;
        };
        if other_start < i {
            out.push(&s[other_start..i]);
        }
        out.push(&s[i..run_end]);
        i = run_end;
        other_start = i;
    }
    if other_start < bytes.len() {
        out.push(&s[other_start..]);
    }
    out
}

fn run(bytes: &[u8], start: usize, pred: impl Fn(u8) -> bool) -> usize {
    let mut end = start;
    while end < bytes.len() && pred(bytes[end]) {
        end += 1;
    }
    end
}

impl Ord for ParsedVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for ParsedVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two normalised versions as Odoo does.
pub fn compare(a: &str, b: &str) -> Ordering {
    ParsedVersion::parse(a).cmp(&ParsedVersion::parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(s: &str) -> Series {
        s.parse().expect("series")
    }

    #[test]
    fn adapt_version_prefixes_like_odoo() {
        let s17 = series("17.0");
        assert_eq!(adapt_version(s17, "1.0.3").unwrap(), "17.0.1.0.3");
        assert_eq!(adapt_version(s17, "17.0.1.0.3").unwrap(), "17.0.1.0.3");
        assert_eq!(adapt_version(s17, "1.0").unwrap(), "17.0.1.0");
        // A wrong-series version is prefixed, then fails the form check.
        assert!(adapt_version(s17, "16.0.1.0.0").is_err());
        assert_eq!(adapt_version(s17, "17.0").unwrap(), "17.0.17.0");
        assert!(adapt_version(s17, "1.0.a").is_err());
        assert_eq!(
            adapt_version(series("16.0"), "1.0.a").unwrap(),
            "16.0.1.0.a"
        );
        assert_eq!(
            adapt_version(series("19.0"), "1.2.3.4.5").unwrap(),
            "19.0.1.2.3.4.5"
        );
        assert!(adapt_version(series("19.0"), "1.2.3.4.5.6").is_err());
    }

    #[test]
    fn parse_version_orders_numerically_and_drops_trailing_zeros() {
        assert_eq!(compare("17.0.1.0.10", "17.0.1.0.9"), Ordering::Greater);
        assert_eq!(compare("17.0.1.0", "17.0.1.0.0"), Ordering::Equal);
        assert_eq!(compare("17.0.2.0.0", "17.0.10.0.0"), Ordering::Less);
        assert_eq!(compare("1.0rc1", "1.0"), Ordering::Less);
        assert_eq!(compare("1.0-1", "1.0"), Ordering::Greater);
        assert_eq!(compare("1.0.dev1", "1.0"), Ordering::Less);
    }

    #[test]
    fn series_parse_and_prefix() {
        assert_eq!(series("18.0").to_string(), "18.0");
        assert!("13.0".parse::<Series>().is_err());
        assert_eq!(series("14.0").to_string(), "14.0");
        assert!("17".parse::<Series>().is_err());
        assert_eq!(Series::prefix_of("17.0.1.0.0"), Some(series("17.0")));
        assert_eq!(Series::prefix_of("1.0.0"), None);
        assert!(!series("19.0").demo_by_default());
    }
}
