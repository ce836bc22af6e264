//! What counts as a secret, and how it never shows: the plan prints `${VAR}` references as
//! written, never a literal that looks like a secret, and in GitHub Actions every secret is
//! masked (`::add-mask::`) before anything else is printed.

use std::io::Write;

/// A variable or key named like a secret.
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    ["PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH"]
        .iter()
        .any(|s| key.contains(s))
}

/// The job's variables that hold odoo-ci's own credentials: the Git host tokens it reports
/// with, and the CI's job, registry and identity tokens. Code odoo-ci runs never gets them,
/// whatever the configuration says.
pub const OWN_CREDENTIALS: &[&str] = &[
    "GITHUB_TOKEN",
    "ODOO_CI_GITHUB_TOKEN",
    "ODOO_CI_GITLAB_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT",
    "CI_JOB_JWT_V2",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD",
    "DOCKER_AUTH_CONFIG",
];

/// The variable the examples and the README give `production.database` from.
pub const PRODUCTION_URL_VARIABLE: &str = "PRODUCTION_DB_URL";

/// Why the variable `name`, holding `value`, is a secret odoo-ci knows of, if it is: one of
/// its own credentials, a URL with a password, or a name like a secret's (what odoo-ci
/// masks in GitHub Actions).
pub fn why_secret(name: &str, value: &str) -> Option<&'static str> {
    if OWN_CREDENTIALS.contains(&name) {
        Some("one of odoo-ci's own credentials")
    } else if name == PRODUCTION_URL_VARIABLE {
        Some("the production database URL")
    } else if url_password(value).is_some() {
        Some("a URL with a password")
    } else if looks_secret(name) {
        Some("named like a secret")
    } else {
        None
    }
}

/// The variables of `vars` that hold a secret, with why (names only: no value is kept).
pub fn secret_variables(
    vars: impl Iterator<Item = (String, String)>,
) -> std::collections::BTreeMap<String, &'static str> {
    vars.filter_map(|(name, value)| why_secret(&name, &value).map(|why| (name, why)))
        .collect()
}

/// `raw` (a config value, `${VAR}` references unresolved) as the plan shows it: under a
/// secret-looking `key` every literal part is `***` (references stay, so the plan still says
/// where the value comes from); under any key, a literal password inside a URL is `***`.
pub fn redact(key: &str, raw: &str) -> String {
    if looks_secret(key) {
        return pieces(raw)
            .map(|p| match p {
                Piece::Literal("") => String::new(),
                Piece::Literal(_) => "***".to_string(),
                Piece::Reference(name, None) => format!("${{{name}}}"),
                Piece::Reference(name, Some(_)) => format!("${{{name}:-***}}"),
            })
            .collect();
    }
    match url_password(raw) {
        Some(pw) if !is_one_reference(pw) => raw.replacen(pw, "***", 1),
        _ => raw.to_string(),
    }
}

fn is_one_reference(text: &str) -> bool {
    text.starts_with("${") && text.ends_with('}') && text[2..].find('}') == Some(text.len() - 3)
}

enum Piece<'a> {
    Literal(&'a str),
    /// `${NAME}` or `${NAME:-default}`.
    Reference(&'a str, Option<&'a str>),
}

fn pieces(raw: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = raw;
    let mut pending: Option<Piece<'_>> = None;
    std::iter::from_fn(move || {
        if let Some(p) = pending.take() {
            return Some(p);
        }
        if rest.is_empty() {
            return None;
        }
        let Some(start) = rest.find("${") else {
            let literal = rest;
            rest = "";
            return Some(Piece::Literal(literal));
        };
        let Some(len) = rest[start..].find('}') else {
            let literal = rest;
            rest = "";
            return Some(Piece::Literal(literal));
        };
        let inner = &rest[start + 2..start + len];
        let reference = match inner.split_once(":-") {
            Some((name, default)) => Piece::Reference(name, Some(default)),
            None => Piece::Reference(inner, None),
        };
        let literal = &rest[..start];
        rest = &rest[start + len + 1..];
        pending = Some(reference);
        Some(Piece::Literal(literal))
    })
}

/// The password of a `scheme://user:password@host…` URL as written (percent-encoded), if
/// it has one.
pub fn url_password(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let auth = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (_, password) = auth[..auth.rfind('@')?].split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// `%XX` decoded as bytes; anything else, a lone `%` before a multi-byte character
/// included, is kept as it is (never sliced inside a character).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (hex_value(bytes.get(i + 1)), hex_value(bytes.get(i + 2)))
            {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: Option<&u8>) -> Option<u8> {
    char::from(*byte?).to_digit(16).map(|d| d as u8)
}

/// A workflow command's message: `%`, CR and LF escaped (@actions/core's `toCommandValue`).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `::add-mask::` for each secret, so the runner hides it from every later log line.
pub fn mask_commands(secrets: &[&str]) -> Vec<String> {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .map(|s| format!("::add-mask::{}", escape_data(s)))
        .collect()
}

/// The secrets in an environment: values of variables named like a secret (`*TOKEN*`,
/// `*PASSWORD*`, `*SECRET*`, `*KEY*`) and passwords inside URL values
/// (`postgresql://user:password@host`), with those URLs whole.
pub fn secrets_in(vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in vars {
        if let Some(password) = url_password(&value) {
            out.push(password.to_string());
            out.push(percent_decode(password));
            out.push(value.clone());
        }
        if looks_secret(&name) && value.len() >= 6 {
            out.push(value);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// In GitHub Actions, masks every secret of the environment before anything else is
/// printed: an error quoting a value then shows `***`. The runner reads workflow commands
/// on stderr as on stdout; stderr keeps stdout clean for `--format json`.
pub fn mask_environment() {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    let secrets = secrets_in(std::env::vars());
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let mut stderr = std::io::stderr().lock();
    for line in mask_commands(&refs) {
        let _ = writeln!(stderr, "{line}");
    }
}

/// Masks one more secret learnt while running (e.g. a password written in the config).
pub fn mask_secret(secret: &str) {
    if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        for line in mask_commands(&[secret]) {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_by_name_and_inside_urls() {
        let vars = [
            ("GITHUB_TOKEN", "ghs_abcdef123"),
            ("PRODUCTION_DB_URL", "postgresql://odoo:pw%40d@db:5432/prod"),
            ("DB_PASSWORD", "hunter22"),
            ("HOME", "/root"),
            ("SOME_KEY", "1"),
        ];
        let found = secrets_in(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(
            found,
            vec![
                "ghs_abcdef123",
                "hunter22",
                "postgresql://odoo:pw%40d@db:5432/prod",
                "pw%40d",
                "pw@d"
            ]
        );
    }

    #[test]
    fn what_odoo_ci_knows_as_a_secret() {
        assert_eq!(
            why_secret("ODOO_CI_GITHUB_TOKEN", "ghs_x"),
            Some("one of odoo-ci's own credentials")
        );
        assert_eq!(
            why_secret("DB", "postgresql://u:pw@h/d"),
            Some("a URL with a password")
        );
        assert_eq!(
            why_secret("MY_API_SECRET", "x"),
            Some("named like a secret")
        );
        assert_eq!(why_secret("LANG", "C.UTF-8"), None);
        assert_eq!(why_secret("DB", "postgresql://u@h/d"), None);
    }

    #[test]
    fn secret_keys_show_references_only() {
        assert_eq!(redact("DB_PASSWORD", "hunter2"), "***");
        assert_eq!(redact("DB_PASS", "pre-${SECRET}-post"), "***${SECRET}***");
        assert_eq!(redact("API_TOKEN", "${TOKEN:-fallback}"), "${TOKEN:-***}");
        assert_eq!(redact("API_TOKEN", "${TOKEN}"), "${TOKEN}");
    }

    #[test]
    fn passwords_inside_urls_are_hidden_unless_a_reference() {
        assert_eq!(
            redact("DATABASE", "postgresql://u:pw@db:5432/x"),
            "postgresql://u:***@db:5432/x"
        );
        assert_eq!(
            redact("DATABASE", "postgresql://u:${PW}@db/x"),
            "postgresql://u:${PW}@db/x"
        );
        assert_eq!(
            redact("DATABASE", "postgresql://u:a${PW}@db/x"),
            "postgresql://u:***@db/x"
        );
        assert_eq!(redact("MODE", "fast"), "fast");
    }
}
