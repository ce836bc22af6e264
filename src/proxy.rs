//! URLs routed by Caddy: a preview's (`previews.proxy`), a staging branch's
//! (`staging.proxy`), their mail catchers' (`mail-<host>`), and the error route that sends a
//! stopped preview's requests to `odoo-ci previews wake`. odoo-ci adds each route to the
//! running Caddy through its admin API and removes it with what it serves, so no file is
//! written and nothing reloads. A route is Caddy's JSON: matched by host, handled by
//! `reverse_proxy`, tagged with an `@id` scoped by project (`odoo-ci-<preview database>`,
//! `odoo-ci-<staging server>`, with `-wake` or `-mail`) that `DELETE /id/<id>` removes.
//! Contract: Caddy's docs, "API" (`POST /config/[path]` appends to an array, `PUT` creates,
//! `DELETE /id/<id>`), and the JSON structure of `apps.http.servers.<name>.routes` and
//! `.errors.routes` (the routes that handle a request the first could not: a
//! `reverse_proxy` whose upstream refused is an HTTP 502 error there). Caddy 2.6 (Debian's,
//! which the tests run) answers a POST to a missing object with 500 "invalid traversal
//! path" and a PUT to an existing one with 500 "key already exists".
//!
//! Why Caddy's API rather than Traefik's Docker labels: a route odoo-ci adds and removes is
//! tested here end to end against a real Caddy (Debian packages it; Traefik cannot run on
//! this machine), and a label on a stopped container routes nothing, so nothing could wake
//! a stopped preview.

use std::time::Duration;

use serde_json::json;

/// How odoo-ci reaches Caddy's admin API: one request (`method`, `url`, a JSON body), its
/// status and text, or why there was none.
pub trait AdminReach: Send + Sync {
    fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String), String>;
}

/// From this machine: Caddy runs beside it (its admin API listens on loopback).
pub struct FromHere;

impl AdminReach for FromHere {
    fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let reply = match (method, body) {
            ("POST", Some(b)) => agent.post(url).send_json(b),
            ("PUT", Some(b)) => agent.put(url).send_json(b),
            ("DELETE", _) => agent.delete(url).call(),
            _ => agent.get(url).call(),
        };
        let mut reply = reply.map_err(|e| e.to_string())?;
        let text = reply.body_mut().read_to_string().unwrap_or_default();
        Ok((reply.status().as_u16(), text))
    }
}

/// Where routes go: Caddy's admin endpoint, how it is reached, and the HTTP server whose
/// routes they join.
#[derive(Clone)]
pub struct Caddy {
    pub admin: String,
    pub server: String,
    pub reach: std::sync::Arc<dyn AdminReach>,
}

impl std::fmt::Debug for Caddy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Caddy({}, {})", self.admin, self.server)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("Caddy's admin API at {admin}: {what}")]
pub struct ProxyError {
    admin: String,
    what: String,
}

impl Caddy {
    /// Caddy's admin API at `admin`, its HTTP server `server`, reached by `reach`.
    pub fn reached(admin: &str, server: &str, reach: std::sync::Arc<dyn AdminReach>) -> Caddy {
        Caddy {
            admin: admin.to_string(),
            server: server.to_string(),
            reach,
        }
    }

    fn error(&self, what: impl Into<String>) -> ProxyError {
        ProxyError {
            admin: self.admin.clone(),
            what: what.into(),
        }
    }

    /// Routes `host` to `upstream` (`127.0.0.1:8069`) as the route `id`, replacing the
    /// route of that id.
    pub fn route(&self, id: &str, host: &str, upstream: &str) -> Result<(), ProxyError> {
        self.unroute(id)?;
        let status = self.post("routes", &route_json(id, host, upstream))?;
        self.added(id, status)
    }

    /// Routes what Caddy could not serve for `host` (its upstream refused: a stopped
    /// server answers nothing, and `reverse_proxy` fails with 502) to `upstream` instead,
    /// as the error route `id` of the server (`errors.routes`, made when it has none).
    pub fn route_errors(&self, id: &str, host: &str, upstream: &str) -> Result<(), ProxyError> {
        self.unroute(id)?;
        let route = route_json(id, host, upstream);
        let mut status = self.post("errors/routes", &route)?;
        // A server with no `errors` yet: POST cannot traverse to it, PUT makes it (and
        // fails if another run just did, when POST then works).
        if status.1.contains("invalid traversal path") {
            status = self.put("errors", &json!({ "routes": [route] }))?;
            if status.1.contains("already exists") {
                status = self.post("errors/routes", &route)?;
            }
        }
        self.added(id, status)
    }

    fn added(&self, id: &str, (status, text): (u16, String)) -> Result<(), ProxyError> {
        match status {
            200..=299 => Ok(()),
            _ => Err(self.error(format!(
                "adding the route `{id}`: HTTP {status} {}",
                text.trim()
            ))),
        }
    }

    /// `POST` of `body` to the path `rel` under the server's config: status and text.
    fn post(&self, rel: &str, body: &serde_json::Value) -> Result<(u16, String), ProxyError> {
        let url = self.server_url(rel);
        let reply = self.reach.call("POST", &url, Some(body));
        reply.map_err(|e| self.error(e))
    }

    fn put(&self, rel: &str, body: &serde_json::Value) -> Result<(u16, String), ProxyError> {
        let url = self.server_url(rel);
        let reply = self.reach.call("PUT", &url, Some(body));
        reply.map_err(|e| self.error(e))
    }

    fn server_url(&self, rel: &str) -> String {
        format!(
            "{}/config/apps/http/servers/{}/{rel}",
            self.admin.trim_end_matches('/'),
            self.server
        )
    }

    /// Removes the route `id`; one that is not there is fine.
    pub fn unroute(&self, id: &str) -> Result<(), ProxyError> {
        let url = format!("{}/id/{id}", self.admin.trim_end_matches('/'));
        let (status, text) = self
            .reach
            .call("DELETE", &url, None)
            .map_err(|e| self.error(e))?;
        // Caddy answers an unknown id with 404 (or 400 "unknown object ID" before 2.7).
        match status {
            200..=299 | 404 => Ok(()),
            400 if text.contains("unknown object ID") => Ok(()),
            _ => Err(self.error(format!(
                "removing the route `{id}`: HTTP {status} {}",
                text.trim()
            ))),
        }
    }
}

/// A route of `host` to `upstream`, tagged `id`, the last one tried for that host.
fn route_json(id: &str, host: &str, upstream: &str) -> serde_json::Value {
    json!({
        "@id": id,
        "match": [{"host": [host]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": upstream}]}],
        "terminal": true,
    })
}

/// The host of a preview URL template (`https://{branch}.previews.example.com`) for
/// `branch` of `project`: each a DNS label (lowercase letters, digits, `-`).
pub fn preview_url(template: &str, project: &str, branch: &str) -> String {
    template
        .replace("{branch}", &crate::names::slug(branch, '-', 40))
        .replace("{project}", &crate::names::slug(project, '-', 40))
}

/// `url` with its host prefixed by `prefix` (`https://x.example.com` and `mail-` →
/// `https://mail-x.example.com`): a name beside it under the same wildcard record.
pub fn prefixed(url: &str, prefix: &str) -> String {
    match host_of(url) {
        Some(host) => url.replacen(host, &format!("{prefix}{host}"), 1),
        None => url.to_string(),
    }
}

/// The host part of `url`.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_gets_a_url_of_its_own_from_the_template() {
        let url = preview_url(
            "https://{branch}.{project}.example.com",
            "Acme/ERP",
            "feat/X_1",
        );
        assert_eq!(url, "https://feat-x-1.acme-erp.example.com");
        assert_eq!(host_of(&url), Some("feat-x-1.acme-erp.example.com"));
        assert_eq!(host_of("http://a.localhost:8080/web"), Some("a.localhost"));
        assert_eq!(host_of("nohost"), Some("nohost"));
        assert_eq!(
            prefixed("https://feat-x.previews.test/odoo", "mail-"),
            "https://mail-feat-x.previews.test/odoo"
        );
    }
}
