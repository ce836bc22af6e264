//! The staging stage end to end: a production database made by the fake Odoo on the real
//! PostgreSQL and seeded with everything that reaches the outside world, copied,
//! neutralized, verified, updated and started in the real Docker engine.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    checksum, db_url, fake_odoo_install, fake_odoo_install_series, files_under,
    filestore_helpers_of, image, psql, psql_on, remote_production_engine, run_blind_to, run_in,
    unique, Output, Project,
};
use serde_json::Value;

pub(crate) struct Production {
    db: String,
    data_dir: PathBuf,
}

impl Drop for Production {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.db
        ));
    }
}

/// A repo with addon `stg_a` (and `extra` addons), configured for staging.
pub(crate) fn project(push: &str, extra_addons: &[(&str, &str)]) -> Project {
    let p = Project::new();
    p.addon("stg_a", "17.0.1.0.0", &["mail"])
        .write("addons/stg_a/__init__.py", "");
    for (name, neutralize_sql) in extra_addons {
        p.addon(name, "17.0.1.0.0", &["base"])
            .write(&format!("addons/{name}/__init__.py"), "")
            .write(
                &format!("addons/{name}/data/neutralize.sql"),
                neutralize_sql,
            );
    }
    p.config(&format!(
        "odoo:\n  series: \"17.0\"\n  image: {}\naddons_paths: [addons]\nbranches:\n  - match: main\n    stage: production\n  - match: \"*\"\n    stage: staging\nproduction:\n  database: ${{PROD_URL}}\n  data_dir: ${{PROD_DATA}}\nstaging:\n  push: {push}\n  mail_catcher: \"127.0.0.1:1025\"\n  keep: 2\n  health_check:\n    timeout_secs: 30\n",
        image()
    ));
    p
}

/// Production, as the fake Odoo installs it, then seeded with live outgoing and incoming
/// mail servers, crons, an enabled payment provider and a template bound to a server.
pub(crate) fn production(p: &Project) -> Production {
    let db = unique("prod");
    let data_dir = p.path().join("prod-data");
    let addons: Vec<String> = std::fs::read_dir(p.path().join("addons"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    fake_odoo_install(
        &p.path().join("addons"),
        &db,
        &format!("mail,payment,{}", addons.join(",")),
        &data_dir,
    );
    psql_on(
        &db,
        "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, active) VALUES \
           ('Production SMTP', 'smtp.example.com', 587, true), ('Backup SMTP', 'smtp2.example.com', 25, true);
         INSERT INTO ir_cron (cron_name, active) VALUES ('Send invoices', true), ('Sync bank', true);
         INSERT INTO fetchmail_server (name, server, active, state) VALUES ('Inbox', 'imap.example.com', true, 'done');
         INSERT INTO payment_provider (name, code, state) VALUES ('Stripe', 'stripe', 'enabled'), ('Demo', 'demo', 'test');
         INSERT INTO mail_template (name, mail_server_id) VALUES ('Invoice', 1);
         INSERT INTO ir_act_server (name, state, webhook_url) VALUES \
           ('Notify the CRM', 'webhook', 'https://hooks.example.com/crm'), ('Compute', 'code', NULL);",
    );
    Production { db, data_dir }
}

pub(crate) fn stage(
    p: &Project,
    prod: &Production,
    branch: &str,
    extra: &[&str],
) -> (Output, Value) {
    stage_in_ci(p, prod, branch, extra, &[])
}

/// [`stage`] with the CI's variables `ci` (a GitHub job's, say).
fn stage_in_ci(
    p: &Project,
    prod: &Production,
    branch: &str,
    extra: &[&str],
    ci: &[(&str, &str)],
) -> (Output, Value) {
    let cache = p.path().join(".cache");
    let mut args = vec!["stage", "--branch", branch, "--output", "out"];
    args.extend_from_slice(extra);
    let prod_url = db_url(&prod.db);
    let mut env = vec![
        ("PROD_URL", prod_url.as_str()),
        ("PROD_DATA", prod.data_dir.to_str().unwrap()),
        ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
    ];
    env.extend_from_slice(ci);
    let out = run_in(p.path(), &args, &env);
    let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
    let result: Value = serde_json::from_str(&text).unwrap();
    common::assert_ran_as_planned(&out.stderr, &result);
    (out, result)
}

/// The staging databases of `branch`, oldest first, from `odoo-ci staging list`.
pub(crate) fn staging_dbs(p: &Project, prod: &Production, branch: &str) -> Vec<String> {
    let out = run_in(
        p.path(),
        &["staging", "list", "--format", "json"],
        &[
            ("PROD_URL", &db_url(&prod.db)),
            ("PROD_DATA", prod.data_dir.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let all: Value = serde_json::from_str(&out.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .filter(|d| d["branch"] == branch)
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

/// Drops a branch's staging databases and server with `odoo-ci staging drop`.
pub(crate) fn drop_branch(p: &Project, prod: &Production, branch: &str) {
    drop_branch_in_ci(p, prod, branch, &[]);
}

/// [`drop_branch`] with the CI's variables `ci`.
fn drop_branch_in_ci(p: &Project, prod: &Production, branch: &str, ci: &[(&str, &str)]) {
    let cache = p.path().join(".cache");
    let prod_url = db_url(&prod.db);
    let mut env = vec![
        ("PROD_URL", prod_url.as_str()),
        ("PROD_DATA", prod.data_dir.to_str().unwrap()),
        ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
    ];
    env.extend_from_slice(ci);
    let out = run_in(p.path(), &["staging", "drop", "--of-branch", branch], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

pub(crate) fn http_status(url: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).status)",
            &format!("{url}/web/health"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The database password shows on no command line of the running server: neither in what
/// Docker runs (`docker inspect`) nor in its processes (`docker top`). The official image's
/// 16.0/17.0 entrypoint appended `--db_password …` to Odoo's arguments.
fn assert_no_password_on_a_command_line(container: &str) {
    let password = common::pg_parts().password;
    for args in [
        vec![
            "inspect",
            "-f",
            "{{json .Path}} {{json .Args}} {{json .Config.Cmd}}",
            container,
        ],
        vec!["top", container],
    ] {
        let out = Command::new("docker").args(&args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && !text.trim().is_empty(),
            "{args:?}: {text}"
        );
        assert!(
            !text.contains(&password),
            "the password is on a command line: {text}"
        );
    }
}

#[test]
fn staging_is_a_neutralized_copy_and_production_is_untouched() {
    let p = project("fresh", &[]);
    let prod = production(&p);
    let before = checksum(&prod.db);
    let prod_uuid = psql_on(
        &prod.db,
        "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'",
    );
    let branch = &format!("feat/\"; DROP DATABASE postgres; --{}", unique(""));
    let (out, r) = stage(&p, &prod, branch, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert_eq!(r["colour"], "green");
    let db = r["database"].as_str().unwrap().to_string();
    assert!(db.starts_with("odoo_ci_stg_feat_drop_database_po_"), "{db}");
    assert_no_password_on_a_command_line(r["container"].as_str().unwrap());
    assert!(
        db.len() <= 63
            && db
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    );

    // Everything that reaches the outside world is off, the flag is set.
    assert_eq!(
        psql_on(&db, "SELECT string_agg(smtp_host || ':' || smtp_port, ',') FROM ir_mail_server WHERE active"),
        "127.0.0.1:1025",
        "only the catcher sends"
    );
    assert_eq!(psql_on(&db, "SELECT count(*) FROM ir_cron c WHERE active AND id NOT IN (SELECT res_id FROM ir_model_data WHERE name = 'autovacuum_job')"), "0");
    assert_eq!(
        psql_on(
            &db,
            "SELECT string_agg(webhook_url, ',') FROM ir_act_server WHERE state = 'webhook'"
        ),
        "neutralization - disable webhook",
        "no webhook leaves staging"
    );
    assert_eq!(
        psql_on(
            &db,
            "SELECT active FROM ir_ui_view WHERE key = 'web.neutralize_banner'"
        ),
        "t",
        "the banner says this is a copy"
    );
    assert_eq!(
        psql_on(&db, "SELECT count(*) FROM fetchmail_server WHERE active"),
        "0"
    );
    assert_eq!(
        psql_on(
            &db,
            "SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM payment_provider"
        ),
        "Demo=test,Stripe=disabled"
    );
    assert_eq!(
        psql_on(
            &db,
            "SELECT count(*) FROM mail_template WHERE mail_server_id IS NOT NULL"
        ),
        "0"
    );
    assert_eq!(
        psql_on(
            &db,
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        ),
        "true"
    );
    // A copy is a new database, as Odoo's duplicate makes it.
    let uuid = psql_on(
        &db,
        "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'",
    );
    assert!(
        !uuid.is_empty() && uuid != prod_uuid,
        "{uuid} vs {prod_uuid}"
    );
    assert!(
        r["neutralization"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{r:#}"
    );

    // Production is exactly as before; the filestore was copied.
    assert_eq!(checksum(&prod.db), before, "production changed");
    let store = p.path().join(".cache/data/filestore").join(&db);
    let production_files = files_under(&prod.data_dir.join("filestore").join(&prod.db));
    // One attachment per installed module, as the fake writes them.
    assert!(production_files.len() > 1, "{production_files:?}");
    assert_eq!(
        files_under(&store),
        production_files,
        "filestore copied to {}",
        store.display()
    );
    assert_eq!(r["copy"]["filestore_files"], production_files.len());

    // The server answers at the reported URL.
    assert_eq!(http_status(r["url"].as_str().unwrap()), "200");

    drop_branch(&p, &prod, branch);
    assert!(staging_dbs(&p, &prod, branch).is_empty(), "dropped");
    let containers = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=odoo-ci.database={db}"),
        ])
        .output()
        .unwrap();
    assert!(containers.stdout.is_empty(), "server removed");
}

/// Where staging acts is resolved and reached by the command, before the first step: a
/// job with no Docker engine is a setup error (exit 2, with what to do) that copies
/// nothing, not a red staging build.
#[test]
fn a_staging_job_without_a_docker_engine_is_a_setup_error_and_copies_nothing() {
    let p = project("fresh", &[]);
    let prod = production(&p);
    let dead = format!("unix://{}", p.path().join("no-engine.sock").display());
    let cache = p.path().join(".cache");
    let branch = unique("feat-no-engine");
    let out = run_in(
        p.path(),
        &["stage", "--branch", &branch, "--output", "out"],
        &[
            ("PROD_URL", &db_url(&prod.db)),
            ("PROD_DATA", prod.data_dir.to_str().unwrap()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("DOCKER_HOST", &dead),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no Docker engine") && out.stderr.contains("\nhint: "),
        "{}",
        out.stderr
    );
    assert!(
        staging_dbs(&p, &prod, &branch).is_empty(),
        "nothing was copied"
    );
}

#[test]
fn a_neutralization_that_leaves_a_mail_server_active_is_caught_and_dropped() {
    // A custom addon whose neutralize.sql turns production's SMTP back on: Odoo runs it
    // like any other, and only our verification can notice.
    let p = project(
        "fresh",
        &[(
            "stg_evil",
            "UPDATE ir_mail_server SET active = true WHERE name = 'Production SMTP';\n",
        )],
    );
    let prod = production(&p);
    let before = checksum(&prod.db);
    let branch = unique("evil");
    let (out, r) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(r["colour"], "red");
    let reason = r["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("outgoing mail") && reason.contains("Production SMTP"),
        "{reason}"
    );
    assert_eq!(
        staging_dbs(&p, &prod, &branch),
        Vec::<String>::new(),
        "the failed copy is dropped"
    );
    assert_eq!(checksum(&prod.db), before);
    assert!(r["url"].is_null());
}

#[test]
fn fresh_pushes_make_new_copies_and_keep_n() {
    let p = project("fresh", &[]);
    let prod = production(&p);
    let branch = unique("fresh");
    let mut names = Vec::new();
    for run in 0..3 {
        let (out, r) = stage(&p, &prod, &branch, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        names.push(r["database"].as_str().unwrap().to_string());
        if run == 0 {
            // What a user reads of a green staging run, under a golden file.
            let shown = [
                (branch.as_str(), "<branch>"),
                (prod.db.as_str(), "<production>"),
            ];
            common::assert_stage_run_snapshot(
                "staging_green_terminal",
                &out.stderr,
                p.path(),
                &shown,
            );
            let summary = std::fs::read_to_string(p.path().join("out/summary.md")).unwrap();
            common::assert_stage_run_snapshot(
                "staging_green_summary_md",
                &summary,
                p.path(),
                &shown,
            );
        }
    }
    assert_eq!(
        names
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "{names:?}"
    );
    // keep: 2 — the oldest copy was dropped by the third run.
    assert_eq!(staging_dbs(&p, &prod, &branch), names[1..].to_vec());
    let store = p.path().join(".cache/data/filestore");
    assert!(store.join(&names[2]).is_dir());
    drop_branch(&p, &prod, &branch);
    for name in &names {
        assert!(
            !store.join(name).exists(),
            "`staging drop` left {name}'s filestore"
        );
    }
}

#[test]
fn update_pushes_keep_the_copy_and_update_bumped_addons() {
    let p = project("update", &[]);
    let prod = production(&p);
    let branch = unique("upd");
    let (out, first) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let db = first["database"].as_str().unwrap().to_string();
    assert_eq!(first["changes"]["update"], serde_json::json!([]));
    // A bump in the repo: the next push updates that addon on the same database.
    p.addon("stg_a", "17.0.1.1.0", &["mail"]);
    // The dry run reads the copy it will update, so it shows the very update the stage
    // then runs (it once said `update (0)` from git while the stage ran `-u stg_a`).
    let cache = p.path().join(".cache");
    let planned = run_in(
        p.path(),
        &["plan", "--branch", &branch, "--format", "json"],
        &[
            ("PROD_URL", &db_url(&prod.db)),
            ("PROD_DATA", prod.data_dir.to_str().unwrap()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
        ],
    );
    let planned: Value =
        serde_json::from_str(&planned.stdout).unwrap_or_else(|e| panic!("{e}: {}", planned.stderr));
    assert_eq!(
        planned["addons"]["update"],
        serde_json::json!(["stg_a"]),
        "{planned:#}"
    );
    assert!(
        planned["steps"]
            .to_string()
            .contains(&format!("reuse `{db}`")),
        "{planned:#}"
    );
    let (out, second) = stage(&p, &prod, &branch, &[]);
    assert_eq!(
        second["changes"], planned["changes"],
        "the stage runs the plan's changes"
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        second["database"],
        db.as_str(),
        "update mode keeps the copy"
    );
    assert_eq!(
        second["changes"]["update"][0]["addon"], "stg_a",
        "{second:#}"
    );
    assert_eq!(
        psql_on(
            &db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'stg_a'"
        ),
        "17.0.1.1.0"
    );
    assert_eq!(
        psql_on(
            &prod.db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'stg_a'"
        ),
        "17.0.1.0.0"
    );
    // Still neutralized after the update.
    assert_eq!(
        psql_on(
            &db,
            "SELECT count(*) FROM ir_mail_server WHERE active AND smtp_host <> '127.0.0.1'"
        ),
        "0"
    );
    drop_branch(&p, &prod, &branch);
}

#[test]
fn neutralize_command_neutralizes_and_verifies_any_database() {
    let p = project("fresh", &[]);
    let prod = production(&p);
    let copy = unique("neutral");
    psql(&format!("CREATE DATABASE {copy} TEMPLATE \"{}\"", prod.db));
    let url = db_url(&copy);
    let verify = run_in(
        Path::new("."),
        &["neutralize", "--database", &url, "--verify-only"],
        &[],
    );
    assert_eq!(
        verify.code, 1,
        "production-like data is not neutralized: {}",
        verify.stderr
    );
    assert!(
        verify.stderr.contains("✗ outgoing mail"),
        "{}",
        verify.stderr
    );
    let dry = run_in(
        Path::new("."),
        &["neutralize", "--database", &url, "--dry-run"],
        &[],
    );
    assert!(
        dry.stdout
            .contains("UPDATE ir_mail_server SET active = false;"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        psql_on(&copy, "SELECT count(*) FROM ir_mail_server WHERE active"),
        "2",
        "dry run changes nothing"
    );
    let done = run_in(
        Path::new("."),
        &["neutralize", "--database", &url, "--format", "json"],
        &[],
    );
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    let v: Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(v["neutralized"], true);
    // What is true: Odoo's neutralization leaves its own server active, to the host
    // `invalid` (which never resolves, RFC 6761), so that mail goes nowhere.
    let mail = v["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "outgoing mail"))
        .unwrap_or_else(|| panic!("no outgoing mail check: {v:#}"));
    assert_eq!(
        mail["detail"],
        "only neutralization's own server is active, to the host `invalid` (invalid:1025), which never resolves: mail goes nowhere",
        "{v:#}"
    );
    // Our own SQL covers what Odoo's does for the series: webhooks and the banner too.
    assert_eq!(
        psql_on(&copy, "SELECT count(*) FROM ir_act_server WHERE state = 'webhook' AND webhook_url <> 'neutralization - disable webhook'"),
        "0"
    );
    assert_eq!(
        psql_on(
            &copy,
            "SELECT active FROM ir_ui_view WHERE key = 'web.neutralize_banner'"
        ),
        "t"
    );
    // And the verification fails closed on a webhook that points somewhere.
    psql_on(&copy, "UPDATE ir_act_server SET webhook_url = 'https://hooks.example.com/crm' WHERE state = 'webhook'");
    let live = run_in(
        Path::new("."),
        &["neutralize", "--database", &url, "--verify-only"],
        &[],
    );
    assert_eq!(live.code, 1, "{}", live.stderr);
    assert!(live.stderr.contains("✗ webhooks"), "{}", live.stderr);
    let password = common::pg_parts().password;
    assert!(
        !done.stdout.contains(&password) && !done.stderr.contains(&password),
        "password never printed"
    );
    psql(&format!("DROP DATABASE {copy}"));
}

#[test]
fn staging_streams_the_filestore_of_a_production_on_a_remote_engine() {
    use std::sync::atomic::Ordering;
    let p = project("fresh", &[]);
    let connections = remote_production_engine(&p);
    let prod = production(&p);
    // Beside the installed modules' attachments: a large one (many stream chunks) and a
    // small one.
    let store = prod.data_dir.join("filestore").join(&prod.db);
    let installed = files_under(&store).len();
    let large = "a large attachment\n".repeat(200_000);
    for (path, content) in [("4f/4f1e", large.as_str()), ("0b/0b2c", "small\n")] {
        std::fs::create_dir_all(store.join(&path[..2])).unwrap();
        std::fs::write(store.join(path), content).unwrap();
    }
    let production_files = files_under(&store);
    assert_eq!(
        production_files.len(),
        installed + 2,
        "{:?}",
        production_files.keys()
    );
    let cache = p.path().join(".cache");
    let env = [
        ("PROD_URL", db_url(&prod.db)),
        ("PROD_DATA", prod.data_dir.to_str().unwrap().to_string()),
        ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // The runner cannot see production's data dir; production's engine can.
    let helpers = common::HelperWatch::start();
    let out = run_blind_to(
        &prod.data_dir,
        p.path(),
        &["stage", "--branch", "staging-remote", "--output", "out"],
        &env,
    );
    let r = result_in(&p, "out", &out);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert!(
        connections.load(Ordering::SeqCst) > 0,
        "the filestore came through production's engine"
    );
    let db = r["database"].as_str().unwrap().to_string();
    assert_eq!(
        files_under(&cache.join("data/filestore").join(&db)),
        production_files,
        "staging's filestore is production's"
    );
    assert_eq!(r["copy"]["filestore_files"], production_files.len());
    let container = r["container"].as_str().unwrap();
    let made = helpers.stop(container);
    assert!(
        made.get("filestore") >= Some(&1),
        "the filestore came through helpers labelled with this project: {made:?}"
    );
    assert_eq!(
        filestore_helpers_of(container),
        0,
        "the helper container is removed"
    );
    drop_branch(&p, &prod, "staging-remote");
}

/// `p`'s config with `keep: 1` (retention after every run).
fn keep_one(p: &Project) {
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace("keep: 2", "keep: 1"));
}

fn database_exists(name: &str) -> bool {
    psql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{}'",
        name.replace('\'', "''")
    )) == "1"
}

fn container_running(name: &str) -> bool {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

#[test]
fn two_projects_staging_one_branch_on_one_engine_and_server_keep_their_own() {
    // Project B's `staging-ro` once replaced A's container and, with `keep: 1`, dropped A's
    // staging database: names and retention depended on the branch only.
    let a = project("fresh", &[]);
    let b = project("fresh", &[]);
    keep_one(&a);
    keep_one(&b);
    let prod = production(&a);
    let branch = "staging-ro";
    let (out, ra) = stage(&a, &prod, branch, &[]);
    assert_eq!(ra["colour"], "green", "{}", out.stderr);
    let (out, rb) = stage(&b, &prod, branch, &[]);
    assert_eq!(rb["colour"], "green", "{}", out.stderr);

    let a_db = ra["database"].as_str().unwrap().to_string();
    let a_container = ra["container"].as_str().unwrap().to_string();
    assert_ne!(Some(a_container.as_str()), rb["container"].as_str());
    assert!(database_exists(&a_db), "B dropped A's staging database");
    assert!(container_running(&a_container), "B replaced A's server");
    assert_eq!(http_status(ra["url"].as_str().unwrap()), "200");
    assert_eq!(staging_dbs(&a, &prod, branch), vec![a_db.clone()]);

    // B cannot drop A's database by name either.
    let out = run_in(
        b.path(),
        &["staging", "drop", &a_db],
        &[
            ("PROD_URL", &db_url(&prod.db)),
            ("PROD_DATA", prod.data_dir.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(database_exists(&a_db));

    drop_branch(&a, &prod, branch);
    drop_branch(&b, &prod, branch);
    assert!(!database_exists(&a_db));
}

#[test]
fn retention_drops_only_this_branch_s_own_databases_and_never_leaves_its_folder() {
    let p = project("fresh", &[]);
    keep_one(&p);
    let prod = production(&p);
    let (out, first) = stage(&p, &prod, "staging", &[]);
    assert_eq!(first["colour"], "green", "{}", out.stderr);
    let first_db = first["database"].as_str().unwrap().to_string();
    let prefix = &first_db[..first_db.len() - 17];

    // A branch whose prefix starts with `staging`'s (its slug holds `staging`'s hash)...
    let hex = prefix
        .trim_end_matches('_')
        .rsplit('_')
        .next()
        .unwrap()
        .to_string();
    let lookalike = format!("staging/{hex}/x");
    let (out, other) = stage(&p, &prod, &lookalike, &[]);
    assert_eq!(other["colour"], "green", "{}", out.stderr);
    let other_db = other["database"].as_str().unwrap().to_string();
    assert!(
        other_db.starts_with(prefix),
        "the lookalike shares the prefix"
    );

    // ...and a database named with `../` and a marker copied from a real one.
    let forged = format!("{prefix}/../../victim");
    let marker = psql(&format!(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{first_db}'"
    ));
    psql(&format!("CREATE DATABASE \"{forged}\""));
    psql(&format!(
        "COMMENT ON DATABASE \"{forged}\" IS '{}'",
        marker.replace('\'', "''")
    ));
    let data_dir = p.path().join(".cache/data");
    std::fs::create_dir_all(data_dir.join("filestore").join(prefix)).unwrap();
    let victim = data_dir.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "not odoo-ci's").unwrap();

    let (out, second) = stage(&p, &prod, "staging", &[]);
    assert_eq!(second["colour"], "green", "{}", out.stderr);
    assert!(
        !database_exists(&first_db),
        "keep: 1 drops the branch's older copy"
    );
    assert!(
        database_exists(&other_db),
        "retention of `staging` dropped `{lookalike}`'s database"
    );
    assert!(
        victim.join("keep.txt").exists(),
        "retention deleted a folder outside its filestore"
    );
    psql(&format!("DROP DATABASE IF EXISTS \"{forged}\""));
    drop_branch(&p, &prod, "staging");
    drop_branch(&p, &prod, &lookalike);
}

#[test]
fn a_15_0_copy_is_neutralized_with_odoo_ci_s_own_sql() {
    // Odoo 15.0 has no `odoo neutralize` ("Unknown command"): odoo-ci applies its own SQL,
    // and the same fail-closed verification proves it.
    let p = project("fresh", &[]);
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&format!(
        "{}env:\n  FAKE_ODOO_SERIES: \"15.0\"\n",
        config.replace("series: \"17.0\"", "series: \"15.0\"")
    ));
    p.addon("stg_a", "15.0.1.0.0", &["mail"]);
    let db = unique("prod15");
    let data_dir = p.path().join("prod-data");
    fake_odoo_install_series(
        &p.path().join("addons"),
        &db,
        "mail,payment,stg_a",
        &data_dir,
        "15.0",
    );
    psql_on(
        &db,
        "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, active) VALUES ('Production SMTP', 'smtp.example.com', 587, true);
         INSERT INTO ir_cron (cron_name, active) VALUES ('Send invoices', true);
         INSERT INTO payment_provider (name, code, state) VALUES ('Stripe', 'stripe', 'enabled');",
    );
    let prod = Production { db, data_dir };
    let (out, r) = stage(&p, &prod, "staging-15", &[]);
    assert_eq!(r["colour"], "green", "{}\n{r:#}", out.stderr);
    let staging = r["database"].as_str().unwrap().to_string();
    assert_eq!(
        psql_on(
            &staging,
            "SELECT count(*) FROM ir_mail_server WHERE active AND smtp_host = 'smtp.example.com'"
        ),
        "0"
    );
    assert_eq!(
        psql_on(
            &staging,
            "SELECT count(*) FROM payment_provider WHERE state = 'enabled'"
        ),
        "0"
    );
    drop_branch(&p, &prod, "staging-15");
}

#[test]
fn the_staging_update_is_bounded_by_staging_s_own_timeout() {
    // Staging and production updates were bounded by `development.timeout_secs`.
    let p = project("fresh", &[]);
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&config.replace("staging:\n", "staging:\n  timeout_secs: 3\n"));
    let prod = production(&p);
    // The update imports the addon: make that take longer than staging's timeout.
    p.addon("stg_a", "17.0.1.1.0", &["mail"])
        .write("addons/stg_a/__init__.py", "import time\ntime.sleep(20)\n");
    let started = std::time::Instant::now();
    let (out, r) = stage(&p, &prod, "staging-slow", &[]);
    assert_eq!(r["colour"], "red", "{}", out.stderr);
    assert!(
        r["reasons"]
            .to_string()
            .contains("did not finish within 3 s (`staging.timeout_secs`)"),
        "{r:#}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
    drop_branch(&p, &prod, "staging-slow");
}

/// Every staging branch shared one GitHub environment `staging`, and a dropped branch's
/// deployment stayed active forever. Each branch has its own (`staging/<branch>`): a new
/// deployment supersedes the previous one, and `staging drop` marks the last inactive.
#[test]
fn each_staging_branch_has_its_own_environment_and_a_dropped_one_goes_inactive() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(wiremock::MockServer::start());
    let github = common::github_deployments::Deployments::default();
    rt.block_on(
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(github.clone())
            .mount(&server),
    );
    let p = project("fresh", &[]);
    let prod = production(&p);
    let branch = unique("envs");
    let api = server.uri();
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF_NAME", branch.as_str()),
        ("GITHUB_SHA", "abc123"),
        ("GITHUB_REPOSITORY", "acme/odoo"),
        ("GITHUB_API_URL", api.as_str()),
        ("GITHUB_TOKEN", "ghs_secretTOKEN1234567890"),
        ("ODOO_CI_RETRY_BACKOFF_MS", "10"),
    ];
    for _ in 0..2 {
        let (out, r) = stage_in_ci(&p, &prod, &branch, &[], &ci);
        assert_eq!(r["colour"], "green", "{}", out.stderr);
    }
    let environment = format!("staging/{branch}");
    let states = |github: &common::github_deployments::Deployments| -> Vec<Vec<String>> {
        github
            .of(&environment)
            .into_iter()
            .map(|d| d.states)
            .collect()
    };
    assert_eq!(
        states(&github),
        vec![vec!["success", "inactive"], vec!["success"]],
        "the newer deployment supersedes the older"
    );
    assert!(github.of(&environment).iter().all(|d| d.transient));
    assert!(github.of("staging").is_empty(), "no shared environment");

    drop_branch_in_ci(&p, &prod, &branch, &ci);
    assert_eq!(
        states(&github),
        vec![vec!["success", "inactive"], vec!["success", "inactive"]],
        "a dropped branch's environment is inactive"
    );
    let sent = rt.block_on(server.received_requests()).unwrap();
    common::host_schemas::assert_all_valid(&sent);
}

/// An addon like a connector: its data file defines an active outgoing mail server and an
/// active scheduled action (`noupdate` off, as most addons' data is), so every `-u` writes
/// them again with `active = True`, as Odoo's xml_import does. `neutralize_sql`, when given,
/// is the addon's own `data/neutralize.sql`.
fn connector_addon(p: &Project, version: &str, neutralize_sql: Option<&str>) {
    p.write(
        "addons/acc_cron/__manifest__.py",
        &format!(
            "{{\n    'name': 'acc_cron',\n    'version': '{version}',\n    'depends': ['base'],\n    'data': ['data/servers.xml'],\n}}\n"
        ),
    )
    .write("addons/acc_cron/__init__.py", "")
    .write(
        "addons/acc_cron/data/servers.xml",
        "<odoo>\n  <record id=\"real_smtp\" model=\"ir.mail_server\">\n    <field name=\"name\">Real SMTP</field>\n    <field name=\"smtp_host\">smtp.customer.example</field>\n    <field name=\"smtp_port\" eval=\"587\"/>\n    <field name=\"active\" eval=\"True\"/>\n  </record>\n  <record id=\"sync_cron\" model=\"ir.cron\">\n    <field name=\"name\">Connector: sync orders</field>\n    <field name=\"active\" eval=\"True\"/>\n  </record>\n</odoo>\n",
    );
    match neutralize_sql {
        Some(sql) => {
            p.write("addons/acc_cron/data/neutralize.sql", sql);
        }
        None => {
            let _ = std::fs::remove_file(p.path().join("addons/acc_cron/data/neutralize.sql"));
        }
    }
}

/// What of `db` can reach the outside world: active mail servers other than the catcher,
/// and active crons other than base's autovacuum.
fn live_outgoing(db: &str) -> String {
    psql_on(
        db,
        "SELECT coalesce(string_agg(name, ','), '') FROM ( \
           SELECT name FROM ir_mail_server WHERE active AND smtp_host <> '127.0.0.1' \
           UNION ALL SELECT cron_name FROM ir_cron WHERE active AND id NOT IN \
             (SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'autovacuum_job')) x",
    )
}

fn servers_of(db: &str) -> Vec<String> {
    common::containers_labelled(&format!("odoo-ci.database={db}"), true)
}

#[test]
fn an_update_in_place_that_brings_mail_and_crons_back_is_neutralized_again() {
    let p = project("update", &[]);
    connector_addon(&p, "17.0.1.0.0", None);
    let prod = production(&p);
    assert_eq!(
        live_outgoing(&prod.db).split(',').count(),
        7,
        "production's connector is live: {}",
        live_outgoing(&prod.db)
    );
    let branch = unique("reneutral");
    let (out, first) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let db = first["database"].as_str().unwrap().to_string();
    assert_eq!(live_outgoing(&db), "");
    // Somebody works on the staging copy.
    psql_on(
        &db,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('user.note', 'kept')",
    );
    // The staging branch bumps the connector: its -u writes the server and cron again.
    connector_addon(&p, "17.0.1.0.1", None);
    let (out, second) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 0, "{}\n{second:#}", out.stderr);
    assert_eq!(second["colour"], "green");
    assert_eq!(
        second["database"],
        db.as_str(),
        "the copy is updated in place"
    );
    assert_eq!(
        psql_on(
            &db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'acc_cron'"
        ),
        "17.0.1.0.1"
    );
    assert_eq!(live_outgoing(&db), "", "neutralized again after the update");
    assert_eq!(
        psql_on(
            &db,
            "SELECT value FROM ir_config_parameter WHERE key = 'user.note'"
        ),
        "kept"
    );
    assert_eq!(servers_of(&db).len(), 1, "one server serves the copy");
    assert_eq!(http_status(second["url"].as_str().unwrap()), "200");
    drop_branch(&p, &prod, &branch);
}

#[test]
fn a_fresh_copy_whose_update_brings_mail_back_is_neutralized_again() {
    let p = project("fresh", &[]);
    connector_addon(&p, "17.0.1.0.0", None);
    let prod = production(&p);
    connector_addon(&p, "17.0.1.0.1", None);
    let branch = unique("freshre");
    let (out, r) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let db = r["database"].as_str().unwrap().to_string();
    assert_eq!(r["changes"]["update"][0]["addon"], "acc_cron", "{r:#}");
    assert_eq!(live_outgoing(&db), "");
    drop_branch(&p, &prod, &branch);
}

#[test]
fn a_copy_that_stays_live_after_its_update_is_dropped_with_its_server() {
    let p = project("update", &[]);
    connector_addon(&p, "17.0.1.0.0", None);
    let prod = production(&p);
    let branch = unique("stayslive");
    let (out, first) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let db = first["database"].as_str().unwrap().to_string();
    let server = first["container"].as_str().unwrap().to_string();
    assert!(container_running(&server));
    // The next version's own neutralize.sql turns the customer's SMTP back on: no
    // neutralization can help, only dropping the copy.
    connector_addon(
        &p,
        "17.0.1.0.1",
        Some("UPDATE ir_mail_server SET active = true WHERE name = 'Real SMTP';\n"),
    );
    let (out, r) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(r["colour"], "red");
    let reason = r["reasons"][0].as_str().unwrap();
    assert!(reason.contains("Real SMTP"), "{reason}");
    assert!(
        reason.contains(&format!("`{db}` was dropped")),
        "says what it did: {reason}"
    );
    assert!(!database_exists(&db), "{reason}");
    assert!(servers_of(&db).is_empty(), "no server left on {db}");
    assert!(!container_running(&server));
    assert!(
        !p.path().join(".cache/data/filestore").join(&db).exists(),
        "its filestore is gone"
    );
    assert!(staging_dbs(&p, &prod, &branch).is_empty());
}

#[test]
fn a_copy_that_cannot_be_dropped_is_named_with_the_command_to_clean_up() {
    let p = project("update", &[]);
    connector_addon(&p, "17.0.1.0.0", None);
    let prod = production(&p);
    let branch = unique("undroppable");
    let (out, first) = stage(&p, &prod, &branch, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let db = first["database"].as_str().unwrap().to_string();
    // Live again, and made a template database, which PostgreSQL refuses to drop.
    connector_addon(
        &p,
        "17.0.1.0.1",
        Some("UPDATE ir_mail_server SET active = true WHERE name = 'Real SMTP';\nDO $$ BEGIN EXECUTE format('ALTER DATABASE %I IS_TEMPLATE true', current_database()); END $$;\n"),
    );
    let (out, r) = stage(&p, &prod, &branch, &[]);
    let reason = r["reasons"][0].as_str().unwrap_or_default().to_string();
    let still_there = database_exists(&db);
    psql(&format!("ALTER DATABASE \"{db}\" IS_TEMPLATE false"));
    drop_branch(&p, &prod, &branch);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(still_there, "the test's premise: {db} could not be dropped");
    assert!(
        !reason.contains("was dropped") && !reason.contains("is dropped"),
        "claims a drop that did not happen: {reason}"
    );
    assert!(
        reason.contains(&format!("`{db}` is still there"))
            && reason.contains(&format!("odoo-ci staging drop {db}")),
        "says what is left and how to clean up: {reason}"
    );
    assert!(
        servers_of(&db).is_empty(),
        "its server is stopped: {reason}"
    );
}

/// A runner whose PostgreSQL client is older than the server (a GitHub runner's own client
/// beside a newer `postgres` service) or that has none (a container image with only the
/// binary) is told what to install before anything is copied — not red at the first copy.
#[test]
fn a_runner_without_a_recent_enough_postgresql_client_is_told_what_to_install() {
    use std::os::unix::fs::PermissionsExt;
    let p = project("fresh", &[]);
    let prod = production(&p);
    let old = p.path().join("old-client");
    std::fs::create_dir_all(&old).unwrap();
    for program in ["pg_dump", "pg_restore"] {
        // What `--version` prints (pg_dump.c, pg_restore.c: `<program> (PostgreSQL) <version>`).
        let script = old.join(program);
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho '{program} (PostgreSQL) 9.6.24'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let none = p.path().join("no-client");
    std::fs::create_dir_all(&none).unwrap();
    let branch = unique("client");
    let cache = p.path().join(".cache");
    let prod_url = db_url(&prod.db);
    let path = format!("{}:{}", old.display(), std::env::var("PATH").unwrap());
    for (path, says) in [
        (path.as_str(), "PostgreSQL 9's, older than the server"),
        (none.to_str().unwrap(), "`pg_dump` is not installed"),
    ] {
        let out = run_in(
            p.path(),
            &["stage", "--branch", &branch, "--output", "out"],
            &[
                ("PROD_URL", prod_url.as_str()),
                ("PROD_DATA", prod.data_dir.to_str().unwrap()),
                ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
                ("PATH", path),
            ],
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains(says) && out.stderr.contains("hint: install the PostgreSQL client"),
            "{}",
            out.stderr
        );
        assert!(
            staging_dbs(&p, &prod, &branch).is_empty(),
            "nothing was copied"
        );
    }
}

/// `stage --from-snapshot NAME`: staging copies that snapshot of production, not
/// production as it is — cloned on production's server, its filestore copied, and
/// neutralized like any copy (production's live mail servers are in the snapshot too).
#[test]
fn a_copy_of_a_snapshot_is_cloned_on_production_s_server_and_neutralized() {
    let p = project("fresh", &[]);
    let prod = production(&p);
    let cache = p.path().join(".cache");
    let prod_url = db_url(&prod.db);
    let env = [
        ("PROD_URL", prod_url.as_str()),
        ("PROD_DATA", prod.data_dir.to_str().unwrap()),
        ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
    ];
    let taken = run_in(p.path(), &["snapshots", "create"], &env);
    assert_eq!(taken.code, 0, "{}", taken.stderr);
    let snapshot = taken.stdout.trim().to_string();
    // Written after the snapshot: not in a copy of it.
    psql_on(
        &prod.db,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('after.snapshot', 'x')",
    );

    let branch = &unique("from-snap");
    let (out, r) = stage(&p, &prod, branch, &["--from-snapshot", &snapshot]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let db = r["database"].as_str().unwrap().to_string();
    assert_eq!(r["copy"]["method"], "clone", "{r:#}");
    assert_eq!(
        psql_on(
            &db,
            "SELECT count(*) FROM ir_config_parameter WHERE key = 'after.snapshot'"
        ),
        "0",
        "the snapshot's data, not production's"
    );
    assert_eq!(
        psql_on(&db, "SELECT string_agg(smtp_host || ':' || smtp_port, ',') FROM ir_mail_server WHERE active"),
        "127.0.0.1:1025",
        "neutralized: only the catcher sends"
    );
    let snapshot_files = prod.data_dir.join("odoo-ci-snapshots").join(&snapshot);
    assert!(
        !files_under(&snapshot_files).is_empty(),
        "{snapshot_files:?}"
    );
    assert_eq!(
        r["copy"]["filestore_files"].as_u64(),
        Some(files_under(&snapshot_files).len() as u64),
        "{r:#}"
    );
    drop_branch(&p, &prod, branch);
}

/// A stand-in for production's real SMTP server on the runner's loopback, where a staging
/// server on the host network would reach it: greets and counts who connects.
struct RealSmtp {
    port: u16,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RealSmtp {
    fn start() -> RealSmtp {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = connections.clone();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.write_all(b"554 production SMTP: staging must never connect\r\n");
            }
        });
        RealSmtp { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn http_get(url: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
            url,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The messages the catcher at `ui` holds (Mailpit's `GET /api/v1/messages`), waiting up to
/// `secs` for at least one.
fn caught(ui: &str, secs: u64) -> Vec<Value> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let text = http_get(&format!("{}api/v1/messages", ui));
        let listed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let messages = listed["messages"].as_array().cloned().unwrap_or_default();
        if !messages.is_empty() || std::time::Instant::now() > until {
            return messages;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// `p`'s config with a catcher odoo-ci runs (`image`) and the mail queue's cron kept, so the
/// copy sends what production had queued.
fn with_catcher_run(p: &Project, image: &str) {
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "  mail_catcher: \"127.0.0.1:1025\"\n",
        &format!("  mail_catcher:\n    image: {image}\n  cron_allowlist: [mail.ir_cron_mail_scheduler_action]\n"),
    ));
}

fn mail_image() -> String {
    std::env::var("ODOO_CI_TEST_MAIL_IMAGE")
        .expect("ODOO_CI_TEST_MAIL_IMAGE is not set: run the tests with ./scripts/test")
}

/// Production queued an invoice to a customer through its own SMTP server. The staging
/// copy's Odoo sends its mail queue (the cron is kept on purpose): the invoice lands in the
/// branch's catcher, which the team reads at the URL the result gives, and production's
/// server is never contacted. Dropping the branch removes the catcher.
#[test]
fn staging_mail_lands_in_the_branch_s_catcher_and_never_reaches_production_s_server() {
    let p = project("fresh", &[]);
    with_catcher_run(&p, &mail_image());
    let prod = production(&p);
    let real = RealSmtp::start();
    psql_on(
        &prod.db,
        &format!(
            "UPDATE ir_mail_server SET smtp_host = '127.0.0.1', smtp_port = {} WHERE name = 'Production SMTP';
             INSERT INTO mail_message (subject, email_from, mail_server_id) \
               SELECT 'Invoice INV/2026/0042', 'billing@example.com', id FROM ir_mail_server WHERE name = 'Production SMTP';
             INSERT INTO mail_mail (mail_message_id, email_to, body_html, state) \
               SELECT max(id), 'customer@example.com', 'Please pay INV/2026/0042', 'outgoing' FROM mail_message;",
            real.port
        ),
    );
    let branch = &unique("mail");
    let (out, r) = stage(&p, &prod, branch, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let ui = r["mail_url"]
        .as_str()
        .expect("the catcher's URL")
        .to_string();
    assert!(
        out.stderr.contains(&ui),
        "the run says where mail is read: {}",
        out.stderr
    );
    let summary = std::fs::read_to_string(p.path().join("out/summary.md")).unwrap();
    assert!(summary.contains(&ui), "{summary}");

    let messages = caught(&ui, 30);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["To"][0]["Address"], "customer@example.com");
    assert_eq!(messages[0]["Subject"], "Invoice INV/2026/0042");
    let db = r["database"].as_str().unwrap();
    assert_eq!(
        psql_on(
            db,
            "SELECT string_agg(cron_name, ',' ORDER BY cron_name) FROM ir_cron WHERE active"
        ),
        "Base: Auto-vacuum internal data,Mail: Email Queue Manager",
        "the allow-listed cron stays on, every other is off"
    );
    assert_eq!(psql_on(db, "SELECT state FROM mail_mail"), "sent");
    assert_eq!(
        real.connections(),
        0,
        "production's SMTP server was contacted"
    );

    let catcher = format!("{}-mail", r["container"].as_str().unwrap());
    assert!(container_running(&catcher), "{catcher}");
    drop_branch(&p, &prod, branch);
    let left = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("name=^{catcher}$")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "the catcher is removed with its branch"
    );
}

/// A catcher that does not answer SMTP stops staging before anything is copied: mail never
/// goes anywhere unread.
#[test]
fn a_catcher_that_does_not_answer_stops_staging_before_anything_is_copied() {
    let p = project("fresh", &[]);
    // An image that runs but listens on nothing: the base image's shell, sleeping.
    with_catcher_run(&p, &image());
    let prod = production(&p);
    let branch = &unique("mute");
    let cache = p.path().join(".cache");
    let out = run_in(
        p.path(),
        &["stage", "--branch", branch, "--output", "out"],
        &[
            ("PROD_URL", &db_url(&prod.db)),
            ("PROD_DATA", prod.data_dir.to_str().unwrap()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not answer SMTP") && out.stderr.contains("nothing was copied"),
        "{}",
        out.stderr
    );
    assert!(staging_dbs(&p, &prod, branch).is_empty());
    drop_branch(&p, &prod, branch);
}

/// An addon whose code, loaded on a staging copy (its update), takes a few seconds: a
/// window in which the test stops the catcher.
const SLOW_ON_STAGING: &str = "import time\n\nfrom odoo.tools import config\n\nif (config.get('db_name') or '').startswith('odoo_ci_stg_'):\n    time.sleep(6)\n";

/// The catcher answered when the run began, and stopped while the copy was updated: no
/// staging server starts on a copy whose mail would have nowhere safe to go. The run is
/// red, the copy is dropped, nothing serves.
#[test]
fn a_catcher_that_stops_mid_run_stops_staging_before_its_server_starts() {
    let p = project("fresh", &[]);
    p.addon("stg_slow", "17.0.1.0.0", &["base"])
        .write("addons/stg_slow/__init__.py", SLOW_ON_STAGING);
    with_catcher_run(&p, &mail_image());
    let prod = production(&p);
    // A newer version: the staging run updates it (and so loads its code).
    p.addon("stg_slow", "17.0.1.0.1", &["base"]);
    // Short enough that its slug is itself (database and server names carry it).
    let branch = unique("s");
    let cache = p.path().join(".cache");
    let run = Command::new(common::bin())
        .args(["stage", "--branch", &branch, "--output", "out"])
        .current_dir(p.path())
        .env("PROD_URL", db_url(&prod.db))
        .env("PROD_DATA", &prod.data_dir)
        .env("ODOO_CI_CACHE_DIR", &cache)
        .env("ODOO_CI_TEST_PG", common::pg_url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the copy exists, the catcher was checked: stop it.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let copy = loop {
        let found = psql(&format!(
            "SELECT datname FROM pg_database WHERE datname LIKE 'odoo_ci_stg_{}%'",
            branch.replace('-', "_")
        ));
        if !found.is_empty() {
            break found;
        }
        assert!(std::time::Instant::now() < until, "no copy was made");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let catchers = Command::new("docker")
        .args(["ps", "-q", "--filter", "label=odoo-ci.mail-catcher-of"])
        .args(["--filter", &format!("name={}", branch.replace('_', "-"))])
        .output()
        .unwrap();
    let catchers = String::from_utf8_lossy(&catchers.stdout).to_string();
    assert_eq!(catchers.lines().count(), 1, "{catchers:?}");
    // It dies (`docker stop` would wait out its grace period: the fake's server is PID 1).
    Command::new("docker")
        .args(["kill", catchers.trim()])
        .output()
        .unwrap();
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("does not answer SMTP"), "{stderr}");
    assert!(
        staging_dbs(&p, &prod, &branch).is_empty(),
        "the copy was dropped"
    );
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{copy}'"
        )),
        "0"
    );
    assert!(
        common::containers_labelled(&format!("odoo-ci.database={copy}"), true).is_empty(),
        "no server of it"
    );
    drop_branch(&p, &prod, &branch);
}

/// Two staging jobs of one branch at once (a push and a re-run): both start from the same
/// catcher, neither fails on the other having just made it.
#[test]
fn two_staging_jobs_of_a_branch_at_once_share_its_catcher() {
    let p = project("update", &[]);
    with_catcher_run(&p, &mail_image());
    let prod = production(&p);
    let branch = unique("twice");
    let job = |output: &str| {
        let cache = p.path().join(".cache");
        run_in(
            p.path(),
            &["stage", "--branch", &branch, "--output", output],
            &[
                ("PROD_URL", &db_url(&prod.db)),
                ("PROD_DATA", prod.data_dir.to_str().unwrap()),
                ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ],
        )
    };
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| job("out-a"));
        let second = s.spawn(|| job("out-b"));
        (first.join().unwrap(), second.join().unwrap())
    });
    assert_eq!((a.code, b.code), (0, 0), "{}\n---\n{}", a.stderr, b.stderr);
    drop_branch(&p, &prod, &branch);
}

/// The result a run that printed `out` wrote to `dir` of `p`.
fn result_in(p: &Project, dir: &str, out: &Output) -> Value {
    let path = p.path().join(dir).join("odoo-ci-result.json");
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
    serde_json::from_str(&text).unwrap()
}

/// The files under `dir` of the container `id`, relative to it, sorted.
fn files_in_container(id: &str, dir: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "exec",
            id,
            "sh",
            "-c",
            &format!("cd {dir} && find . -type f | sort"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect()
}

/// A staging server lives on the engine the job drives (`DOCKER_HOST`: a host that stays
/// up, where a GitHub-hosted runner does not). That engine sees none of the runner's
/// folders: the copy's filestore is production's, in a volume of that engine, and the server
/// serves from it after the job's folders are gone; dropping the branch removes the volume.
#[test]
fn staging_serves_on_a_remote_engine_with_the_copy_s_filestore_there() {
    let p = project("fresh", &[]);
    let prod = production(&p);
    let production_files: Vec<String> =
        files_under(&prod.data_dir.join("filestore").join(&prod.db))
            .into_keys()
            .collect();
    assert!(!production_files.is_empty());
    let (port, _) = common::engine_over_tcp();
    let cache = p.path().join(".cache");
    std::fs::create_dir_all(&cache).unwrap();
    let env = [
        ("PROD_URL", db_url(&prod.db)),
        ("PROD_DATA", prod.data_dir.to_str().unwrap().to_string()),
        ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap().to_string()),
        ("DOCKER_HOST", format!("tcp://127.0.0.1:{port}")),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_blind_to(
        &cache,
        p.path(),
        &["stage", "--branch", "staging-far", "--output", "out"],
        &env,
    );
    let r = result_in(&p, "out", &out);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let (db, url) = (r["database"].as_str().unwrap(), r["url"].as_str().unwrap());
    assert_eq!(http_status(url), "200", "{url}");
    let container = r["container"].as_str().unwrap();
    assert_eq!(
        files_in_container(container, &format!("/var/lib/odoo/filestore/{db}")),
        production_files,
        "the server reads production's files"
    );
    assert_eq!(
        common::volumes_labelled(&format!("odoo-ci.database={db}")).len(),
        1
    );
    drop_branch(&p, &prod, "staging-far");
    assert!(common::volumes_labelled(&format!("odoo-ci.database={db}")).is_empty());

    // A catcher odoo-ci runs there publishes its UI on that host's loopback: without a
    // proxy to route it, nobody could read it — refused first.
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "mail_catcher: \"127.0.0.1:1025\"",
        &format!("mail_catcher:\n    image: {}", mail_image()),
    ));
    let out = run_in(
        p.path(),
        &["stage", "--branch", "staging-far", "--output", "out2"],
        &env,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".odoo-ci.yml:") && out.stderr.contains("staging.mail_catcher"),
        "{}",
        out.stderr
    );
    assert!(!p.path().join("out2/odoo-ci-result.json").exists());

    // With `staging.proxy`, the catcher's greeting is heard from that host and its UI is
    // routed beside the branch's server.
    let caddy = common::caddy::Caddy::start();
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "staging:\n",
        &format!(
            "staging:\n  proxy:\n    caddy: http://127.0.0.1:{}\n    url: \"http://{{branch}}.far.test\"\n",
            caddy.admin
        ),
    ));
    let helpers = common::HelperWatch::start();
    let out = run_blind_to(
        &cache,
        p.path(),
        &["stage", "--branch", "staging-far", "--output", "out3"],
        &env,
    );
    let r = result_in(&p, "out3", &out);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert_eq!(r["url"], "http://staging-far.far.test");
    assert_eq!(r["mail_url"], "http://mail-staging-far.far.test");
    let helpers = helpers.stop(r["container"].as_str().unwrap());
    assert!(
        helpers.get("smtp") >= Some(&2),
        "the catcher's greeting was heard from the engine's host, first and before the start: {helpers:?}"
    );
    assert_eq!(caddy.fetch("staging-far.far.test", "/web/health").0, 200);
    let (status, messages) = caddy.fetch("mail-staging-far.far.test", "/api/v1/messages");
    assert_eq!(status, 200, "{messages}");
    drop_branch(&p, &prod, "staging-far");
    for host in ["staging-far.far.test", "mail-staging-far.far.test"] {
        assert_eq!(
            caddy.get(host),
            "",
            "{host}: its routes went with the branch"
        );
    }
}

/// With `staging.proxy`, a staging branch's server gets a URL of its own: odoo-ci routes it
/// on Caddy (through its admin API) once the server is healthy, the result carries that URL,
/// and the route goes with the branch.
#[test]
fn a_staging_server_is_opened_by_its_branch_s_url_through_caddy() {
    let caddy = common::caddy::Caddy::start();
    let p = project("fresh", &[]);
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&text.replace(
        "staging:\n",
        &format!(
            "staging:\n  proxy:\n    caddy: http://127.0.0.1:{}\n    url: \"http://{{branch}}.staging.test\"\n",
            caddy.admin
        ),
    ));
    let prod = production(&p);
    let (out, r) = stage(&p, &prod, "staging-Web", &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert_eq!(r["url"], "http://staging-web.staging.test");
    assert_eq!(
        caddy.get("staging-web.staging.test"),
        "{\"status\": \"pass\"}"
    );
    drop_branch(&p, &prod, "staging-Web");
    assert_eq!(
        caddy.get("staging-web.staging.test"),
        "",
        "the route went with it"
    );
}
