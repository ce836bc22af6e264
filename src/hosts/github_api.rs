//! What every GitHub client of odoo-ci shares (check runs and statuses in `github`,
//! deployments in `deployments`): the authenticated REST API and GitHub's text limits.

use super::http::Api;
use super::HostEnv;

/// GitHub answers 422 to longer status descriptions.
pub const STATUS_DESCRIPTION_LIMIT: usize = 140;

/// Cuts to `limit` characters, with an ellipsis.
pub fn cut_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The REST API with the job's token, and the variable the token came from; `None`
/// without a token.
pub fn api_of(env: &HostEnv) -> Option<(Api, &'static str)> {
    let (token_var, token) = match env.var("ODOO_CI_GITHUB_TOKEN") {
        Some(t) => ("ODOO_CI_GITHUB_TOKEN", t.to_string()),
        None => ("GITHUB_TOKEN", env.var("GITHUB_TOKEN")?.to_string()),
    };
    let base = env
        .var("GITHUB_API_URL")
        .unwrap_or("https://api.github.com");
    let api = Api::new(base, "Authorization", format!("Bearer {token}"), token)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28");
    Some((api, token_var))
}

/// A query value, percent-encoded (check names hold spaces, slashes and parentheses).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
