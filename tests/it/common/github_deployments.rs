//! A stand-in for GitHub's deployments API that keeps state, as GitHub does: created
//! deployments are listed newest first and filtered by `environment`, and each has its
//! statuses, newest first (REST "Deployments": `POST /repos/{o}/{r}/deployments`,
//! `GET …/deployments?environment=`, `POST|GET …/deployments/{id}/statuses`, from
//! github/rest-api-description). Any other request (check runs, statuses) is accepted.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::{Request, Respond, ResponseTemplate};

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: u64,
    pub environment: String,
    pub transient: bool,
    /// Newest last.
    pub states: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Deployments(pub Arc<Mutex<Vec<Deployment>>>);

impl Deployments {
    pub fn of(&self, environment: &str) -> Vec<Deployment> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|d| d.environment == environment)
            .cloned()
            .collect()
    }
}

impl Respond for Deployments {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_string();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut all = self.0.lock().unwrap();
        let body = || serde_json::from_slice::<Value>(&request.body).unwrap_or(Value::Null);
        match (request.method.as_str(), parts.as_slice()) {
            ("POST", ["repos", _, _, "deployments"]) => {
                let b = body();
                let id = 1000 + all.len() as u64;
                all.push(Deployment {
                    id,
                    environment: b["environment"]
                        .as_str()
                        .unwrap_or("production")
                        .to_string(),
                    transient: b["transient_environment"].as_bool().unwrap_or(false),
                    states: Vec::new(),
                });
                ResponseTemplate::new(201).set_body_json(json!({"id": id}))
            }
            ("GET", ["repos", _, _, "deployments"]) => {
                let wanted = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "environment")
                    .map(|(_, v)| v.into_owned());
                let listed: Vec<Value> = all
                    .iter()
                    .rev()
                    .filter(|d| wanted.as_deref().is_none_or(|w| w == d.environment))
                    .map(|d| json!({"id": d.id, "environment": d.environment}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(listed)
            }
            (method, ["repos", _, _, "deployments", id, "statuses"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let Some(d) = all.iter_mut().find(|d| d.id == id) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"message": "Not Found"}));
                };
                if method == "POST" {
                    d.states
                        .push(body()["state"].as_str().unwrap_or("").to_string());
                    return ResponseTemplate::new(201).set_body_json(json!({"id": 1}));
                }
                let statuses: Vec<Value> =
                    d.states.iter().rev().map(|s| json!({"state": s})).collect();
                ResponseTemplate::new(200).set_body_json(statuses)
            }
            ("GET", _) => ResponseTemplate::new(200).set_body_json(json!({"check_runs": []})),
            _ => ResponseTemplate::new(201).set_body_json(json!({"id": 1})),
        }
    }
}
