//! GitHub: a check run per stage (with annotations, 50 per request), a commit status per
//! stage, and a deployment with its status for staging and production. Check runs need an
//! App token (`GITHUB_TOKEN` is one); with any other token, or a read-only token on a
//! fork's pull request, GitHub answers 403 and we fall back to statuses and workflow
//! commands, saying so once.

use std::cell::Cell;

use serde_json::{json, Value};

pub use super::github_api::{api_of, cut_chars, encode, STATUS_DESCRIPTION_LIMIT};
use super::http::{Api, Method, Reply};
use super::{truncate, HostEnv, Level, StageReport, Subject, GITHUB_SUMMARY_LIMIT};
use crate::config::{GithubChannel, Stage};
use crate::odoo::Colour;

/// GitHub accepts at most 50 annotations per create or update request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// An annotation's title, in characters (GitHub's check-run `output.annotations[].title`).
pub const ANNOTATION_TITLE_LIMIT: usize = 255;
/// An annotation's message: 64 KiB.
pub const ANNOTATION_MESSAGE_LIMIT: usize = 64 * 1024;

pub struct Reporter {
    api: Api,
    repo: String,
    sha: String,
    target_url: Option<String>,
    /// Where the summary's `path:line` links point.
    links: Option<super::Links>,
    checks_allowed: Cell<bool>,
    /// Check runs, statuses or both (`report.github`).
    channel: GithubChannel,
    /// The variable the token came from, to name in an error.
    token_var: &'static str,
    /// Set by a 401: the token does not work, so nothing more is sent (said once).
    refused_token: Cell<bool>,
}

/// 403/404 on a check run: the token may not create them (not a rate limit).
fn refused(r: &Reply) -> bool {
    (r.status == 403 || r.status == 404) && !r.rate_limited
}

fn check_name(subject: Subject) -> String {
    format!("odoo-ci / {subject}")
}

fn external_id(subject: Subject, sha: &str) -> String {
    format!("odoo-ci:{}:{sha}", subject.key())
}

pub fn conclusion(colour: Colour) -> &'static str {
    match colour {
        Colour::Green => "success",
        Colour::Yellow => "neutral",
        Colour::Red => "failure",
    }
}

/// The Actions run's page, when in one.
pub fn run_url(env: &HostEnv) -> Option<String> {
    match (
        env.var("GITHUB_SERVER_URL"),
        env.var("GITHUB_RUN_ID"),
        &env.repository,
    ) {
        (Some(server), Some(run), Some(repo)) => {
            Some(format!("{server}/{repo}/actions/runs/{run}"))
        }
        _ => None,
    }
}

impl Reporter {
    /// `None` (nothing reported) without a token, a repository or a commit.
    pub fn from_env(env: &HostEnv) -> Option<Reporter> {
        let (api, token_var) = api_of(env)?;
        let repo = env.repository.clone()?;
        let sha = env.sha.clone()?;
        let target_url = run_url(env);
        Some(Reporter {
            api,
            repo,
            sha,
            target_url,
            links: env.links(),
            checks_allowed: Cell::new(env.channel != GithubChannel::Statuses),
            channel: env.channel,
            token_var,
            refused_token: Cell::new(false),
        })
    }

    fn warn(&self, what: &str, err: &str) {
        eprintln!(
            "warning: could not report {what} to GitHub: {} (the build's colour is unchanged)",
            self.api.mask(err)
        );
    }

    /// A request's answer: the reply when it succeeded, else a warning with GitHub's own
    /// explanation. A 401 is said once, naming the token's variable, and stops reporting.
    fn answered(&self, what: &str, sent: Result<Reply, String>) -> Option<Reply> {
        match sent {
            Ok(r) if r.ok() => Some(r),
            Ok(r) if r.status == 401 => {
                if !self.refused_token.replace(true) {
                    self.warn(
                        what,
                        &format!(
                            "{} — check the token in `{}` (it is expired, revoked or not a GitHub token); nothing more is reported",
                            r.describe(),
                            self.token_var
                        ),
                    );
                }
                None
            }
            Ok(r) => {
                self.warn(what, &r.describe());
                None
            }
            // Not sent: the token was refused, and that was said.
            Err(_) if self.refused_token.get() => None,
            Err(e) => {
                self.warn(what, &e);
                None
            }
        }
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Reply, String> {
        if self.refused_token.get() {
            return Err("not sent: the token was refused".into());
        }
        self.api.send(method, path, body, idempotent)
    }

    fn fall_back(&self, why: &str) {
        if self.checks_allowed.replace(false) {
            let instead = match self.channel {
                GithubChannel::Checks => {
                    "reporting with workflow annotations only (`report.github: checks`)"
                }
                _ => "reporting with commit statuses and workflow annotations instead",
            };
            eprintln!("note: GitHub refused check runs ({why}); {instead}");
        }
    }

    /// Whether the colour goes on a check run (which then carries the annotations).
    pub fn uses_checks(&self) -> bool {
        self.checks_allowed.get()
    }

    /// Whether the colour goes on a commit status: asked for, or check runs were refused.
    fn uses_statuses(&self) -> bool {
        match self.channel {
            GithubChannel::Statuses | GithubChannel::Both => true,
            GithubChannel::Auto => !self.checks_allowed.get(),
            GithubChannel::Checks => false,
        }
    }

    /// Looks up this stage's check run on the commit by name and external id.
    fn find_run(&self, subject: Subject) -> Option<u64> {
        let path = format!(
            "/repos/{}/commits/{}/check-runs?check_name={}&filter=latest",
            self.repo,
            self.sha,
            encode(&check_name(subject))
        );
        let reply = self.send(Method::Get, &path, None, true).ok()?;
        if !reply.ok() {
            return None;
        }
        let wanted = external_id(subject, &self.sha);
        reply.body["check_runs"]
            .as_array()?
            .iter()
            .find(|r| r["external_id"].as_str() == Some(wanted.as_str()))
            .and_then(|r| r["id"].as_u64())
    }

    /// The check run in progress (found, or created once), or a pending status: one
    /// channel unless `report.github: both`.
    pub fn start(&self, subject: Subject) -> Option<u64> {
        let run = if self.uses_checks() {
            self.start_run(subject)
        } else {
            None
        };
        if self.uses_statuses() {
            self.status(subject, "pending", "odoo-ci is running");
        }
        run
    }

    fn start_run(&self, subject: Subject) -> Option<u64> {
        if let Some(id) = self.find_run(subject) {
            let body = json!({"status": "in_progress"});
            let _ = self.send(
                Method::Patch,
                &format!("/repos/{}/check-runs/{id}", self.repo),
                Some(&body),
                true,
            );
            return Some(id);
        }
        let body = json!({
            "name": check_name(subject),
            "head_sha": self.sha,
            "status": "in_progress",
            "external_id": external_id(subject, &self.sha),
            "details_url": self.target_url,
        });
        let path = format!("/repos/{}/check-runs", self.repo);
        // A create is not idempotent: one attempt, then look before trying again.
        for _ in 0..2 {
            match self.send(Method::Post, &path, Some(&body), false) {
                Ok(r) if refused(&r) => {
                    self.fall_back(&r.describe());
                    return None;
                }
                sent => {
                    if let Some(r) = self.answered("the check run", sent) {
                        return r.body["id"].as_u64();
                    }
                }
            }
            if self.refused_token.get() {
                return None;
            }
            if let Some(id) = self.find_run(subject) {
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
        if self.uses_checks() {
            // A finished result reported on its own (`odoo-ci report`) completes the run
            // the stage may have left, never a second one.
            let run = run.or_else(|| self.find_run(report.subject()));
            self.complete_run(run, report);
        }
        if self.uses_statuses() {
            self.status(report.subject(), state, &description);
        }
        // Development deploys only what stays up: a preview (its URL is the report's).
        if report.stage != Stage::Development || report.url.is_some() {
            self.deployment(report);
        }
    }

    /// The stage's comment on pull request `number`, edited in place.
    pub fn comment(&self, number: u64, report: &StageReport) {
        let body = super::comment::body(
            report,
            super::comment::GITHUB_COMMENT_LIMIT,
            self.links.as_ref(),
        );
        let repo = self.repo.clone();
        let one = move |id: u64| format!("/repos/{repo}/issues/comments/{id}");
        let thread = super::comment::Thread {
            api: &self.api,
            list: format!("/repos/{}/issues/{number}/comments", self.repo),
            one: &one,
            update: Method::Patch,
        };
        if self.refused_token.get() {
            return;
        }
        if let Err(e) = super::comment::upsert(&thread, report.subject(), &body) {
            self.warn(
                "the pull-request comment (the token needs `pull-requests: write`)",
                &e,
            );
        }
    }

    /// Closes a run and the status of a stage that stopped before it had a result (no
    /// deployment is recorded: nothing was deployed).
    pub fn abandon(&self, run: Option<u64>, report: &StageReport) {
        if self.uses_checks() && run.is_some() {
            self.complete_run(run, report);
        }
        if self.uses_statuses() {
            self.status(report.subject(), "failure", &report.title);
        }
    }

    fn complete_run(&self, run: Option<u64>, report: &StageReport) {
        let annotations = annotations_of(report);
        let links = self.links.as_ref();
        let output = |batch: &[Value], note: Option<&str>| {
            let summary = match note.map(|n| cut_chars(n, 1000)) {
                Some(note) => format!(
                    "{note}\n\n{}",
                    report.summary(GITHUB_SUMMARY_LIMIT - note.len() - 2, links)
                ),
                None => report.summary(GITHUB_SUMMARY_LIMIT, links),
            };
            json!({
                "title": cut_chars(&report.title, 1000),
                "summary": summary,
                "annotations": batch,
            })
        };
        let mut batches = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let first = batches.next().unwrap_or(&[]);
        let body = |output: Value| {
            json!({
                "name": check_name(report.subject()),
                "head_sha": self.sha,
                "external_id": external_id(report.subject(), &self.sha),
                "status": "completed",
                "conclusion": conclusion(report.colour),
                "details_url": self.target_url,
                "output": output,
            })
        };
        let Some(id) = self.complete_once(run, &body(output(first, None)), |why| {
            // GitHub refused the completion (a 422 on an annotation): completed anyway,
            // without annotations and saying why, so the run never stays in progress.
            let note = format!("Annotations could not be attached: GitHub answered {why}.");
            body(output(&[], Some(&note)))
        }) else {
            return;
        };
        for batch in batches {
            let sent = self.send(
                Method::Patch,
                &format!("/repos/{}/check-runs/{id}", self.repo),
                Some(&json!({ "output": output(batch, None) })),
                true,
            );
            self.answered("annotations", sent);
        }
    }

    /// Completes the run (an update of `run`, or a new completed run); on a 4xx, once more
    /// with `fallback(reason)`. The run's id when it is completed.
    fn complete_once(
        &self,
        run: Option<u64>,
        body: &Value,
        fallback: impl Fn(&str) -> Value,
    ) -> Option<u64> {
        let send = |body: &Value| match run {
            Some(id) => self.send(
                Method::Patch,
                &format!("/repos/{}/check-runs/{id}", self.repo),
                Some(body),
                true,
            ),
            None => self.send(
                Method::Post,
                &format!("/repos/{}/check-runs", self.repo),
                Some(body),
                false,
            ),
        };
        let sent = match send(body) {
            Ok(r) if run.is_none() && refused(&r) => {
                self.fall_back(&r.describe());
                return None;
            }
            Ok(r) if (400..500).contains(&r.status) && r.status != 401 && !r.rate_limited => {
                tracing::info!("completing the check run: {}", r.describe());
                send(&fallback(&r.describe()))
            }
            other => other,
        };
        let reply = self.answered("the check run", sent)?;
        run.or_else(|| reply.body["id"].as_u64())
    }

    /// A commit status (context `odoo-ci/<stage>`, with the shard when sharded); statuses
    /// are idempotent, so retried.
    pub fn status(&self, subject: Subject, state: &str, description: &str) {
        let body = json!({
            "state": state,
            "context": format!("odoo-ci/{subject}"),
            "description": cut_chars(description, STATUS_DESCRIPTION_LIMIT),
            "target_url": self.target_url,
        });
        let sent = self.send(
            Method::Post,
            &format!("/repos/{}/statuses/{}", self.repo, self.sha),
            Some(&body),
            true,
        );
        self.answered("the commit status", sent);
    }

    /// A deployment of the commit to the stage's environment, its final status, and the
    /// environment's earlier deployments marked inactive (the server now serves this one).
    fn deployment(&self, report: &StageReport) {
        let answered = |what: &str, sent| self.answered(what, sent);
        let deployments = super::deployments::Deployments {
            api: &self.api,
            repo: &self.repo,
            answered: &answered,
        };
        deployments.create(&self.sha, report, self.target_url.as_deref());
    }
}

/// A report's annotations as GitHub takes them: failures first, each title and message
/// within GitHub's limits (a longer one made GitHub refuse the whole update).
fn annotations_of(report: &StageReport) -> Vec<Value> {
    report
        .sorted_annotations()
        .iter()
        .map(|a| {
            json!({
                "path": a.path,
                "start_line": a.line,
                "end_line": a.line,
                "annotation_level": match a.level { Level::Failure => "failure", Level::Warning => "warning" },
                "title": cut_chars(&a.title, ANNOTATION_TITLE_LIMIT),
                "message": truncate(&a.message, ANNOTATION_MESSAGE_LIMIT),
            })
        })
        .collect()
}
