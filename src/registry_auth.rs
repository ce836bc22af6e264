//! The registry credentials Docker users already have, for pulling a private base image:
//! GitLab's `DOCKER_AUTH_CONFIG`, then `$DOCKER_CONFIG/config.json` (else
//! `~/.docker/config.json`) — its `credHelpers`, `auths` and `credsStore`, as the Docker
//! CLI reads them (docker/cli `cli/config/configfile`). A credential helper is run as the
//! CLI runs it: `docker-credential-<name> get`, the server on stdin, `{"Username",
//! "Secret"}` on stdout. Credentials are never printed: their `Debug` hides the password.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde::Deserialize;

/// The key Docker Hub's credentials are stored under.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub server: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} as {}, ***)", self.server, self.username)
    }
}

/// What `config.json` holds (the parts a pull needs).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The registry an image reference is pulled from, as Docker names it: the first path
/// part when it looks like a host (a dot, a port, or `localhost`), else Docker Hub.
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => DOCKER_HUB.to_string(),
    }
}

/// The credentials for pulling `reference`, from what this job's Docker configuration
/// holds; `None` when it holds none (a public image needs none).
pub fn for_image(reference: &str) -> Option<Credentials> {
    let registry = registry_of(reference);
    let sources = [
        std::env::var("DOCKER_AUTH_CONFIG").ok(),
        config_path().and_then(|p| std::fs::read_to_string(p).ok()),
    ];
    sources
        .into_iter()
        .flatten()
        .find_map(|text| from_config(&text, &registry, &run_helper))
}

fn config_path() -> Option<std::path::PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(std::path::PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME")
            .map(|h| std::path::PathBuf::from(h).join(".docker/config.json")),
    }
}

/// A helper's answer for `server`: `(username, secret)`.
type Helper<'a> = dyn Fn(&str, &str) -> Option<(String, String)> + 'a;

/// The credentials `text` (a `config.json`) gives `registry`: its own helper, then its
/// stored auth, then the default store — the CLI's order.
fn from_config(text: &str, registry: &str, helper: &Helper<'_>) -> Option<Credentials> {
    let config: ConfigFile = serde_json::from_str(text).ok()?;
    let with = |(username, password): (String, String)| Credentials {
        server: registry.to_string(),
        username,
        password,
    };
    if let Some(name) = config.cred_helpers.get(registry) {
        return helper(name, registry).map(with);
    }
    let stored = config
        .auths
        .iter()
        .find(|(key, _)| same_registry(key, registry))
        .and_then(|(_, entry)| decode_entry(entry));
    if let Some(pair) = stored {
        return Some(with(pair));
    }
    config
        .creds_store
        .as_deref()
        .and_then(|name| helper(name, registry))
        .map(with)
}

/// `auths` keys may be a URL (`https://registry.example.com/v1/`) or a host.
fn same_registry(key: &str, registry: &str) -> bool {
    let host = |s: &str| {
        let s = s
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        s.split('/').next().unwrap_or(s).to_string()
    };
    key == registry || host(key) == host(registry)
}

fn decode_entry(entry: &AuthEntry) -> Option<(String, String)> {
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Some((u.clone(), p.clone()));
    }
    let bytes = base64_decode(entry.auth.as_deref()?)?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Standard base64 (with or without padding), as `config.json`'s `auth` is written.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u8> = text.trim().bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Runs `docker-credential-<name> get` for `server`.
fn run_helper(name: &str, server: &str) -> Option<(String, String)> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let mut child = Command::new(format!("docker-credential-{name}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tracing::warn!("credential helper `docker-credential-{name}`: {e}"))
        .ok()?;
    child.stdin.take()?.write_all(server.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        tracing::warn!("credential helper `docker-credential-{name}` has nothing for {server}");
        return None;
    }
    let answer: Answer = serde_json::from_slice(&out.stdout).ok()?;
    Some((answer.username, answer.secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_helper(_: &str, _: &str) -> Option<(String, String)> {
        None
    }

    #[test]
    fn the_registry_is_the_first_part_when_it_is_a_host() {
        assert_eq!(registry_of("odoo:18.0"), DOCKER_HUB);
        assert_eq!(registry_of("acme/odoo:18.0"), DOCKER_HUB);
        assert_eq!(
            registry_of("registry.acme.com/odoo/ee:18"),
            "registry.acme.com"
        );
        assert_eq!(registry_of("localhost:5000/odoo"), "localhost:5000");
    }

    #[test]
    fn stored_auth_is_decoded_and_never_shown() {
        // base64("ci:s3cret/+") as `docker login` writes it.
        let text = r#"{"auths": {"https://registry.acme.com/v1/": {"auth": "Y2k6czNjcmV0Lys="}}}"#;
        let c = from_config(text, "registry.acme.com", &no_helper).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("ci", "s3cret/+")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(from_config(text, "other.example.com", &no_helper), None);
    }

    #[test]
    fn a_registry_s_own_helper_comes_first_then_auths_then_the_store() {
        let helper = |name: &str, server: &str| Some((format!("{name}-user"), server.into()));
        let text = r#"{"auths": {"a.example.com": {"username": "u", "password": "p"}},
                       "credHelpers": {"b.example.com": "ecr-login"}, "credsStore": "pass"}"#;
        let user = |r: &str| from_config(text, r, &helper).map(|c| c.username);
        assert_eq!(user("b.example.com").as_deref(), Some("ecr-login-user"));
        assert_eq!(user("a.example.com").as_deref(), Some("u"));
        assert_eq!(user("c.example.com").as_deref(), Some("pass-user"));
    }
}
