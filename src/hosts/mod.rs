//! Reporting the colour where people look: GitHub (check runs, commit statuses,
//! deployments, Actions workflow commands, step summary and outputs) and GitLab (commit
//! statuses, collapsible log sections, the exit code).
//!
//! Every stage's `odoo-ci-result.json` becomes one [`StageReport`], so `odoo-ci report
//! --result F` can re-send a stored result from a separate job. Reporting never changes a
//! build's colour: failures are retried where that is safe, then warned about, and tokens
//! never appear in any output.

pub mod actions;
pub mod github;
pub mod gitlab;
pub mod http;

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Stage;
use crate::context::{Context, Provider};
use crate::odoo::Colour;

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

/// What a stage reports, whatever the stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: Stage,
    pub colour: Colour,
    /// One line: "12 tests passed", "3 failed", "deployed d-…".
    pub title: String,
    /// Markdown.
    pub summary: String,
    pub annotations: Vec<Annotation>,
    /// The staging or production URL.
    pub url: Option<String>,
    pub warnings: u64,
}

impl StageReport {
    /// Reads a stored result (`odoo-ci-result.json`) and the `summary.md` beside it.
    pub fn from_result_file(path: &Path) -> anyhow::Result<StageReport> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not an odoo-ci result: {e}", path.display()))?;
        let summary = path
            .parent()
            .map(|d| d.join("summary.md"))
            .and_then(|p| std::fs::read_to_string(p).ok());
        StageReport::from_result(&value, summary)
            .map_err(|e| anyhow::anyhow!("{} is not an odoo-ci result: {e}", path.display()))
    }

    /// The report of a stored result. `stage` and `colour` are parsed as the enums they
    /// are: a crafted file cannot smuggle a newline into an output or a workflow command.
    pub fn from_result(value: &Value, summary: Option<String>) -> anyhow::Result<StageReport> {
        let stage = Stage::deserialize(&value["stage"])
            .map_err(|_| anyhow::anyhow!("`stage` must be development, staging or production"))?;
        let colour = Colour::deserialize(&value["colour"])
            .map_err(|_| anyhow::anyhow!("`colour` must be green, yellow or red"))?;
        let log = &value["log"];
        let mut annotations = Vec::new();
        for f in log["failures"].as_array().into_iter().flatten() {
            if let (Some(path), Some(line)) = (f["file"].as_str(), f["line"].as_u64()) {
                annotations.push(Annotation {
                    path: path.to_string(),
                    line: line as u32,
                    level: Level::Failure,
                    title: format!(
                        "{} {} ({})",
                        f["module"].as_str().unwrap_or_default(),
                        f["test"].as_str().unwrap_or_default(),
                        f["kind"].as_str().unwrap_or("failure")
                    ),
                    message: f["message"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        for p in log["problems"].as_array().into_iter().flatten() {
            if let (Some(path), Some(line)) = (p["file"].as_str(), p["line"].as_u64()) {
                annotations.push(Annotation {
                    path: path.to_string(),
                    line: line as u32,
                    level: Level::Failure,
                    title: p["logger"].as_str().unwrap_or("odoo").to_string(),
                    message: p["detail"]
                        .as_str()
                        .or(p["message"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        }
        let warnings = log["warnings"]["total"].as_u64().unwrap_or(0);
        let tests = &log["tests"];
        let reasons: Vec<&str> = value["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let title = match (stage, colour) {
            (Stage::Development, _) if tests.is_object() => {
                let mut t = format!(
                    "{} tests: {} passed, {} failed, {} errors",
                    tests["total"].as_u64().unwrap_or(0),
                    tests["passed"].as_u64().unwrap_or(0),
                    tests["failed"].as_u64().unwrap_or(0),
                    tests["errors"].as_u64().unwrap_or(0)
                );
                if warnings > 0 {
                    t.push_str(&format!(", {warnings} warnings"));
                }
                t
            }
            (_, Colour::Red) => reasons
                .first()
                .map(|r| r.lines().next().unwrap_or(r).to_string())
                .unwrap_or_else(|| format!("{stage} failed")),
            (Stage::Staging, _) => format!(
                "staging is up: {}",
                value["url"].as_str().unwrap_or_default()
            ),
            (Stage::Production, _) => format!(
                "deployed {} ({})",
                value["id"].as_str().unwrap_or_default(),
                value["active_colour"].as_str().unwrap_or_default()
            ),
            (Stage::Development, _) => format!("{stage}: {}", colour.as_str()),
        };
        let summary = summary.unwrap_or_else(|| {
            let mut s = format!("## odoo-ci / {stage}: {}\n\n", colour.as_str());
            for r in &reasons {
                s.push_str(&format!("- {r}\n"));
            }
            s
        });
        Ok(StageReport {
            url: value["url"].as_str().map(str::to_string),
            stage,
            colour,
            title,
            summary,
            annotations,
            warnings,
        })
    }

    /// Failures first, then warnings: GitHub shows only the first ten of each per step.
    pub fn sorted_annotations(&self) -> Vec<Annotation> {
        let mut all = self.annotations.clone();
        all.sort_by_key(|a| a.level != Level::Failure);
        all
    }
}

/// Cuts `text` to at most `limit` bytes on a character boundary, with a note.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let note = "\n\n… (cut: see the full summary in the job's output folder)\n";
    let mut end = limit.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &text[..end])
}

/// Where the run happens, and how to reach the host's API.
#[derive(Debug, Clone)]
pub struct HostEnv {
    pub provider: Provider,
    /// The commit to report on (the head commit of a pull request, not the merge commit).
    pub sha: Option<String>,
    pub repository: Option<String>,
    pub vars: std::collections::HashMap<String, String>,
}

impl HostEnv {
    pub fn from_context(ctx: &Context, commit: Option<&str>) -> HostEnv {
        HostEnv {
            provider: ctx.provider,
            sha: commit.map(str::to_string).or_else(|| ctx.commit.clone()),
            repository: ctx.repository.clone(),
            vars: std::env::vars().collect(),
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Reports a stage's start (check run in progress, pending status). Never fails the stage.
pub fn start(env: &HostEnv, stage: Stage) -> Started {
    match env.provider {
        Provider::Github => Started {
            github: github::Reporter::from_env(env).map(|r| {
                let run = r.start(stage);
                (r, run)
            }),
        },
        Provider::Gitlab => {
            if let Some(r) = gitlab::Reporter::from_env(env) {
                r.status(stage, "running", "odoo-ci is running", None);
            }
            Started { github: None }
        }
        Provider::Local => Started { github: None },
    }
}

/// What [`start`] created, to complete at the end.
pub struct Started {
    github: Option<(github::Reporter, Option<u64>)>,
}

/// Closes what [`start`] opened when the stage stopped before it had a result (an early
/// error, a panic): the check run completes as failed, the status turns failed.
pub fn abandon(env: &HostEnv, started: Started, stage: Stage) {
    let report = StageReport {
        stage,
        colour: Colour::Red,
        title: "odoo-ci stopped before the stage had a result: see the job log".to_string(),
        summary: format!(
            "## odoo-ci / {stage}: stopped\n\nThe stage stopped before it had a result; the job log says why.\n"
        ),
        annotations: Vec::new(),
        url: None,
        warnings: 0,
    };
    match env.provider {
        Provider::Github => {
            if let Some((reporter, run)) = started.github {
                reporter.abandon(run, &report);
            }
        }
        Provider::Gitlab => {
            if let Some(r) = gitlab::Reporter::from_env(env) {
                r.status(stage, "failed", &report.title, None);
            }
        }
        Provider::Local => {}
    }
}

/// Reports a stage's end everywhere that applies. Never fails the stage.
pub fn finish(env: &HostEnv, started: Started, report: &StageReport, output: &Path) {
    match env.provider {
        Provider::Github => {
            actions::write_all(env, report, output);
            let (reporter, run) = match started.github {
                Some((r, run)) => (Some(r), run),
                None => (github::Reporter::from_env(env), None),
            };
            if let Some(r) = reporter {
                r.finish(run, report);
            }
        }
        Provider::Gitlab => {
            if let Some(r) = gitlab::Reporter::from_env(env) {
                let state = match report.colour {
                    Colour::Red => "failed",
                    Colour::Green | Colour::Yellow => "success",
                };
                r.status(report.stage, state, &report.title, report.url.as_deref());
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
        let v: Value = serde_json::json!({
            "stage": "development", "colour": "red", "reasons": ["1 test failed"],
            "log": {
                "tests": {"total": 3, "passed": 2, "failed": 1, "errors": 0, "skipped": 0},
                "failures": [{"module": "m", "test": "T.test_x", "kind": "failure",
                              "file": "addons/m/tests/test_x.py", "line": 7, "message": "AssertionError: 1 != 2"}],
                "problems": [], "warnings": {"total": 2, "ignored": 0, "groups": []}
            }
        });
        let r = StageReport::from_result(&v, None).unwrap();
        assert_eq!(r.title, "3 tests: 2 passed, 1 failed, 0 errors, 2 warnings");
        assert_eq!(r.annotations[0].path, "addons/m/tests/test_x.py");
        assert_eq!(r.annotations[0].line, 7);
        assert_eq!(r.annotations[0].level, Level::Failure);
    }
}
