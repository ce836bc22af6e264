//! Builds that stay up (`development.keep`): a green or yellow development run keeps its
//! tested database as the branch's preview, served by the commit's image; `odoo-ci
//! previews` lists, stops, starts, drops and garbage-collects them. Real PostgreSQL, real
//! Docker, the fake Odoo; assertions on the databases and on what serves.

use crate::common;

use std::process::Command;

use common::caddy::Caddy;
use common::{image, pg_url, psql, psql_on, run_in, unique, Output, Project};
use serde_json::Value;

const PASSING: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestOk(TransactionCase):\n    def test_math(self):\n        self.assertEqual(2 * 3, 6)\n";
const FAILING: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestBad(TransactionCase):\n    def test_qty(self):\n        self.assertEqual(2 * 3, 7)\n";

/// A project of its own (previews are scoped by project) with addon `prv_a`, kept `keep`.
pub(crate) fn project(keep: &str, budget: &str) -> Project {
    let p = Project::new();
    p.config(&format!(
        "project: odoo-ci-tests/{}\nodoo:\n  series: \"17.0\"\n  image: {}\naddons_paths: [addons]\nbranches:\n  - match: \"*\"\n    stage: development\npostgres:\n  url: ${{ODOO_CI_TEST_PG}}\ndevelopment:\n  keep: {keep}\npreviews:\n{budget}staging:\n  health_check:\n    timeout_secs: 30\n",
        unique("previews"),
        image(),
    ));
    p.addon("prv_a", "17.0.1.0.0", &["base"])
        .write("addons/prv_a/__init__.py", "")
        .write("addons/prv_a/tests/__init__.py", "from . import test_a\n")
        .write("addons/prv_a/tests/test_a.py", PASSING);
    p
}

pub(crate) fn odoo_ci(p: &Project, args: &[&str]) -> Output {
    let cache = p.path().join(".cache");
    run_in(
        p.path(),
        args,
        &[
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
        ],
    )
}

pub(crate) fn build(p: &Project, branch: &str) -> (Output, Value) {
    let out = odoo_ci(p, &["test", "--branch", branch, "--output", "out"]);
    let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
    let result: Value = serde_json::from_str(&text).unwrap();
    common::assert_ran_as_planned(&out.stderr, &result);
    (out, result)
}

/// The project's previews as `odoo-ci previews list --format json` gives them.
pub(crate) fn listed(p: &Project) -> Vec<Value> {
    let out = odoo_ci(p, &["previews", "list", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) fn branches(p: &Project, running: Option<bool>) -> Vec<String> {
    listed(p)
        .iter()
        .filter(|v| running.is_none_or(|r| v["running"] == r))
        .map(|v| v["branch"].as_str().unwrap().to_string())
        .collect()
}

fn health(url: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request\ntry: print(urllib.request.urlopen(sys.argv[1], timeout=5).status)\nexcept Exception as e: print(e)",
            &format!("{url}/web/health"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `url` answers 200 within `secs`.
fn serves_within(url: &str, secs: u64) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if health(url) == "200" {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    false
}

fn exists(database: &str) -> bool {
    psql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{database}'"
    )) == "1"
}

fn servers_of(database: &str) -> Vec<String> {
    common::containers_labelled(&format!("odoo-ci.preview={database}"), true)
}

/// Rewrites the preview's marker as if it had been kept `secs` earlier.
fn age(database: &str, secs: u64) {
    let comment = psql(&format!(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{database}'"
    ));
    let json: Value =
        serde_json::from_str(comment.strip_prefix("odoo-ci preview ").unwrap()).unwrap();
    let mut marker = json.clone();
    marker["kept_at"] = (json["kept_at"].as_u64().unwrap() - secs).into();
    marker["until"] = (json["until"].as_u64().unwrap() - secs).into();
    psql(&format!(
        "COMMENT ON DATABASE \"{database}\" IS 'odoo-ci preview {marker}'"
    ));
}

#[test]
fn a_green_build_stays_up_as_its_branch_s_preview_until_dropped() {
    let p = project("3d", "  max_kept: 5\n  max_running: 5\n");
    let (out, r) = build(&p, "feature/a");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let preview = &r["preview"];
    let (url, database) = (
        preview["url"].as_str().expect("a preview").to_string(),
        preview["database"].as_str().unwrap().to_string(),
    );
    assert!(
        out.stderr.contains(&url),
        "the run says where: {}",
        out.stderr
    );
    assert!(serves_within(&url, 5), "{url}");
    let dotenv = std::fs::read_to_string(p.path().join("out/odoo-ci.env")).unwrap();
    assert!(
        dotenv.contains(&format!("ODOO_CI_PREVIEW_URL={url}\n")),
        "GitLab's environment reads the URL from it: {dotenv}"
    );
    assert_eq!(
        psql_on(
            &database,
            "SELECT state FROM ir_module_module WHERE name = 'prv_a'"
        ),
        "installed"
    );
    assert_eq!(
        psql_on(
            &database,
            "SELECT string_agg(smtp_host, ',') FROM ir_mail_server WHERE active"
        ),
        "invalid",
        "a preview people click in sends no mail"
    );
    assert_eq!(
        psql_on(
            &database,
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        ),
        "true"
    );
    let tested = r["database"].as_str().unwrap();
    assert!(
        !exists(tested),
        "the test database became the preview: {tested}"
    );

    // A newer push replaces the branch's preview: one database, one server.
    let (out, again) = build(&p, "feature/a");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let url = again["preview"]["url"].as_str().unwrap().to_string();
    assert_eq!(again["preview"]["database"], database.as_str());
    assert_eq!(servers_of(&database).len(), 1);
    assert!(serves_within(&url, 5));
    assert_eq!(branches(&p, Some(true)), vec!["feature/a"]);

    // Scale to zero and back: the database stays.
    assert_eq!(odoo_ci(&p, &["previews", "stop", "feature/a"]).code, 0);
    assert_eq!(branches(&p, Some(false)), vec!["feature/a"]);
    assert_ne!(health(&url), "200");
    assert!(exists(&database));
    assert_eq!(odoo_ci(&p, &["previews", "start", "feature/a"]).code, 0);
    assert!(serves_within(&url, 20), "served again at {url}");

    // The branch is deleted.
    let out = odoo_ci(&p, &["previews", "drop", "feature/a"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!exists(&database));
    assert!(servers_of(&database).is_empty());
    assert!(listed(&p).is_empty());
    // Again, as a cleanup job for a branch that had none does: nothing to do, not an error.
    let again = odoo_ci(&p, &["previews", "drop", "feature/a"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("nothing to drop"), "{}", again.stdout);
}

#[test]
fn red_builds_are_not_kept_and_the_budget_and_the_clock_drop_the_oldest() {
    let other = project("3d", "  max_kept: 5\n");
    let (out, theirs) = build(&other, "theirs");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let theirs = theirs["preview"]["database"].as_str().unwrap().to_string();

    let p = project("3d", "  max_kept: 2\n  max_running: 1\n");
    p.write("addons/prv_a/tests/test_a.py", FAILING);
    let (out, red) = build(&p, "red");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(red["preview"].is_null(), "{red:#}");
    assert!(listed(&p).is_empty());
    p.write("addons/prv_a/tests/test_a.py", PASSING);

    for branch in ["b1", "b2"] {
        let (out, _) = build(&p, branch);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(branches(&p, None), vec!["b1", "b2"]);
    assert_eq!(branches(&p, Some(true)), vec!["b2"], "one runs: the newest");
    let (out, _) = build(&p, "b3");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        branches(&p, None),
        vec!["b2", "b3"],
        "two kept: the oldest went"
    );

    // Three days and an hour later, b2 is past its time.
    let b2 = listed(&p)[0]["database"].as_str().unwrap().to_string();
    age(&b2, 3 * 86_400 + 3600);
    let out = odoo_ci(&p, &["previews", "gc"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&b2), "{}", out.stdout);
    assert!(!exists(&b2));
    assert_eq!(branches(&p, None), vec!["b3"]);

    // Another project's preview was never touched.
    assert!(exists(&theirs) && servers_of(&theirs).len() == 1);
    assert_eq!(odoo_ci(&p, &["previews", "drop", "b3"]).code, 0);
    assert_eq!(odoo_ci(&other, &["previews", "drop", "theirs"]).code, 0);
}

/// A GitHub-hosted runner's engine goes with the job: a preview is refused before anything
/// runs, with the line of `development.keep`.
#[test]
fn keep_is_refused_on_a_runner_whose_engine_goes_with_the_job() {
    let p = project("12h", "  max_kept: 2\n");
    let cache = p.path().join(".cache");
    let out = run_in(
        p.path(),
        &["test", "--branch", "x", "--output", "out"],
        &[
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("RUNNER_ENVIRONMENT", "github-hosted"),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".odoo-ci.yml:") && out.stderr.contains("GitHub-hosted"),
        "{}",
        out.stderr
    );
    assert!(
        !p.path().join("out/odoo-ci-result.json").exists(),
        "nothing ran"
    );

    // A catcher on a remote engine publishes on that host's loopback: nobody could read it.
    let p = project("12h", "  mail_catcher:\n    image: axllent/mailpit\n");
    let (port, _) = common::engine_over_tcp();
    let out = run_in(
        p.path(),
        &["test", "--branch", "x", "--output", "out"],
        &[
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("DOCKER_HOST", &format!("tcp://127.0.0.1:{port}")),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".odoo-ci.yml:") && out.stderr.contains("previews.mail_catcher"),
        "{}",
        out.stderr
    );
    assert!(!p.path().join("out/odoo-ci-result.json").exists());
}

/// With `previews.proxy`, a preview gets a URL of its own: odoo-ci adds its route to a
/// running Caddy through the admin API, Caddy serves the preview by its host, and the
/// route goes with the preview.
#[test]
fn a_preview_is_opened_by_its_own_url_through_caddy() {
    let caddy = Caddy::start();
    let p = project("3d", "  max_kept: 5\n");
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "previews:\n",
        &format!(
            "previews:\n  proxy:\n    caddy: http://127.0.0.1:{}\n    url: \"http://{{branch}}.previews.test\"\n",
            caddy.admin
        ),
    ));
    let (out, r) = build(&p, "feature/Route-Me");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(r["preview"]["url"], "http://feature-route-me.previews.test");
    assert_eq!(
        caddy.get("feature-route-me.previews.test"),
        "{\"status\": \"pass\"}"
    );
    assert_eq!(caddy.get("other.previews.test"), "", "only its own host");

    // Pushed again: the new server, under the same URL.
    let (out, _) = build(&p, "feature/Route-Me");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        caddy.get("feature-route-me.previews.test"),
        "{\"status\": \"pass\"}"
    );

    let out = odoo_ci(&p, &["previews", "drop", "feature/Route-Me"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        caddy.get("feature-route-me.previews.test"),
        "",
        "the route went with it"
    );
}

/// With `previews.mail_catcher`, the mail a preview sends lands in a catcher of its own,
/// which the run links to; the catcher goes with the preview.
#[test]
fn a_preview_s_mail_lands_in_its_own_catcher() {
    let image = std::env::var("ODOO_CI_TEST_MAIL_IMAGE")
        .expect("ODOO_CI_TEST_MAIL_IMAGE is not set: run the tests with ./scripts/test");
    let p = project("3d", &format!("  mail_catcher:\n    image: {image}\n"));
    p.addon("prv_a", "17.0.1.0.0", &["mail"]);
    let (out, r) = build(&p, "feature/mail");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ui = r["preview"]["mail_url"]
        .as_str()
        .expect("a catcher")
        .to_string();
    assert!(out.stderr.contains(&ui), "{}", out.stderr);
    let database = r["preview"]["database"].as_str().unwrap().to_string();
    // Someone reviewing the preview sends a quotation.
    psql_on(
        &database,
        "INSERT INTO mail_message (subject, email_from) VALUES ('Quotation S00042', 'sales@example.com');
         INSERT INTO mail_mail (mail_message_id, email_to, body_html, state) \
           SELECT max(id), 'buyer@example.com', 'Your quotation', 'outgoing' FROM mail_message;",
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let caught = loop {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
                &format!("{ui}api/v1/messages"),
            ])
            .output()
            .unwrap();
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if listed["total"] == 1 || std::time::Instant::now() > until {
            break listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert_eq!(
        caught["messages"][0]["Subject"], "Quotation S00042",
        "{caught:#}"
    );
    assert_eq!(
        caught["messages"][0]["To"][0]["Address"],
        "buyer@example.com"
    );

    let server = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=odoo-ci.preview={database}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    let server = String::from_utf8_lossy(&server.stdout).trim().to_string();
    let catcher = format!("odoo-ci.mail-catcher-of={server}");
    assert_eq!(
        common::containers_labelled(&catcher, false).len(),
        1,
        "{server}"
    );
    assert_eq!(odoo_ci(&p, &["previews", "drop", "feature/mail"]).code, 0);
    assert!(
        common::containers_labelled(&catcher, true).is_empty(),
        "the catcher goes with its preview"
    );
}

/// `previews.idle_after`: a preview nobody opened for that long stops (its database kept:
/// no CPU until `previews start`); one someone opens keeps running. Health checks are not
/// visits.
#[test]
fn an_idle_preview_stops_and_a_visited_one_keeps_running() {
    let p = project("3d", "  max_kept: 5\n  max_running: 5\n  idle_after: 3s\n");
    for branch in ["idle", "visited"] {
        let (out, _) = build(&p, branch);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    std::thread::sleep(std::time::Duration::from_secs(4));
    let visited = listed(&p)
        .into_iter()
        .find(|v| v["branch"] == "visited")
        .unwrap();
    let url = visited["url"].as_str().unwrap();
    let opened = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).status)",
            &format!("{url}/web/login"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&opened.stdout).trim(), "200");
    let out = odoo_ci(&p, &["previews", "gc"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(branches(&p, Some(true)), vec!["visited"], "{}", out.stdout);
    assert_eq!(
        branches(&p, None),
        vec!["idle", "visited"],
        "both databases kept"
    );
    for branch in ["idle", "visited"] {
        assert_eq!(odoo_ci(&p, &["previews", "drop", branch]).code, 0);
    }
}

/// The files of the preview `database`'s attachments that its server cannot find in its
/// own data dir (`<data dir>/filestore/<database>/<store_fname>`, as Odoo reads them).
fn attachments_missing_in(container: &str, database: &str) -> Vec<String> {
    let names = psql_on(
        database,
        "SELECT string_agg(store_fname, ' ') FROM ir_attachment WHERE store_fname IS NOT NULL",
    );
    assert!(!names.is_empty(), "the preview has attachments");
    names
        .split_whitespace()
        .filter(|name| {
            let path = format!("/var/lib/odoo/filestore/{database}/{name}");
            !Command::new("docker")
                .args(["exec", container, "test", "-f", &path])
                .status()
                .unwrap()
                .success()
        })
        .map(str::to_string)
        .collect()
}

/// A GitHub-hosted job drives a Docker engine that stays up (`DOCKER_HOST`): the preview
/// lives there, not on the runner. Its filestore — the attachments its install and tests
/// wrote too — is in a volume on that engine, so it serves whole after the runner's folders
/// are gone. Caddy runs on that host beside it: its admin API, on that host's loopback, is
/// reached from there (a helper on the host's network), and so is its catcher's greeting;
/// the catcher's UI is routed beside the preview. `previews drop` removes the routes and
/// the volume with the rest.
#[test]
fn a_preview_lives_on_a_remote_engine_with_its_filestore_there() {
    let caddy = Caddy::start();
    let image = std::env::var("ODOO_CI_TEST_MAIL_IMAGE")
        .expect("ODOO_CI_TEST_MAIL_IMAGE is not set: run the tests with ./scripts/test");
    let p = project(
        "3d",
        &format!("  max_kept: 5\n  mail_catcher:\n    image: {image}\n"),
    );
    p.addon("prv_a", "17.0.1.0.0", &["mail"]);
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "previews:\n",
        &format!(
            "previews:\n  proxy:\n    caddy: http://127.0.0.1:{}\n    url: \"http://{{branch}}.far.test\"\n",
            caddy.admin
        ),
    ));
    let (port, _) = common::engine_over_tcp();
    let host = format!("tcp://127.0.0.1:{port}");
    let runner = p.path().join(".runner");
    std::fs::create_dir_all(&runner).unwrap();
    let env = [
        ("ODOO_CI_TEST_PG", pg_url()),
        ("DOCKER_HOST", host.clone()),
        ("ODOO_CI_CACHE_DIR", runner.to_str().unwrap().to_string()),
        ("RUNNER_ENVIRONMENT", "github-hosted".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let helpers = common::HelperWatch::start();
    let out = common::run_blind_to(
        &runner,
        p.path(),
        &["test", "--branch", "feature/far", "--output", "out"],
        &env,
    );
    let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let database = r["preview"]["database"].as_str().expect("kept").to_string();
    assert_eq!(r["preview"]["url"], "http://feature-far.far.test");
    assert_eq!(caddy.get("feature-far.far.test"), "{\"status\": \"pass\"}");
    let servers = servers_of(&database);
    let helpers = helpers.stop(&servers[0]);
    assert!(
        helpers.get("http") > Some(&0),
        "Caddy's admin API was asked from the engine's host: {helpers:?}"
    );
    assert!(
        helpers.get("smtp") > Some(&0),
        "the catcher's greeting was heard from the engine's host: {helpers:?}"
    );
    // Its mail, read at the catcher's URL beside the preview's.
    assert_eq!(r["preview"]["mail_url"], "http://mail-feature-far.far.test");
    psql_on(
        &database,
        "INSERT INTO mail_message (subject, email_from) VALUES ('Quotation S00043', 'sales@example.com');
         INSERT INTO mail_mail (mail_message_id, email_to, body_html, state) \
           SELECT max(id), 'buyer@example.com', 'Your quotation', 'outgoing' FROM mail_message;",
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let caught = loop {
        let (_, body) = caddy.fetch("mail-feature-far.far.test", "/api/v1/messages");
        let listed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if listed["total"] == 1 || std::time::Instant::now() > until {
            break listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert_eq!(
        caught["messages"][0]["Subject"], "Quotation S00043",
        "{caught:#}"
    );
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(
        attachments_missing_in(&servers[0], &database),
        Vec::<String>::new()
    );
    assert_eq!(
        common::volumes_labelled(&format!("odoo-ci.preview={database}")).len(),
        1,
        "its filestore is a volume of the engine"
    );

    let out = common::run_in(p.path(), &["previews", "drop", "feature/far"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!exists(&database));
    assert!(servers_of(&database).is_empty());
    assert!(common::volumes_labelled(&format!("odoo-ci.preview={database}")).is_empty());
    assert_eq!(
        caddy.get("feature-far.far.test"),
        "",
        "the route went with it"
    );
    assert_eq!(
        caddy.get("mail-feature-far.far.test"),
        "",
        "and its catcher's"
    );
}

/// `odoo-ci previews wake`, run beside Caddy as `previews.proxy.wake` says; stopped by
/// SIGTERM, as a service manager stops it, when dropped.
pub(crate) struct Waker(std::process::Child);

impl Waker {
    /// Started, and listening once it said so.
    pub(crate) fn start(p: &Project) -> Waker {
        let cache = p.path().join(".cache");
        let mut child = Command::new(common::bin())
            .args(["previews", "wake"])
            .current_dir(p.path())
            .env("ODOO_CI_TEST_PG", pg_url())
            .env("ODOO_CI_CACHE_DIR", cache)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut out, &mut first).unwrap();
        assert!(first.contains("waking the previews"), "{first}");
        Waker(child)
    }

    /// Stopped by SIGTERM: whether it exited 0 within 5 s.
    pub(crate) fn stop(&mut self) -> bool {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < until {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A stopped preview costs no CPU and still opens: Caddy cannot reach its server, so its
/// error route sends the request to `odoo-ci previews wake`, which starts the preview and
/// answers a page that reloads until it serves — then the preview answers itself. The
/// waker's route goes with the preview.
#[test]
fn a_stopped_preview_wakes_on_its_first_request() {
    let caddy = Caddy::start();
    let wake = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = project("3d", "  max_kept: 5\n");
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "previews:\n",
        &format!(
            "previews:\n  proxy:\n    caddy: http://127.0.0.1:{}\n    url: \"http://{{branch}}.previews.test\"\n    wake: \"{wake}\"\n",
            caddy.admin
        ),
    ));
    let (out, _) = build(&p, "feature/sleepy");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let host = "feature-sleepy.previews.test";
    assert_eq!(caddy.page(host), (200, "<html>login</html>".into()));
    assert_eq!(odoo_ci(&p, &["previews", "stop", "feature/sleepy"]).code, 0);
    assert_eq!(branches(&p, Some(false)), vec!["feature/sleepy"]);
    assert_eq!(caddy.page(host).0, 502, "no waker yet: Caddy's own 502");

    let mut waker = Waker::start(&p);
    let (status, page) = caddy.page(host);
    assert_eq!(status, 503, "{page}");
    assert!(
        page.contains("Starting the preview of feature/sleepy"),
        "{page}"
    );
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while caddy.page(host).0 != 200 {
        assert!(std::time::Instant::now() < until, "it never served again");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert_eq!(caddy.page(host), (200, "<html>login</html>".into()));
    assert_eq!(branches(&p, Some(true)), vec!["feature/sleepy"]);
    let (status, _) = caddy.page("nobody.previews.test");
    assert_ne!(status, 503, "only its own host wakes anything");

    let out = odoo_ci(&p, &["previews", "drop", "feature/sleepy"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let errors = caddy.config("apps/http/servers/srv0/errors/routes");
    assert!(
        !errors.contains("odoo-ci-"),
        "the wake route went with it: {errors}"
    );
    assert!(waker.stop(), "SIGTERM stops the waker cleanly");
}
