//! GitHub: a check run per stage (with annotations, 50 per request), a commit status per
//! stage, and a deployment with its status for staging and production. Check runs need an
//! App token (`GITHUB_TOKEN` is one); with any other token, or a read-only token on a
//! fork's pull request, GitHub answers 403 and we fall back to statuses and workflow
//! commands, saying so once.

use std::cell::Cell;

use serde_json::{json, Value};

use super::http::{Api, Method};
use super::{truncate, HostEnv, Level, StageReport, GITHUB_SUMMARY_LIMIT};
use crate::config::Stage;
use crate::odoo::Colour;

/// GitHub accepts at most 50 annotations per create or update request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub answers 422 to longer status descriptions.
pub const STATUS_DESCRIPTION_LIMIT: usize = 140;

pub struct Reporter {
    api: Api,
    repo: String,
    sha: String,
    target_url: Option<String>,
    checks_allowed: Cell<bool>,
}

fn check_name(stage: Stage) -> String {
    format!("odoo-ci / {stage}")
}

fn external_id(stage: Stage, sha: &str) -> String {
    format!("odoo-ci:{stage}:{sha}")
}

pub fn conclusion(colour: Colour) -> &'static str {
    match colour {
        Colour::Green => "success",
        Colour::Yellow => "neutral",
        Colour::Red => "failure",
    }
}

/// Cuts to `limit` characters, with an ellipsis.
pub fn cut_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl Reporter {
    /// `None` (nothing reported) without a token, a repository or a commit.
    pub fn from_env(env: &HostEnv) -> Option<Reporter> {
        let token = env
            .var("ODOO_CI_GITHUB_TOKEN")
            .or_else(|| env.var("GITHUB_TOKEN"))?
            .to_string();
        let repo = env.repository.clone()?;
        let sha = env.sha.clone()?;
        let base = env
            .var("GITHUB_API_URL")
            .unwrap_or("https://api.github.com");
        let api = Api::new(base, "Authorization", format!("Bearer {token}"), token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        let target_url = match (env.var("GITHUB_SERVER_URL"), env.var("GITHUB_RUN_ID")) {
            (Some(server), Some(run)) => Some(format!("{server}/{repo}/actions/runs/{run}")),
            _ => None,
        };
        Some(Reporter {
            api,
            repo,
            sha,
            target_url,
            checks_allowed: Cell::new(true),
        })
    }

    fn warn(&self, what: &str, err: &str) {
        eprintln!(
            "warning: could not report {what} to GitHub: {} (the build's colour is unchanged)",
            self.api.mask(err)
        );
    }

    fn fall_back(&self, why: &str) {
        if self.checks_allowed.replace(false) {
            eprintln!(
                "note: GitHub refused check runs ({why}); reporting with commit statuses and workflow annotations instead"
            );
        }
    }

    /// Looks up this stage's check run on the commit by name and external id.
    fn find_run(&self, stage: Stage) -> Option<u64> {
        let path = format!(
            "/repos/{}/commits/{}/check-runs?check_name={}&filter=latest",
            self.repo,
            self.sha,
            check_name(stage).replace(' ', "%20").replace('/', "%2F")
        );
        let reply = self.api.send(Method::Get, &path, None, true).ok()?;
        if !reply.ok() {
            return None;
        }
        let wanted = external_id(stage, &self.sha);
        reply.body["check_runs"]
            .as_array()?
            .iter()
            .find(|r| r["external_id"].as_str() == Some(wanted.as_str()))
            .and_then(|r| r["id"].as_u64())
    }

    /// The check run in progress (found, or created once) and a pending status.
    pub fn start(&self, stage: Stage) -> Option<u64> {
        self.status(stage, "pending", "odoo-ci is running");
        if let Some(id) = self.find_run(stage) {
            let body = json!({"status": "in_progress"});
            let _ = self.api.send(
                Method::Patch,
                &format!("/repos/{}/check-runs/{id}", self.repo),
                Some(&body),
                true,
            );
            return Some(id);
        }
        let body = json!({
            "name": check_name(stage),
            "head_sha": self.sha,
            "status": "in_progress",
            "external_id": external_id(stage, &self.sha),
            "details_url": self.target_url,
        });
        let path = format!("/repos/{}/check-runs", self.repo);
        // A create is not idempotent: one attempt, then look before trying again.
        for _ in 0..2 {
            match self.api.send(Method::Post, &path, Some(&body), false) {
                Ok(r) if r.ok() => return r.body["id"].as_u64(),
                Ok(r) if r.status == 403 || r.status == 404 => {
                    self.fall_back(&format!("HTTP {}", r.status));
                    return None;
                }
                Ok(r) => self.warn("the check run", &format!("HTTP {}", r.status)),
                Err(e) => self.warn("the check run", &e),
            }
            if let Some(id) = self.find_run(stage) {
                return Some(id);
            }
        }
        None
    }

    pub fn finish(&self, run: Option<u64>, report: &StageReport) {
        let state = if report.colour == Colour::Red {
            "failure"
        } else {
            "success"
        };
        let description = match report.colour {
            Colour::Yellow => format!("passed, {} warnings — {}", report.warnings, report.title),
            Colour::Green | Colour::Red => report.title.clone(),
        };
        self.status(report.stage, state, &description);
        if self.checks_allowed.get() {
            self.complete_run(run, report);
        }
        if report.stage != Stage::Development {
            self.deployment(report);
        }
    }

    /// Closes a run and the status of a stage that stopped before it had a result (no
    /// deployment is recorded: nothing was deployed).
    pub fn abandon(&self, run: Option<u64>, report: &StageReport) {
        self.status(report.stage, "failure", &report.title);
        if self.checks_allowed.get() && run.is_some() {
            self.complete_run(run, report);
        }
    }

    fn complete_run(&self, run: Option<u64>, report: &StageReport) {
        let annotations: Vec<Value> = report
            .sorted_annotations()
            .iter()
            .map(|a| {
                json!({
                    "path": a.path,
                    "start_line": a.line,
                    "end_line": a.line,
                    "annotation_level": match a.level { Level::Failure => "failure", Level::Warning => "warning" },
                    "title": a.title,
                    "message": a.message,
                })
            })
            .collect();
        let output = |batch: &[Value]| {
            json!({
                "title": cut_chars(&report.title, 1000),
                "summary": truncate(&report.summary, GITHUB_SUMMARY_LIMIT),
                "annotations": batch,
            })
        };
        let mut batches = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let first = batches.next().unwrap_or(&[]);
        let body = json!({
            "name": check_name(report.stage),
            "head_sha": self.sha,
            "external_id": external_id(report.stage, &self.sha),
            "status": "completed",
            "conclusion": conclusion(report.colour),
            "details_url": self.target_url,
            "output": output(first),
        });
        let id = match run {
            Some(id) => {
                match self.api.send(
                    Method::Patch,
                    &format!("/repos/{}/check-runs/{id}", self.repo),
                    Some(&body),
                    true,
                ) {
                    Ok(r) if r.ok() => id,
                    Ok(r) => return self.warn("the check run", &format!("HTTP {}", r.status)),
                    Err(e) => return self.warn("the check run", &e),
                }
            }
            None => {
                match self.api.send(
                    Method::Post,
                    &format!("/repos/{}/check-runs", self.repo),
                    Some(&body),
                    false,
                ) {
                    Ok(r) if r.ok() => match r.body["id"].as_u64() {
                        Some(id) => id,
                        None => return,
                    },
                    Ok(r) if r.status == 403 || r.status == 404 => {
                        return self.fall_back(&format!("HTTP {}", r.status))
                    }
                    Ok(r) => return self.warn("the check run", &format!("HTTP {}", r.status)),
                    Err(e) => return self.warn("the check run", &e),
                }
            }
        };
        for batch in batches {
            let body = json!({ "output": output(batch) });
            if let Err(e) = self.api.send(
                Method::Patch,
                &format!("/repos/{}/check-runs/{id}", self.repo),
                Some(&body),
                true,
            ) {
                self.warn("annotations", &e);
            }
        }
    }

    /// A commit status (context `odoo-ci/<stage>`); statuses are idempotent, so retried.
    pub fn status(&self, stage: Stage, state: &str, description: &str) {
        let body = json!({
            "state": state,
            "context": format!("odoo-ci/{stage}"),
            "description": cut_chars(description, STATUS_DESCRIPTION_LIMIT),
            "target_url": self.target_url,
        });
        match self.api.send(
            Method::Post,
            &format!("/repos/{}/statuses/{}", self.repo, self.sha),
            Some(&body),
            true,
        ) {
            Ok(r) if r.ok() => {}
            Ok(r) => self.warn("the commit status", &format!("HTTP {}", r.status)),
            Err(e) => self.warn("the commit status", &e),
        }
    }

    /// A deployment of the commit to the stage's environment, and its final status.
    fn deployment(&self, report: &StageReport) {
        let body = json!({
            "ref": self.sha,
            "environment": report.stage,
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": report.stage == Stage::Staging,
            "production_environment": report.stage == Stage::Production,
            "description": cut_chars(&report.title, STATUS_DESCRIPTION_LIMIT),
        });
        let id = match self.api.send(
            Method::Post,
            &format!("/repos/{}/deployments", self.repo),
            Some(&body),
            false,
        ) {
            Ok(r) if r.ok() => match r.body["id"].as_u64() {
                Some(id) => id,
                None => return,
            },
            Ok(r) => return self.warn("the deployment", &format!("HTTP {}", r.status)),
            Err(e) => return self.warn("the deployment", &e),
        };
        let body = json!({
            "state": if report.colour == Colour::Red { "failure" } else { "success" },
            "environment_url": report.url,
            "log_url": self.target_url,
            "description": cut_chars(&report.title, STATUS_DESCRIPTION_LIMIT),
        });
        if let Err(e) = self.api.send(
            Method::Post,
            &format!("/repos/{}/deployments/{id}/statuses", self.repo),
            Some(&body),
            true,
        ) {
            self.warn("the deployment status", &e);
        }
    }
}
