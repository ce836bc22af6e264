//! Every request odoo-ci sends to a stand-in for GitHub or GitLab is checked against the
//! request-body schema the host publishes for that operation (`tests/fixtures/hosts/spec`,
//! each naming its source), and against the limits GitHub states only in prose: an
//! annotation title of at most 255 characters and a message of at most 64 KiB, status and
//! deployment descriptions of at most 140.

use serde_json::Value;
use wiremock::Request;

/// The schema file for a request, by method and path; `None` for requests without a body.
fn schema_for(method: &str, path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match (method, parts.as_slice()) {
        ("POST", ["repos", _, _, "check-runs"]) => "checks-create.json",
        ("PATCH", ["repos", _, _, "check-runs", _]) => "checks-update.json",
        ("POST", ["repos", _, _, "statuses", _]) => "statuses-create.json",
        ("POST", ["repos", _, _, "deployments"]) => "deployments-create.json",
        ("POST", ["repos", _, _, "deployments", _, "statuses"]) => {
            "deployment-statuses-create.json"
        }
        ("POST", [.., "projects", _, "statuses", _]) => "gitlab-statuses-create.json",
        ("POST", ["repos", _, _, "issues", _, "comments"]) => "issues-create-comment.json",
        ("PATCH", ["repos", _, _, "issues", "comments", _]) => "issues-update-comment.json",
        ("POST", [.., "merge_requests", _, "notes"]) => "gitlab-notes.json",
        ("PUT", [.., "merge_requests", _, "notes", _]) => "gitlab-notes.json",
        _ => return None,
    })
}

fn load(name: &str) -> Value {
    let path = super::repo_root()
        .join("tests/fixtures/hosts/spec")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("a schema is JSON")
}

/// What is wrong with one request; empty when it is what the host accepts.
pub fn problems(request: &Request) -> Vec<String> {
    let path = request.url.path();
    let method = request.method.as_str();
    let Some(name) = schema_for(method, path) else {
        return Vec::new();
    };
    let what = format!("{method} {path} ({name})");
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return vec![format!("{what}: the body is not JSON")];
    };
    let schema = load(name);
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let mut out: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{what}: {e} at {}", e.instance_path))
        .collect();
    out.extend(
        prose_limits(&body)
            .into_iter()
            .map(|p| format!("{what}: {p}")),
    );
    out
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// GitHub's limits that its schemas do not carry.
fn prose_limits(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for a in body["output"]["annotations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if chars(&a["title"]) > 255 {
            out.push(format!(
                "an annotation title of {} characters",
                chars(&a["title"])
            ));
        }
        if a["message"].as_str().map_or(0, str::len) > 64 * 1024 {
            out.push("an annotation message over 64 KiB".into());
        }
    }
    if body["context"].is_string() && chars(&body["description"]) > 140 {
        out.push(format!(
            "a description of {} characters",
            chars(&body["description"])
        ));
    }
    out
}

/// Panics naming every request a host would refuse.
pub fn assert_all_valid(requests: &[Request]) {
    let all: Vec<String> = requests.iter().flat_map(problems).collect();
    assert!(
        all.is_empty(),
        "requests the host's schema refuses:\n{}",
        all.join("\n")
    );
}
