//! `engine: swarm`: staging's server as a service of a real single-node Docker Swarm on
//! this machine's engine, replaced start-first and rolled back by Swarm.

use crate::common;
use crate::previews::{branches, build, odoo_ci, Waker};
use crate::staging::{drop_branch, http_status, production, project, stage, staging_dbs};

/// The staging project of `staging.rs`, its servers on the swarm.
fn on_the_swarm(swarm: &str) -> common::Project {
    let p = project("fresh", &[]);
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&format!("{text}engine: swarm\n{swarm}"));
    p
}

/// As real Odoo with an addon that raises on import: the server logs the CRITICAL line,
/// keeps listening and answers 500 to `/web/health`; the update (`--stop-after-init`)
/// passes.
fn break_the_server(p: &common::Project) {
    p.write(
        "addons/stg_a/__init__.py",
        "import sys\n\nif '--stop-after-init' not in sys.argv:\n    raise ImportError('broken on purpose')\n",
    );
}

#[test]
fn staging_on_a_swarm_is_a_service_and_a_copy_that_never_gets_healthy_leaves_the_one_before_serving(
) {
    common::swarm::manager();
    let caddy = common::caddy::Caddy::start();
    let p = on_the_swarm("");
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "staging:\n",
        &format!(
            "staging:\n  proxy:\n    caddy: http://127.0.0.1:{}\n    url: \"http://{{branch}}.swarm.test\"\n",
            caddy.admin
        ),
    ));
    let prod = production(&p);
    let branch = "staging-swarm";
    let (out, first) = stage(&p, &prod, branch, &[]);
    assert_eq!(out.code, 0, "{}\n{first:#}", out.stderr);
    let name = first["container"].as_str().unwrap().to_string();
    let first_db = first["database"].as_str().unwrap().to_string();
    let served = |what: &str| common::swarm::service(&name, what);
    assert_eq!(
        served("{{index .Spec.Labels \"odoo-ci.database\"}}").as_deref(),
        Some(first_db.as_str()),
        "the server is a Swarm service serving the copy"
    );
    assert_eq!(
        served("{{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}}").as_deref(),
        Some("start-first rollback")
    );
    assert_eq!(first["url"], "http://staging-swarm.swarm.test");
    let host = "staging-swarm.swarm.test";
    assert_eq!(
        caddy.get(host),
        "{\"status\": \"pass\"}",
        "routed to the task's node"
    );
    let port = served("{{index .Spec.Labels \"odoo-ci.http-port\"}}").unwrap();
    let node = common::swarm::node_address();
    let url = format!("http://{node}:{port}");
    assert_eq!(http_status(&url), "200", "{url}");

    break_the_server(&p);
    let (out, second) = stage(&p, &prod, branch, &[]);
    assert_eq!(out.code, 1, "{}\n{second:#}", out.stderr);
    assert_eq!(second["failed_step"], "health", "{second:#}");
    let reason = second["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains(&format!("it serves `{first_db}` again")),
        "{reason}"
    );
    assert!(
        reason.contains("Failed to initialize database") && reason.contains("broken on purpose"),
        "told from the new task's log, not the timeout: {reason}"
    );
    assert_eq!(
        served("{{index .Spec.Labels \"odoo-ci.database\"}}").as_deref(),
        Some(first_db.as_str()),
        "Swarm rolled the service back to the copy before"
    );
    assert_eq!(http_status(&url), "200", "the copy before still serves");
    assert_eq!(
        caddy.get(host),
        "{\"status\": \"pass\"}",
        "its URL still opens it"
    );
    assert_eq!(
        staging_dbs(&p, &prod, branch),
        vec![first_db.clone()],
        "the copy that failed is dropped"
    );
    let (branch_dbs, _) = first_db.rsplit_once('_').unwrap();
    let volumes: Vec<String> = common::volumes_labelled("odoo-ci.database")
        .into_iter()
        .filter(|v| v.starts_with(branch_dbs))
        .collect();
    assert_eq!(
        volumes,
        vec![format!("{first_db}-data")],
        "the failed copy's data volume is gone with it"
    );

    drop_branch(&p, &prod, branch);
    assert_eq!(served("{{.ID}}"), None, "the service went with its branch");
    let volumes = common::volumes_labelled(&format!("odoo-ci.database={first_db}"));
    assert!(volumes.is_empty(), "its data volume too: {volumes:?}");
}

/// The tasks of the service `name` Swarm wants running.
fn running_tasks(name: &str) -> usize {
    let out = std::process::Command::new("docker")
        .args([
            "service",
            "ps",
            "-q",
            "--filter",
            "desired-state=running",
            name,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .count()
}

#[test]
fn a_preview_on_a_swarm_is_a_service_scaled_to_zero_when_stopped_and_woken_by_a_visit() {
    common::swarm::manager();
    let caddy = common::caddy::Caddy::start();
    let wake = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = crate::previews::project("3d", "  max_kept: 5\n");
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&format!(
        "{}engine: swarm\n",
        text.replace(
            "previews:\n",
            &format!(
                "previews:\n  proxy:\n    caddy: http://127.0.0.1:{}\n    url: \"http://{{branch}}.swarm-previews.test\"\n    wake: \"{wake}\"\n",
                caddy.admin
            ),
        )
    ));
    let (out, r) = build(&p, "feature/on-swarm");
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let database = r["preview"]["database"].as_str().unwrap().to_string();
    let host = "feature-on-swarm.swarm-previews.test";
    assert_eq!(caddy.page(host), (200, "<html>login</html>".into()));
    let routes = caddy.config("apps/http/servers/srv0/routes");
    let node = common::swarm::node_address();
    assert!(
        routes.contains(&format!("\"{node}:")),
        "routed to the node its task runs on: {routes}"
    );
    let service = common::swarm::services_labelled(&format!("odoo-ci.preview={database}"));
    assert_eq!(service.len(), 1, "its server is one Swarm service");
    assert_eq!(running_tasks(&service[0]), 1);

    assert_eq!(
        odoo_ci(&p, &["previews", "stop", "feature/on-swarm"]).code,
        0
    );
    assert_eq!(branches(&p, Some(false)), vec!["feature/on-swarm"]);
    assert_eq!(
        common::swarm::service(&service[0], "{{.Spec.Mode.Replicated.Replicas}}").as_deref(),
        Some("0"),
        "stopped is scaled to zero"
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while running_tasks(&service[0]) != 0 {
        assert!(std::time::Instant::now() < until, "its task never stopped");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(exists_database(&database), "its database is kept");

    let mut waker = Waker::start(&p);
    assert_eq!(caddy.page(host).0, 503, "the waker answers while it starts");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while caddy.page(host).0 != 200 {
        assert!(std::time::Instant::now() < until, "it never served again");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert_eq!(branches(&p, Some(true)), vec!["feature/on-swarm"]);
    assert!(waker.stop());

    let out = odoo_ci(&p, &["previews", "drop", "feature/on-swarm"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        common::swarm::services_labelled(&format!("odoo-ci.preview={database}")).is_empty(),
        "the service went with it"
    );
    let volumes = common::volumes_labelled(&format!("odoo-ci.preview={database}"));
    assert!(volumes.is_empty(), "its data volume too: {volumes:?}");
    assert!(!exists_database(&database));
}

fn exists_database(database: &str) -> bool {
    common::psql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{database}'"
    )) == "1"
}

#[test]
fn staging_on_a_swarm_with_a_registry_runs_the_commit_s_image_pushed_there() {
    common::swarm::manager();
    let registry = common::registry::Registry::start();
    let p = on_the_swarm(&format!(
        "swarm:\n  registry: {}/odoo-ci-test\n",
        registry.address
    ));
    let prod = production(&p);
    let branch = "staging-pushed";
    let (out, r) = stage(&p, &prod, branch, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert!(
        out.stderr.contains("▸ build:"),
        "the code travels in an image, not a release volume: {}",
        out.stderr
    );
    let name = r["container"].as_str().unwrap();
    let image = common::swarm::service(name, "{{.Spec.TaskTemplate.ContainerSpec.Image}}").unwrap();
    let prefix = format!("{}/odoo-ci-test/", registry.address);
    assert!(image.starts_with(&prefix), "{image}");
    let repository = image
        .strip_prefix(&format!("{}/", registry.address))
        .unwrap()
        .split([':', '@'])
        .next()
        .unwrap()
        .to_string();
    let catalog = registry.get("/v2/_catalog").unwrap();
    assert!(catalog.contains(&repository), "{repository} in {catalog}");
    assert_eq!(http_status(r["url"].as_str().unwrap()), "200");
    drop_branch(&p, &prod, branch);
    assert_eq!(common::swarm::service(name, "{{.ID}}"), None);
}

#[test]
fn an_updated_staging_copy_on_a_swarm_is_served_again_by_its_service() {
    common::swarm::manager();
    let p = project("update", &[]);
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&format!("{text}engine: swarm\n"));
    let prod = production(&p);
    let branch = "staging-upd-swarm";
    let (out, first) = stage(&p, &prod, branch, &[]);
    assert_eq!(out.code, 0, "{}\n{first:#}", out.stderr);
    let db = first["database"].as_str().unwrap().to_string();
    p.addon("stg_a", "17.0.1.1.0", &["mail"]);
    let (out, second) = stage(&p, &prod, branch, &[]);
    assert_eq!(out.code, 0, "{}\n{second:#}", out.stderr);
    assert_eq!(second["database"], db.as_str(), "the copy is kept");
    assert_eq!(second["changes"]["update"][0]["addon"], "stg_a");
    let name = second["container"].as_str().unwrap();
    assert_eq!(
        common::swarm::service(name, "{{index .Spec.Labels \"odoo-ci.database\"}}").as_deref(),
        Some(db.as_str())
    );
    assert_eq!(
        common::psql_on(
            &db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'stg_a'"
        ),
        "17.0.1.1.0"
    );
    assert_eq!(http_status(second["url"].as_str().unwrap()), "200");
    drop_branch(&p, &prod, branch);
    assert_eq!(common::swarm::service(name, "{{.ID}}"), None);
}

/// A Swarm task's container can go away on its own between the moment odoo-ci lists a
/// preview's containers and the moment it removes them (`previews drop` after the service
/// went): gone is removed, not an error.
#[test]
fn a_container_that_goes_away_while_odoo_ci_removes_it_is_not_an_error() {
    let label = common::unique("gone");
    let started = std::process::Command::new("docker")
        .args(["run", "-d", "--label"])
        .arg(format!("odoo-ci.test-gone={label}"))
        .args(["--entrypoint", "sleep", &common::image(), "60"])
        .output()
        .unwrap();
    assert!(started.status.success(), "{started:?}");
    let id = String::from_utf8_lossy(&started.stdout).trim().to_string();
    let docker = odoo_ci::executor::docker::Engine::from_env()
        .connect()
        .unwrap();
    let removed = odoo_ci::executor::docker::remove_labelled_where(
        &docker,
        &[("odoo-ci.test-gone", &label)],
        |_| {
            // Swarm removes it first (with the image's two anonymous volumes).
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", "-v", &id])
                .output();
            true
        },
    );
    assert!(removed.is_ok(), "{removed:?}");
    assert!(common::containers_labelled(&format!("odoo-ci.test-gone={label}"), true).is_empty());
}
