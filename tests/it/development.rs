//! The development stage end to end: real PostgreSQL, real Docker, the fake Odoo
//! (tests/fake-odoo). `./scripts/test` sets these up and exports ODOO_CI_TEST_PG and
//! ODOO_CI_TEST_IMAGE; without them these tests fail and say so.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    bin, files_under, image, pg_url, psql, psql_on, repo_root, run_in, unique, Output, Project,
};
use serde_json::Value;

const PASSING: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestOk(TransactionCase):\n    def test_demo_data(self):\n        self.env.cr.execute(\"SELECT demo FROM ir_module_module WHERE name = 'base'\")\n        self.assertTrue(self.env.cr.fetchone()[0], 'demo data is on')\n\n    def test_math(self):\n        self.assertEqual(2 * 3, 6)\n";
const FAILING: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestBad(TransactionCase):\n    def test_qty(self):\n        self.assertEqual(2 * 3, 7, 'doubling 3 should not give 7')\n";
const WARNING: &str = "import logging\n\nfrom odoo.tests.common import TransactionCase\n\n\nclass TestWarn(TransactionCase):\n    def test_warns(self):\n        logging.getLogger(__name__).warning('this field is deprecated')\n";
const SLOW: &str = "import time\n\nfrom odoo.tests.common import TransactionCase\n\n\nclass TestSlow(TransactionCase):\n    def test_slow(self):\n        time.sleep(60)\n";

/// A project with `addons` (name, depends, test source); `extra` config appended.
fn project(addons: &[(&str, &[&str], &str)], extra: &str) -> Project {
    let p = Project::new();
    let command = repo_root().join("tests/fake-odoo/bin/odoo");
    p.config(&format!(
        "project: odoo-ci-tests/development\nodoo:\n  series: \"17.0\"\n  image: {}\n  command: {}\naddons_paths: [addons]\nbranches:\n  - match: \"*\"\n    stage: development\npostgres:\n  url: ${{ODOO_CI_TEST_PG}}\n{extra}",
        image(),
        command.display()
    ));
    for (name, depends, test) in addons {
        p.addon(name, "17.0.1.0.0", depends)
            .write(&format!("addons/{name}/__init__.py"), "")
            .write(
                &format!("addons/{name}/tests/__init__.py"),
                &format!("from . import test_{name}\n"),
            )
            .write(&format!("addons/{name}/tests/test_{name}.py"), test);
    }
    p
}

/// Runs `odoo-ci test` with its own cache dir and a label for its containers.
fn run_test(p: &Project, label: &str, args: &[&str]) -> (Output, Value) {
    run_test_into(p, label, "out", args)
}

/// [`run_test`] with its results in `output`.
fn run_test_into(p: &Project, label: &str, output: &str, args: &[&str]) -> (Output, Value) {
    run_test_with(p, (label, output), args, &[])
}

/// [`run_test_into`] with the variables `env` set too (a CI's, say).
fn run_test_with(
    p: &Project,
    (label, output): (&str, &str),
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, Value) {
    let cache = p.path().join(".cache");
    let mut all = vec!["test", "--output", output];
    if !args.contains(&"--branch") {
        all.extend_from_slice(&["--branch", "feature/x"]);
    }
    all.extend_from_slice(args);
    let pg = pg_url();
    let mut vars = vec![
        ("ODOO_CI_TEST_PG", pg.as_str()),
        ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
        ("ODOO_CI_TEST_LABEL", label),
    ];
    vars.extend_from_slice(env);
    let out = run_in(p.path(), &all, &vars);
    let text = std::fs::read_to_string(p.path().join(output).join("odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}\n{}", out.stdout, out.stderr));
    let result: Value = serde_json::from_str(&text).unwrap();
    common::assert_ran_as_planned(&out.stderr, &result);
    (out, result)
}

fn assert_no_leftovers(result: &Value, label: &str) {
    if let Some(db) = result["database"].as_str() {
        assert_eq!(
            psql(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{db}'"
            )),
            "0",
            "test database {db} left behind"
        );
    }
    let containers = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=odoo-ci.test={label}"),
        ])
        .output()
        .expect("docker ps");
    assert!(
        containers.stdout.is_empty(),
        "containers left behind: {}",
        String::from_utf8_lossy(&containers.stdout)
    );
}

#[test]
fn green_build_in_docker() {
    let p = project(
        &[("dev_ok", &["mail"], PASSING)],
        "development:\n  preinstall: [mail]\n",
    );
    let (out, r) = run_test(&p, "green", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert_eq!(r["log"]["tests"]["total"], 2);
    assert_eq!(
        r["log"]["tests"]["passed"], 2,
        "demo data must be on: {}",
        out.stderr
    );
    assert!(p.path().join("out/junit.xml").exists() && p.path().join("out/install.log").exists());
    assert!(std::fs::read_to_string(p.path().join("out/summary.md"))
        .unwrap()
        .contains("green"));
    assert_no_leftovers(&r, "green");
}

#[test]
fn a_debug_log_never_shows_the_database_password() {
    let p = project(&[("dev_dbg", &[], PASSING)], "");
    let (out, r) = run_test(&p, "debuglog", &["-vv"]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    let url = pg_url();
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(auth, _)| auth.split_once(':'))
        .map(|(_, pw)| pw)
        .expect("the test server's URL has a password");
    // The test password is a common word (image and project names hold it): look for it
    // in the forms a secret leaks in — an environment entry, a URL, a quoted value.
    let text = format!("{}{}", out.stdout, out.stderr);
    let leaks = [
        format!("PGPASSWORD={password}"),
        format!(":{password}@"),
        format!("\"{password}\""),
    ];
    let leaked: Vec<&str> = text
        .lines()
        .filter(|l| leaks.iter().any(|leak| l.contains(leak.as_str())))
        .take(3)
        .collect();
    assert!(
        leaked.is_empty(),
        "the password shows in the -vv log:\n{}",
        leaked.join("\n")
    );
    assert!(out.stderr.contains("DEBUG"), "-vv logs at debug level");
    assert_no_leftovers(&r, "debuglog");
}

#[test]
fn one_project_s_template_pruning_leaves_other_projects_templates() {
    // Pruning once dropped every `odoo_ci_tpl_*` beyond `keep_templates`, other projects'
    // included (terminating their sessions).
    let a = project(
        &[("tpl_a", &[], PASSING)],
        "development:\n  keep_templates: 1\n",
    );
    let b = project(
        &[("tpl_b", &[], PASSING)],
        "development:\n  keep_templates: 1\n  preinstall: [mail]\n",
    );
    for (p, name) in [(&a, "odoo-ci-tests/prune-a"), (&b, "odoo-ci-tests/prune-b")] {
        let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
        p.config(&text.replace(
            "project: odoo-ci-tests/development",
            &format!("project: {name}"),
        ));
    }
    let (out, ra) = run_test(&a, "prune_a", &[]);
    assert_eq!(ra["colour"], "green", "{}", out.stderr);
    let (out, rb) = run_test(&b, "prune_b", &[]);
    assert_eq!(rb["colour"], "green", "{}", out.stderr);
    let a_template = ra["template"]["name"].as_str().unwrap();
    let b_template = rb["template"]["name"].as_str().unwrap();
    assert_ne!(a_template, b_template, "templates are per project");
    let exists = |t: &str| {
        psql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{t}'"
        )) == "1"
    };
    assert!(exists(a_template), "B's pruning dropped A's template");
    assert!(exists(b_template));
    for t in [a_template, b_template] {
        psql(&format!("DROP DATABASE IF EXISTS \"{t}\""));
    }
    assert_no_leftovers(&ra, "prune_a");
    assert_no_leftovers(&rb, "prune_b");
}

#[test]
fn a_template_in_use_by_another_run_is_never_pruned() {
    // Two runs of one project with different templates (two branches, other
    // requirements) at once: the second one's pruning (keep_templates: 1) once dropped the
    // template the first was about to copy its test database from. A run holds the
    // project's template-use lock (shared) from the template to its test database; here
    // the test holds it, as such a run would.
    let p = project(
        &[("tpl_use", &[], PASSING)],
        "development:\n  keep_templates: 1\n",
    );
    let name = format!("odoo-ci-tests/{}", unique("tpl-use"));
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    let config = text.replace(
        "project: odoo-ci-tests/development",
        &format!("project: {name}"),
    );
    p.config(&config);
    let (out, first) = run_test(&p, "tpl_use", &["--executor", "local"]);
    assert_eq!(first["colour"], "green", "{}", out.stderr);
    let first_template = first["template"]["name"].as_str().unwrap().to_string();
    let exists = |t: &str| {
        psql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{t}'"
        )) == "1"
    };

    let key = odoo_ci::stages::development::template_use_lock(&odoo_ci::names::scope(&name));
    let mut other_run = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
    other_run
        .execute("SELECT pg_advisory_lock_shared($1)", &[&key])
        .unwrap();
    p.config(&format!("{config}  preinstall: [mail]\n"));
    let (out, second) = run_test(&p, "tpl_use", &["--executor", "local"]);
    assert_eq!(second["colour"], "green", "{}", out.stderr);
    let second_template = second["template"]["name"].as_str().unwrap().to_string();
    assert_ne!(first_template, second_template);
    assert!(
        exists(&first_template),
        "pruned while another run used it:\n{}",
        out.stderr
    );

    drop(other_run);
    let (out, third) = run_test(&p, "tpl_use", &["--executor", "local"]);
    assert_eq!(third["colour"], "green", "{}", out.stderr);
    assert!(!exists(&first_template), "unused again, it is pruned");
    psql(&format!("DROP DATABASE IF EXISTS \"{second_template}\""));
    assert_no_leftovers(&third, "tpl_use");
}

#[test]
fn a_rebuild_waits_until_no_run_uses_the_template() {
    // `--no-cache` (like a template whose filestore this runner lacks) drops the template
    // and builds it again. A run between finding the template and copying it holds the
    // project's template-use lock, shared; here the test holds it as such a run would. The
    // rebuild once dropped the template under that run; now it waits for it.
    let p = project(&[("tpl_wait", &[], PASSING)], "");
    let name = format!("odoo-ci-tests/{}", unique("tpl-wait"));
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "project: odoo-ci-tests/development",
        &format!("project: {name}"),
    ));
    let (out, first) = run_test(&p, "tpl_wait", &["--executor", "local"]);
    assert_eq!(first["colour"], "green", "{}", out.stderr);
    let template = first["template"]["name"].as_str().unwrap().to_string();
    let oid = || {
        psql(&format!(
            "SELECT oid FROM pg_database WHERE datname = '{template}'"
        ))
    };
    let built = oid();

    let key = odoo_ci::stages::development::template_use_lock(&odoo_ci::names::scope(&name));
    // pg_locks shows a bigint advisory key as its high and low 32 bits.
    let (high, low) = ((key >> 32) as u32, key as u32);
    let mut user = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
    user.execute("SELECT pg_advisory_lock_shared($1)", &[&key])
        .unwrap();
    std::thread::scope(|s| {
        let rebuild = s.spawn(|| run_test(&p, "tpl_wait", &["--executor", "local", "--no-cache"]));
        let waited = loop {
            let waiting = psql(&format!(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = {high} AND objid = {low}"
            )) != "0";
            if waiting || rebuild.is_finished() {
                break waiting;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let during = oid();
        drop(user);
        let (out, second) = rebuild.join().unwrap();
        assert!(
            waited,
            "the rebuild did not wait for the run using the template:\n{}",
            out.stderr
        );
        assert_eq!(during, built, "dropped while a run used it");
        assert_eq!(second["colour"], "green", "{}", out.stderr);
        assert_eq!(second["template"]["hit"], false);
        assert_ne!(oid(), built, "built again");
        assert_no_leftovers(&second, "tpl_wait");
    });
    psql(&format!("DROP DATABASE IF EXISTS \"{template}\""));
}

/// The anonymous volumes (a 64-hex name, as an image's `VOLUME` makes them) no container
/// uses. Named ones are left out: a release volume of a test running meanwhile is unused
/// between its making and its container, and is kept on purpose afterwards.
fn dangling_volumes() -> std::collections::BTreeSet<String> {
    let out = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", "dangling=true"])
        .output()
        .expect("docker volume ls");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|name| name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .collect()
}

#[test]
fn containers_are_removed_with_their_anonymous_volumes() {
    // The official image declares VOLUME /var/lib/odoo /mnt/extra-addons (so does the
    // fake): a container removed without its volumes leaves two behind, on every run.
    let before = dangling_volumes();
    let p = project(&[("dev_vol", &[], PASSING)], "");
    let (out, r) = run_test(&p, "volumes", &[]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert_no_leftovers(&r, "volumes");
    let left: Vec<String> = dangling_volumes().difference(&before).cloned().collect();
    for v in &left {
        let _ = Command::new("docker").args(["volume", "rm", v]).output();
    }
    assert!(left.is_empty(), "volumes left behind: {left:?}");
}

#[test]
fn a_missing_data_file_is_red_as_odoo_makes_it() {
    // Odoo opens each `data` file with file_open(): a missing one stops the registry.
    let p = project(&[("dev_data", &[], PASSING)], "");
    p.write(
        "addons/dev_data/__manifest__.py",
        "{'name': 'dev_data', 'version': '17.0.1.0.0', 'depends': [], 'data': ['security/ir.model.access.csv']}\n",
    );
    let (out, r) = run_test(&p, "datafile", &[]);
    assert_eq!(r["colour"], "red", "{}", out.stderr);
    assert!(
        r.to_string()
            .contains("File not found: dev_data/security/ir.model.access.csv"),
        "{r:#}"
    );
    assert_no_leftovers(&r, "datafile");
}

#[test]
fn the_bundled_example_installs_as_odoo_would_install_it() {
    let db = common::unique("example");
    let data = tempfile::tempdir().unwrap();
    common::fake_odoo_install(
        &repo_root().join("examples/basic/addons"),
        &db,
        "acc_base",
        data.path(),
    );
    psql(&format!("DROP DATABASE IF EXISTS \"{db}\""));
}

/// The 18.0 image's entrypoint writes the connection from `DB_HOST`… (default `db`) into
/// `$ODOO_RC` and waits for it; 16.0/17.0's appends `--db_host db …` after our flags (the
/// default fake image). odoo-ci runs Odoo itself, so both are green with no `env:`.
#[test]
fn both_official_entrypoint_generations_run_green_without_env_workarounds() {
    let p = project(&[("dev_ok", &["base"], PASSING)], "");
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    let config_rc = std::env::var("ODOO_CI_TEST_IMAGE_CONFIG_RC")
        .expect("ODOO_CI_TEST_IMAGE_CONFIG_RC is not set: run the tests with ./scripts/test");
    p.config(&config.replace(&image(), &config_rc));
    let (out, r) = run_test(&p, "config-rc", &[]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
}

/// The official images' Python is externally managed (PEP 668): a plain `pip install` of
/// the repo's requirements.txt failed the build. And a build step's colours reached the
/// log as escape codes.
#[test]
fn requirements_install_on_an_externally_managed_python_and_build_colours_are_stripped() {
    let p = project(&[("dev_ok", &["base"], PASSING)], "");
    // A comment unique to this run: a layer cached by an earlier run prints no install.
    let fresh = unique("layer");
    p.write(
        "requirements.txt",
        &format!("# {fresh}\nnum2words==0.5.13\n"),
    );
    let (out, r) = run_test(&p, "pep668", &[]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Successfully installed num2words==0.5.13"),
        "{}",
        out.stderr
    );

    p.remove("requirements.txt");
    p.write(
        "Dockerfile",
        &format!(
            "FROM {}\nRUN printf '\\033[1;31mcoloured build line {fresh}\\033[0m\\n'\nCOPY . /mnt/odoo-ci/project\n",
            image()
        ),
    );
    let (out, r) = run_test(&p, "ansi", &[]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert!(out.stderr.contains("coloured build line"), "{}", out.stderr);
    assert!(
        !out.stderr.contains('\u{1b}'),
        "escape codes in the log: {:?}",
        out.stderr
    );
}

#[test]
fn odoo_writes_the_data_dir_as_the_folder_s_owner() {
    use std::os::unix::fs::MetadataExt;
    // An image whose user is not the runner (the official one runs as uid 101) could
    // neither write a runner's folder nor leave files the runner can remove: odoo-ci runs
    // Odoo as the data dir's owner. As root, give the folder to someone else to see it.
    let p = project(&[("dev_own", &["base"], PASSING)], "");
    let data = p.path().join(".cache/data");
    std::fs::create_dir_all(&data).unwrap();
    let me = std::fs::metadata(&data).unwrap().uid();
    let owner = if me == 0 {
        let status = Command::new("chown")
            .args(["4242:4242", data.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        4242
    } else {
        me
    };
    let (out, r) = run_test(&p, "owner", &["--keep"]);
    // --keep left the database for the files to be looked at: drop it before asserting.
    let db = r["database"]
        .as_str()
        .unwrap_or_else(|| panic!("no database: {r:#}\n{}", out.stderr))
        .to_string();
    psql(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"));
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    let store = data.join("filestore").join(&db);
    let files = files_under(&store);
    assert!(!files.is_empty(), "the install wrote attachments");
    for name in files.keys() {
        let uid = std::fs::metadata(store.join(name)).unwrap().uid();
        assert_eq!(uid, owner, "{name} belongs to the data dir's owner");
    }
}

#[test]
fn red_build_points_at_the_failing_line() {
    let p = project(
        &[
            ("dev_ok", &["base"], PASSING),
            ("dev_bad", &["dev_ok"], FAILING),
        ],
        "",
    );
    let (out, r) = run_test(&p, "red", &[]);
    assert_eq!(out.code, 1);
    assert_eq!(r["colour"], "red");
    let f = &r["log"]["failures"][0];
    assert_eq!(
        (f["module"].as_str(), f["test"].as_str()),
        (Some("dev_bad"), Some("TestBad.test_qty"))
    );
    assert_eq!(
        (f["file"].as_str(), f["line"].as_u64()),
        (Some("addons/dev_bad/tests/test_dev_bad.py"), Some(6))
    );
    assert_eq!(
        out.stderr
            .matches("✗ addons/dev_bad/tests/test_dev_bad.py:6")
            .count(),
        1,
        "failures show as they happen, once: {}",
        out.stderr
    );
    assert_no_leftovers(&r, "red");
}

/// The project in `p` and its development plan for `branch` with the local executor, as
/// `odoo-ci test --executor local` makes them: for a stage run in this process.
fn local_plan(p: &Project, branch: &str) -> (odoo_ci::project::Project, odoo_ci::plan::Plan) {
    use odoo_ci::plan::{Choices, DatabaseFacts, ExecutorKind};
    let overrides = odoo_ci::context::Overrides {
        branch: Some(branch.into()),
        ..Default::default()
    };
    let project = odoo_ci::project::load(&p.path().join(".odoo-ci.yml"), &overrides).unwrap();
    let choices = Choices {
        executor: ExecutorKind::Local,
        ..Choices::default()
    };
    let facts = project.facts_with(choices, DatabaseFacts::NotRead);
    let plan =
        odoo_ci::plan::make_plan_as(&facts, Some(odoo_ci::config::Stage::Development)).unwrap();
    (project, plan)
}

/// A stage run's options in `p`: results in `out/`, its own cache folder, the server and
/// Odoo's environment resolved as `odoo-ci test` resolves them.
fn local_options(
    p: &Project,
    loaded: &odoo_ci::project::Project,
) -> odoo_ci::stages::development::DevOptions {
    use odoo_ci::config::Stage;
    odoo_ci::stages::development::DevOptions {
        server: Some(odoo_ci::targets::pg_server(&loaded.config).unwrap()),
        odoo: odoo_ci::targets::odoo_env::OdooEnv::resolve(&loaded.config, Stage::Development)
            .unwrap(),
        output: p.path().join("out"),
        no_cache: false,
        keep: false,
        cache_dir: p.path().join(".cache"),
        template_cache: None,
        managed: None,
    }
}

/// What `odoo-ci plan` shows is what runs: a stage takes each step's parameters from its
/// plan, never again from the configuration. Here the plan's test tags are changed after
/// planning (the configuration would test both addons, and one fails); the stage runs the
/// plan's.
#[test]
fn a_stage_runs_its_plan_s_parameters_not_the_configuration_s() {
    use odoo_ci::plan::Step;
    let p = project(
        &[("planned_a", &[], PASSING), ("planned_b", &[], FAILING)],
        "development:\n  keep_templates: 5\n",
    );
    p.git_init();
    p.commit("two addons, one failing test");
    let (project, mut plan) = local_plan(&p, "feature/x");
    for step in &mut plan.steps {
        if let Step::InstallAndTest(s) = step {
            s.command = s.command.clone().test_tags("/planned_a");
        }
    }
    let opts = local_options(&p, &project);
    let mut quiet = odoo_ci::result::Reporters(Vec::new());
    let result = odoo_ci::stages::development::run(&project, &plan, &opts, &mut quiet);
    let log = std::fs::read_to_string(p.path().join("out/install.log")).unwrap();
    assert_eq!(
        result.colour,
        odoo_ci::odoo::Colour::Green,
        "only planned_a's tests ran, as the plan says: {:?}\n{log}",
        result.reasons
    );
    let odoo_ci::result::Detail::Development(detail) = &result.detail else {
        panic!("{:?}", result.detail)
    };
    assert_eq!(detail.log.as_ref().unwrap().tests.total, 2, "{log}");
}

/// A stage that runs a step its plan does not have next is odoo-ci's bug, not a red build:
/// the result says so, and the command exits 70 (sysexits' `EX_SOFTWARE`), so a CI tells
/// it from a failing test.
#[test]
fn a_stage_off_its_plan_is_odoo_ci_s_bug_and_exits_70() {
    use odoo_ci::plan::Step;
    let p = project(&[("planned_a", &[], PASSING)], "");
    p.git_init();
    p.commit("one addon");
    let (project, mut plan) = local_plan(&p, "feature/x");
    plan.steps.retain(|s| !matches!(s, Step::Template(_)));
    let opts = local_options(&p, &project);
    let result = odoo_ci::stages::development::run(
        &project,
        &plan,
        &opts,
        &mut odoo_ci::result::Reporters(Vec::new()),
    );
    assert!(result.odoo_ci_bug, "{:?}", result.reasons);
    assert_eq!(result.colour, odoo_ci::odoo::Colour::Red);
    assert!(
        result.reasons[0].contains("odoo-ci bug"),
        "{:?}",
        result.reasons
    );
    let code = odoo_ci::commands::conclude(
        odoo_ci::result::Reporters(Vec::new()),
        &result,
        odoo_ci::context::Provider::Local,
        false,
    );
    assert_eq!(code, 70);
}

/// A buffer a reporter writes into, read afterwards.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What changes from run to run, out of what a golden file holds: times, generated names.
fn stable(text: &str) -> String {
    let rules = [
        (r"\(\d+ ms\)", "(N ms)"),
        (r"after \d+ ms", "after N ms"),
        (r"odoo_ci_(tpl|test)_[0-9a-f]+", "odoo_ci_${1}_*"),
        // Python's own frames differ by version (line numbers, `^^^` markers).
        (
            r#"(?m)(?:^  File (?:"|&quot;)/usr/lib/python3[^\n]*\n(?:    [^\n]*\n)*)+"#,
            "  (Python's own frames)\n",
        ),
        (r#"time="[0-9.]+""#, r#"time="N""#),
        (r#"timestamp="[^"]+""#, r#"timestamp="T""#),
        (r"\| \d+ \|", "| N |"),
        (r"in [0-9.]+s\b", "in Ns"),
    ];
    common::replace_all(text, &rules)
}

/// Everything a user reads of a development run — the terminal's text from the plan's first
/// step to the verdict, `summary.md` and `junit.xml` — under golden files (times and
/// generated names redacted): a change to any of them shows in review.
#[test]
fn what_a_red_development_run_shows_is_under_golden_files() {
    let p = project(
        &[
            ("golden_ok", &[], PASSING),
            ("golden_bad", &["golden_ok"], FAILING),
        ],
        "",
    );
    p.git_init();
    p.commit("a passing and a failing addon");
    let (project, plan) = local_plan(&p, "feature/golden");
    let output = p.path().join("out");
    let opts = local_options(&p, &project);
    let terminal = Captured::default();
    let mut reporters = odoo_ci::result::Reporters(vec![
        Box::new(odoo_ci::report::terminal::Terminal::writing_to(
            &output,
            Box::new(terminal.clone()),
            odoo_ci::style::Style::plain(),
        )),
        Box::new(odoo_ci::report::files::Files::new(&output)),
    ]);
    let result = odoo_ci::stages::development::run(&project, &plan, &opts, &mut reporters);
    odoo_ci::result::Reporter::finished(&mut reporters, &result);
    assert_eq!(result.colour, odoo_ci::odoo::Colour::Red);
    let text = String::from_utf8(terminal.0.lock().unwrap().clone()).unwrap();
    let root = Some(p.path());
    common::assert_snapshot("stage_run/development_red_terminal", &stable(&text), root);
    for file in ["summary.md", "junit.xml"] {
        let written = std::fs::read_to_string(output.join(file)).unwrap();
        let name = format!("stage_run/development_red_{}", file.replace('.', "_"));
        common::assert_snapshot(&name, &stable(&written), root);
    }
}

#[test]
fn yellow_build_with_the_local_executor() {
    let p = project(&[("dev_warn", &["base"], WARNING)], "");
    let (out, r) = run_test(&p, "yellow", &["--executor", "local"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(r["colour"], "yellow", "{}", out.stderr);
    assert_eq!(
        r["log"]["warnings"]["groups"][0]["message"],
        "this field is deprecated"
    );
    let (out, _) = run_test(&p, "yellow", &["--executor", "local", "--fail-on-warning"]);
    assert_eq!(out.code, 1);
    let ignored = project(
        &[("dev_warn", &["base"], WARNING)],
        "development:\n  ignore_warnings: [deprecated]\n",
    );
    assert_eq!(
        run_test(&ignored, "yellow", &["--executor", "local"]).1["colour"],
        "green"
    );
}

/// On an Odoo source checkout every core module but `base` lives in the tree's `addons/`:
/// odoo-ci's `--addons-path` once replaced the command's own ("No module named
/// odoo.addons.web"), and `odoo.command` was split on spaces, quotes or not.
#[test]
fn the_local_executor_keeps_a_source_checkout_s_own_addons() {
    let tree = tempfile::tempdir().unwrap();
    let link = tree.path().join("fake odoo");
    std::os::unix::fs::symlink(repo_root().join("tests/fake-odoo/source-tree"), &link).unwrap();
    let bin = link.join("odoo-bin").display().to_string();
    let addons = link.join("addons").display().to_string();
    for command in [
        // Odoo's default addons path: the tree's own folder, which odoo-ci adds.
        format!("\"{bin}\""),
        // Given in the command: merged with the repository's.
        format!("'{bin}' --addons-path \"{addons}\""),
    ] {
        let p = project(&[("dev_src", &["mail"], PASSING)], "");
        let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
        let line = config
            .lines()
            .find(|l| l.trim_start().starts_with("command:"))
            .unwrap();
        p.config(&config.replace(line, &format!("  command: {}", yaml_quoted(&command))));
        let (out, r) = run_test(&p, "source-tree", &["--executor", "local"]);
        assert_eq!(r["colour"], "green", "{command}: {}", out.stderr);
        assert_eq!(r["log"]["tests"]["passed"], 2, "{}", out.stderr);
    }
}

fn yaml_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A named commit is built and tested as that commit has it. The image once came from the
/// working tree (untracked files included) while its labels named the commit.
#[test]
fn a_named_commit_is_built_from_that_commit_not_the_working_tree() {
    let p = project(
        &[("dev_ok", &["base"], PASSING)],
        "development:\n  build: always\n",
    );
    p.git_init();
    let good = p.commit("passing tests");
    p.write("addons/dev_ok/tests/test_dev_ok.py", FAILING);
    p.commit("a failing test");
    p.write("untracked.txt", "never committed\n");
    let (out, r) = run_test(&p, "named", &["--ref", &good]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert_eq!(r["commit"], good.as_str());
    assert_eq!(step_names(&r)[0], "build");
    let image = format!("odoo-ci/development:{}", &good[..12]);
    let inside = |path: &str| {
        Command::new("docker")
            .args(["run", "--rm", "--entrypoint", "cat", &image])
            .arg(format!("/mnt/odoo-ci/project/{path}"))
            .output()
            .unwrap()
    };
    assert!(
        !inside("untracked.txt").status.success(),
        "the working tree's file is in {image}"
    );
    assert_eq!(
        String::from_utf8_lossy(&inside("addons/dev_ok/tests/test_dev_ok.py").stdout),
        PASSING
    );
}

fn step_names(r: &Value) -> Vec<String> {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn step_output(r: &Value, name: &str) -> String {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["output"].as_str())
        .unwrap_or_else(|| panic!("no step {name}: {r:#}"))
        .to_string()
}

/// The ids of the images labelled `label` (`key=value`).
fn images_labelled(label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["images", "-q", "--filter", &format!("label={label}")])
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// With no Dockerfile and no requirements.txt there is nothing to build: development runs
/// the base image with the project mounted read-only, and builds no image. The named
/// commit's files are the ones mounted, not the working tree's. With a requirements.txt
/// it builds.
#[test]
fn with_nothing_to_build_development_mounts_the_project_instead_of_building() {
    let p = project(&[("dev_mount", &["base"], PASSING)], "");
    p.git_init();
    let good = p.commit("passing tests");
    p.write("addons/dev_mount/tests/test_dev_mount.py", FAILING);
    p.commit("a failing test");
    let (out, r) = run_test(&p, "mount", &["--ref", &good]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert_eq!(step_names(&r)[0], "mount", "{r:#}");
    assert!(step_output(&r, "mount").contains("read-only"), "{r:#}");
    let image = format!("odoo-ci/development:{}", &good[..12]);
    assert!(!image_exists(&image), "{image} was built");
    // The working tree as it is (the failing test): mounted too, and red.
    let (_, r) = run_test(&p, "mount", &[]);
    assert_eq!(r["colour"], "red");
    assert_no_leftovers(&r, "mount");
    // Something to build: a requirements.txt.
    p.write("requirements.txt", "# nothing yet\n");
    p.write("addons/dev_mount/tests/test_dev_mount.py", PASSING);
    let (out, r) = run_test(&p, "mount", &[]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert_eq!(step_names(&r)[0], "build", "{r:#}");
}

/// One commit's files make one image: a second branch (or stage) with the same files finds
/// it by its content and names it for itself, with no build.
#[test]
fn the_same_files_are_built_once_whatever_the_branch() {
    let p = project(
        &[("dev_once", &["base"], PASSING)],
        "development:\n  build: always\n",
    );
    // Files of this run alone: an image an earlier run left must not answer for them.
    p.write("addons/dev_once/run.txt", &unique("once"));
    p.git_init();
    p.commit("one commit");
    // The same output folder: another one would be a file of the second build's context.
    // The template cache folder (given as a flag, inside the project) is filled by the
    // first run: it is no file of the image either.
    let cache = ["--template-cache", "tpl-cache"];
    let (out, first) = run_test_into(
        &p,
        "once",
        "out",
        &[&["--branch", "feature/a"][..], &cache].concat(),
    );
    assert!(
        p.path()
            .join("tpl-cache")
            .read_dir()
            .unwrap()
            .next()
            .is_some(),
        "the first run saved its template"
    );
    assert_eq!(first["colour"], "green", "{}", out.stderr);
    assert!(
        step_output(&first, "build").contains("(built)"),
        "{first:#}"
    );
    let (out, second) = run_test_into(
        &p,
        "once",
        "out",
        &[&["--branch", "feature/b"][..], &cache].concat(),
    );
    assert_eq!(second["colour"], "green", "{}", out.stderr);
    assert!(
        step_output(&second, "build").contains("reused"),
        "{second:#}\n{}",
        out.stderr
    );
    let image = format!(
        "odoo-ci/development:{}",
        &first["commit"].as_str().unwrap()[..12]
    );
    let labels = Command::new("docker")
        .args(["image", "inspect", "-f", "{{json .Config.Labels}}", &image])
        .output()
        .unwrap();
    let labels: Value = serde_json::from_slice(&labels.stdout).unwrap();
    // The classic builder commits a layer per LABEL step (seconds each on a slow storage
    // driver): odoo-ci's labels are one step, however many there are.
    let history = Command::new("docker")
        .args([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            &image,
        ])
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&history.stdout);
    let label_steps = history
        .lines()
        .filter(|l| l.contains("LABEL") && l.contains("odoo-ci."))
        .count();
    assert_eq!(label_steps, 1, "{history}");
    assert!(labels.get("odoo-ci.branch").is_none(), "{labels}");
    assert!(labels.get("odoo-ci.stage").is_none(), "{labels}");
    let content = labels["odoo-ci.content"].as_str().unwrap().to_string();
    assert_eq!(
        images_labelled(&format!("odoo-ci.content={content}")).len(),
        1,
        "one image for one commit's files"
    );
}

#[test]
fn a_data_file_error_is_red_with_its_location() {
    let p = project(&[("dev_data", &["base"], PASSING)], "");
    p.write(
        "addons/dev_data/__manifest__.py",
        "{'name': 'd', 'version': '17.0.1.0.0', 'depends': ['base'], 'data': ['data/records.xml']}",
    )
    .write("addons/dev_data/data/records.xml", "<odoo>\n  <record id=\"x\" model=\"res.partner\">\n    <field name=\"name\">X</fiel>\n  </record>\n</odoo>\n");
    let (out, r) = run_test(&p, "data", &["--executor", "local"]);
    assert_eq!(out.code, 1);
    assert_eq!(r["colour"], "red");
    let problems = r["log"]["problems"].as_array().unwrap();
    let parse = problems
        .iter()
        .find(|p| p["kind"] == "data_file_error")
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(
        (parse["file"].as_str(), parse["line"].as_u64()),
        (Some("addons/dev_data/data/records.xml"), Some(3))
    );
    assert_no_leftovers(&r, "data");
}

/// A template build that fails keeps its whole Odoo log in the output folder, and the
/// error says where (it shows only the last lines).
#[test]
fn a_failed_template_build_keeps_its_whole_log() {
    let p = project(
        &[("dev_ok", &["base"], PASSING)],
        "development:\n  preinstall: [tpl_broken]\n",
    );
    p.write(
        "addons/tpl_broken/__manifest__.py",
        "{'name': 't', 'version': '17.0.1.0.0', 'depends': ['base'], 'data': ['data/records.xml']}",
    )
    .write("addons/tpl_broken/__init__.py", "")
    .write("addons/tpl_broken/data/records.xml", "<odoo>\n  <record id=\"x\" model=\"res.partner\">\n    <field name=\"name\">X</fiel>\n  </record>\n</odoo>\n");
    let (out, r) = run_test(&p, "tplfail", &["--executor", "local"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(r["failed_step"], "template", "{r:#}");
    let log = std::fs::read_to_string(p.path().join("out/template.log")).unwrap();
    assert!(log.contains("records.xml"), "the whole log: {log}");
    assert!(log.lines().count() > 1, "{log}");
    assert!(out.stderr.contains("out/template.log"), "{}", out.stderr);
}

#[test]
fn the_template_is_built_once_then_reused() {
    // A unique requirements.txt gives this test its own template key.
    let p = project(
        &[("dev_ok", &["base"], PASSING)],
        "development:\n  preinstall: [contacts]\n",
    );
    p.write("requirements.txt", &format!("# {}\n", p.path().display()));
    let (_, first) = run_test(&p, "cache", &["--executor", "local"]);
    assert_eq!(first["template"]["hit"], false, "{first}");
    let (_, second) = run_test(&p, "cache", &["--executor", "local"]);
    assert_eq!(second["template"]["hit"], true);
    assert_eq!(second["template"]["name"], first["template"]["name"]);
    assert_eq!(second["colour"], "green");
    let (_, rebuilt) = run_test(&p, "cache", &["--executor", "local", "--no-cache"]);
    assert_eq!(rebuilt["template"]["hit"], false);
    let name = second["template"]["name"].as_str().unwrap().to_string();
    psql(&format!("DROP DATABASE IF EXISTS \"{name}\""));
}

/// A template is a database *and* its filestore. A second runner on the same server has
/// the database but not the files: taken as a hit, its test databases had attachments
/// pointing at nothing. There it is a miss, rebuilt with its files.
#[test]
fn a_template_without_its_filestore_on_this_runner_is_a_miss() {
    let p = project(
        &[("dev_ok", &["base"], PASSING)],
        "development:\n  preinstall: [contacts]\n",
    );
    p.write(
        "requirements.txt",
        &format!("# filestore {}\n", p.path().display()),
    );
    let (_, first) = run_test(&p, "fs", &["--executor", "local"]);
    assert_eq!(first["template"]["hit"], false, "{first}");
    let name = first["template"]["name"].as_str().unwrap().to_string();
    let other = tempfile::tempdir().unwrap();
    let out = run_in(
        p.path(),
        &[
            "test",
            "--branch",
            "feature/x",
            "--output",
            "out2",
            "--executor",
            "local",
        ],
        &[
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("ODOO_CI_CACHE_DIR", other.path().to_str().unwrap()),
            ("ODOO_CI_TEST_LABEL", "fs"),
        ],
    );
    let second: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out2/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    psql(&format!("DROP DATABASE IF EXISTS \"{name}\""));
    assert_eq!(second["colour"], "green", "{}", out.stderr);
    assert_eq!(
        second["template"]["hit"], false,
        "no files here: a miss, rebuilt"
    );
    assert!(other.path().join("data/filestore").join(&name).is_dir());
}

#[test]
fn two_jobs_racing_build_the_template_once() {
    let p = project(
        &[("dev_race", &["base"], PASSING)],
        "development:\n  preinstall: [contacts]\n",
    );
    p.write(
        "requirements.txt",
        &format!("# race {}\n", p.path().display()),
    );
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run_test_into(&p, "race", "out-a", &["--executor", "local"]));
        let b = s.spawn(|| run_test_into(&p, "race", "out-b", &["--executor", "local"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (a.1, b.1);
    assert_eq!(
        (a["colour"].as_str(), b["colour"].as_str()),
        (Some("green"), Some("green"))
    );
    assert_eq!(a["template"]["name"], b["template"]["name"]);
    let built = [&a, &b]
        .iter()
        .filter(|r| r["template"]["hit"] == false)
        .count();
    assert_eq!(
        built, 1,
        "exactly one job builds the template: {a:#}\n{b:#}"
    );
    let name = a["template"]["name"].as_str().unwrap().to_string();
    psql(&format!("DROP DATABASE IF EXISTS \"{name}\""));
}

#[test]
fn a_code_change_still_hits_the_docker_template_cache() {
    // The template holds only what the image brings (preinstalled addons), so a new
    // commit of the repo's addons must reuse it.
    let p = project(
        &[("dev_hit", &["base"], PASSING)],
        "development:\n  preinstall: [product]\n",
    );
    let (_, first) = run_test(&p, "dockercache", &["--no-cache"]);
    assert_eq!(first["template"]["hit"], false, "{first}");
    p.write(
        "addons/dev_hit/tests/test_dev_hit.py",
        &PASSING.replace("2 * 3, 6", "3 * 3, 9"),
    );
    let (out, second) = run_test(&p, "dockercache", &[]);
    assert_eq!(second["template"]["hit"], true, "{}", out.stderr);
    assert_eq!(second["template"]["name"], first["template"]["name"]);
    assert_eq!(second["colour"], "green");
    assert_no_leftovers(&second, "dockercache");
}

#[test]
fn shards_split_the_addons_between_jobs() {
    let addons: Vec<(&str, &[&str], &str)> = vec![
        ("sh_a", &["base"], PASSING),
        ("sh_b", &["base"], PASSING),
        ("sh_c", &["base"], PASSING),
    ];
    let p = project(&addons, "");
    let (_, one) = run_test(&p, "shard", &["--executor", "local", "--shard", "1/2"]);
    let (_, two) = run_test(&p, "shard", &["--executor", "local", "--shard", "2/2"]);
    let names = |v: &Value| -> Vec<String> {
        v["tested"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (names(&one), names(&two));
    assert!(!a.is_empty() && !b.is_empty());
    assert!(a.iter().all(|n| !b.contains(n)), "{a:?} {b:?}");
    let mut all = [a, b].concat();
    all.sort();
    assert_eq!(all, ["sh_a", "sh_b", "sh_c"]);
    assert_eq!(
        one["log"]["tests"]["total"].as_u64().unwrap()
            + two["log"]["tests"]["total"].as_u64().unwrap(),
        6
    );
}

#[test]
fn changed_only_tests_the_change_and_its_dependents() {
    let p = project(
        &[
            ("ch_core", &["base"], PASSING),
            ("ch_user", &["ch_core"], PASSING),
            ("ch_other", &["base"], PASSING),
        ],
        "",
    );
    p.git_init();
    p.commit("base");
    p.write("addons/ch_core/models.py", "x = 1\n");
    p.commit("touch core");
    let (out, r) = run_test(
        &p,
        "changed",
        &["--executor", "local", "--changed-only", "--base", "HEAD~1"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(r["tested"], serde_json::json!(["ch_core", "ch_user"]));
}

#[test]
fn no_database_is_a_setup_error_without_a_hang() {
    // Nothing can be tested without PostgreSQL: a setup error (exit 2, what to do), not a
    // red result that would claim a verdict.
    let p = project(&[("dev_ok", &["base"], PASSING)], "");
    let start = Instant::now();
    let out = run_in(
        p.path(),
        &[
            "test",
            "--branch",
            "x",
            "--output",
            "out",
            "--executor",
            "local",
        ],
        &[(
            "ODOO_CI_TEST_PG",
            "postgresql://postgres:secret-pw@127.0.0.1:1/postgres",
        )],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(
        out.stderr
            .contains("cannot connect to PostgreSQL at postgres@127.0.0.1:1")
            && out.stderr.contains("hint: "),
        "{}",
        out.stderr
    );
    assert!(!p.path().join("out/odoo-ci-result.json").exists());
    assert!(
        !out.stderr.contains("secret-pw"),
        "the password never prints"
    );
}

#[test]
fn no_docker_engine_is_a_setup_error_without_a_hang() {
    let p = project(&[("dev_ok", &["base"], PASSING)], "");
    let socket = p.path().join("no-docker.sock");
    let start = Instant::now();
    let out = run_in(
        p.path(),
        &["test", "--branch", "x", "--output", "out"],
        &[
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("DOCKER_HOST", &format!("unix://{}", socket.display())),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(
        out.stderr.contains("no Docker engine") && out.stderr.contains("--executor local"),
        "says what is missing and what to do: {}",
        out.stderr
    );
    assert!(
        !p.path().join("out/odoo-ci-result.json").exists(),
        "nothing ran"
    );
}

#[test]
fn a_missing_base_image_is_red_with_the_build_output() {
    let p = project(&[("dev_ok", &["base"], PASSING)], "");
    p.config(
        &std::fs::read_to_string(p.path().join(".odoo-ci.yml"))
            .unwrap()
            .replace(&image(), "odoo-ci-test/does-not-exist:1"),
    );
    let (out, r) = run_test(&p, "noimage", &[]);
    assert_eq!(out.code, 1);
    assert!(
        r["reasons"][0].as_str().unwrap().contains("does-not-exist"),
        "{r}"
    );
    assert_no_leftovers(&r, "noimage");
}

#[test]
fn sigterm_cleans_up_the_container_and_the_database() {
    let p = project(&[("dev_slow", &["base"], SLOW)], "");
    let cache = p.path().join(".cache");
    let mut child = Command::new(bin())
        .current_dir(p.path())
        .args(["test", "--branch", "x", "--output", "out"])
        .env("ODOO_CI_TEST_PG", pg_url())
        .env("ODOO_CI_CACHE_DIR", &cache)
        .env("ODOO_CI_TEST_LABEL", "kill")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the slow test runs, then cancel as CI does.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut db = String::new();
    while Instant::now() < deadline && db.is_empty() {
        let log = std::fs::read_to_string(p.path().join("out/install.log")).unwrap_or_default();
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("Starting TestSlow.test_slow"))
        {
            db = line.split(' ').nth(4).unwrap_or_default().to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        db.starts_with("odoo_ci_test_"),
        "the slow test never started: {db}"
    );
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{db}'"
        )),
        "1"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    assert!(r["reasons"].to_string().contains("cancelled"), "{r}");
    assert_no_leftovers(&r, "kill");
    assert!(
        !Path::new(&cache.join("data/filestore").join(&db)).exists(),
        "filestore copy removed"
    );
}

#[test]
fn run_on_a_development_branch_runs_the_development_stage() {
    let p = project(&[("dev_run", &["base"], PASSING)], "");
    let cache = p.path().join(".cache");
    let out = run_in(
        p.path(),
        &[
            "run",
            "--branch",
            "feature/run",
            "--executor",
            "local",
            "--output",
            "out",
        ],
        &[
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["stage"], "development");
    assert_eq!(r["tested"], serde_json::json!(["dev_run"]));
    assert_eq!(r["log"]["tests"]["passed"], 2, "{r}");
}

/// A real distribution registry on loopback that wants a password (htpasswd), serving
/// the fake Odoo image as a private base image; killed when dropped.
struct PrivateRegistry {
    child: std::process::Child,
    dir: tempfile::TempDir,
    /// The fake Odoo image, as the registry serves it.
    image: String,
    port: u16,
}

impl PrivateRegistry {
    const USER: &'static str = "ci";
    const PASSWORD: &'static str = "s3cret-registry-pw";

    fn start() -> PrivateRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", Self::USER, Self::PASSWORD])
            .output()
            .expect("htpasswd (apache2-utils) is installed by scripts/test-env");
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).unwrap();
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: odoo-ci\n    path: {root}/htpasswd\n",
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .args(["serve", dir.path().join("config.yml").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed by scripts/test-env");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut registry = PrivateRegistry {
            child,
            dir,
            image: String::new(),
            port,
        };
        registry.image = registry.publish(&image(), "private/odoo");
        registry
    }

    /// A Docker client configuration folder that has logged in to the registry.
    fn docker_config(&self) -> std::path::PathBuf {
        self.dir.path().join("docker-config")
    }

    /// Pushes the local image `local` as `<registry>/name:<unique tag>` and removes that
    /// name from the engine (a run must pull it); the name.
    fn publish(&self, local: &str, name: &str) -> String {
        let reference = format!("localhost:{}/{name}:{}", self.port, unique("t"));
        let config = self.docker_config();
        let docker = |args: &[&str], stdin: Option<&str>| {
            let mut child = Command::new("docker")
                .arg("--config")
                .arg(&config)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            if let Some(text) = stdin {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
            }
            drop(child.stdin.take());
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "docker {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let host = format!("localhost:{}", self.port);
        docker(
            &["login", &host, "-u", Self::USER, "--password-stdin"],
            Some(Self::PASSWORD),
        );
        docker(&["tag", local, &reference], None);
        docker(&["push", "-q", &reference], None);
        // The engine no longer has it: a run must pull it.
        docker(&["rmi", &reference], None);
        reference
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("docker").args(["rmi", &self.image]).output();
    }
}

/// A fresh runner's engine does not have `postgres.image`: odoo-ci pulls it, as it pulls
/// Odoo's image, with the job's `docker login` — where it used to fail on "No such image".
#[test]
fn a_managed_postgres_image_the_engine_lacks_is_pulled() {
    let registry = PrivateRegistry::start();
    let pg_image = std::env::var("ODOO_CI_TEST_PG_IMAGE")
        .expect("ODOO_CI_TEST_PG_IMAGE is not set: run the tests with ./scripts/test");
    let pulled = registry.publish(&pg_image, "private/postgres");
    let p = project(&[("dev_pulled", &["base"], PASSING)], "");
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(
        &config
            .replace(
                "postgres:\n  url: ${ODOO_CI_TEST_PG}\n",
                &format!("postgres:\n  image: {pulled}\n"),
            )
            .replace(
                "project: odoo-ci-tests/development",
                &format!("project: odoo-ci-tests/{}", unique("pulled")),
            ),
    );
    let cache = p.path().join(".cache");
    let out = run_in(
        p.path(),
        &["test", "--branch", "feature/pulled", "--output", "out"],
        &[
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("ODOO_CI_TEST_LABEL", "pulled"),
            ("DOCKER_CONFIG", registry.docker_config().to_str().unwrap()),
        ],
    );
    let container = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("postgres: managed container "))
        .and_then(|l| l.split(' ').next())
        .map(str::to_string);
    if let Some(name) = &container {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", name])
            .output();
    }
    let _ = Command::new("docker").args(["rmi", &pulled]).output();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(container.is_some(), "{}", out.stderr);
    assert!(
        !out.stderr.contains(PrivateRegistry::PASSWORD),
        "{}",
        out.stderr
    );
}

/// A base image from a private registry is pulled with the credentials the job's Docker
/// configuration already has (`docker login`'s config.json), never printed; without them
/// the pull fails saying how to give them.
#[test]
fn a_private_base_image_is_pulled_with_the_job_s_docker_login() {
    let registry = PrivateRegistry::start();
    let p = project(&[("dev_private", &[], PASSING)], "");
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&config.replace(
        &format!("image: {}", image()),
        &format!("image: {}", registry.image),
    ));
    let cache = p.path().join(".cache");
    let empty = tempfile::tempdir().unwrap();
    let run = |docker_config: &Path| {
        run_in(
            p.path(),
            &["test", "--branch", "feature/x", "--output", "out"],
            &[
                ("ODOO_CI_TEST_PG", &pg_url()),
                ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
                ("ODOO_CI_TEST_LABEL", "private"),
                ("DOCKER_CONFIG", docker_config.to_str().unwrap()),
            ],
        )
    };
    let out = run(empty.path());
    assert_ne!(out.code, 0, "no credentials, no pull: {}", out.stderr);
    assert!(
        out.stderr.contains("cannot pull") && out.stderr.contains("docker login"),
        "{}",
        out.stderr
    );
    let out = run(&registry.docker_config());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stderr.contains(PrivateRegistry::PASSWORD),
        "{}",
        out.stderr
    );
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["colour"], "green", "{r:#}");
    assert_no_leftovers(&r, "private");
}

#[test]
fn a_failing_dockerfile_is_red_with_the_failing_step() {
    let p = project(&[("dev_df", &["base"], PASSING)], "");
    p.write(
        "Dockerfile",
        &format!("FROM {}\nRUN echo compiling wheels && exit 3\n", image()),
    );
    let (out, r) = run_test(&p, "dockerfile", &[]);
    assert_eq!(out.code, 1);
    let reason = r["reasons"][0].as_str().unwrap();
    assert!(reason.contains("image build failed"), "{r}");
    assert!(
        reason.contains("compiling wheels"),
        "the failing step's output: {r}"
    );
    assert_no_leftovers(&r, "dockerfile");
}

#[test]
fn the_github_action_script_runs_a_stage_and_writes_summary_and_outputs() {
    // The composite action's script in a simulated Actions environment: env vars and the
    // step summary and outputs files, no token (so no API calls).
    let p = project(&[("dev_action", &["base"], PASSING)], "");
    p.git_init();
    let sha = p.commit("add dev_action");
    let cache = p.path().join(".cache");
    let summary = p.path().join("step-summary.md");
    let outputs = p.path().join("outputs.txt");
    // The template cache key step, then the stage with the template cache.
    let key_step = Command::new("bash")
        .arg(repo_root().join("action/template-key.sh"))
        .current_dir(p.path())
        .env("ODOO_CI_BIN", bin())
        .env("GITHUB_REF_NAME", "feature/action")
        .env("GITHUB_OUTPUT", &outputs)
        .env("INPUT_CONFIG", ".odoo-ci.yml")
        .env("INPUT_WORKING_DIRECTORY", ".")
        .env("INPUT_ARGS", "--executor local --output out")
        .output()
        .unwrap();
    assert!(
        key_step.status.success(),
        "{}",
        String::from_utf8_lossy(&key_step.stderr)
    );
    let key_line = std::fs::read_to_string(&outputs).unwrap();
    let key = key_line
        .strip_prefix("key=")
        .map(str::trim)
        .unwrap_or_else(|| panic!("{key_line}"))
        .to_string();
    assert_eq!(key.len(), 64, "{key_line}");
    std::fs::remove_file(&outputs).unwrap();
    let out = Command::new("bash")
        .arg(repo_root().join("action/run.sh"))
        .current_dir(p.path())
        .env("ODOO_CI_BIN", bin())
        .env("INPUT_TEMPLATE_CACHE", "tpl-cache")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_REF_NAME", "feature/action")
        .env("GITHUB_SHA", &sha)
        .env("GITHUB_REPOSITORY", "acme/odoo")
        .env("GITHUB_ACTION_PATH", repo_root())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .env_remove("GITHUB_TOKEN")
        .env("INPUT_CONFIG", ".odoo-ci.yml")
        .env("INPUT_STAGE", "development")
        .env("INPUT_TOKEN", "")
        .env("INPUT_WORKING_DIRECTORY", ".")
        .env("INPUT_ARGS", "--executor local --output out")
        .env("ODOO_CI_TEST_PG", pg_url())
        .env("ODOO_CI_CACHE_DIR", &cache)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        p.path()
            .join("tpl-cache")
            .join(&key)
            .join("meta.json")
            .is_file(),
        "the template is saved under the key the key step gave: {stderr}"
    );
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(outputs.contains("colour=green\n"), "{outputs}");
    // What the action's upload step keeps: the folder `--output` named, under a job's name.
    let kept = format!(
        "output-dir={}\nartifact=odoo-ci-output-job\n",
        p.path().canonicalize().unwrap().join("out").display()
    );
    assert!(outputs.contains(&kept), "{outputs}");
    assert!(
        outputs.contains("stage=development\n")
            && outputs.contains(&format!(
                "result={}\n",
                p.path()
                    .canonicalize()
                    .unwrap()
                    .join("out/odoo-ci-result.json")
                    .display()
            )),
        "{outputs}"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("odoo-ci / development: green") && summary.contains("2 passed"),
        "the stage's Markdown summary: {summary}"
    );

    // A bad stage input is a clear annotation and exit 2.
    let bad = Command::new("bash")
        .arg(repo_root().join("action/run.sh"))
        .current_dir(p.path())
        .env("ODOO_CI_BIN", bin())
        .env("INPUT_STAGE", "prod")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stdout)
        .contains("::error title=odoo-ci::input 'stage' is 'prod'"));
}

#[test]
fn a_managed_postgres_container_serves_when_no_server_is_given() {
    let pg_image = std::env::var("ODOO_CI_TEST_PG_IMAGE")
        .expect("ODOO_CI_TEST_PG_IMAGE is not set: run the tests with ./scripts/test");
    let (p, out, name) = run_managed("odoo-ci-tests/development", &pg_image);
    let cleanup = |name: &Option<String>| {
        if let Some(n) = name {
            let _ = Command::new("docker").args(["rm", "-f", "-v", n]).output();
        }
    };
    if out.code != 0 {
        cleanup(&name);
        panic!("{}", out.stderr);
    }
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["colour"], "green", "{r}");
    assert_eq!(r["log"]["tests"]["passed"], 2);
    let name = name.expect("the managed container is named on stderr");
    let running = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.State.Running}} {{index .Config.Labels \"odoo-ci.managed\"}}",
            &name,
        ])
        .output()
        .unwrap();
    // A throwaway server: nothing waits for the disk.
    let settings = Command::new("docker")
        .args(["exec", &name, "sh", "-c"])
        .arg("PGPASSWORD=$POSTGRES_PASSWORD psql -h 127.0.0.1 -U odoo -d postgres -Atc \"SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')\"")
        .output()
        .unwrap();
    cleanup(&Some(name));
    assert_eq!(
        String::from_utf8_lossy(&running.stdout).trim(),
        "true postgres"
    );
    assert_eq!(
        String::from_utf8_lossy(&settings.stdout).trim(),
        "fsync=off,full_page_writes=off,synchronous_commit=off",
        "{}",
        String::from_utf8_lossy(&settings.stderr)
    );
    assert_no_leftovers(&r, "managed");
}

/// Runs `odoo-ci test` for a project named `name` whose server is a managed container of
/// `pg_image`; the project, the output and the container's name (from stderr), if named.
fn run_managed(name: &str, pg_image: &str) -> (Project, Output, Option<String>) {
    let p = project(&[("dev_managed", &["base"], PASSING)], "");
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(
        &config
            .replace(
                "postgres:\n  url: ${ODOO_CI_TEST_PG}\n",
                &format!("postgres:\n  image: {pg_image}\n"),
            )
            .replace(
                "project: odoo-ci-tests/development",
                &format!("project: {name}"),
            ),
    );
    let cache = p.path().join(".cache");
    let out = run_in(
        p.path(),
        &["test", "--branch", "feature/managed", "--output", "out"],
        &[
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("ODOO_CI_TEST_LABEL", "managed"),
        ],
    );
    let container = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("postgres: managed container "))
        .and_then(|l| l.split(' ').next())
        .map(str::to_string);
    (p, out, container)
}

fn container_label(container: &str, label: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f"])
        .arg(format!("{{{{index .Config.Labels \"{label}\"}}}}"))
        .arg(container)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn each_project_has_its_own_managed_postgres_and_never_takes_another_container() {
    // Two projects naming one `postgres.image` on one engine: each gets a container named
    // and labelled for it. A container under that name that odoo-ci did not make for the
    // project is refused, by name, and left as it is.
    let server = OwnServer::new();
    let (a, b) = (unique("managed-a"), unique("managed-b"));
    let (_, out_a, container_a) = run_managed(&format!("odoo-ci-tests/{a}"), &server.tag);
    let (_, out_b, container_b) = run_managed(&format!("odoo-ci-tests/{b}"), &server.tag);
    assert_eq!(out_a.code, 0, "{}", out_a.stderr);
    assert_eq!(out_b.code, 0, "{}", out_b.stderr);
    let (container_a, container_b) = (container_a.unwrap(), container_b.unwrap());
    assert_ne!(container_a, container_b, "one server per project");
    let scope_a = odoo_ci::names::scope(&format!("odoo-ci-tests/{a}"));
    assert_eq!(container_label(&container_a, "odoo-ci.project"), scope_a);
    assert!(container_a.contains(&scope_a), "{container_a}");

    // An impostor under a's name: not labelled as a's.
    server.drop_server();
    let made = Command::new("docker")
        .args([
            "create",
            "--name",
            &container_a,
            "--label",
            "odoo-ci.managed=postgres",
        ])
        .arg(&server.tag)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let (_, out, _) = run_managed(&format!("odoo-ci-tests/{a}"), &server.tag);
    let state = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Status}}", &container_a])
        .output()
        .unwrap();
    let _ = Command::new("docker")
        .args(["rm", "-f", "-v", &container_a])
        .output();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&container_a) && out.stderr.contains("odoo-ci.project"),
        "{}",
        out.stderr
    );
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "created");
}

/// Builds a tiny image `tag` labelled as project `scope`'s; its id.
fn labelled_image(tag: &str, scope: &str) -> String {
    let run = std::env::var("ODOO_CI_TEST_RUN").unwrap_or_default();
    let dockerfile = format!(
        "FROM odoo-ci-test/debian:bookworm\nLABEL odoo-ci.project=\"{scope}\" odoo-ci.test-run=\"{run}\" tag=\"{tag}\"\n"
    );
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), dockerfile.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn image_exists(id: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", id])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn a_build_prunes_only_this_project_s_old_unused_images() {
    let a = common::unique("prune-a").replace('_', "-");
    let b = common::unique("prune-b").replace('_', "-");
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(labelled_image(&format!("odoo-ci-prune/{a}:{i}"), &a));
        std::thread::sleep(Duration::from_millis(1100));
    }
    let other = labelled_image(&format!("odoo-ci-prune/{b}:0"), &b);
    // The oldest is in use by a (stopped) container: never removed.
    let user = Command::new("docker")
        .args(["create", "--label", "odoo-ci.test=prune", &ids[0], "true"])
        .output()
        .unwrap();
    let container = String::from_utf8_lossy(&user.stdout).trim().to_string();
    let docker = odoo_ci::executor::docker::connect().unwrap();
    let rt = odoo_ci::executor::docker::runtime().unwrap();
    let current = format!("odoo-ci-prune/{a}:3");
    // Images younger than the grace period are never pruned: another job of the project
    // may be about to start one.
    let young = rt.block_on(odoo_ci::image::prune_project_images(
        &docker,
        &a,
        2,
        &current,
        odoo_ci::image::PRUNE_GRACE_SECS,
    ));
    let removed = rt.block_on(odoo_ci::image::prune_project_images(
        &docker, &a, 2, &current, 0,
    ));
    let _ = Command::new("docker")
        .args(["rm", "-f", "-v", &container])
        .output();
    let left: Vec<bool> = ids.iter().map(|id| image_exists(id)).collect();
    let other_left = image_exists(&other);
    for id in ids.iter().chain([&other]) {
        let _ = Command::new("docker").args(["rmi", "-f", id]).output();
    }
    // Keep 2 = the current one and the newest other; the one in use stays too.
    assert_eq!(young, 0, "images within the grace period were pruned");
    assert_eq!(left, [true, false, true, true], "removed {removed}");
    assert_eq!(removed, 1);
    assert!(other_left, "another project's image was removed");
}

/// The action's `working-directory`: the Odoo project is a subfolder of the repository.
/// Annotations pointed at `addons/…`, which does not exist at the repository root, and the
/// `result` output did not resolve from `GITHUB_WORKSPACE`.
#[test]
fn in_a_subfolder_annotations_and_the_result_output_are_the_repository_s() {
    let repo = Project::new();
    let sub = project(&[("dev_sub", &["base"], FAILING)], "");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(sub.path())
        .arg(repo.path().join("odoo"))
        .status()
        .expect("cp");
    assert!(copied.success());
    // A project of its own: template retention (`keep_templates`) is per project, and
    // the other tests of this file, running at the same time, share one.
    let repository = format!("acme/{}", unique("subfolder"));
    let config_path = repo.path().join("odoo/.odoo-ci.yml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let config = config.replace(
        "project: odoo-ci-tests/development",
        &format!("project: {repository}"),
    );
    std::fs::write(&config_path, config).unwrap();
    repo.git_init();
    let sha = repo.commit("an Odoo project in a subfolder");
    let workdir = repo.path().join("odoo");
    let outputs = repo.path().join("outputs.txt");
    let cache = repo.path().join(".cache");
    let out = run_in(
        &workdir,
        &["test", "--output", "out"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "feature/x"),
            ("GITHUB_SHA", &sha),
            ("GITHUB_REPOSITORY", &repository),
            ("GITHUB_WORKSPACE", repo.path().to_str().unwrap()),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("ODOO_CI_TEST_LABEL", "subfolder"),
        ],
    );
    assert_eq!(out.code, 1, "red: {}", out.stderr);
    let annotation = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::error file="))
        .unwrap_or_else(|| panic!("no annotation: {}", out.stdout));
    let file = annotation["::error file=".len()..]
        .split(',')
        .next()
        .unwrap();
    assert_eq!(file, "odoo/addons/dev_sub/tests/test_dev_sub.py");
    assert!(
        repo.path().join(file).is_file(),
        "{file} is not in the repository"
    );

    let outputs = std::fs::read_to_string(&outputs).unwrap();
    let result = outputs
        .lines()
        .find_map(|l| l.strip_prefix("result="))
        .unwrap_or_else(|| panic!("no result output: {outputs}"));
    // What a later step in the repository root reads.
    let from_workspace = repo.path().join(result);
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&from_workspace).unwrap()).unwrap();
    assert_eq!(
        stored["log"]["failures"][0]["file"],
        "odoo/addons/dev_sub/tests/test_dev_sub.py"
    );
}

/// A managed PostgreSQL server of its own: the test image under a tag of this test's, so
/// its container is this test's alone. Removed (container and tag) when dropped.
struct OwnServer {
    tag: String,
}

impl OwnServer {
    fn new() -> OwnServer {
        let pg_image = std::env::var("ODOO_CI_TEST_PG_IMAGE")
            .expect("ODOO_CI_TEST_PG_IMAGE is not set: run the tests with ./scripts/test");
        let tag = format!("odoo-ci-test/postgres:{}", unique("own").replace('_', "-"));
        let tagged = Command::new("docker")
            .args(["tag", &pg_image, &tag])
            .status()
            .unwrap();
        assert!(tagged.success());
        OwnServer { tag }
    }

    /// Removes the server, as a CI job's `postgres` service ends with its job.
    fn drop_server(&self) {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", "label=odoo-ci.managed"])
            .output()
            .unwrap();
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let image = Command::new("docker")
                .args(["inspect", "-f", "{{.Config.Image}}", id])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&image.stdout).trim() == self.tag {
                let _ = Command::new("docker").args(["rm", "-f", "-v", id]).output();
            }
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.drop_server();
        let _ = Command::new("docker").args(["rmi", &self.tag]).output();
    }
}

/// The documented GitHub workflow: every job gets a new PostgreSQL server and a new runner;
/// only the template cache folder travels (actions/cache, keyed by `odoo-ci cache key`).
/// The second job restores the template instead of building it; an entry whose database
/// and filestore disagree is never used.
#[test]
fn a_fresh_job_with_only_the_template_cache_restores_the_template() {
    let server = OwnServer::new();
    let p = project(
        &[("dev_travel", &["mail"], PASSING)],
        "development:\n  preinstall: [mail]\n  template_cache: .odoo-ci-cache/templates\n",
    );
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&config.replace(
        "postgres:\n  url: ${ODOO_CI_TEST_PG}\n",
        &format!("postgres:\n  image: {}\n", server.tag),
    ));
    let job = |n: u32| {
        let runner = p.path().join(format!(".runner-{n}"));
        let out = run_in(
            p.path(),
            &["test", "--branch", "feature/travel", "--output", "out"],
            &[
                ("ODOO_CI_CACHE_DIR", runner.to_str().unwrap()),
                ("ODOO_CI_TEST_LABEL", "travel"),
            ],
        );
        let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
            .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
        let r: Value = serde_json::from_str(&text).unwrap();
        server.drop_server();
        assert_eq!(r["colour"], "green", "job {n}: {}\n{r:#}", out.stderr);
        assert_eq!(r["log"]["tests"]["passed"], 2, "{r:#}");
        (out, r)
    };
    let key = run_in(
        p.path(),
        &["cache", "key", "--branch", "feature/travel"],
        &[],
    );
    assert_eq!(key.code, 0, "{}", key.stderr);
    let key = key.stdout.trim().to_string();
    assert_eq!(key.len(), 64, "{key}");
    let entry = p.path().join(".odoo-ci-cache/templates").join(&key);

    let (first_out, first) = job(1);
    assert_eq!(first["template"]["hit"], false);
    assert!(first["template"]["saved_to"].is_string(), "{first:#}");
    assert!(
        entry.join("meta.json").is_file(),
        "no entry at {}",
        entry.display()
    );
    let saved = files_under(&entry.join("filestore"));
    assert!(!saved.is_empty(), "the template's attachments are saved");

    // The managed server's whole cluster travels too: the next job's new server starts
    // on it, with the template in it; only the files come from the entry.
    let cluster = p.path().join(".odoo-ci-cache/templates");
    let clusters: Vec<_> = std::fs::read_dir(&cluster)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("cluster-"))
        .map(|e| e.path())
        .collect();
    assert_eq!(clusters.len(), 1, "one saved cluster: {clusters:?}");
    assert!(clusters[0].join("cluster.tar.zst").is_file());

    // A run killed while seeding left its half-made server behind, long ago: the next
    // seeding removes it (one in progress would be younger, and is never touched).
    let managed = first_out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("postgres: managed container "))
        .and_then(|l| l.split(' ').next())
        .expect("the managed container on stderr")
        .to_string();
    let scope = managed
        .strip_prefix("odoo-ci-postgres-")
        .and_then(|rest| rest.rsplit_once('-'))
        .map(|(scope, _)| scope.to_string())
        .unwrap();
    let left = format!("{managed}-seeding-1-1000000");
    let made = Command::new("docker")
        .args([
            "create",
            "--name",
            &left,
            "--label",
            "odoo-ci.managed=postgres",
        ])
        .args(["--label", &format!("odoo-ci.project={scope}")])
        // Another image than the server's: the test's own clean-up leaves it alone.
        .arg("odoo-ci-test/debian:bookworm")
        .arg("true")
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");

    // The tag moves to a newer image of the same major version (as `postgres:16` does
    // with each 16.x): the saved cluster still starts on it.
    let old_id = Command::new("docker")
        .args(["image", "inspect", "-f", "{{.Id}}", &server.tag])
        .output()
        .unwrap();
    let old_id = String::from_utf8_lossy(&old_id.stdout).trim().to_string();
    let mut build = Command::new("docker")
        .args(["build", "-q", "-t", &server.tag, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut build.stdin.take().unwrap(),
        format!("FROM {old_id}\nLABEL odoo-ci.test-minor=newer\n").as_bytes(),
    )
    .unwrap();
    assert!(build.wait().unwrap().success());
    let (out, second) = job(2);
    assert_eq!(second["template"]["hit"], false);
    assert!(
        second["template"]["restored_from"].is_string(),
        "the second job built the template again: {second:#}\n{}",
        out.stderr
    );
    assert_eq!(
        second["template"]["from_cluster"], true,
        "{second:#}\n{}",
        out.stderr
    );
    let still = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("name={left}")])
        .output()
        .unwrap();
    let _ = Command::new("docker")
        .args(["rm", "-f", "-v", &left])
        .output();
    assert!(still.stdout.is_empty(), "the left seeding is removed");
    assert!(
        out.stderr
            .contains("started on the cluster saved in the template cache"),
        "{}",
        out.stderr
    );
    assert!(step_output(&second, "template").contains("restored"));

    // Two jobs of the project start at once on a machine without the server (two
    // runners of one host): one server, seeded once, serves both; no half-seeded one is
    // ever started by the other.
    let both: Vec<Output> = ["a", "b"]
        .map(|n| {
            let runner = p.path().join(format!(".runner-at-once-{n}"));
            let output = format!("out-{n}");
            let dir = p.path().to_path_buf();
            std::thread::spawn(move || {
                run_in(
                    &dir,
                    &["test", "--branch", "feature/travel", "--output", &output],
                    &[
                        ("ODOO_CI_CACHE_DIR", runner.to_str().unwrap()),
                        ("ODOO_CI_TEST_LABEL", "travel"),
                    ],
                )
            })
        })
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let servers = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}} {{.Image}}"])
        .output()
        .unwrap();
    let servers: Vec<String> = String::from_utf8_lossy(&servers.stdout)
        .lines()
        .filter(|l| l.ends_with(&format!(" {}", server.tag)))
        .map(str::to_string)
        .collect();
    server.drop_server();
    for (n, out) in both.iter().enumerate() {
        assert_eq!(out.code, 0, "job {n} at once: {}", out.stderr);
    }
    assert_eq!(
        servers.len(),
        1,
        "one server, no half-seeded one left: {servers:?}"
    );

    // A cluster that cannot start costs time, never the result: an empty server, the
    // template restored from its dump.
    std::fs::write(clusters[0].join("cluster.tar.zst"), b"not zstd").unwrap();
    let (out, broken) = job(22);
    assert!(
        broken["template"]["restored_from"].is_string(),
        "{broken:#}"
    );
    assert_ne!(broken["template"]["from_cluster"], true, "{broken:#}");
    assert!(out.stderr.contains("was not used"), "{}", out.stderr);

    // An entry whose filestore lost a file disagrees with its database: built instead.
    let lost = saved.keys().next().unwrap().clone();
    std::fs::remove_file(entry.join("filestore").join(&lost)).unwrap();
    let (out, third) = job(3);
    assert!(third["template"]["restored_from"].is_null(), "{third:#}");
    assert!(out.stderr.contains("disagree"), "{}", out.stderr);
    assert!(
        third["template"]["saved_to"].is_string(),
        "the entry is saved again"
    );
    assert_eq!(files_under(&entry.join("filestore")).len(), saved.len());
}

const TOURS: &str = "from odoo.tests.common import HttpCase, tagged\n\n\n@tagged('post_install', '-at_install')\nclass TestUi(HttpCase):\n    def test_tour_ok(self):\n        self.start_tour('/odoo', 'dev_tour_ok', login='admin')\n\n    def test_tour_broken(self):\n        self.start_tour('/odoo', 'dev_tour_broken', login='admin')\n";

/// An addon whose tests start two tours (`HttpCase.start_tour`), one of which fails. As a
/// real one, it depends on the web client (through `mail`) and adds its tours to the
/// `web.assets_tests` bundle.
fn touring_project(extra: &str) -> Project {
    let p = project(&[("dev_tour", &["mail"], TOURS)], extra);
    p.write(
        "addons/dev_tour/__manifest__.py",
        "{'name': 'dev_tour', 'version': '17.0.1.0.0', 'depends': ['mail'], 'license': 'LGPL-3',\n \
         'assets': {'web.assets_tests': ['dev_tour/static/tests/tours/*.js']}}\n",
    );
    let tour = |name: &str, failing: bool| {
        format!(
            "import {{ registry }} from \"@web/core/registry\";\n{}registry.category(\"web_tour.tours\").add(\"{name}\", {{ steps: () => [{{ trigger: \".o_main_navbar\" }}] }});\n",
            if failing { "// FAKE_TOUR_FAILS: the fake's browser fails this tour at its first step\n" } else { "" }
        )
    };
    p.write(
        "addons/dev_tour/static/tests/tours/ok.js",
        &tour("dev_tour_ok", false),
    )
    .write(
        "addons/dev_tour/static/tests/tours/broken.js",
        &tour("dev_tour_broken", true),
    );
    p
}

/// Tours need a browser the official images lack. Without one (`browser: never`) Odoo
/// skips them and the build says so, by name and count, in yellow; by default odoo-ci sees
/// the tours, builds a browser into the image (Chromium on this Debian base), the tours
/// run in it, and the failing one is red with its screenshot — a real PNG the headless
/// browser took — in the output folder.
#[test]
fn tours_run_in_a_browser_built_into_the_image_and_failures_keep_their_screenshot() {
    let skipped = touring_project("development:\n  browser: never\n");
    let (out, r) = run_test(&skipped, "tours-skipped", &[]);
    assert_eq!(r["colour"], "yellow", "{}", out.stderr);
    let reasons = r["reasons"].to_string();
    assert!(
        reasons.contains("2 browser tests (tours) did not run")
            && reasons.contains("test_tour_broken"),
        "{reasons}"
    );

    let p = touring_project("development:\n  preinstall: [mail]\n");
    let plan = run_in(p.path(), &["plan", "--branch", "feature/x"], &[]);
    assert!(
        plan.stderr.contains("with a browser for the tours: dev_tour's tests start one (addons/dev_tour/tests/test_dev_tour.py)")
            || plan.stdout.contains("with a browser for the tours: dev_tour's tests start one (addons/dev_tour/tests/test_dev_tour.py)"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    let (out, r) = run_test(&p, "tours", &[]);
    assert_eq!(r["colour"], "red", "{}", out.stderr);
    // The browser is in an image of the base, built once; the commit runs mounted in it.
    assert!(
        out.stderr.contains(":browser-") && out.stderr.contains("mounted read-only (no build)"),
        "{}",
        out.stderr
    );
    let tests = &r["log"]["tests"];
    assert_eq!(
        (tests["total"].as_u64(), tests["passed"].as_u64()),
        (Some(2), Some(1)),
        "{}",
        out.stderr
    );
    assert_eq!(tests["skipped"], 0, "the tours ran: {}", out.stderr);
    let log = std::fs::read_to_string(p.path().join("out/install.log")).unwrap_or_default();
    let shots = r["screenshots"].as_array();
    let shots = shots.unwrap_or_else(|| panic!("the result lists no screenshot: {log}"));
    assert_eq!(shots.len(), 1, "{r:#}");
    let shot = shots[0].as_str().unwrap();
    assert!(
        shot.starts_with("screenshots/sc_") && shot.ends_with("_TestUi_test_tour_broken.png"),
        "{shot}"
    );
    let png = std::fs::read(p.path().join("out").join(shot)).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
        "a real screenshot"
    );
    let summary = std::fs::read_to_string(p.path().join("out/summary.md")).unwrap();
    assert!(summary.contains(shot), "{summary}");
    assert_bundles_made_once(&p, &r);
    assert_no_leftovers(&r, "tours");
}

/// Odoo makes every asset bundle before the first browser test (~30 s of a real run). The
/// template holds them: the test database, copied from it, remakes only the bundle the
/// tested addon changes (`web.assets_tests`, where its tours go), and the template's
/// database keeps the others.
fn assert_bundles_made_once(p: &Project, r: &Value) {
    let made = |log: &str, bundle: &str| {
        let text = std::fs::read_to_string(p.path().join("out").join(log)).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("Generating a new asset bundle attachment /web/assets/"))
            .any(|l| l.contains(&format!("/{bundle}.min.")))
    };
    for bundle in ["web.assets_backend", "web.assets_frontend"] {
        assert!(made("template.log", bundle), "the template makes {bundle}");
        assert!(!made("install.log", bundle), "the tests reuse {bundle}");
    }
    assert!(
        made("install.log", "web.assets_tests"),
        "the tours change it"
    );
    let template = r["template"]["name"].as_str().unwrap();
    let kept = psql_on(
        template,
        "SELECT count(*) FROM ir_attachment WHERE url LIKE '/web/assets/%'",
    );
    assert!(kept.trim().parse::<u32>().unwrap_or(0) >= 4, "{kept}");
}

/// A project whose `dev_http` has an `HttpCase` without a tour (a controller test) and
/// a script in `web.assets_tests`; `extra` goes at the end of its config.
fn http_case_project(extra: &str) -> Project {
    let test = "from odoo.tests.common import HttpCase, tagged\n\n\n@tagged('post_install', '-at_install')\nclass TestRoutes(HttpCase):\n    def test_route(self):\n        self.assertTrue(True)\n";
    let p = project(&[("dev_http", &["mail"], test)], extra);
    p.write(
        "addons/dev_http/__manifest__.py",
        "{'name': 'dev_http', 'version': '17.0.1.0.0', 'depends': ['mail'], 'license': 'LGPL-3',\n \
         'assets': {'web.assets_tests': ['dev_http/static/tests/*.js']}}\n",
    )
    .write("addons/dev_http/static/tests/helpers.js", "export const ready = true;\n");
    p
}

/// An `HttpCase` without a tour (a controller test) makes Odoo make its bundles too: the
/// template holds them, and the run stays green without a browser.
#[test]
fn http_case_tests_without_a_tour_get_the_bundles_from_the_template() {
    let p = http_case_project("development:\n  preinstall: [mail]\n");
    let (out, r) = run_test(&p, "http-case", &["--executor", "local"]);
    assert_eq!(r["colour"], "green", "{}", out.stderr);
    assert_bundles_made_once(&p, &r);
    assert_no_leftovers(&r, "http-case");
}

/// The local executor gives `odoo shell` its script on standard input too: the template
/// holds the bundles, the tests remake only the one their addon changes.
#[test]
fn with_the_local_executor_the_template_holds_the_asset_bundles_too() {
    let p = touring_project("development:\n  preinstall: [mail]\n");
    let plan = run_in(
        p.path(),
        &["plan", "--executor", "local", "--branch", "feature/x"],
        &[],
    );
    let text = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        text.contains("Odoo's asset bundles made in it: dev_tour's tests hold an HttpCase (addons/dev_tour/tests/test_dev_tour.py)"),
        "{text}"
    );
    let (out, r) = run_test(&p, "tours-local", &["--executor", "local"]);
    assert_eq!(r["template"]["hit"], false, "{}", out.stderr);
    assert_bundles_made_once(&p, &r);
    // A CI cache keyed by `cache key` finds this template: the key counts the bundles.
    let args = [
        "cache",
        "key",
        "--executor",
        "local",
        "--branch",
        "feature/x",
    ];
    let key = run_in(p.path(), &args, &[("ODOO_CI_TEST_PG", &pg_url())]);
    assert_eq!(key.code, 0, "{}", key.stderr);
    let name = r["template"]["name"].as_str().unwrap();
    assert!(
        name.ends_with(&key.stdout.trim()[..16]),
        "{name} {}",
        key.stdout
    );
    assert_no_leftovers(&r, "tours-local");
}

/// A CI job clones afresh, Enterprise too: every file has a new time, and Odoo names a
/// bundle's version after its files' times. The template holds `web.assets_backend` with
/// the preinstalled `ent_web`'s script; in the next job (the same bytes, a new time) the
/// tests must not make it again: odoo-ci gives static files times made of their bytes.
#[test]
fn in_ci_a_fresh_clone_keeps_the_bundles_the_template_made_from_enterprise() {
    fresh_clone_keeps_the_template_s_bundles(&["--executor", "local"], "fresh-clone-local", "");
}

/// The same, with the checkout and Enterprise mounted into the official image's container.
#[test]
fn in_ci_a_fresh_clone_mounted_in_docker_keeps_the_template_s_bundles() {
    fresh_clone_keeps_the_template_s_bundles(&[], "fresh-clone-mounted", "mounted read-only");
}

/// `ran` is what the executor step says it did.
fn fresh_clone_keeps_the_template_s_bundles(args: &[&str], label: &str, ran: &str) {
    let enterprise = tempfile::tempdir().unwrap();
    let e = enterprise.path();
    let theme = e.join("ent_web/static/src/theme.js");
    std::fs::create_dir_all(theme.parent().unwrap()).unwrap();
    std::fs::write(
        e.join("ent_web/__manifest__.py"),
        "{'name': 'ent_web', 'version': '17.0.1.0.0', 'depends': ['mail'], 'license': 'OEEL-1',\n \
         'assets': {'web.assets_backend': ['ent_web/static/src/*.js']}}\n",
    )
    .unwrap();
    std::fs::write(e.join("ent_web/__init__.py"), "").unwrap();
    std::fs::write(&theme, "export const theme = 'enterprise';\n").unwrap();
    let p = http_case_project("development:\n  preinstall: [mail, ent_web]\n");
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&config.replace(
        "odoo:\n",
        &format!("odoo:\n  extra_addons_paths: [\"{}\"]\n", e.display()),
    ));
    let job = |output: &str| {
        let ci = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "feature/x"),
        ];
        let (out, r) = run_test_with(&p, (label, output), args, &ci);
        assert_eq!(r["colour"], "green", "{}", out.stderr);
        let install = std::fs::read_to_string(p.path().join(output).join("install.log")).unwrap();
        (out, r, install)
    };
    let backend_made = |log: &str| {
        log.lines().any(|l| {
            l.contains("Generating a new asset bundle attachment /web/assets/")
                && l.contains("/web.assets_backend.min.")
        })
    };
    let (first, r, install) = job("out1");
    assert_eq!(r["template"]["hit"], false, "{}", first.stderr);
    assert!(!backend_made(&install), "the template made it: {install}");

    // The next job's clone: the same bytes, written anew an hour later.
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    for file in [
        &theme,
        &p.path().join("addons/dev_http/static/tests/helpers.js"),
    ] {
        let bytes = std::fs::read(file).unwrap();
        std::fs::write(file, bytes).unwrap();
        let f = std::fs::File::options().write(true).open(file).unwrap();
        f.set_modified(later).unwrap();
    }
    let (second, r, install) = job("out2");
    assert_eq!(r["template"]["hit"], true, "{}", second.stderr);
    assert!(
        !backend_made(&install),
        "the tests reuse the template's web.assets_backend: {install}"
    );
    assert!(
        second.stderr.contains(ran)
            && second
                .stderr
                .contains("static file(s) given times made of their bytes"),
        "{}",
        second.stderr
    );
}

/// In a GitHub Actions log Odoo's own log streams as it runs, folded in a group per step;
/// the failures follow each group, outside it, where a reviewer sees them first.
#[test]
fn in_github_actions_odoo_s_log_streams_folded_and_failures_follow_outside() {
    let p = project(&[("fold_bad", &[], FAILING)], "");
    let cache = p.path().join(".cache");
    let out = run_in(
        p.path(),
        &[
            "test",
            "--executor",
            "local",
            "--output",
            "out",
            "--branch",
            "feature/x",
        ],
        &[
            ("ODOO_CI_TEST_PG", &pg_url()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "feature/x"),
            ("NO_COLOR", "1"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let log = out.stderr;
    let group = log
        .find("::group::Odoo's log (install-and-test)")
        .expect(&log);
    let end = group + log[group..].find("::endgroup::").expect(&log);
    assert!(
        log[group..end].contains("odoo.tests.result: 1 failed"),
        "the log streams: {log}"
    );
    let failure = log.find("TestBad.test_qty").expect(&log);
    assert!(
        log[end..].contains("TestBad.test_qty") && !log[group..end].contains("✗"),
        "the failure is printed after the group, not inside it (first at {failure}): {log}"
    );
}

/// A test that reads every attachment of its database from the filestore, as Odoo finds
/// it (`odoo.tools.config.filestore(db)`): the template's files must be there.
const READS_FILESTORE: &str = "import os\n\nfrom odoo.tests.common import TransactionCase\nfrom odoo.tools import config\n\n\nclass TestFiles(TransactionCase):\n    def test_every_attachment_has_its_file(self):\n        self.env.cr.execute(\"SELECT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL\")\n        names = [r[0] for r in self.env.cr.fetchall()]\n        self.assertTrue(names, 'the template brought attachments')\n        store = config.filestore(config['db_name'])\n        missing = [n for n in names if not os.path.isfile(os.path.join(store, n))]\n        self.assertEqual(missing, [])\n";

/// A remote engine (GitLab's `docker:dind`, `DOCKER_HOST=tcp://…`) sees none of the runner's
/// folders. Development used to bind-mount the runner's data dir anyway, and the image's
/// user (uid 101, as in the official image) could not write into what the engine made of
/// it: the template build failed on `Permission denied`. Odoo now writes into the image's
/// own data dir, and what odoo-ci keeps of it travels through the engine's API: the
/// template's filestore out to the runner, the test database's in — every attachment is
/// there when the tests read it.
#[test]
fn development_on_a_remote_engine_keeps_the_filestores_the_runner_cannot_share() {
    let p = project(
        &[("dev_remote", &["mail"], READS_FILESTORE)],
        "development:\n  preinstall: [mail]\n",
    );
    let (port, connections) = common::engine_over_tcp();
    let runner = p.path().join(".runner");
    std::fs::create_dir_all(&runner).unwrap();
    let host = format!("tcp://127.0.0.1:{port}");
    let out = common::run_blind_to(
        &runner,
        p.path(),
        &["test", "--branch", "feature/remote", "--output", "out"],
        &[
            ("DOCKER_HOST", host.as_str()),
            ("ODOO_CI_CACHE_DIR", runner.to_str().unwrap()),
            ("ODOO_CI_TEST_LABEL", "remote"),
        ],
    );
    let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["colour"], "green", "{}\n{r:#}", out.stderr);
    assert_eq!(r["log"]["tests"]["passed"], 1, "{r:#}");
    assert!(
        connections.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the engine was reached over TCP"
    );
    assert_no_leftovers(&r, "remote");
}

/// `postgres.image` publishes the managed server on the engine's loopback: a runner driving
/// a remote engine cannot reach it there. Said before anything runs, with what to do —
/// not a two-minute wait for a server that can never answer.
#[test]
fn a_managed_postgres_on_a_remote_engine_is_refused_with_what_to_do() {
    let p = project(&[("dev_far", &["base"], PASSING)], "");
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&config.replace(
        "postgres:\n  url: ${ODOO_CI_TEST_PG}\n",
        "postgres:\n  image: postgres:16\n",
    ));
    let (port, _) = common::engine_over_tcp();
    let host = format!("tcp://127.0.0.1:{port}");
    let started = Instant::now();
    let out = run_in(
        p.path(),
        &["test", "--branch", "feature/far", "--output", "out"],
        &[("DOCKER_HOST", host.as_str())],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("remote Docker engine") && out.stderr.contains("postgres.url"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no wait for it"
    );
}
