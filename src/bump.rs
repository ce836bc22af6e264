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
}

/// Raises `part` of a version, following Odoo's `series.x.y.z` convention. A version
/// without the series prefix keeps its form (`1.2.0` → `1.2.1`).
pub fn bump_version(version: &str, series: Series, part: Part) -> Result<String, BumpError> {
    let prefix = format!("{series}.");
    let (head, rest) = match version.strip_prefix(&prefix) {
        Some(rest) => (prefix.as_str(), rest),
        None => ("", version),
    };
    let mut parts: Vec<u64> = rest
        .split('.')
        .map(|p| {
            p.parse()
                .map_err(|_| BumpError::NotNumeric(version.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let index = match part {
        Part::Major => 0,
        Part::Minor => 1,
        Part::Patch => 2,
    };
    while parts.len() <= index {
        parts.push(0);
    }
    parts[index] += 1;
    for p in parts.iter_mut().skip(index + 1) {
        *p = 0;
    }
    let body: Vec<String> = parts.iter().map(u64::to_string).collect();
    Ok(format!("{head}{}", body.join(".")))
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
