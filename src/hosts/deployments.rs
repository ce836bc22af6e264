//! GitHub deployments: one per staging or production run, and per development build kept
//! as a preview, in its environment — `production`, `staging/<branch>` or
//! `preview/<branch>` (each branch has its own server, so its own environment) — and
//! `inactive` once what they deployed is gone: superseded by a newer deployment of the
//! environment, or dropped (`odoo-ci staging drop`, `odoo-ci previews drop`).
//!
//! Staging and preview environments are transient, and GitHub's `auto_inactive` only
//! touches non-transient ones, so odoo-ci marks them itself.

use serde_json::{json, Value};

use super::github_api::{api_of, cut_chars, encode, STATUS_DESCRIPTION_LIMIT};
use super::http::{Api, Method, Reply};
use super::{HostEnv, StageReport};
use crate::config::Stage;
use crate::odoo::Colour;

/// GitHub lists at most this many deployments per page.
const PAGE: usize = 100;

/// A staging branch's environment.
pub fn staging_environment(branch: &str) -> String {
    format!("staging/{branch}")
}

/// A branch's preview environment.
pub fn preview_environment(branch: &str) -> String {
    format!("preview/{branch}")
}

/// The environment a report deploys to.
pub fn environment_of(report: &StageReport) -> String {
    match report.stage {
        Stage::Staging => staging_environment(report.branch()),
        Stage::Development => preview_environment(report.branch()),
        other => other.to_string(),
    }
}

/// What becomes of an answer: the reply when it succeeded, else a warning.
pub type Answered<'a> = &'a dyn Fn(&str, Result<Reply, String>) -> Option<Reply>;

pub struct Deployments<'a> {
    pub api: &'a Api,
    pub repo: &'a str,
    pub answered: Answered<'a>,
}

impl Deployments<'_> {
    /// A deployment of `sha` and its final status; on success the environment's earlier
    /// deployments become inactive.
    pub fn create(&self, sha: &str, report: &StageReport, log_url: Option<&str>) {
        let environment = environment_of(report);
        let body = json!({
            "ref": sha,
            "environment": environment,
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": report.stage != Stage::Production,
            "production_environment": report.stage == Stage::Production,
            "description": cut_chars(&report.title, STATUS_DESCRIPTION_LIMIT),
        });
        let path = format!("/repos/{}/deployments", self.repo);
        let sent = self.api.send(Method::Post, &path, Some(&body), false);
        let Some(id) = (self.answered)("the deployment", sent).and_then(|r| r.body["id"].as_u64())
        else {
            return;
        };
        let state = if report.colour == Colour::Red {
            "failure"
        } else {
            "success"
        };
        let body = json!({
            "state": state,
            "environment_url": report.url,
            "log_url": log_url,
            "description": cut_chars(&report.title, STATUS_DESCRIPTION_LIMIT),
        });
        self.status(id, &body, "the deployment status");
        if state == "success" && report.stage != Stage::Production {
            self.deactivate(&environment, Some(id), "superseded by a newer deployment");
        }
    }

    /// Marks the environment's deployments inactive, newest first, but `except`; stops at
    /// the first already inactive (the ones before it were marked by an earlier run).
    pub fn deactivate(&self, environment: &str, except: Option<u64>, why: &str) -> usize {
        let path = format!(
            "/repos/{}/deployments?environment={}&per_page={PAGE}",
            self.repo,
            encode(environment)
        );
        let sent = self.api.send(Method::Get, &path, None, true);
        let Some(list) = (self.answered)("the environment's deployments", sent) else {
            return 0;
        };
        let ids: Vec<u64> = list
            .body
            .as_array()
            .map(|all| all.iter().filter_map(|d| d["id"].as_u64()).collect())
            .unwrap_or_default();
        let body =
            json!({"state": "inactive", "description": cut_chars(why, STATUS_DESCRIPTION_LIMIT)});
        let mut marked = 0;
        for id in ids.into_iter().filter(|id| Some(*id) != except) {
            if self.latest_state(id).as_deref() == Some("inactive") {
                break;
            }
            self.status(id, &body, "an inactive deployment status");
            marked += 1;
        }
        marked
    }

    fn latest_state(&self, id: u64) -> Option<String> {
        let path = format!("/repos/{}/deployments/{id}/statuses?per_page=1", self.repo);
        let sent = self.api.send(Method::Get, &path, None, true);
        let reply = (self.answered)("a deployment's status", sent)?;
        reply.body[0]["state"].as_str().map(str::to_string)
    }

    fn status(&self, id: u64, body: &Value, what: &str) {
        let path = format!("/repos/{}/deployments/{id}/statuses", self.repo);
        let sent = self.api.send(Method::Post, &path, Some(body), true);
        (self.answered)(what, sent);
    }
}

/// Marks a dropped staging branch's environment inactive (`odoo-ci staging drop` in a
/// GitHub job). Nothing without a token or a repository; failures are warned about.
pub fn environment_gone(env: &HostEnv, environment: &str, why: &str) {
    let (Some((api, _)), Some(repo)) = (api_of(env), env.repository.as_deref()) else {
        return;
    };
    let answered = |what: &str, sent: Result<Reply, String>| match sent {
        Ok(r) if r.ok() => Some(r),
        Ok(r) => {
            eprintln!(
                "warning: could not mark {what} inactive on GitHub: {}",
                api.mask(&r.describe())
            );
            None
        }
        Err(e) => {
            eprintln!("warning: could not mark {what} inactive on GitHub: {e}");
            None
        }
    };
    let deployments = Deployments {
        api: &api,
        repo,
        answered: &answered,
    };
    let marked = deployments.deactivate(environment, None, why);
    if marked > 0 {
        eprintln!("GitHub environment `{environment}`: {marked} deployments marked inactive");
    }
}
