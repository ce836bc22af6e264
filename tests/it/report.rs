//! Reporting to GitHub and GitLab against a real HTTP server standing in for each API
//! (wiremock): the exact methods, paths, headers and JSON bodies of their REST docs.

use crate::common;

use std::path::Path;

use common::{run_in, Output};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "ghs_secretTOKEN1234567890";

struct Api {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

/// Every test's requests, checked against the hosts' published request schemas.
impl Drop for Api {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            common::host_schemas::assert_all_valid(&self.requests());
        }
    }
}

impl Api {
    fn start() -> Api {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let server = rt.block_on(MockServer::start());
        Api { rt, server }
    }

    fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    fn requests(&self) -> Vec<Request> {
        self.rt.block_on(self.server.received_requests()).unwrap()
    }

    fn verify(&self) {
        self.rt.block_on(self.server.verify());
    }

    /// The commit has no check run yet: every lookup finds none.
    fn no_check_runs_yet(&self) {
        self.mount(
            Mock::given(method("GET"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"check_runs": []}))),
        );
    }

    /// Check runs as GitHub takes them when none exists yet: created with `id`, then
    /// updated.
    fn accept_check_runs(&self, id: u64) {
        self.no_check_runs_yet();
        self.mount(
            Mock::given(method("POST"))
                .and(path("/repos/acme/odoo/check-runs"))
                .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": id}))),
        );
        self.mount(Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(200)));
    }
}

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// The bodies sent to create or update check runs, in order.
fn check_run_writes(api: &Api) -> Vec<Value> {
    api.requests()
        .iter()
        .filter(|r| r.url.path().contains("/check-runs") && r.method.as_str() != "GET")
        .map(body)
        .collect()
}

/// The bodies that completed a check run.
fn completions(api: &Api) -> Vec<Value> {
    check_run_writes(api)
        .into_iter()
        .filter(|b| b["status"] == "completed")
        .collect()
}

/// The commit statuses sent, in order.
fn statuses_sent(api: &Api) -> Vec<Value> {
    api.requests()
        .iter()
        .filter(|r| r.url.path().contains("/statuses/"))
        .map(body)
        .collect()
}

/// A stored result: the summary is rendered from it, as every reporter renders it.
fn write_result(dir: &Path, result: &Value) -> String {
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/odoo-ci-result.json"), result.to_string()).unwrap();
    "out/odoo-ci-result.json".to_string()
}

fn dev_result(colour: &str, failures: usize) -> Value {
    let failures: Vec<Value> = (0..failures)
        .map(|i| {
            json!({"module": "acc_x", "test": format!("TestX.test_{i}"), "kind": "failure",
                   "file": "addons/acc_x/tests/test_x.py", "line": 10 + i, "message": "AssertionError: 6 != 7"})
        })
        .collect();
    json!({
        "schema_version": 1, "stage": "development", "colour": colour, "reasons": [],
        "log": {
            "colour": colour, "reasons": [],
            "tests": {"total": 10 + failures.len(), "passed": 10, "failed": failures.len(), "errors": 0, "skipped": 0},
            "failures": failures, "problems": [],
            "warnings": {"total": if colour == "yellow" { 2 } else { 0 }, "ignored": 0, "groups": []}
        }
    })
}

fn github_env<'a>(api: &'a str, dir: &'a Path) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_EVENT_NAME", "push".into()),
        ("GITHUB_REF_NAME", "feature/x".into()),
        ("GITHUB_SHA", "abc123".into()),
        ("GITHUB_REPOSITORY", "acme/odoo".into()),
        ("GITHUB_API_URL", api.to_string()),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_RUN_ID", "42".into()),
        ("GITHUB_TOKEN", TOKEN.into()),
        (
            "GITHUB_STEP_SUMMARY",
            dir.join("step-summary.md").display().to_string(),
        ),
        (
            "GITHUB_OUTPUT",
            dir.join("outputs.txt").display().to_string(),
        ),
        ("ODOO_CI_RETRY_BACKOFF_MS", "10".into()),
    ]
}

/// A GitLab push pipeline's variables, with the API at `api`.
fn gitlab_env(api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GITLAB_CI", "true".into()),
        ("CI_COMMIT_BRANCH", "feature/x".into()),
        ("CI_COMMIT_SHA", "abc123".into()),
        ("CI_PROJECT_PATH", "acme/odoo".into()),
        ("CI_PROJECT_ID", "123".into()),
        ("CI_PIPELINE_ID", "555".into()),
        ("CI_JOB_URL", "https://gitlab.example.com/job/9".into()),
        ("CI_API_V4_URL", format!("{api}/api/v4")),
        ("CI_PIPELINE_SOURCE", "push".into()),
        ("ODOO_CI_GITLAB_TOKEN", "glpat-secret-xyz".into()),
    ]
}

fn report(dir: &Path, env: &[(&'static str, String)]) -> Output {
    report_with(dir, env, &[])
}

/// `odoo-ci report` with more arguments.
fn report_with(dir: &Path, env: &[(&'static str, String)], args: &[&str]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["report", "--result", "out/odoo-ci-result.json"];
    all.extend_from_slice(args);
    run_in(dir, &all, &env)
}

/// The token shows nowhere but in the `::add-mask::` line that tells the runner to hide it.
fn assert_no_token(out: &Output) {
    let leaked = |text: &str| {
        text.lines()
            .any(|l| l.contains(TOKEN) && !l.starts_with("::add-mask::"))
    };
    assert!(
        !leaked(&out.stdout) && !leaked(&out.stderr),
        "the token leaked:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_green_build_completes_its_check_run_status_summary_and_outputs() {
    let api = Api::start();
    api.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/odoo/commits/abc123/check-runs"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": 0, "check_runs": []})),
            ),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(header("accept", "application/vnd.github+json"))
            .and(header("x-github-api-version", "2022-11-28"))
            // A finished result is reported finished: one completed run, never first
            // "in progress".
            .and(body_partial_json(json!({
                "name": "odoo-ci / development", "head_sha": "abc123", "status": "completed",
                "conclusion": "success",
                "external_id": "odoo-ci:development:abc123",
                "details_url": "https://github.com/acme/odoo/actions/runs/42",
                "output": {"title": "10 tests: 10 passed, 0 failed, 0 errors"}
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 7})))
            .expect(1),
    );
    api.mount(
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0),
    );
    // One channel: the check run shows the colour, so no commit status repeats it.
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .expect(0),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
    let step_summary = std::fs::read_to_string(dir.path().join("step-summary.md")).unwrap();
    assert!(
        step_summary.starts_with("## 🟢 odoo-ci / development: green")
            && step_summary.contains("tests: 10 passed, 0 failed"),
        "{step_summary}"
    );
    let outputs = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
    assert!(
        outputs.contains("colour=green\n")
            && outputs.contains(&format!(
                "result={}\n",
                dir.path()
                    .canonicalize()
                    .unwrap()
                    .join("out/odoo-ci-result.json")
                    .display()
            )),
        "{outputs}"
    );
    // As test-report actions give them, and as action.yml declares them.
    for entry in [
        "stage=development\n",
        "conclusion=success\n",
        "passed=10\n",
        "failed=0\n",
        "errors=0\n",
        "skipped=0\n",
        "warnings=0\n",
    ] {
        assert!(outputs.contains(entry), "{entry}: {outputs}");
    }
    let action = std::fs::read_to_string(common::repo_root().join("action.yml")).unwrap();
    for name in [
        "stage",
        "conclusion",
        "passed",
        "failed",
        "errors",
        "skipped",
        "warnings",
    ] {
        assert!(
            action.contains(&format!("  {name}:\n    description:")),
            "action.yml declares `{name}`"
        );
    }
    assert_no_token(&out);
}

#[test]
fn annotations_go_fifty_per_request_and_ten_per_kind_as_commands() {
    let api = Api::start();
    api.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/odoo/commits/abc123/check-runs"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"check_runs": []}))),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 9})))
            .expect(1),
    );
    api.mount(
        Mock::given(method("PATCH"))
            .and(path("/repos/acme/odoo/check-runs/9"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 9})))
            .expect(2),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(ResponseTemplate::new(201)),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("red", 120));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
    let patches = check_run_writes(&api);
    let sizes: Vec<usize> = patches
        .iter()
        .map(|p| p["output"]["annotations"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![50, 50, 20]);
    assert_eq!(patches[0]["conclusion"], "failure");
    let first = &patches[0]["output"]["annotations"][0];
    assert_eq!(first["path"], "addons/acc_x/tests/test_x.py");
    assert_eq!(first["start_line"], 10);
    assert_eq!(first["annotation_level"], "failure");
    assert!(
        patches[1]["output"]["title"].is_string() && patches[1]["output"]["summary"].is_string()
    );
    // The check run carries the annotations: no workflow command repeats them.
    assert!(!out.stdout.contains("::error"), "{}", out.stdout);
}

#[test]
fn a_refused_check_run_falls_back_to_statuses_and_says_so_once() {
    let api = Api::start();
    api.no_check_runs_yet();
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(json!({"message": "Resource not accessible by integration"})),
            )
            .expect(1),
    );
    api.mount(
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(ResponseTemplate::new(201))
            .expect(1),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("yellow", 0));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0);
    api.verify();
    assert_eq!(
        out.stderr.matches("GitHub refused check runs").count(),
        1,
        "{}",
        out.stderr
    );
    let last: Value = body(
        api.requests()
            .iter()
            .rfind(|r| r.url.path().ends_with("/statuses/abc123"))
            .unwrap(),
    );
    assert_eq!(last["state"], "success");
    assert!(
        last["description"]
            .as_str()
            .unwrap()
            .starts_with("passed, 2 warnings"),
        "{last}"
    );
    assert!(last["description"].as_str().unwrap().chars().count() <= 140);
}

#[test]
fn statuses_are_retried_on_502_and_rate_limits_and_never_show_the_token() {
    let api = Api::start();
    api.no_check_runs_yet();
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .respond_with(ResponseTemplate::new(403)),
    );
    // First status: a 502, then a rate-limit 403 with retry-after, then accepted.
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(
                ResponseTemplate::new(502)
                    .set_body_string(format!("bad gateway for token {TOKEN}")),
            )
            .up_to_n_times(1),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header("retry-after", "1")
                    .insert_header("x-ratelimit-remaining", "0")
                    .set_body_json(json!({"message": "API rate limit exceeded"})),
            )
            .up_to_n_times(1),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(ResponseTemplate::new(201)),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("red", 1));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(
        out.code, 0,
        "reporting never changes the colour's exit: {}",
        out.stderr
    );
    let statuses = api
        .requests()
        .iter()
        .filter(|r| r.url.path().ends_with("/statuses/abc123"))
        .count();
    assert_eq!(statuses, 3, "the final status: 502 + 403 + 201");
    assert_no_token(&out);

    // A server that always fails: warned about, masked, and the command still finishes.
    let down = Api::start();
    down.mount(
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(500).set_body_string(TOKEN)),
    );
    let out = report(dir.path(), &github_env(&down.server.uri(), dir.path()));
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("warning: could not report"),
        "{}",
        out.stderr
    );
    assert_no_token(&out);
}

#[test]
fn pull_requests_report_on_the_head_commit_not_the_merge_commit() {
    let api = Api::start();
    api.accept_check_runs(3);
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/mergesha"))
            .respond_with(ResponseTemplate::new(201))
            .expect(0),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    std::fs::write(
        dir.path().join("event.json"),
        json!({"pull_request": {"number": 5, "head": {"sha": "headsha999", "ref": "feature/x"}, "base": {"sha": "basesha", "ref": "main"}}}).to_string(),
    )
    .unwrap();
    let mut env = github_env(&api.server.uri(), dir.path());
    env.retain(|(k, _)| *k != "GITHUB_EVENT_NAME" && *k != "GITHUB_SHA");
    env.push(("GITHUB_EVENT_NAME", "pull_request".into()));
    env.push(("GITHUB_SHA", "mergesha".into()));
    env.push(("GITHUB_HEAD_REF", "feature/x".into()));
    env.push(("GITHUB_BASE_REF", "main".into()));
    env.push((
        "GITHUB_EVENT_PATH",
        dir.path().join("event.json").display().to_string(),
    ));
    let out = report(dir.path(), &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
    let create = api
        .requests()
        .into_iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/check-runs"))
        .unwrap();
    assert_eq!(body(&create)["head_sha"], "headsha999");
}

#[test]
fn staging_creates_a_deployment_with_its_url() {
    let api = Api::start();
    api.accept_check_runs(4);
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(ResponseTemplate::new(201)),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/deployments"))
            .and(body_partial_json(json!({"ref": "abc123", "environment": "staging/staging-x", "auto_merge": false, "required_contexts": [], "transient_environment": true, "production_environment": false})))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 77})))
            .expect(1),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/deployments/77/statuses"))
            .and(body_partial_json(
                json!({"state": "success", "environment_url": "https://staging.example.com"}),
            ))
            .respond_with(ResponseTemplate::new(201))
            .expect(1),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(
        dir.path(),
        &json!({"schema_version": 1, "stage": "staging", "branch": "staging-x", "colour": "green", "reasons": [], "url": "https://staging.example.com"}),
    );
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
}

/// A development build kept as a preview is deployed to the branch's own transient
/// environment, with the preview's URL, so the pull request shows where to open it.
#[test]
fn a_kept_preview_is_a_deployment_with_its_url() {
    let api = Api::start();
    api.accept_check_runs(4);
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/statuses/abc123"))
            .respond_with(ResponseTemplate::new(201)),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/deployments"))
            .and(body_partial_json(json!({"ref": "abc123", "environment": "preview/feature/x", "transient_environment": true, "production_environment": false})))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 78})))
            .expect(1),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/deployments/78/statuses"))
            .and(body_partial_json(
                json!({"state": "success", "environment_url": "https://feature-x.previews.example.com"}),
            ))
            .respond_with(ResponseTemplate::new(201))
            .expect(1),
    );
    // The environment's earlier previews are superseded.
    api.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/odoo/deployments"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([]))),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut result = dev_result("green", 0);
    result["branch"] = json!("feature/x");
    result["preview"] = json!({"database": "odoo_ci_prv_feature_x_12345678", "url": "https://feature-x.previews.example.com", "until": 1796000000u64});
    write_result(dir.path(), &result);
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
}

#[test]
fn gitlab_statuses_use_the_rest_api_with_a_private_token() {
    let api = Api::start();
    api.mount(
        Mock::given(method("POST"))
            .and(path("/api/v4/projects/123/statuses/abc123"))
            .and(header("private-token", "glpat-secret-xyz"))
            .and(body_partial_json(json!({"name": "odoo-ci/development", "pipeline_id": 555, "target_url": "https://gitlab.example.com/job/9"})))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .expect(1),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("red", 1));
    let env = gitlab_env(&api.server.uri());
    let out = report(dir.path(), &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
    let states: Vec<String> = api
        .requests()
        .iter()
        .map(|r| body(r)["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        states,
        vec!["failed"],
        "a finished result is never first running"
    );
    assert!(!out.stderr.contains("glpat-secret-xyz"));
}

#[test]
fn an_early_error_never_leaves_the_check_run_in_progress() {
    // A deploy that stopped before it had a result (here: a remote production engine with
    // a relative data dir) once returned before completing the check run it had opened:
    // "in progress" forever. Production is resolved before reporting starts now, so the
    // setup error (exit 2) opens none; any check run opened is completed.
    let prod = common::unique("odoo_ci_early");
    common::psql(&format!("CREATE DATABASE {prod}"));
    common::psql_on(
        &prod,
        "CREATE TABLE ir_module_module (name text, state text, latest_version text, demo boolean)",
    );
    let api = Api::start();
    api.accept_check_runs(7);
    api.mount(
        Mock::given(method("POST"))
            .and(path_regex_statuses())
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1}))),
    );
    let p = common::Project::new();
    p.config(&format!(
        "{}production:\n  database: ${{PROD_URL}}\n  data_dir: prod-data\n  docker_host: tcp://127.0.0.1:1\n",
        common::BASIC_CONFIG
    ))
    .addon("acc_base", "17.0.1.0.0", &["base"]);
    p.git_init();
    let sha = p.commit("one");
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_env(&api.server.uri(), dir.path());
    env.retain(|(k, _)| *k != "GITHUB_SHA" && *k != "GITHUB_REF_NAME");
    env.push(("GITHUB_SHA", sha.clone()));
    env.push(("GITHUB_REF_NAME", "main".into()));
    env.push(("PROD_URL", common::db_url(&prod)));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_in(p.path(), &["deploy", "--output", "out"], &env);
    common::psql(&format!("DROP DATABASE {prod}"));
    assert_eq!(out.code, 2, "a setup error: {}", out.stderr);
    assert!(
        out.stderr
            .contains("`production.data_dir` is not an absolute path"),
        "{}",
        out.stderr
    );
    let opened = api
        .requests()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/repos/acme/odoo/check-runs")
        .count();
    let patches: Vec<Value> = api
        .requests()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH" && r.url.path() == "/repos/acme/odoo/check-runs/7")
        .map(body)
        .collect();
    let completed = patches
        .iter()
        .filter(|b| b["status"] == "completed" && b["conclusion"] == "failure")
        .count();
    assert_eq!(
        opened, completed,
        "every check run opened is completed: {patches:?}\n{}",
        out.stderr
    );
    assert_eq!(statuses_sent(&api), Vec::<Value>::new(), "one channel");
    assert_no_token(&out);
}

fn path_regex_statuses() -> wiremock::matchers::PathRegexMatcher {
    wiremock::matchers::path_regex(r"^/repos/acme/odoo/statuses/[0-9a-f]+$")
}

/// A dev result with one failure whose annotation title is over GitHub's 255 characters.
fn long_titled_failure() -> Value {
    let mut v = dev_result("red", 1);
    v["log"]["failures"][0]["test"] = json!(format!("TestX.test_{}", "very_long_".repeat(30)));
    v
}

#[test]
fn a_refused_completion_is_completed_again_without_annotations_and_says_why() {
    let api = Api::start();
    api.no_check_runs_yet();
    api.mount(
        Mock::given(method("POST"))
            .and(path_regex_statuses())
            .respond_with(ResponseTemplate::new(201)),
    );
    // GitHub's answer to an invalid annotation (rest-api-description: 422 Validation Failed),
    // to the completing request, then the completion without annotations taken.
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .respond_with(ResponseTemplate::new(422).set_body_json(json!({
                "message": "Validation Failed",
                "errors": [{"resource": "CheckRun", "field": "annotations", "code": "invalid"}]
            })))
            .up_to_n_times(1),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 7}))),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &long_titled_failure());
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let patches = check_run_writes(&api);
    let title = patches[0]["output"]["annotations"][0]["title"]
        .as_str()
        .unwrap();
    assert!(
        title.chars().count() <= 255,
        "{} characters",
        title.chars().count()
    );
    let last = patches.last().unwrap();
    assert_eq!(last["status"], "completed", "{patches:#?}");
    assert_eq!(last["conclusion"], "failure");
    assert_eq!(last["output"]["annotations"], json!([]));
    let summary = last["output"]["summary"].as_str().unwrap();
    assert!(summary.contains("Validation Failed"), "{summary}");
}

#[test]
fn a_rate_limited_check_run_is_retried_not_taken_for_a_refusal() {
    let api = Api::start();
    api.no_check_runs_yet();
    // GitHub's secondary rate limit: 403 with X-RateLimit-Remaining: 0 — the request was
    // not processed, and says nothing of the token's rights.
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header("x-ratelimit-remaining", "0")
                    .set_body_json(json!({"message": "API rate limit exceeded"})),
            )
            .up_to_n_times(1),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/odoo/check-runs"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 7}))),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path_regex_statuses())
            .respond_with(ResponseTemplate::new(201)),
    );
    api.mount(Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(200)));
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("refused check runs"), "{}", out.stderr);
    assert_eq!(
        completions(&api).len(),
        2,
        "the limited try, then the one taken"
    );
}

#[test]
fn a_refused_token_is_said_once_with_github_s_words_and_the_variable() {
    let api = Api::start();
    api.mount(Mock::given(wiremock::matchers::any()).respond_with(
        ResponseTemplate::new(401).set_body_json(json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest"
        })),
    ));
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(
        out.code, 0,
        "reporting never changes the colour: {}",
        out.stderr
    );
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("HTTP 401: Bad credentials") && warnings[0].contains("`GITHUB_TOKEN`"),
        "{}",
        warnings[0]
    );
    assert_no_token(&out);
}

/// Three shards of one commit, finishing in every order: each reports under its own check
/// run and status context, so a green shard never turns a red one green.
#[test]
fn shards_report_each_under_its_own_name_in_every_order() {
    let orders = [
        [1, 2, 3],
        [1, 3, 2],
        [2, 1, 3],
        [2, 3, 1],
        [3, 1, 2],
        [3, 2, 1],
    ];
    for order in orders {
        let api = Api::start();
        api.no_check_runs_yet();
        for k in 1..=3u64 {
            api.mount(
                Mock::given(method("POST"))
                    .and(path("/repos/acme/odoo/check-runs"))
                    .and(body_partial_json(
                        json!({"name": format!("odoo-ci / development ({k}/3)")}),
                    ))
                    .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 100 + k}))),
            );
        }
        api.mount(
            Mock::given(method("POST"))
                .and(path_regex_statuses())
                .respond_with(ResponseTemplate::new(201)),
        );
        api.mount(Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(200)));
        for k in order {
            let dir = tempfile::tempdir().unwrap();
            let mut result = dev_result(if k == 1 { "red" } else { "green" }, usize::from(k == 1));
            result["shard"] = json!({"index": k, "count": 3});
            write_result(dir.path(), &result);
            let env = github_env(&api.server.uri(), dir.path());
            // Statuses too, to see each shard's context.
            let out = report_with(dir.path(), &env, &["--channel", "both"]);
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        let requests = api.requests();
        let last_state = |context: &str| {
            requests
                .iter()
                .filter(|r| r.url.path().ends_with("/statuses/abc123"))
                .map(body)
                .rfind(|b| b["context"] == context)
                .map(|b| b["state"].as_str().unwrap().to_string())
        };
        assert_eq!(
            last_state("odoo-ci/development (1/3)").as_deref(),
            Some("failure"),
            "{order:?}"
        );
        assert_eq!(
            last_state("odoo-ci/development (2/3)").as_deref(),
            Some("success")
        );
        assert_eq!(last_state("odoo-ci/development"), None, "no shared context");
        let completed: Vec<(String, String)> = completions(&api)
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap().to_string(),
                    b["conclusion"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            completed.contains(&("odoo-ci / development (1/3)".into(), "failure".into())),
            "{order:?}: {completed:?}"
        );
        assert!(
            !completed.contains(&("odoo-ci / development (1/3)".into(), "success".into())),
            "{order:?}: shard 1's run turned green: {completed:?}"
        );
    }
}

/// GitLab's own explanation reaches the log (GitLab answers `{"message": "401 Unauthorized"}`).
#[test]
fn gitlab_errors_quote_gitlab_s_message() {
    let api = Api::start();
    api.mount(Mock::given(method("POST")).respond_with(
        ResponseTemplate::new(401).set_body_json(json!({"message": "401 Unauthorized"})),
    ));
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    let env = gitlab_env(&api.server.uri());
    let out = report(dir.path(), &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("HTTP 401: 401 Unauthorized"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("glpat-secret-xyz"));
}

/// A result whose summary is far over GitHub's limits: failures with long tracebacks.
fn huge_result(failures: usize) -> Value {
    let mut result = dev_result("red", failures);
    for f in result["log"]["failures"].as_array_mut().unwrap() {
        f["traceback"] = json!(format!(
            "Traceback (most recent call last):\n{}AssertionError: 6 != 7",
            "  File \"/mnt/addons/acc_x/tests/test_x.py\", line 10, in test\n".repeat(40)
        ));
    }
    result["log"]["records"] = json!(123_456);
    result
}

/// Each fence and `<details>` opened is closed, and the totals come before any block.
fn assert_cut_between_blocks(md: &str, limit: usize) {
    assert!(md.len() <= limit, "{} bytes > {limit}", md.len());
    assert_eq!(md.matches("```").count() % 2, 0, "a code fence left open");
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count(),
        "a <details> left open"
    );
    let totals = md.find("123456 log records").expect("the totals are kept");
    assert!(totals < md.find("###").unwrap(), "the totals come first");
}

#[test]
fn summaries_are_cut_between_blocks_under_each_limit_with_the_totals_first() {
    let api = Api::start();
    api.accept_check_runs(7);
    api.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)));
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &huge_result(400));
    // An earlier step of the job already wrote to the summary file.
    let earlier = "x".repeat(300 * 1024);
    std::fs::write(dir.path().join("step-summary.md"), &earlier).unwrap();
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);

    let completion = completions(&api)
        .into_iter()
        .next()
        .expect("the run is completed");
    let summary = completion["output"]["summary"].as_str().unwrap();
    assert_cut_between_blocks(summary, 65_535);

    let file = std::fs::read_to_string(dir.path().join("step-summary.md")).unwrap();
    assert!(
        file.len() <= 1024 * 1024,
        "{} bytes: over 1 MiB",
        file.len()
    );
    assert_cut_between_blocks(&file[earlier.len()..], 1024 * 1024);
}

/// The fork pull-request pattern: the test job (read-only token) uploads its result, a
/// `workflow_run` job on the base repository reports it. That job runs on the default
/// branch's commit (`GITHUB_SHA`): the report must go to the commit that was tested, and
/// a finished result must not be sent first as pending or in progress.
#[test]
fn a_workflow_run_job_reports_a_fork_s_result_on_the_tested_commit() {
    const HEAD: &str = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
    let api = Api::start();
    api.accept_check_runs(5);
    api.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)));
    let dir = tempfile::tempdir().unwrap();
    let mut result = dev_result("red", 1);
    result["commit"] = json!(HEAD);
    result["branch"] = json!("fork-feature");
    write_result(dir.path(), &result);
    // As GitHub sends it for a fork: the fork's head, and no pull request listed.
    let fixture = common::repo_root()
        .join("tests/fixtures/hosts/payloads/workflow_run_completed.payload.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    event["workflow_run"]["event"] = json!("pull_request");
    event["workflow_run"]["head_sha"] = json!(HEAD);
    event["workflow_run"]["head_branch"] = json!("fork-feature");
    event["workflow_run"]["pull_requests"] = json!([]);
    std::fs::write(dir.path().join("event.json"), event.to_string()).unwrap();
    let workflow_run_env = |api: &Api| {
        let mut env = github_env(&api.server.uri(), dir.path());
        env.retain(|(k, _)| !matches!(*k, "GITHUB_EVENT_NAME" | "GITHUB_SHA" | "GITHUB_REF_NAME"));
        env.push(("GITHUB_EVENT_NAME", "workflow_run".into()));
        env.push(("GITHUB_SHA", "defaultbranchsha".into()));
        env.push(("GITHUB_REF_NAME", "main".into()));
        let event_path = dir.path().join("event.json").display().to_string();
        env.push(("GITHUB_EVENT_PATH", event_path));
        env
    };

    let out = report(dir.path(), &workflow_run_env(&api));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for r in api.requests() {
        let url = r.url.to_string();
        assert!(
            !url.contains("defaultbranchsha"),
            "sent to the wrong commit: {url}"
        );
    }
    let writes = check_run_writes(&api);
    assert_eq!(writes.len(), 1, "one completed run: {writes:#?}");
    assert_eq!(writes[0]["head_sha"], HEAD);
    assert_eq!(writes[0]["status"], "completed");
    assert_eq!(writes[0]["conclusion"], "failure");

    // A result without its commit (an older file): the event's head commit.
    let api = Api::start();
    api.accept_check_runs(6);
    result.as_object_mut().unwrap().remove("commit");
    write_result(dir.path(), &result);
    let out = report(dir.path(), &workflow_run_env(&api));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let writes = check_run_writes(&api);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0]["head_sha"], HEAD);
}

/// One channel by default; `report.github: statuses` in `.odoo-ci.yml` (or `--channel`)
/// picks commit statuses, and then the failures are annotated by workflow commands, once.
#[test]
fn the_channel_is_one_by_default_and_configurable() {
    let api = Api::start();
    api.accept_check_runs(8);
    api.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".odoo-ci.yml"),
        format!("{}report:\n  github: statuses\n", common::BASIC_CONFIG),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("addons")).unwrap();
    write_result(dir.path(), &dev_result("red", 2));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(check_run_writes(&api), Vec::<Value>::new(), "no check run");
    let states: Vec<Value> = statuses_sent(&api)
        .iter()
        .map(|s| s["state"].clone())
        .collect();
    assert_eq!(states, vec![json!("failure")]);
    let errors = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .count();
    assert_eq!(errors, 2, "each failure once: {}", out.stdout);

    // `--channel both` wins over the file: a check run and a status, annotations on the run.
    let api = Api::start();
    api.accept_check_runs(9);
    api.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)));
    let out = report_with(
        dir.path(),
        &github_env(&api.server.uri(), dir.path()),
        &["--channel", "both"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(completions(&api).len(), 1);
    assert_eq!(statuses_sent(&api).len(), 1);
    assert!(!out.stdout.contains("::error"), "{}", out.stdout);
}

/// In the step summary and the check run, `path:line` opens the file at the commit.
#[test]
fn summary_locations_link_to_the_file_at_the_commit() {
    let api = Api::start();
    api.accept_check_runs(10);
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("red", 1));
    let out = report(dir.path(), &github_env(&api.server.uri(), dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let link = "[`addons/acc_x/tests/test_x.py:10`](https://github.com/acme/odoo/blob/abc123/addons/acc_x/tests/test_x.py#L10)";
    let step_summary = std::fs::read_to_string(dir.path().join("step-summary.md")).unwrap();
    assert!(step_summary.contains(link), "{step_summary}");
    let summary = completions(&api)[0]["output"]["summary"].clone();
    assert!(summary.as_str().unwrap().contains(link), "{summary}");
}

/// A GitLab merged-results pipeline runs on the merge commit (`CI_COMMIT_SHA`); the
/// status goes there with the pipeline's id. Sent to the source head with that id, GitLab
/// matched no pipeline and created an external one.
#[test]
fn gitlab_merged_results_report_on_the_pipeline_s_commit() {
    let api = Api::start();
    api.mount(
        Mock::given(method("POST"))
            .and(path("/api/v4/projects/123/statuses/mergesha"))
            .and(body_partial_json(
                json!({"pipeline_id": 555, "state": "success"}),
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .expect(1),
    );
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    let mut env = gitlab_env(&api.server.uri());
    env.retain(|(k, _)| {
        !matches!(
            *k,
            "CI_COMMIT_BRANCH" | "CI_COMMIT_SHA" | "CI_PIPELINE_SOURCE"
        )
    });
    env.extend([
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_string()),
        ("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result".into()),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/x".into()),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "sourcesha".into()),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".into()),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", "targetsha".into()),
        ("CI_MERGE_REQUEST_IID", "4".into()),
        ("CI_COMMIT_SHA", "mergesha".into()),
    ]);
    let out = report(dir.path(), &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();

    // A result about another commit is reported there, without the pipeline's id.
    let api = Api::start();
    api.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)));
    let mut result = dev_result("green", 0);
    result["commit"] = json!("othersha");
    write_result(dir.path(), &result);
    let mut env = env.clone();
    env.retain(|(k, _)| *k != "CI_API_V4_URL");
    env.push(("CI_API_V4_URL", format!("{}/api/v4", api.server.uri())));
    let out = report(dir.path(), &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sent = api.requests();
    assert_eq!(sent[0].url.path(), "/api/v4/projects/123/statuses/othersha");
    assert_eq!(body(&sent[0])["pipeline_id"], Value::Null);
}

/// GitHub Actions and GitLab render ANSI colour in job logs: the log on stderr is coloured
/// there too, unless `NO_COLOR` or `--color never` says otherwise.
#[test]
fn the_job_log_is_coloured_in_ci_unless_no_color_or_color_never() {
    let p = common::Project::new();
    p.config("odoo:\n  series: \"17.0\"\n");
    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF_NAME", "feat/x"),
        ("GITHUB_SHA", "0000000000000000000000000000000000000000"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REPOSITORY", "acme/odoo"),
    ];
    let run = |extra_env: &[(&str, &str)], extra_args: &[&str]| {
        let mut env = github.to_vec();
        env.extend_from_slice(extra_env);
        let mut args = extra_args.to_vec();
        args.extend(["test", "--output", "out"]);
        common::run_in(p.path(), &args, &env)
    };
    let coloured = run(&[("NO_COLOR", "")], &[]);
    assert_eq!(coloured.code, 0, "{}", coloured.stderr);
    assert!(
        coloured.stderr.contains("\x1b[1modoo-ci plan:"),
        "{}",
        coloured.stderr
    );
    for (env, args) in [
        (&[("NO_COLOR", "1")][..], &[][..]),
        (&[("NO_COLOR", "")][..], &["--color", "never"][..]),
    ] {
        let plain = run(env, args);
        assert_eq!(plain.code, 0, "{}", plain.stderr);
        assert!(
            !plain.stderr.contains('\x1b'),
            "{env:?} {args:?}: {}",
            plain.stderr
        );
    }
    let always = common::run_in(
        p.path(),
        &["--color", "always", "plan", "--branch", "feat/x"],
        &[("NO_COLOR", "1")],
    );
    assert!(
        always.stdout.contains('\x1b') || always.stderr.contains('\x1b'),
        "always means always"
    );
}

/// The pull request `number`'s event, and the variables of a `pull_request` job.
fn pull_request_env(api: &str, dir: &Path, number: u64) -> Vec<(&'static str, String)> {
    std::fs::write(
        dir.join("event.json"),
        json!({"pull_request": {"number": number, "head": {"sha": "abc123", "ref": "feature/x"}, "base": {"sha": "basesha", "ref": "main"}}}).to_string(),
    )
    .unwrap();
    let mut env = github_env(api, dir);
    env.retain(|(k, _)| *k != "GITHUB_EVENT_NAME");
    env.push(("GITHUB_EVENT_NAME", "pull_request".into()));
    env.push(("GITHUB_HEAD_REF", "feature/x".into()));
    env.push(("GITHUB_BASE_REF", "main".into()));
    env.push((
        "GITHUB_EVENT_PATH",
        dir.join("event.json").display().to_string(),
    ));
    env
}

/// Pull request 5's comments endpoint (`issues/5/comments`), as wiremock matches it.
fn pr_comments(verb: &str) -> wiremock::MockBuilder {
    Mock::given(method(verb)).and(path("/repos/acme/odoo/issues/5/comments"))
}

/// `report.comment` on or off in the folder's `.odoo-ci.yml`.
fn comment_config(dir: &Path, on: bool) {
    std::fs::write(
        dir.join(".odoo-ci.yml"),
        format!("odoo:\n  series: \"17.0\"\nreport:\n  comment: {on}\n"),
    )
    .unwrap();
}

fn requests_to(api: &Api, verb: &str, path_end: &str) -> Vec<Value> {
    api.requests()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().ends_with(path_end))
        .map(body)
        .collect()
}

/// One comment per stage, found again by its marker — past a full first page of other
/// comments — and edited in place on the next push; other comments, and other stages'
/// comments, are never touched; off by default.
#[test]
fn a_pull_request_gets_one_comment_per_stage_edited_in_place_on_every_push() {
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("red", 1));
    let production = json!({"id": 2, "body": "<!-- odoo-ci:comment:production -->\ndeployed"});

    // First push: no comment of the stage yet.
    let api = Api::start();
    api.mount(pr_comments("GET").respond_with(
        ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "body": "LGTM"}, production])),
    ));
    api.mount(
        pr_comments("POST")
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 77})))
            .expect(1),
    );
    api.accept_check_runs(3);
    comment_config(dir.path(), true);
    let out = report(
        dir.path(),
        &pull_request_env(&api.server.uri(), dir.path(), 5),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
    let created = &requests_to(&api, "POST", "/issues/5/comments")[0];
    let text = created["body"].as_str().unwrap();
    assert!(
        text.starts_with("<!-- odoo-ci:comment:development -->\n") && text.contains("failed"),
        "{text}"
    );
    assert!(requests_to(&api, "PATCH", "/issues/comments/2").is_empty());
    assert_no_token(&out);

    // Next push: found on the second page, edited, not created again.
    let api = Api::start();
    let foreign: Vec<Value> = (100..200)
        .map(|i| json!({"id": i, "body": "a review"}))
        .collect();
    let ours = json!({"id": 77, "body": "<!-- odoo-ci:comment:development -->\nold"});
    for (page, comments) in [("1", json!(foreign)), ("2", json!([ours]))] {
        api.mount(
            pr_comments("GET")
                .and(wiremock::matchers::query_param("page", page))
                .respond_with(ResponseTemplate::new(200).set_body_json(comments)),
        );
    }
    api.mount(
        Mock::given(method("PATCH"))
            .and(path("/repos/acme/odoo/issues/comments/77"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 77})))
            .expect(1),
    );
    api.mount(
        pr_comments("POST")
            .respond_with(ResponseTemplate::new(201))
            .expect(0),
    );
    api.accept_check_runs(3);
    let out = report(
        dir.path(),
        &pull_request_env(&api.server.uri(), dir.path(), 5),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();

    // Off (the default): no comment.
    let api = Api::start();
    api.accept_check_runs(3);
    comment_config(dir.path(), false);
    let out = report(
        dir.path(),
        &pull_request_env(&api.server.uri(), dir.path(), 5),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.url.path().contains("/issues/")),
        "no comment unless asked"
    );
}

/// A create whose answer is lost is not sent again blindly: the thread is read first.
#[test]
fn a_comment_whose_create_answer_is_lost_is_looked_for_before_a_second_try() {
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    comment_config(dir.path(), true);
    let api = Api::start();
    // Empty at first; after the lost create, the comment is there.
    api.mount(
        pr_comments("GET")
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .up_to_n_times(1),
    );
    api.mount(pr_comments("GET").respond_with(
        ResponseTemplate::new(200).set_body_json(
            json!([{"id": 8, "body": "<!-- odoo-ci:comment:development -->\nmade"}]),
        ),
    ));
    api.mount(
        pr_comments("POST")
            .respond_with(ResponseTemplate::new(502))
            .expect(1),
    );
    api.accept_check_runs(3);
    let out = report(
        dir.path(),
        &pull_request_env(&api.server.uri(), dir.path(), 5),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    api.verify();
    assert!(
        !out.stderr.contains("could not report"),
        "the comment was made, and found: {}",
        out.stderr
    );
}

/// On GitLab, a merge request's note per stage, created then edited (PUT).
#[test]
fn a_merge_request_gets_one_note_per_stage_edited_in_place() {
    let dir = tempfile::tempdir().unwrap();
    write_result(dir.path(), &dev_result("green", 0));
    comment_config(dir.path(), true);
    let notes = "/api/v4/projects/123/merge_requests/7/notes";
    let mr_env = |api: &str| {
        let mut env = gitlab_env(api);
        env.retain(|(k, _)| *k != "CI_PIPELINE_SOURCE" && *k != "CI_COMMIT_BRANCH");
        env.extend([
            ("CI_PIPELINE_SOURCE", "merge_request_event".to_string()),
            ("CI_MERGE_REQUEST_IID", "7".to_string()),
            (
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
                "feature/x".to_string(),
            ),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".to_string()),
        ]);
        env
    };
    for existing in [
        json!([]),
        json!([{"id": 41, "body": "<!-- odoo-ci:comment:development -->\nold"}]),
    ] {
        let api = Api::start();
        let first = existing.as_array().unwrap().is_empty();
        api.mount(
            Mock::given(method("GET"))
                .and(path(notes))
                .and(header("private-token", "glpat-secret-xyz"))
                .respond_with(ResponseTemplate::new(200).set_body_json(existing)),
        );
        api.mount(
            Mock::given(method("POST"))
                .and(path(notes))
                .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 41})))
                .expect(u64::from(first)),
        );
        api.mount(
            Mock::given(method("PUT"))
                .and(path(format!("{notes}/41")))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 41})))
                .expect(u64::from(!first)),
        );
        api.mount(
            Mock::given(method("POST"))
                .and(path("/api/v4/projects/123/statuses/abc123"))
                .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1}))),
        );
        let out = report(dir.path(), &mr_env(&api.server.uri()));
        assert_eq!(out.code, 0, "{}", out.stderr);
        api.verify();
    }
}

/// What a reviewer reads in the pull request, for each stage: the comment bodies (the
/// summaries, with what was tested, what was updated and every step's time) under golden
/// files.
#[test]
fn the_comment_of_each_stage_is_what_reviewers_read() {
    let steps = json!([
        {"name": "build", "status": "completed", "output": "", "duration_ms": 1200},
        {"name": "install-and-test", "status": "failed", "output": "", "duration_ms": 8400}
    ]);
    let mut development = dev_result("red", 2);
    development["tested"] = json!(["acc_x", "acc_y"]);
    development["installed"] = json!(["acc_x", "acc_y", "acc_base"]);
    development["steps"] = steps.clone();
    let changes = json!({"update": [{"addon": "acc_x", "installed": "17.0.1.0.0", "manifest": "17.0.1.1.0"}],
                         "install": ["acc_new"], "downgrade": []});
    let production = json!({
        "schema_version": 1, "stage": "production", "colour": "green", "reasons": [],
        "branch": "main", "commit": "abc123", "id": "d-20261205-0001", "trigger": "push",
        "database": "prod", "image": "odoo-ci/acme:abc123", "active_colour": "green",
        "rolled_back": false, "changes": changes, "steps": steps
    });
    let staging = json!({
        "schema_version": 1, "stage": "staging", "colour": "green", "reasons": [],
        "branch": "staging-x", "commit": "abc123", "push": "fresh",
        "url": "https://staging.example.com", "database": "odoo_ci_stg_x",
        "neutralization": [{"name": "outgoing mail", "ok": true, "detail": "no active outgoing mail server"}],
        "changes": changes, "steps": steps
    });
    for (stage, result) in [
        ("development", development),
        ("staging", staging),
        ("production", production),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_result(dir.path(), &result);
        comment_config(dir.path(), true);
        let api = Api::start();
        api.mount(
            pr_comments("GET").respond_with(ResponseTemplate::new(200).set_body_json(json!([]))),
        );
        api.mount(
            pr_comments("POST")
                .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1}))),
        );
        api.mount(
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 3}))),
        );
        api.accept_check_runs(3);
        let out = report(
            dir.path(),
            &pull_request_env(&api.server.uri(), dir.path(), 5),
        );
        assert_eq!(out.code, 0, "{stage}: {}", out.stderr);
        let sent = requests_to(&api, "POST", "/issues/5/comments");
        let text = sent[0]["body"].as_str().unwrap();
        common::assert_snapshot(&format!("comment/{stage}"), text, None);
    }
}
