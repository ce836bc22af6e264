//! `${VAR}` and `${VAR:-default}` in config values: secrets stay in the environment, and
//! the raw template is what gets displayed.

use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

/// A config string that may reference environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Templated(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("environment variable `{0}` is not set")]
    Missing(String),
    #[error("unclosed `${{` in `{0}`")]
    Unclosed(String),
}

impl Templated {
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// Names of the variables referenced.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.0.as_str();
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else { break };
            let inner = &after[..end];
            out.push(inner.split(":-").next().unwrap_or(inner).to_string());
            rest = &after[end + 1..];
        }
        out
    }

    /// Names of the variables referenced without a default: the value cannot be resolved
    /// without them.
    pub fn required_variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.0.as_str();
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else { break };
            if !after[..end].contains(":-") {
                out.push(after[..end].to_string());
            }
            rest = &after[end + 1..];
        }
        out
    }

    /// Substitutes the variables from `env`.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.0.len());
        let mut rest = self.0.as_str();
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed(self.0.clone()))?;
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(TemplateError::Missing(name.to_string())),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Templated {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(Templated)
    }
}

/// Accepts a string, number or boolean as text (environment values are text).
pub struct ScalarVisitor;

impl serde::de::Visitor<'_> for ScalarVisitor {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<String, E> {
        Ok(if v { "True".into() } else { "False".into() })
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DB" => Some("postgres://u:secret@h/db".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_defaults_and_reports_missing() {
        let t = Templated("x=${DB};y=${NOPE:-d};z=${EMPTY:-e}".into());
        assert_eq!(
            t.resolve(&env).unwrap(),
            "x=postgres://u:secret@h/db;y=d;z=e"
        );
        assert_eq!(t.variables(), vec!["DB", "NOPE", "EMPTY"]);
        assert_eq!(
            Templated("${NOPE}".into()).resolve(&env),
            Err(TemplateError::Missing("NOPE".into()))
        );
        assert!(matches!(
            Templated("${DB".into()).resolve(&env),
            Err(TemplateError::Unclosed(_))
        ));
    }
}
