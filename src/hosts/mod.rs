//! Reporting the colour where people look: GitHub (check runs, commit statuses,
//! deployments, Actions workflow commands, step summary and outputs) and GitLab (commit
//! statuses, collapsible log sections, the exit code).
//!
//! Every stage's `odoo-ci-result.json` becomes one [`StageReport`], so `odoo-ci report
//! --result F` can re-send a stored result from a separate job. Reporting never changes a
//! build's colour: failures are retried where that is safe, then warned about, and tokens
//! never appear in any output.

pub mod actions;
pub mod comment;
pub mod deployments;
pub mod github;
pub mod github_api;
pub mod gitlab;
pub mod http;

use std::path::Path;

use serde::Serialize;

use crate::config::{GithubChannel, Stage};
use crate::context::{Context, Provider};
use crate::odoo::Colour;
use crate::result::{Detail, Reporter, StageResult};

/// GitHub shows at most this many characters of a check run's summary.
pub const GITHUB_SUMMARY_LIMIT: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Failure,
    Warning,
}

/// A message at a file and line of the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub path: String,
    pub line: u32,
    pub level: Level,
    pub title: String,
    pub message: String,
}

/// What a report is about: a stage and, for a sharded development run, its shard. Each
/// subject has its own check run, status context and external id: shards once shared one,
/// and a green shard turned another's failed check run green.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub stage: Stage,
    pub shard: Option<crate::plan::Shard>,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.shard {
            Some(shard) => write!(f, "{} ({shard})", self.stage),
            None => write!(f, "{}", self.stage),
        }
    }
}

impl Subject {
    pub fn of(stage: Stage) -> Subject {
        Subject { stage, shard: None }
    }

    /// For ids: `development`, or `development-1-of-3`.
    pub fn key(&self) -> String {
        match self.shard {
            Some(s) => format!("{}-{}-of-{}", self.stage, s.index, s.count),
            None => self.stage.to_string(),
        }
    }
}

/// What a stage reports, whatever the stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: Stage,
    pub shard: Option<crate::plan::Shard>,
    pub colour: Colour,
    /// One line: "12 tests passed", "3 failed", "deployed d-…".
    pub title: String,
    pub annotations: Vec<Annotation>,
    /// The staging or production URL.
    pub url: Option<String>,
    pub warnings: u64,
    /// Development: the test counts.
    pub tests: Option<crate::odoo::result::TestCounts>,
    /// The result shown; `None` when the stage stopped before it had one.
    #[serde(skip)]
    result: Option<Box<StageResult>>,
}

impl StageReport {
    /// Reads a stored result (`odoo-ci-result.json`), typed: a file that is not a result
    /// (or whose `stage` or `colour` is not one of ours) is refused, so a crafted file
    /// cannot smuggle a newline into an output or a workflow command.
    pub fn from_result_file(path: &Path) -> anyhow::Result<StageReport> {
        Ok(StageReport::from_result(&StageResult::read(path)?))
    }

    /// What the host shows of a result.
    pub fn from_result(result: &StageResult) -> StageReport {
        let stage = result.stage();
        let colour = result.colour;
        let log = match &result.detail {
            Detail::Development(d) => d.log.as_ref(),
            _ => None,
        };
        let mut annotations = Vec::new();
        for f in log.map(|l| l.failures.as_slice()).unwrap_or_default() {
            if let (Some(path), Some(line)) = (&f.file, f.line) {
                annotations.push(Annotation {
                    path: path.clone(),
                    line,
                    level: Level::Failure,
                    title: format!("{} {} ({})", f.module, f.test, f.kind.as_str()),
                    // The assertion's first line and, for strings, unittest's diff.
                    message: crate::odoo::traceback::exception_text(&f.traceback, &f.message),
                });
            }
        }
        for p in log.map(|l| l.problems.as_slice()).unwrap_or_default() {
            if let (Some(path), Some(line)) = (&p.file, p.line) {
                annotations.push(Annotation {
                    path: path.clone(),
                    line,
                    level: Level::Failure,
                    title: p.logger.clone(),
                    message: p.detail.clone().unwrap_or_else(|| p.message.clone()),
                });
            }
        }
        let warnings = log.map(|l| l.warnings.total).unwrap_or(0);
        let url = match &result.detail {
            Detail::Staging(d) => d.url.clone(),
            Detail::Development(d) => d.preview.as_ref().map(|p| p.url.clone()),
            _ => None,
        };
        let shard = match &result.detail {
            Detail::Development(d) => d.shard,
            _ => None,
        };
        StageReport {
            title: title(result, log, warnings),
            result: Some(Box::new(result.clone())),
            url,
            stage,
            shard,
            colour,
            annotations,
            warnings,
            tests: log.map(|l| l.tests),
        }
    }

    /// A stage that stopped before it had a result (an early error, a panic): red.
    pub fn stopped(subject: Subject) -> StageReport {
        StageReport {
            stage: subject.stage,
            shard: subject.shard,
            colour: Colour::Red,
            title: "odoo-ci stopped before the stage had a result: see the job log".to_string(),
            annotations: Vec::new(),
            url: None,
            warnings: 0,
            tests: None,
            result: None,
        }
    }

    /// The commit the result is about (`None` for one written before results had it, or
    /// a stage that stopped before it had a result).
    pub fn commit(&self) -> Option<&str> {
        self.result.as_ref().and_then(|r| r.commit.as_deref())
    }

    /// The branch built (a staging branch's environment is named after it).
    pub fn branch(&self) -> &str {
        self.result.as_ref().map_or("", |r| r.branch.as_str())
    }

    /// The Markdown summary, at most `limit` bytes, cut only between whole blocks;
    /// `path:line` linked when `links` says where files are seen on the host.
    pub fn summary(&self, limit: usize, links: Option<&Links>) -> String {
        match &self.result {
            Some(result) => crate::report::summary::render_result(result, limit, links),
            None => truncate(
                &format!(
                    "## odoo-ci / {}: stopped\n\nThe stage stopped before it had a result; the job log says why.\n",
                    self.subject()
                ),
                limit,
            ),
        }
    }

    pub fn subject(&self) -> Subject {
        Subject {
            stage: self.stage,
            shard: self.shard,
        }
    }

    /// Failures first, then warnings: GitHub shows only the first ten of each per step.
    pub fn sorted_annotations(&self) -> Vec<Annotation> {
        let mut all = self.annotations.clone();
        all.sort_by_key(|a| a.level != Level::Failure);
        all
    }
}

/// One line: "12 tests: 12 passed…", the first reason of a red stage, the URL, the deployment.
fn title(
    result: &StageResult,
    log: Option<&crate::odoo::result::LogResult>,
    warnings: u64,
) -> String {
    let stage = result.stage();
    match (&result.detail, result.colour, log) {
        (Detail::Development(_), _, Some(log)) => {
            let t = &log.tests;
            let mut text = format!(
                "{} tests: {} passed, {} failed, {} errors",
                t.total, t.passed, t.failed, t.errors
            );
            if warnings > 0 {
                text.push_str(&format!(", {warnings} warnings"));
            }
            text
        }
        (_, Colour::Red, _) => result
            .reasons
            .first()
            .map(|r| r.lines().next().unwrap_or(r).to_string())
            .unwrap_or_else(|| format!("{stage} failed")),
        (Detail::Staging(d), _, _) => {
            format!("staging is up: {}", d.url.as_deref().unwrap_or_default())
        }
        (Detail::Production(d), _, _) => format!(
            "deployed {} ({})",
            d.id,
            d.active_colour.map(|c| c.as_str()).unwrap_or_default()
        ),
        (Detail::Development(_), _, None) => result
            .reasons
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{stage}: {}", result.colour.as_str())),
    }
}

pub use crate::report::summary::{truncate, Links};

/// Where the run happens, and how to reach the host's API.
#[derive(Debug, Clone)]
pub struct HostEnv {
    pub provider: Provider,
    /// The commit to report on (the head commit of a pull request, not the merge commit).
    pub sha: Option<String>,
    pub repository: Option<String>,
    pub vars: std::collections::HashMap<String, String>,
    /// On GitHub: check runs, statuses or both.
    pub channel: GithubChannel,
    /// The pull (merge) request to comment on: set when `report.comment` asks for it and
    /// the run is one's.
    pub comment_on: Option<u64>,
}

impl HostEnv {
    pub fn from_context(
        ctx: &Context,
        commit: Option<&str>,
        settings: &crate::config::schema::ReportSection,
    ) -> HostEnv {
        HostEnv {
            provider: ctx.provider,
            sha: commit.map(str::to_string).or_else(|| ctx.commit.clone()),
            repository: ctx.repository.clone(),
            vars: std::env::vars().collect(),
            channel: settings.github,
            comment_on: ctx.pull_request.filter(|_| settings.comment),
        }
    }

    /// This process's CI, about no commit (what `odoo-ci staging drop` reports).
    pub fn of_process() -> HostEnv {
        let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
        let provider = Provider::from_env();
        let repository = match provider {
            Provider::Github => vars.get("GITHUB_REPOSITORY").cloned(),
            Provider::Gitlab => vars.get("CI_PROJECT_PATH").cloned(),
            Provider::Local => None,
        };
        HostEnv {
            provider,
            sha: None,
            repository,
            vars,
            channel: GithubChannel::default(),
            comment_on: None,
        }
    }

    /// Where the repository's files are seen at the reported commit, for links.
    pub fn links(&self) -> Option<Links> {
        let sha = self.sha.as_deref()?;
        let base = match self.provider {
            Provider::Github => format!(
                "{}/{}/blob/{sha}",
                self.var("GITHUB_SERVER_URL")?.trim_end_matches('/'),
                self.repository.as_deref()?
            ),
            // GitLab shows no summary of ours (the job log and JUnit report are its).
            Provider::Gitlab | Provider::Local => return None,
        };
        Some(Links { blob_base: base })
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The Git host as a reporter: the check run (or status) opens when the stage starts and
/// closes with its result. Dropped before a result — an early error, a panic — it closes
/// them as failed, so nothing stays "in progress".
pub struct HostReporter {
    env: HostEnv,
    subject: Subject,
    started: Option<Started>,
    output: std::path::PathBuf,
}

impl HostReporter {
    pub fn start(
        ctx: &Context,
        commit: Option<&str>,
        subject: Subject,
        output: &Path,
        settings: &crate::config::schema::ReportSection,
    ) -> Self {
        let env = HostEnv::from_context(ctx, commit, settings);
        let started = start(&env, subject);
        HostReporter {
            env,
            subject,
            started: Some(started),
            output: output.to_path_buf(),
        }
    }
}

impl Reporter for HostReporter {
    fn finished(&mut self, result: &StageResult) {
        if let Some(started) = self.started.take() {
            finish(
                &self.env,
                started,
                &StageReport::from_result(result),
                &self.output,
            );
        }
    }
}

impl Drop for HostReporter {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            abandon(&self.env, started, self.subject);
        }
    }
}

/// Reports a stage's start (check run in progress, pending status). Never fails the stage.
pub fn start(env: &HostEnv, subject: Subject) -> Started {
    match env.provider {
        Provider::Github => Started {
            github: github::Reporter::from_env(env).map(|r| {
                let run = r.start(subject);
                (r, run)
            }),
        },
        Provider::Gitlab => {
            if let Some(r) = gitlab::Reporter::from_env(env) {
                r.status(subject, "running", "odoo-ci is running", None);
            }
            Started::nothing()
        }
        Provider::Local => Started::nothing(),
    }
}

/// What [`start`] created, to complete at the end.
pub struct Started {
    github: Option<(github::Reporter, Option<u64>)>,
}

impl Started {
    /// Nothing opened: a finished result is reported as it is, never first as running.
    pub fn nothing() -> Started {
        Started { github: None }
    }
}

/// Closes what [`start`] opened when the stage stopped before it had a result (an early
/// error, a panic): the check run completes as failed, the status turns failed.
pub fn abandon(env: &HostEnv, started: Started, subject: Subject) {
    let report = StageReport::stopped(subject);
    match env.provider {
        Provider::Github => {
            if let Some((reporter, run)) = started.github {
                reporter.abandon(run, &report);
            }
        }
        Provider::Gitlab => {
            if let Some(r) = gitlab::Reporter::from_env(env) {
                r.status(subject, "failed", &report.title, None);
            }
        }
        Provider::Local => {}
    }
}

/// Reports a stage's end everywhere that applies. Never fails the stage.
pub fn finish(env: &HostEnv, started: Started, report: &StageReport, output: &Path) {
    match env.provider {
        Provider::Github => {
            let (reporter, run) = match started.github {
                Some((r, run)) => (Some(r), run),
                None => (github::Reporter::from_env(env), None),
            };
            if let Some(r) = &reporter {
                r.finish(run, report);
            }
            // A check run carries the annotations: workflow commands would show each
            // failure a second time.
            let on_check_run = reporter.as_ref().is_some_and(github::Reporter::uses_checks);
            actions::write_all(env, report, output, !on_check_run);
            if let (Some(r), Some(number)) = (&reporter, env.comment_on) {
                r.comment(number, report);
            }
        }
        Provider::Gitlab => {
            if let Some(r) = gitlab::Reporter::from_env(env) {
                let state = match report.colour {
                    Colour::Red => "failed",
                    Colour::Green | Colour::Yellow => "success",
                };
                r.status(
                    report.subject(),
                    state,
                    &report.title,
                    report.url.as_deref(),
                );
                if let Some(iid) = env.comment_on {
                    r.comment(iid, report);
                }
            }
        }
        Provider::Local => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_a_char_boundary_and_says_so() {
        let text = "é".repeat(100);
        let cut = truncate(&text, 120);
        assert!(cut.len() <= 120 && cut.contains("cut"), "{cut}");
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn development_results_become_annotations_and_a_title() {
        let v = serde_json::json!({
            "schema_version": 1, "stage": "development", "colour": "red", "reasons": ["1 test failed"],
            "log": {
                "colour": "red", "reasons": ["1 test failed"],
                "tests": {"total": 3, "passed": 2, "failed": 1, "errors": 0, "skipped": 0},
                "failures": [{"module": "m", "test": "T.test_x", "kind": "failure",
                              "file": "addons/m/tests/test_x.py", "line": 7,
                              "message": "AssertionError: 1 != 2", "traceback": ""}],
                "problems": [], "warnings": {"total": 2, "ignored": 0, "groups": []},
                "modules": [], "summary_seen": true, "modules_loaded": true,
                "records": 10, "foreign_lines": 0, "cases": []
            }
        });
        let result: StageResult = serde_json::from_value(v).unwrap();
        let r = StageReport::from_result(&result);
        assert_eq!(r.title, "3 tests: 2 passed, 1 failed, 0 errors, 2 warnings");
        assert_eq!(r.annotations[0].path, "addons/m/tests/test_x.py");
        assert_eq!(r.annotations[0].line, 7);
        assert_eq!(r.annotations[0].level, Level::Failure);
    }

    #[test]
    fn a_multi_line_assertion_is_annotated_with_its_diff() {
        let traceback = "Traceback (most recent call last):\n  File \"/x/acc_x/tests/t.py\", line 12, in test_discount\n    self.assertEqual(label, \"discount: 10% off\")\nAssertionError: 'discount: 100% off, really' != 'discount: 10% off'\n- discount: 100% off, really\n?              -    --------\n+ discount: 10% off\n";
        let v = serde_json::json!({
            "schema_version": 1, "stage": "development", "colour": "red",
            "log": {
                "colour": "red", "reasons": [], "tests": {"total": 1, "passed": 0, "failed": 1, "errors": 0, "skipped": 0},
                "failures": [{"module": "acc_x", "test": "TestX.test_discount", "kind": "failure",
                              "file": "addons/acc_x/tests/t.py", "line": 12,
                              "message": "AssertionError: 'discount: 100% off, really' != 'discount: 10% off'",
                              "traceback": traceback}],
                "problems": [], "warnings": {"total": 0, "ignored": 0, "groups": []}
            }
        });
        let result: StageResult = serde_json::from_value(v).unwrap();
        let message = &StageReport::from_result(&result).annotations[0].message;
        assert_eq!(
            message,
            "AssertionError: 'discount: 100% off, really' != 'discount: 10% off'\n- discount: 100% off, really\n?              -    --------\n+ discount: 10% off"
        );
    }
}
