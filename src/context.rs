//! Where odoo-ci runs: GitHub Actions, GitLab CI or a terminal, and what it builds:
//! branch, commit and the base to compare with. A pure function of the environment.

use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Github,
    Gitlab,
    Local,
}

impl Provider {
    /// The CI this process runs in, from its environment alone.
    pub fn from_env() -> Provider {
        let is = |k: &str| std::env::var(k).as_deref() == Ok("true");
        if is("GITHUB_ACTIONS") {
            Provider::Github
        } else if is("GITLAB_CI") {
            Provider::Gitlab
        } else {
            Provider::Local
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Push,
    PullRequest,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    pub provider: Provider,
    pub trigger: Trigger,
    pub branch: String,
    /// The commit to build (a SHA or any ref); `None` means HEAD.
    pub commit: Option<String>,
    /// What the push or merge request is compared with (a SHA or ref), when known.
    pub base: Option<String>,
    /// `owner/name` or the GitLab project path, when known.
    pub repository: Option<String>,
    pub pull_request: Option<u64>,
}

/// Values given on the command line; they win over the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub branch: Option<String>,
    pub git_ref: Option<String>,
    pub base: Option<String>,
}

/// What the checkout's HEAD says of the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    Branch(String),
    Detached,
    /// The project is not in a git repository.
    NoRepository,
}

impl Head {
    fn branch(self) -> Result<String, ContextError> {
        match self {
            Head::Branch(b) => Ok(b),
            Head::Detached => Err(ContextError::DetachedHead),
            Head::NoRepository => Err(ContextError::NoRepository),
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ContextError {
    #[error("HEAD is detached, so the branch (and with it the stage) is unknown")]
    DetachedHead,
    #[error(
        "the project is not in a git repository, so the branch (and with it the stage) is unknown"
    )]
    NoRepository,
    #[error("cannot read the GitHub event payload `{path}`: {reason}")]
    EventPayload { path: String, reason: String },
    #[error("{provider} did not say which branch this is (`{var}` is empty)")]
    MissingVariable {
        provider: &'static str,
        var: &'static str,
    },
}

impl ContextError {
    pub fn hint(&self) -> &'static str {
        match self {
            ContextError::DetachedHead => "pass --branch NAME (CI checkouts are often detached)",
            ContextError::NoRepository => {
                "pass --branch NAME, or run in a git checkout (`git init` for a new project)"
            }
            ContextError::EventPayload { .. } => {
                "run inside GitHub Actions, or pass --branch and --ref"
            }
            ContextError::MissingVariable { .. } => "pass --branch NAME",
        }
    }
}

const NULL_SHA: &str = "0000000000000000000000000000000000000000";

/// Detects the context. `env` reads a variable, `read_file` reads the GitHub event payload,
/// `head_branch` is the local checkout's branch (`None` when detached).
pub fn detect(
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
    head: Head,
    overrides: &Overrides,
) -> Result<Context, ContextError> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut ctx = if var("GITHUB_ACTIONS").as_deref() == Some("true") {
        github(&var, read_file)?
    } else if var("GITLAB_CI").as_deref() == Some("true") {
        gitlab(&var)?
    } else {
        Context {
            provider: Provider::Local,
            trigger: Trigger::Manual,
            branch: match &overrides.branch {
                Some(b) => b.clone(),
                None => head.branch()?,
            },
            commit: None,
            base: None,
            repository: None,
            pull_request: None,
        }
    };
    if let Some(b) = &overrides.branch {
        ctx.branch = b.clone();
    }
    if let Some(r) = &overrides.git_ref {
        ctx.commit = Some(r.clone());
    }
    if let Some(b) = &overrides.base {
        ctx.base = Some(b.clone());
    }
    Ok(ctx)
}

fn github(
    var: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Context, ContextError> {
    let event_name = var("GITHUB_EVENT_NAME").unwrap_or_default();
    let payload = event_payload(var, read_file)?;
    let at = |p: &str| -> Option<String> {
        payload.as_ref().and_then(|v| v.pointer(p)).and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
    };
    let repository = var("GITHUB_REPOSITORY");
    if event_name.starts_with("pull_request") {
        // GITHUB_SHA is the merge commit: build and report on the head commit.
        let branch = at("/pull_request/head/ref")
            .or_else(|| var("GITHUB_HEAD_REF"))
            .ok_or(ContextError::MissingVariable {
                provider: "GitHub",
                var: "GITHUB_HEAD_REF",
            })?;
        return Ok(Context {
            provider: Provider::Github,
            trigger: Trigger::PullRequest,
            branch,
            commit: at("/pull_request/head/sha").or_else(|| var("GITHUB_SHA")),
            base: at("/pull_request/base/sha")
                .or_else(|| var("GITHUB_BASE_REF").map(|b| format!("origin/{b}"))),
            repository,
            pull_request: at("/pull_request/number").and_then(|n| n.parse().ok()),
        });
    }
    if event_name == "workflow_run" {
        return github_workflow_run(var, &at, repository);
    }
    let branch = var("GITHUB_REF_NAME")
        .or_else(|| var("GITHUB_REF").map(|r| r.trim_start_matches("refs/heads/").to_string()))
        .ok_or(ContextError::MissingVariable {
            provider: "GitHub",
            var: "GITHUB_REF_NAME",
        })?;
    Ok(Context {
        provider: Provider::Github,
        trigger: if event_name == "push" {
            Trigger::Push
        } else {
            Trigger::Manual
        },
        branch,
        commit: var("GITHUB_SHA"),
        base: at("/before").filter(|s| s != NULL_SHA),
        repository,
        pull_request: None,
    })
}

/// The event's payload (`GITHUB_EVENT_PATH`), when the job has one.
fn event_payload(
    var: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Option<serde_json::Value>, ContextError> {
    let Some(path) = var("GITHUB_EVENT_PATH") else {
        return Ok(None);
    };
    let text = read_file(&path).map_err(|e| ContextError::EventPayload {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ContextError::EventPayload {
            path,
            reason: e.to_string(),
        })
}

/// A job run after another workflow (the fork pull-request pattern): GITHUB_SHA is the
/// default branch's head; what the first workflow tested is `workflow_run`'s.
fn github_workflow_run(
    var: &dyn Fn(&str) -> Option<String>,
    at: &dyn Fn(&str) -> Option<String>,
    repository: Option<String>,
) -> Result<Context, ContextError> {
    let branch = at("/workflow_run/head_branch").ok_or(ContextError::EventPayload {
        path: var("GITHUB_EVENT_PATH").unwrap_or_default(),
        reason: "it has no `workflow_run.head_branch`".into(),
    })?;
    let from_pull_request = at("/workflow_run/event").as_deref() == Some("pull_request");
    Ok(Context {
        provider: Provider::Github,
        trigger: if from_pull_request {
            Trigger::PullRequest
        } else {
            Trigger::Manual
        },
        branch,
        commit: at("/workflow_run/head_sha"),
        base: None,
        repository,
        // Empty for a fork's pull request: GitHub lists only the repository's own.
        pull_request: at("/workflow_run/pull_requests/0/number").and_then(|n| n.parse().ok()),
    })
}

fn gitlab(var: &dyn Fn(&str) -> Option<String>) -> Result<Context, ContextError> {
    let repository = var("CI_PROJECT_PATH");
    if let Some(source) = var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") {
        return Ok(Context {
            provider: Provider::Gitlab,
            trigger: Trigger::PullRequest,
            branch: source,
            // The pipeline's own commit: in a merged-results (or merge-train) pipeline the
            // merge of source into target, which GitLab checked out, tests, and matches a
            // status's `pipeline_id` against (a status on the source head with that id
            // made GitLab create an external pipeline). In a plain merge-request pipeline
            // it is the source head, and CI_MERGE_REQUEST_SOURCE_BRANCH_SHA is empty.
            commit: var("CI_COMMIT_SHA").or_else(|| var("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")),
            // A merge commit compares with the target's head it was merged onto (set only in
            // merged-results pipelines); a source head with where it forked.
            base: var("CI_MERGE_REQUEST_TARGET_BRANCH_SHA")
                .or_else(|| var("CI_MERGE_REQUEST_DIFF_BASE_SHA"))
                .or_else(|| {
                    var("CI_MERGE_REQUEST_TARGET_BRANCH_NAME").map(|b| format!("origin/{b}"))
                }),
            repository,
            pull_request: var("CI_MERGE_REQUEST_IID").and_then(|n| n.parse().ok()),
        });
    }
    let branch = var("CI_COMMIT_BRANCH")
        .or_else(|| var("CI_COMMIT_REF_NAME"))
        .ok_or(ContextError::MissingVariable {
            provider: "GitLab",
            var: "CI_COMMIT_BRANCH",
        })?;
    let trigger = match var("CI_PIPELINE_SOURCE").as_deref() {
        Some("push") => Trigger::Push,
        _ => Trigger::Manual,
    };
    Ok(Context {
        provider: Provider::Gitlab,
        trigger,
        branch,
        commit: var("CI_COMMIT_SHA"),
        base: var("CI_COMMIT_BEFORE_SHA").filter(|s| s != NULL_SHA),
        repository,
        pull_request: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(
        vars: &[(&str, &str)],
        payload: &str,
        head: Option<&str>,
        ov: Overrides,
    ) -> Result<Context, ContextError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let payload = payload.to_string();
        let head = head.map_or(Head::Detached, |b| Head::Branch(b.to_string()));
        detect(
            &|k| map.get(k).cloned(),
            &move |_| Ok(payload.clone()),
            head,
            &ov,
        )
    }

    #[test]
    fn gitlab_merged_results_build_and_report_the_pipeline_s_merge_commit() {
        let merged = [
            ("GITLAB_CI", "true"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feat/x"),
            ("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result"),
            ("CI_COMMIT_SHA", "mergesha"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "sourcesha"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", "targetsha"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "forkpoint"),
        ];
        let ctx = run(&merged, "", None, Overrides::default()).unwrap();
        assert_eq!(ctx.commit.as_deref(), Some("mergesha"));
        assert_eq!(ctx.base.as_deref(), Some("targetsha"));
        // A plain merge-request pipeline: the source head, compared with the fork point.
        let detached = [
            ("GITLAB_CI", "true"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feat/x"),
            ("CI_MERGE_REQUEST_EVENT_TYPE", "detached"),
            ("CI_COMMIT_SHA", "sourcesha"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "forkpoint"),
        ];
        let ctx = run(&detached, "", None, Overrides::default()).unwrap();
        assert_eq!(ctx.commit.as_deref(), Some("sourcesha"));
        assert_eq!(ctx.base.as_deref(), Some("forkpoint"));
    }

    #[test]
    fn github_pull_request_uses_head_sha_not_merge_commit() {
        let payload = r#"{"pull_request": {"number": 7, "head": {"ref": "feat/x", "sha": "aaa"}, "base": {"ref": "main", "sha": "bbb"}}}"#;
        let ctx = run(
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("GITHUB_EVENT_PATH", "/e.json"),
                ("GITHUB_SHA", "merge"),
                ("GITHUB_REPOSITORY", "acme/odoo"),
            ],
            payload,
            None,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(ctx.trigger, Trigger::PullRequest);
        assert_eq!(ctx.branch, "feat/x");
        assert_eq!(ctx.commit.as_deref(), Some("aaa"));
        assert_eq!(ctx.base.as_deref(), Some("bbb"));
        assert_eq!(ctx.pull_request, Some(7));
    }

    #[test]
    fn github_push_compares_with_before() {
        let ctx = run(
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_EVENT_PATH", "/e.json"),
                ("GITHUB_REF_NAME", "main"),
                ("GITHUB_SHA", "ccc"),
            ],
            r#"{"before": "ddd"}"#,
            None,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            (
                ctx.branch.as_str(),
                ctx.commit.as_deref(),
                ctx.base.as_deref()
            ),
            ("main", Some("ccc"), Some("ddd"))
        );
        let new_branch = run(
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_EVENT_PATH", "/e"),
                ("GITHUB_REF_NAME", "x"),
            ],
            &format!(r#"{{"before": "{NULL_SHA}"}}"#),
            None,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(new_branch.base, None);
    }

    #[test]
    fn gitlab_merge_request_and_push() {
        let mr = run(
            &[
                ("GITLAB_CI", "true"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feat/y"),
                ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "base1"),
                ("CI_MERGE_REQUEST_IID", "12"),
                ("CI_COMMIT_SHA", "head1"),
            ],
            "",
            None,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            (mr.branch.as_str(), mr.base.as_deref(), mr.pull_request),
            ("feat/y", Some("base1"), Some(12))
        );
        let push = run(
            &[
                ("GITLAB_CI", "true"),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_COMMIT_SHA", "h"),
                ("CI_COMMIT_BEFORE_SHA", NULL_SHA),
                ("CI_PIPELINE_SOURCE", "push"),
            ],
            "",
            None,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            (push.branch.as_str(), push.base, push.trigger),
            ("main", None, Trigger::Push)
        );
    }

    #[test]
    fn local_detached_head_needs_branch() {
        assert_eq!(
            run(&[], "", None, Overrides::default()),
            Err(ContextError::DetachedHead)
        );
        let ctx = run(
            &[],
            "",
            None,
            Overrides {
                branch: Some("main".into()),
                git_ref: Some("v1".into()),
                base: Some("HEAD~1".into()),
            },
        )
        .unwrap();
        assert_eq!(
            (
                ctx.branch.as_str(),
                ctx.commit.as_deref(),
                ctx.base.as_deref()
            ),
            ("main", Some("v1"), Some("HEAD~1"))
        );
        assert_eq!(
            run(&[], "", Some("dev"), Overrides::default())
                .unwrap()
                .branch,
            "dev"
        );
    }
}
