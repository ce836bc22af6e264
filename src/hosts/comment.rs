//! The pull-request comment (`report.comment: true`): one per stage (per shard), edited in
//! place on every push and never duplicated by a retried job. The comment is found by a
//! hidden marker that names the stage, as the test-report actions users know do it. On
//! GitHub an issue comment (every pull request is an issue: `issues/list-comments`,
//! `create-comment`, `update-comment`), on GitLab a merge-request note.

use serde_json::{json, Value};

use super::http::{Api, Method, Reply};
use super::{Links, StageReport, Subject};

/// GitHub refuses a comment body over 65,536 characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// GitLab's note limit is 1,000,000 characters; a summary never comes near it, but a
/// comment is for people: the same cut as GitHub's.
pub const GITLAB_NOTE_LIMIT: usize = 65_536;
/// Comments read per page, and pages read at most, looking for ours.
const PER_PAGE: usize = 100;
const MAX_PAGES: usize = 20;

/// The hidden line that says which stage a comment is about.
pub fn marker(subject: Subject) -> String {
    format!("<!-- odoo-ci:comment:{} -->", subject.key())
}

/// The comment's Markdown: the marker, then the stage's summary, at most `limit` bytes.
pub fn body(report: &StageReport, limit: usize, links: Option<&Links>) -> String {
    let marker = marker(report.subject());
    let summary = report.summary(limit.saturating_sub(marker.len() + 1), links);
    format!("{marker}\n{summary}")
}

/// Where a host keeps a pull request's comments, and how to write them.
pub struct Thread<'a> {
    pub api: &'a Api,
    /// `/repos/o/r/issues/7/comments` or `/projects/1/merge_requests/7/notes`.
    pub list: String,
    /// The path of comment `id` (to update it).
    pub one: &'a dyn Fn(u64) -> String,
    /// GitHub updates with PATCH, GitLab with PUT.
    pub update: Method,
}

/// Edits the stage's comment to `body`, or creates it when there is none. A create is sent
/// once and, when its answer is lost, looked for again before a second try: a retried job
/// never makes a second comment.
pub fn upsert(thread: &Thread<'_>, subject: Subject, body: &str) -> Result<(), String> {
    let text = json!({ "body": body });
    let marker = marker(subject);
    if let Some(id) = find(thread, &marker)? {
        let reply = thread
            .api
            .send(thread.update, &(thread.one)(id), Some(&text), true)?;
        return answered(reply);
    }
    let mut last = String::new();
    for _ in 0..2 {
        // A 5xx or a lost answer may still have made the comment.
        match thread
            .api
            .send(Method::Post, &thread.list, Some(&text), false)
        {
            Ok(reply) if reply.status < 500 => return answered(reply),
            Ok(reply) => last = reply.describe(),
            Err(e) => last = e,
        }
        if find(thread, &marker)?.is_some() {
            return Ok(());
        }
        tracing::info!("creating the comment: {last}; trying once more");
    }
    Err(last)
}

fn answered(reply: Reply) -> Result<(), String> {
    match reply.ok() {
        true => Ok(()),
        false => Err(reply.describe()),
    }
}

/// The id of the comment that carries `marker`, reading the thread page by page.
fn find(thread: &Thread<'_>, marker: &str) -> Result<Option<u64>, String> {
    for page in 1..=MAX_PAGES {
        let path = format!("{}?per_page={PER_PAGE}&page={page}", thread.list);
        let reply = thread.api.send(Method::Get, &path, None, true)?;
        if !reply.ok() {
            return Err(reply.describe());
        }
        let comments = reply.body.as_array().cloned().unwrap_or_default();
        if let Some(id) = comments.iter().find_map(|c| ours(c, marker)) {
            return Ok(Some(id));
        }
        if comments.len() < PER_PAGE {
            break;
        }
    }
    Ok(None)
}

fn ours(comment: &Value, marker: &str) -> Option<u64> {
    let body = comment["body"].as_str()?;
    body.starts_with(marker)
        .then(|| comment["id"].as_u64())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_and_shard_has_its_own_marker() {
        let dev = Subject::of(crate::config::Stage::Development);
        let shard = Subject {
            stage: crate::config::Stage::Development,
            shard: Some(crate::plan::Shard { index: 2, count: 3 }),
        };
        assert_ne!(marker(dev), marker(shard));
        let c = json!({"id": 9, "body": format!("{}\nsummary", marker(dev))});
        assert_eq!(ours(&c, &marker(dev)), Some(9));
        assert_eq!(ours(&c, &marker(shard)), None);
    }
}
