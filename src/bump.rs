//! Raising an addon's version and rewriting only the version string inside
//! `__manifest__.py`: comments, quotes, order and layout stay byte for byte.

use thiserror::Error;

use crate::addons::pyliteral::Span;
use crate::addons::Series;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Part {
    Major,
    Minor,
    #[default]
    Patch,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BumpError {
    #[error("version `{0}` is not made of numbers, so it cannot be raised")]
    NotNumeric(String),
    #[error("the version is written with escapes or as several strings; write it as one plain string literal")]
    ComplexLiteral,
    #[error("the manifest has no `version` key")]
    NoVersion,
    #[error("version `{version}` belongs to series {other}, not to this project's {series}: raising it would keep the wrong series")]
    OtherSeries {
        version: String,
        other: Series,
        series: Series,
    },
}

impl BumpError {
    pub fn hint(&self) -> String {
        match self {
            BumpError::OtherSeries { series, .. } => format!(
                "migrate the addon to {series} first (set its version to `{series}.1.0.0` once it works there)"
            ),
            BumpError::NotNumeric(_) => "write the version as numbers separated by dots".to_string(),
            BumpError::ComplexLiteral => "write the version as one plain string".to_string(),
            BumpError::NoVersion => "add `'version': '<series>.1.0.0'` to the manifest".to_string(),
        }
    }
}

/// Raises `part` of a version, following Odoo's `series.x.y.z` convention. A version
/// without the series prefix keeps its form (`1.2.0` → `1.2.1`). The other parts keep
/// their text (Odoo's `parse_version` compares leading zeros: `01` is not `1`); the raised
/// part is incremented as a decimal string, so it never overflows.
pub fn bump_version(version: &str, series: Series, part: Part) -> Result<String, BumpError> {
    let prefix = format!("{series}.");
    let (head, rest) = match version.strip_prefix(&prefix) {
        Some(rest) => (prefix.as_str(), rest),
        None => match Series::prefix_of(version).filter(|s| *s != series) {
            Some(other) => {
                return Err(BumpError::OtherSeries {
                    version: version.to_string(),
                    other,
                    series,
                })
            }
            None => ("", version),
        },
    };
    let mut parts: Vec<String> = rest.split('.').map(str::to_string).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(BumpError::NotNumeric(version.to_string()));
    }
    let index = match part {
        Part::Major => 0,
        Part::Minor => 1,
        Part::Patch => 2,
    };
    while parts.len() <= index {
        parts.push("0".to_string());
    }
    parts[index] = increment(&parts[index]);
    for p in parts.iter_mut().skip(index + 1) {
        *p = "0".to_string();
    }
    Ok(format!("{head}{}", parts.join(".")))
}

/// `digits` + 1, in decimal, any length.
fn increment(digits: &str) -> String {
    let mut out: Vec<u8> = digits.bytes().collect();
    for b in out.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8_lossy(&out).into_owned();
        }
    }
    format!("1{}", String::from_utf8_lossy(&out))
}

/// `source` with the string literal at `span` holding `new_version` instead.
pub fn rewrite_version(source: &str, span: Span, new_version: &str) -> Result<String, BumpError> {
    let literal = source
        .get(span.start..span.end)
        .ok_or(BumpError::ComplexLiteral)?;
    let prefix_len = literal
        .bytes()
        .take_while(|b| b"rRuUbB".contains(b))
        .count();
    let body = &literal[prefix_len..];
    let quote = body.bytes().next().ok_or(BumpError::ComplexLiteral)?;
    if quote != b'\'' && quote != b'"' {
        return Err(BumpError::ComplexLiteral);
    }
    let q = if body.as_bytes().starts_with(&[quote, quote, quote]) {
        3
    } else {
        1
    };
    if body.len() < 2 * q {
        return Err(BumpError::ComplexLiteral);
    }
    let content = &body[q..body.len() - q];
    // One literal only: no escapes, and no other quote inside (implicit concatenation).
    if content.contains('\\') || content.contains(quote as char) || !body.ends_with(&body[..q]) {
        return Err(BumpError::ComplexLiteral);
    }
    let content_start = span.start + prefix_len + q;
    let content_end = span.end - q;
    Ok(format!(
        "{}{new_version}{}",
        &source[..content_start],
        &source[content_end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addons::manifest::parse_manifest;
    use std::path::Path;

    fn s17() -> Series {
        "17.0".parse().unwrap()
    }

    #[test]
    fn bumps_each_part_keeping_the_form() {
        assert_eq!(
            bump_version("17.0.1.2.3", s17(), Part::Patch).unwrap(),
            "17.0.1.2.4"
        );
        assert_eq!(
            bump_version("17.0.1.2.3", s17(), Part::Minor).unwrap(),
            "17.0.1.3.0"
        );
        assert_eq!(
            bump_version("17.0.1.2.3", s17(), Part::Major).unwrap(),
            "17.0.2.0.0"
        );
        assert_eq!(bump_version("1.2.0", s17(), Part::Patch).unwrap(), "1.2.1");
        assert_eq!(bump_version("1.0", s17(), Part::Patch).unwrap(), "1.0.1");
        assert_eq!(bump_version("1.0", s17(), Part::Minor).unwrap(), "1.1");
        assert!(bump_version("1.0.a", s17(), Part::Patch).is_err());
    }

    #[test]
    fn another_series_is_refused_not_mangled() {
        for part in [Part::Patch, Part::Major] {
            assert!(matches!(
                bump_version("16.0.1.0.0", s17(), part),
                Err(BumpError::OtherSeries { .. })
            ));
        }
    }

    #[test]
    fn huge_parts_grow_and_leading_zeros_stay() {
        assert_eq!(
            bump_version("17.0.1.0.18446744073709551615", s17(), Part::Patch).unwrap(),
            "17.0.1.0.18446744073709551616"
        );
        assert_eq!(
            bump_version("17.0.1.99.9", s17(), Part::Patch).unwrap(),
            "17.0.1.99.10"
        );
        assert_eq!(
            bump_version("17.0.01.2.3", s17(), Part::Patch).unwrap(),
            "17.0.01.2.4"
        );
        assert_eq!(
            bump_version("17.0.1.09.3", s17(), Part::Minor).unwrap(),
            "17.0.1.10.0"
        );
    }

    fn rewrite(src: &str, new: &str) -> Result<String, BumpError> {
        let m = parse_manifest(Path::new("m"), src).unwrap();
        rewrite_version(src, m.version_span.ok_or(BumpError::NoVersion)?, new)
    }

    #[test]
    fn rewrites_only_the_version_in_every_quote_style() {
        for (src, want) in [
            ("{'version': '1.0.0'}", "{'version': '1.0.1'}"),
            (
                "{\"version\": \"1.0.0\",  # keep\n}",
                "{\"version\": \"1.0.1\",  # keep\n}",
            ),
            ("{'version': u'1.0.0'}", "{'version': u'1.0.1'}"),
            ("{'version': r\"1.0.0\"}", "{'version': r\"1.0.1\"}"),
            ("{'version': '''1.0.0'''}", "{'version': '''1.0.1'''}"),
            (
                "{'version': \"\"\"1.0.0\"\"\"}",
                "{'version': \"\"\"1.0.1\"\"\"}",
            ),
            ("{'version': ('1.0.0')}", "{'version': ('1.0.1')}"),
        ] {
            assert_eq!(rewrite(src, "1.0.1").as_deref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn refuses_literals_it_cannot_rewrite_exactly() {
        assert_eq!(
            rewrite("{'version': '1.0' '.0'}", "2"),
            Err(BumpError::ComplexLiteral)
        );
        assert_eq!(
            rewrite("{'version': '1.0\\x2e0'}", "2"),
            Err(BumpError::ComplexLiteral)
        );
        assert_eq!(rewrite("{'name': 'x'}", "2"), Err(BumpError::NoVersion));
    }
}
