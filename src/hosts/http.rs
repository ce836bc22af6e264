//! A small JSON-over-HTTPS client for the Git hosts' REST APIs: explicit about which
//! requests may be retried (GET, PATCH and status POSTs are idempotent; creating a check
//! run is not, so it is never retried blindly), backing off on 5xx, 429 and rate-limit
//! 403s (honouring `Retry-After`), and never showing the token in an error.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Put,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// A 403/429 that says "later" (`Retry-After`, or `X-RateLimit-Remaining: 0`): the
    /// request was not processed, and is no refusal of the token's rights.
    pub rate_limited: bool,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `HTTP 422: Validation Failed (title is too long)`: the status with the host's own
    /// explanation (`message`, and GitHub's `errors` or GitLab's `error`).
    pub fn describe(&self) -> String {
        let mut text = format!("HTTP {}", self.status);
        let message = self.body["message"]
            .as_str()
            .or(self.body["error"].as_str())
            .or(self.body.as_str())
            .unwrap_or_default()
            .trim();
        if !message.is_empty() {
            text.push_str(&format!(": {}", cut(message, 300)));
        }
        let details: Vec<String> = self.body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                e["message"].as_str().map(str::to_string).or_else(|| {
                    e["field"]
                        .as_str()
                        .map(|f| format!("{f}: {}", e["code"].as_str().unwrap_or("invalid")))
                })
            })
            .collect();
        if !details.is_empty() {
            text.push_str(&format!(" ({})", cut(&details.join("; "), 300)));
        }
        text
    }
}

fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

pub struct Api {
    agent: ureq::Agent,
    base: String,
    /// (header name, header value) carrying the token.
    auth: (String, String),
    token: String,
    extra_headers: Vec<(String, String)>,
    /// The first retry's wait; doubles each time.
    backoff: Duration,
    attempts: u32,
}

impl Api {
    pub fn new(base: &str, auth_header: &str, auth_value: String, token: String) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent("odoo-ci")
            .build()
            .into();
        let backoff = std::env::var("ODOO_CI_RETRY_BACKOFF_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_millis(1000));
        Api {
            agent,
            base: base.trim_end_matches('/').to_string(),
            auth: (auth_header.to_string(), auth_value),
            token,
            extra_headers: Vec::new(),
            backoff,
            attempts: 4,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Api {
        self.extra_headers
            .push((name.to_string(), value.to_string()));
        self
    }

    /// Hides the token in any text (error messages quote URLs and bodies).
    pub fn mask(&self, text: &str) -> String {
        if self.token.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.token, "***")
        }
    }

    /// Sends one request; retried with backoff only when `idempotent`. Transport errors and
    /// retryable answers that never clear come back as `Err` with a masked message.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Reply, String> {
        let url = format!("{}{path}", self.base);
        let attempts = self.attempts;
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.once(method, &url, body) {
                Ok((reply, retry_after)) => {
                    // A rate-limited request was not processed: safe to send again, even a
                    // create; anything else only when sending twice changes nothing.
                    let retryable = reply.rate_limited
                        || (idempotent && (reply.status >= 500 || reply.status == 429));
                    if !retryable || attempt == attempts {
                        return Ok(reply);
                    }
                    last = format!("HTTP {}", reply.status);
                    let pause = retry_after.unwrap_or(wait).min(Duration::from_secs(60));
                    tracing::info!(
                        "{} {path}: {last}, retrying in {} ms",
                        method.as_str(),
                        pause.as_millis()
                    );
                    std::thread::sleep(pause);
                }
                Err(e) => {
                    last = e;
                    if attempt == attempts || !idempotent {
                        break;
                    }
                    std::thread::sleep(wait);
                }
            }
            wait *= 2;
        }
        Err(self.mask(&format!("{} {path}: {last}", method.as_str())))
    }

    fn once(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(Reply, Option<Duration>), String> {
        let result = match method {
            Method::Get => {
                let mut req = self.agent.get(url).header(&self.auth.0, &self.auth.1);
                for (k, v) in &self.extra_headers {
                    req = req.header(k, v);
                }
                req.call()
            }
            Method::Post | Method::Patch | Method::Put => {
                let mut req = match method {
                    Method::Post => self.agent.post(url),
                    Method::Put => self.agent.put(url),
                    _ => self.agent.patch(url),
                }
                .header(&self.auth.0, &self.auth.1);
                for (k, v) in &self.extra_headers {
                    req = req.header(k, v);
                }
                req.send_json(without_nulls(body))
            }
        };
        let mut response = result.map_err(|e| self.mask(&e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let rate_limited = headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            == Some("0");
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .or(if rate_limited {
                Some(self.backoff)
            } else {
                None
            });
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(self.mask(&text)));
        let rate_limited =
            status == 429 || (status == 403 && (rate_limited || retry_after.is_some()));
        Ok((
            Reply {
                status,
                body,
                rate_limited,
            },
            retry_after,
        ))
    }
}

/// The body with top-level `null` fields left out (GitHub rejects `"details_url": null`).
fn without_nulls(body: Option<&Value>) -> Value {
    match body {
        Some(Value::Object(map)) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Some(other) => other.clone(),
        None => Value::Object(serde_json::Map::new()),
    }
}
