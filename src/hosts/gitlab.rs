//! GitLab: the job's own status is its result, so the colour goes into the exit code (0
//! green, 3 yellow for `allow_failure: exit_codes: [3]`, 1 red). Optionally a commit status
//! per stage through the REST API, with a token from `ODOO_CI_GITLAB_TOKEN` (the job
//! token cannot post statuses). Collapsible log sections for long output.

use serde_json::json;

use super::http::{Api, Method};
use super::HostEnv;

/// GitLab cuts status descriptions at 255 characters.
pub const DESCRIPTION_LIMIT: usize = 255;

pub struct Reporter {
    api: Api,
    project: String,
    sha: String,
    pipeline_id: Option<u64>,
    target_url: Option<String>,
}

impl Reporter {
    /// `None` without a token (statuses are optional on GitLab).
    pub fn from_env(env: &HostEnv) -> Option<Reporter> {
        let token = env.var("ODOO_CI_GITLAB_TOKEN")?.to_string();
        let base = env.var("CI_API_V4_URL")?.to_string();
        let project = env.var("CI_PROJECT_ID")?.to_string();
        let sha = env.sha.clone()?;
        // Only on the pipeline's own commit: with another SHA GitLab finds no such
        // pipeline and creates an external one, which can become the MR's head.
        let pipeline_id = env
            .var("CI_PIPELINE_ID")
            .filter(|_| env.var("CI_COMMIT_SHA") == Some(sha.as_str()))
            .and_then(|v| v.parse().ok());
        Some(Reporter {
            api: Api::new(&base, "PRIVATE-TOKEN", token.clone(), token),
            project,
            sha,
            pipeline_id,
            target_url: env.var("CI_JOB_URL").map(str::to_string),
        })
    }

    /// `state`: pending, running, success, failed or canceled.
    pub fn status(
        &self,
        subject: super::Subject,
        state: &str,
        description: &str,
        url: Option<&str>,
    ) {
        let body = json!({
            "state": state,
            "name": format!("odoo-ci/{subject}"),
            "target_url": url.map(str::to_string).or_else(|| self.target_url.clone()),
            "description": super::github::cut_chars(description, DESCRIPTION_LIMIT),
            "pipeline_id": self.pipeline_id,
        });
        let path = format!(
            "/projects/{}/statuses/{}",
            self.project.replace('/', "%2F"),
            self.sha
        );
        match self.api.send(Method::Post, &path, Some(&body), true) {
            Ok(r) if r.ok() => {}
            Ok(r) => eprintln!(
                "warning: could not report the commit status to GitLab: {} (the build's colour is unchanged)",
                self.api.mask(&r.describe())
            ),
            Err(e) => eprintln!(
                "warning: could not report the commit status to GitLab: {e} (the build's colour is unchanged)"
            ),
        }
    }
}

impl Reporter {
    /// The stage's note on merge request `iid`, edited in place.
    pub fn comment(&self, iid: u64, report: &super::StageReport) {
        let body = super::comment::body(report, super::comment::GITLAB_NOTE_LIMIT, None);
        let project = self.project.replace('/', "%2F");
        let list = format!("/projects/{project}/merge_requests/{iid}/notes");
        let one = {
            let list = list.clone();
            move |id: u64| format!("{list}/{id}")
        };
        let thread = super::comment::Thread {
            api: &self.api,
            list,
            one: &one,
            update: Method::Put,
        };
        if let Err(e) = super::comment::upsert(&thread, report.subject(), &body) {
            eprintln!(
                "warning: could not write the merge-request note on GitLab: {} (the build's colour is unchanged; the token needs the `api` scope)",
                self.api.mask(&e)
            );
        }
    }
}
