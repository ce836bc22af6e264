//! The production stage end to end: a production database made by the fake Odoo on the
//! real PostgreSQL, releases started as blue/green containers on a real Docker network,
//! and every failure (update, health, crash after the switch) rolled back to exactly the
//! database that was there before.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    checksum, containers_labelled, db_url, fake_odoo_install, files_under, filestore_helpers_of,
    give_to_odoo_user, image, psql, psql_on, remote_production_engine, run_blind_to, run_in,
    unique, Output, Project,
};
use serde_json::Value;

use common::production::*;

#[test]
fn a_bump_is_updated_blue_green_and_an_unbumped_change_is_not() {
    let (p, prod) = serving_production();

    // An unbumped change updates nothing (version mode).
    p.write("addons/prod_a/models.py", "# changed\n");
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(step(&r, "update")["status"], "skipped");
    assert_eq!(r["active_colour"], "green");

    // A bump updates exactly that addon, and the colour flips again.
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert_eq!(r["changes"]["update"].as_array().unwrap().len(), 1);
    assert_eq!(r["changes"]["update"][0]["addon"], "prod_a");
    assert_eq!(step(&r, "update")["status"], "completed");
    assert_eq!(r["active_colour"], "blue");
    for s in [
        "lock", "release", "snapshot", "update", "start", "health", "switch", "settle", "stop-old",
        "prune",
    ] {
        let st = step(&r, s);
        assert_eq!(st["status"], "completed", "{s}: {r:#}");
        assert!(st["started_at"].is_string() && st["ended_at"].is_string());
    }
    assert_eq!(
        psql_on(
            &prod.db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'prod_a'"
        ),
        "17.0.1.1.0"
    );
    let (name, ip) = serving(&prod).unwrap();
    assert!(name.ends_with("-blue") && healthy(&ip));
    let containers = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=odoo-ci.production={}", prod.db),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&containers.stdout).lines().count(),
        1,
        "the old colour is stopped"
    );

    // The history lives with the snapshots.
    let cache = p.path().join(".cache");
    let env = env(&prod, cache.to_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let list = run_in(p.path(), &["deployments", "list", "--format", "json"], &env);
    let history: Value = serde_json::from_str(&list.stdout)
        .unwrap_or_else(|_| panic!("{}{}", list.stdout, list.stderr));
    assert_eq!(history.as_array().unwrap().len(), 3, "{history:#}");
    assert_eq!(history[0]["id"], r["id"], "newest first");
    assert_eq!(history[0]["trigger"], "manual");
    assert!(history[0]["snapshot"].is_string());
}

#[test]
fn a_failed_update_restores_the_snapshot_and_keeps_blue() {
    let (p, prod) = serving_production();
    let before = checksum(&prod.db);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    p.write(
        "addons/prod_a/__manifest__.py",
        "{'name': 'prod_a', 'version': '17.0.1.1.0', 'depends': ['mail'], 'data': ['data/broken.xml']}\n",
    );
    p.write(
        "addons/prod_a/data/broken.xml",
        "<odoo>\n  <record id=\"x\"\n</odoo>\n",
    );
    let (out, r) = deploy(&p, &prod, &[]);
    assert_rolled_back(&p, &prod, &before, &out, &r, "update");
    let log = std::fs::read_to_string(p.path().join("out/update.log")).unwrap();
    assert!(log.contains("ParseError"), "the update log is kept: {log}");
    // What a user reads of a deploy rolled back, under a golden file.
    let shown = [
        (prod.db.as_str(), "<production>"),
        (prod.network.as_str(), "<network>"),
    ];
    common::assert_stage_run_snapshot(
        "production_rolled_back_terminal",
        &out.stderr,
        p.path(),
        &shown,
    );
    let summary = std::fs::read_to_string(p.path().join("out/summary.md")).unwrap();
    common::assert_stage_run_snapshot(
        "production_rolled_back_summary_md",
        &summary,
        p.path(),
        &shown,
    );
}

#[test]
fn a_release_that_never_becomes_healthy_is_rolled_back() {
    let (p, prod) = serving_production();
    let before = checksum(&prod.db);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    p.write(
        "addons/prod_a/__init__.py",
        "import os\nimport sys\n\nif '--stop-after-init' not in sys.argv:\n    os._exit(3)\n",
    );
    let (out, r) = deploy(&p, &prod, &[]);
    assert_rolled_back(&p, &prod, &before, &out, &r, "health");
}

#[test]
fn a_crash_right_after_the_switch_is_rolled_back() {
    let (p, prod) = serving_production();
    let before = checksum(&prod.db);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    p.write(
        "addons/prod_a/__init__.py",
        "import os\nimport sys\nimport threading\n\nif '--stop-after-init' not in sys.argv:\n    threading.Timer(3, os._exit, [3]).start()\n",
    );
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(step(&r, "switch")["status"], "completed", "{r:#}");
    assert_rolled_back(&p, &prod, &before, &out, &r, "settle");
}

#[test]
fn a_downgrade_is_refused_before_anything_is_touched() {
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    let prod = production(&p, &net);
    psql_on(
        &prod.db,
        "UPDATE ir_module_module SET latest_version = '17.0.2.0.0' WHERE name = 'prod_a'",
    );
    let before = checksum(&prod.db);
    // The plan reads what production has installed: the downgrade is a problem of the plan,
    // and a plan with problems runs nothing.
    let cache = p.path().join(".cache");
    let env = env(&prod, cache.to_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_in(
        p.path(),
        &["deploy", "--branch", "main", "--output", "out"],
        &env,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("prod_a")
            && out.stderr.contains("17.0.2.0.0")
            && out.stderr.contains("cannot downgrade"),
        "{}",
        out.stderr
    );
    let plan = run_in(
        p.path(),
        &["plan", "--branch", "main", "--format", "json"],
        &env,
    );
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    assert!(
        plan["problems"].to_string().contains("cannot downgrade"),
        "`plan` shows the same problem: {plan:#}"
    );
    assert!(!p.path().join("out/odoo-ci-result.json").exists());
    assert_eq!(checksum(&prod.db), before);
    assert!(serving(&prod).is_none());
}

#[test]
fn a_second_deploy_waits_or_fails_fast() {
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    let prod = production(&p, &net);
    let cache = p.path().join(".cache");
    let mut first = Command::new(common::bin());
    first
        .current_dir(p.path())
        .args(["deploy", "--branch", "main", "--output", "out-a"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env(&prod, cache.to_str().unwrap()) {
        first.env(k, v);
    }
    let mut first = first.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let holder = format!("odoo-ci deploy {}", prod.db);
    while psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{holder}'"
    )) != "1"
    {
        assert!(
            Instant::now() < deadline,
            "the first deploy never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let env2 = env(&prod, cache.to_str().unwrap());
    let env2: Vec<(&str, &str)> = env2.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let second = run_in(
        p.path(),
        &[
            "deploy",
            "--branch",
            "main",
            "--output",
            "out-b",
            "--no-wait",
        ],
        &env2,
    );
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("another deploy of"),
        "{}",
        second.stderr
    );
    assert!(
        first.wait().unwrap().success(),
        "the first deploy carries on"
    );
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out-a/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["colour"], "green");
}

/// A one-file change with nothing to build (no Dockerfile, no requirements): no image is
/// built; the release is the commit's files in a volume, mounted read-only into the base
/// image, and what serves runs the new file. The previous release's volume stays, so a
/// rollback to that deployment serves the old file again, with no build either.
#[test]
fn a_one_file_change_is_carried_not_built_and_a_rollback_serves_the_old_files_again() {
    let (p, prod) = serving_production();
    let served = |file: &str| {
        let (name, _) = serving(&prod).expect("a release serves");
        let out = Command::new("docker")
            .args(["exec", &name, "cat"])
            .arg(format!("/mnt/odoo-ci/project/addons/prod_a/{file}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    p.write("addons/prod_a/static/note.txt", "first\n");
    let (out, first) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(served("static/note.txt"), "first\n");
    p.write("addons/prod_a/static/note.txt", "second\n");
    let (out, second) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}\n{second:#}", out.stderr);
    assert_eq!(served("static/note.txt"), "second\n", "the new file serves");
    let release = step(&second, "release")["output"].as_str().unwrap();
    assert!(release.contains("KiB carried"), "{release}");
    assert_eq!(second["image"], image(), "the base image runs: {second:#}");
    assert_ne!(second["release_volume"], first["release_volume"]);
    assert_eq!(second["previous_release_volume"], first["release_volume"]);
    let volume = second["release_volume"].as_str().unwrap();
    let scope = Command::new("docker")
        .args([
            "volume",
            "inspect",
            "-f",
            "{{index .Labels \"odoo-ci.project\"}}",
        ])
        .arg(volume)
        .output()
        .unwrap();
    let scope = String::from_utf8_lossy(&scope.stdout).trim().to_string();
    assert!(!scope.is_empty(), "the volume is the project's");
    let images = Command::new("docker")
        .args(["images", "-q", "--filter"])
        .arg(format!("label=odoo-ci.project={scope}"))
        .output()
        .unwrap();
    assert!(images.stdout.is_empty(), "no image was built for {scope}");

    let back = rollback_to(&p, &prod, second["id"].as_str().unwrap());
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(
        served("static/note.txt"),
        "first\n",
        "the old files serve again"
    );
    let (_, ip) = serving(&prod).expect("serving after the rollback");
    assert!(healthy(&ip));
}

/// Odoo names a bundle's version after its files' paths and modification times
/// (`AssetsBundle.get_checksum`), and serves the attachment it has for that version. A
/// release whose changed script kept one time would serve the old bundle to every user:
/// after a deploy that changes only a script (no version bump, so no update), the login
/// page links a new bundle holding the new script.
#[test]
fn a_script_only_deploy_serves_the_new_bundle_not_the_one_the_database_kept() {
    let (p, prod) = serving_production();
    let script = |text: &str| {
        p.write(
            "addons/prod_a/__manifest__.py",
            "{'name': 'prod_a', 'version': '17.0.1.0.0', 'depends': ['mail'], 'license': 'LGPL-3',\n \
             'assets': {'web.assets_frontend': ['prod_a/static/src/*.js']}}\n",
        )
        .write("addons/prod_a/static/src/shop.js", text);
    };
    let served_script = || {
        let (_, ip) = serving(&prod).expect("a release serves");
        let get = |path: &str| {
            let out = Command::new("python3")
                .args([
                    "-c",
                    "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())",
                    &format!("http://{ip}:8069{path}"),
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let page = get("/web/login");
        let src = page
            .split("<script src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no bundle on the login page: {page}"))
            .to_string();
        (src.clone(), get(&src))
    };
    script("const greeting = 'first';\n");
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let (first_url, first) = served_script();
    assert!(first.contains("'first'"), "{first_url}: {first}");
    // Same length, same path: only the content differs.
    script("const greeting = 'other';\n");
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let (second_url, second) = served_script();
    assert_ne!(second_url, first_url, "a new version of the bundle");
    assert!(
        second.contains("'other'"),
        "the new script serves: {second}"
    );
}

/// With a requirements.txt (and no Dockerfile) the requirements go into a dependencies
/// image built once per their content; the code still travels in the release volume, so
/// a code change builds nothing and a requirements change builds that image again.
#[test]
fn requirements_are_built_once_into_a_dependencies_image_and_code_is_carried() {
    let (p, prod) = serving_production();
    // What the build step says when it builds the dependencies image (never on a reuse).
    let built = format!("FROM {} with requirements.txt installed", image());
    p.write("requirements.txt", "# pinned: none yet\n");
    let (out, first) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}\n{first:#}", out.stderr);
    assert!(out.stderr.contains(&built), "{}", out.stderr);
    let deps = first["image"].as_str().unwrap().to_string();
    assert!(deps.contains(":deps-"), "{first:#}");
    let (name, _) = serving(&prod).expect("serving");
    let inspect = |format: &str| {
        let out = Command::new("docker")
            .args(["inspect", "-f", format, &name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        inspect("{{.Config.Image}}"),
        deps,
        "the dependencies image serves"
    );

    p.write("addons/prod_a/models.py", "# a code change\n");
    let (out, second) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stderr.contains(&built),
        "a code change builds nothing: {}",
        out.stderr
    );
    assert_eq!(second["image"], deps.as_str());
    assert_ne!(second["release_volume"], first["release_volume"]);

    p.write("requirements.txt", "# pinned: none yet\n# reviewed\n");
    let (out, third) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains(&built));
    assert_ne!(third["image"], deps.as_str(), "new requirements, new image");
}

/// A deploy killed while it carried its release leaves the helper container it unpacked
/// through (created, never started): the next deploy removes it under the deploy lock.
#[test]
fn a_release_helper_left_by_a_killed_deploy_is_removed_by_the_next() {
    let (p, prod) = serving_production();
    let (name, _) = serving(&prod).expect("serving");
    let label = |key: &str| {
        let out = Command::new("docker")
            .args([
                "inspect",
                "-f",
                &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
                &name,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let scope = label("odoo-ci.project");
    let volume = label("odoo-ci.release-volume");
    let left = Command::new("docker")
        .args(["create", "--label", &format!("odoo-ci.project={scope}")])
        .args([
            "--label",
            "odoo-ci.stage=production",
            "--label",
            "odoo-ci.helper=release",
        ])
        .args(["-v", &format!("{volume}:/mnt/odoo-ci"), &image(), "true"])
        .output()
        .unwrap();
    assert!(
        left.status.success(),
        "{}",
        String::from_utf8_lossy(&left.stderr)
    );
    let left = String::from_utf8_lossy(&left.stdout).trim().to_string();
    p.write("addons/prod_a/models.py", "# after a killed deploy\n");
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let still = Command::new("docker")
        .args(["inspect", &left])
        .output()
        .unwrap();
    if still.status.success() {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &left])
            .output();
        panic!("the killed deploy's helper is still there");
    }
}

#[test]
fn rollback_to_a_deployment_restores_its_snapshot_and_image() {
    let (p, prod) = serving_production();
    let before_bump = checksum(&prod.db);
    let filestore = prod.data_dir.join("filestore").join(&prod.db);
    let files_before_bump = files_under(&filestore);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    let (out, bumped) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        psql_on(
            &prod.db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'prod_a'"
        ),
        "17.0.1.1.0"
    );
    assert_eq!(
        files_under(&filestore).len(),
        files_before_bump.len() + 1,
        "the update wrote a file"
    );

    let back = rollback_to(&p, &prod, bumped["id"].as_str().unwrap());
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(
        checksum(&prod.db),
        before_bump,
        "the database before the bumped deploy"
    );
    assert_eq!(
        files_under(&filestore),
        files_before_bump,
        "the filestore before the bumped deploy (the update added an attachment)"
    );
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out-rb/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["trigger"], "rollback");
    assert_eq!(
        r["image"], bumped["previous_image"],
        "the image that served before"
    );
    let (_, ip) = serving(&prod).expect("serving after the rollback");
    assert!(healthy(&ip));

    // Snapshots: pin one, prune to one — the pinned one stays.
    let cache = p.path().join(".cache");
    let env = env(&prod, cache.to_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let list = run_in(p.path(), &["snapshots", "list", "--format", "json"], &env);
    let snaps: Value = serde_json::from_str(&list.stdout).unwrap();
    let all: Vec<String> = snaps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(all.len() >= 3, "{all:?}");
    assert_eq!(
        run_in(p.path(), &["snapshots", "pin", &all[0]], &env).code,
        0
    );
    let pruned = run_in(p.path(), &["snapshots", "prune", "--keep", "1"], &env);
    assert_eq!(pruned.code, 0, "{}", pruned.stderr);
    let list = run_in(p.path(), &["snapshots", "list", "--format", "json"], &env);
    let left: Vec<String> = serde_json::from_str::<Value>(&list.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        left,
        vec![all[0].clone(), all[all.len() - 1].clone()],
        "pinned + newest"
    );
}

/// A deploy that failed before touching production: untouched, blue serving, red naming `step`.
fn assert_untouched(prod: &Production, before: &str, out: &Output, r: &Value, failed: &str) {
    assert_red_at(out, r, failed);
    assert_eq!(r["rolled_back"], false, "nothing to roll back");
    assert_eq!(checksum(&prod.db), before);
    let (name, ip) = serving(prod).expect("the previous release still serves");
    assert!(name.ends_with("-blue") && healthy(&ip), "{name}");
}

#[test]
fn a_failed_build_or_snapshot_leaves_production_as_it_was() {
    let (p, prod) = serving_production();
    let before = checksum(&prod.db);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);

    let cache = p.path().join(".cache");
    let deploy_with_path = |path: &str| {
        let mut env = env(&prod, cache.to_str().unwrap());
        env.push(("PATH", path.into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_in(
            p.path(),
            &["deploy", "--branch", "main", "--output", "out"],
            &env,
        )
    };

    // No pg_dump on the runner: refused before anything runs (exit 2), nothing touched.
    let out = deploy_with_path("/nonexistent");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("`pg_dump` is not installed"),
        "{}",
        out.stderr
    );
    assert_eq!(checksum(&prod.db), before);

    // The snapshot cannot be taken: a pg_dump that fails to dump (a full disk, say).
    let failing = p.path().join("failing-pg-dump");
    std::fs::create_dir_all(&failing).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v pg_dump"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let script = failing.join("pg_dump");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh
[ \"$1\" = --version ] && exec {} --version
echo 'pg_dump: error: could not write to output file: No space left on device' >&2
exit 1
",
            real.trim()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", failing.display(), std::env::var("PATH").unwrap());
    let out = deploy_with_path(&path);
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    assert_untouched(&prod, &before, &out, &r, "snapshot");
    assert!(
        r["reasons"][0].as_str().unwrap().contains("pg_dump"),
        "{r:#}"
    );
    assert_eq!(step(&r, "update")["status"], "skipped");

    // The image does not build.
    p.write("Dockerfile", &format!("FROM {}\nRUN exit 7\n", image()));
    let (out, r) = deploy(&p, &prod, &[]);
    assert_untouched(&prod, &before, &out, &r, "build");
    assert!(
        r["snapshot"].is_null(),
        "no snapshot for a release that never built"
    );
}

/// Production is resolved and reached by the command before the first step: a job that
/// cannot reach production's engine is a setup error (exit 2, with what to do), and the
/// database is exactly as it was — no lock, no snapshot, no maintenance.
#[test]
fn a_deploy_that_cannot_reach_production_s_engine_is_a_setup_error_that_touches_nothing() {
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    let prod = production(&p, &net);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    let before = checksum(&prod.db);
    let dead = format!("unix://{}", p.path().join("no-engine.sock").display());
    let cache = p.path().join(".cache");
    let mut env = env(&prod, cache.to_str().unwrap());
    env.push(("DOCKER_HOST", dead));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for args in [
        &["deploy", "--branch", "main", "--output", "out"][..],
        &["rollback", "--to", "anything", "--output", "out"][..],
    ] {
        let out = run_in(p.path(), args, &env);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("production's Docker engine") && out.stderr.contains("\nhint: "),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(checksum(&prod.db), before, "production is untouched");
    let listed = run_in(p.path(), &["snapshots", "list", "--format", "json"], &env);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.trim(), "[]", "no snapshot was taken");
    assert!(!p.path().join("out/odoo-ci-result.json").exists());
}

#[test]
fn a_remote_engine_from_the_config_serves_deploys_and_rollbacks() {
    use std::sync::atomic::Ordering;
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    let connections = remote_production_engine(&p);
    let prod = production(&p, &net);
    // On a remote host, odoo-ci cannot map Odoo to a local user: the data dir belongs to
    // the image's own user, as on any production host.
    give_to_odoo_user(&prod.data_dir);
    let filestore = prod.data_dir.join("filestore").join(&prod.db);
    let original_files = files_under(&filestore);
    // One attachment per installed module (base, web, mail, prod_a), as the fake writes.
    assert_eq!(original_files.len(), 4, "{original_files:?}");
    // Anything that ignored `production.docker_host` would hit this dead socket and fail.
    let dead = p.path().join("no-engine.sock");
    let dead = format!("unix://{}", dead.display());
    let cache = p.path().join(".cache");
    let mut env = env(&prod, cache.to_str().unwrap());
    env.push(("DOCKER_HOST", dead));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The runner cannot see production's data dir: only the engine can.
    let blind = |args: &[&str]| run_blind_to(&prod.data_dir, p.path(), args, &env);

    // A data dir that is not a path on the engine's host is refused before anything is
    // touched.
    let mut relative = env.clone();
    relative.retain(|(k, _)| *k != "PROD_DATA");
    relative.push(("PROD_DATA", "odoo-data"));
    let out = run_in(
        p.path(),
        &["deploy", "--branch", "main", "--output", "out"],
        &relative,
    );
    assert_eq!(out.code, 2, "a setup error: {}", out.stderr);
    assert!(
        out.stderr
            .contains("`production.data_dir` is not an absolute path"),
        "{}",
        out.stderr
    );
    assert!(serving(&prod).is_none(), "nothing was started");

    let out = blind(&["deploy", "--branch", "main", "--output", "out"]);
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
            .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr)),
    )
    .unwrap();
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert_eq!(r["active_colour"], "blue");
    let health = step(&r, "health")["output"].as_str().unwrap();
    assert!(
        health.contains("through the engine"),
        "a remote engine's containers are probed through it: {health}"
    );
    let (name, ip) = serving(&prod).expect("a release serves");
    assert!(name.ends_with("-blue") && healthy(&ip));
    let after_deploy = connections.load(Ordering::SeqCst);
    assert!(after_deploy > 0, "the deploy talked to the engine over TCP");
    // The pre-deploy snapshot holds the filestore, copied on the engine's host.
    let snapshot = r["snapshot"].as_str().unwrap();
    assert_eq!(
        files_under(&prod.data_dir.join("odoo-ci-snapshots").join(snapshot)),
        original_files,
        "the snapshot's filestore"
    );

    // A bump adds an attachment; rolling that deploy back brings the files back too.
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    let out = blind(&["deploy", "--branch", "main", "--output", "out-bump"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        files_under(&filestore).len(),
        original_files.len() + 1,
        "the update wrote a file"
    );
    let bumped: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("out-bump/odoo-ci-result.json")).unwrap(),
    )
    .unwrap();
    let before_rollback = connections.load(Ordering::SeqCst);
    let out = blind(&[
        "rollback",
        "--to",
        bumped["id"].as_str().unwrap(),
        "--output",
        "out-rb",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        connections.load(Ordering::SeqCst) > before_rollback,
        "the rollback talked to production's engine"
    );
    assert_eq!(
        files_under(&filestore),
        original_files,
        "the filestore as it was before the bumped deploy"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&filestore).unwrap().uid(),
        101,
        "the restored folder still belongs to Odoo's user, who must write into it"
    );
    let (_, ip) = serving(&prod).expect("a release serves after the rollback");
    assert!(healthy(&ip));

    // Pruning snapshots removes their filestore copies on the engine's host too.
    let snapshots_dir = prod.data_dir.join("odoo-ci-snapshots");
    let copies = || std::fs::read_dir(&snapshots_dir).unwrap().count();
    assert!(copies() >= 2, "one filestore copy per snapshot");
    let helpers = common::HelperWatch::start();
    let out = blind(&["snapshots", "prune", "--keep", "1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(copies(), 1, "{}", out.stdout);
    let (serving_now, _) = serving(&prod).expect("a release serves");
    let made = helpers.stop(&serving_now);
    assert!(
        made.get("filestore") >= Some(&1),
        "the copies were removed by helpers labelled with this project: {made:?}"
    );
    assert_eq!(
        filestore_helpers_of(&serving_now),
        0,
        "the filestore helpers are removed after their work"
    );
}

/// A production database named `db` for `p`, on its own network.
fn production_named(p: &Project, db: &str, network: &str) -> Production {
    let data_dir = p.path().join("prod-data");
    fake_odoo_install(&p.path().join("addons"), db, "prod_a", &data_dir);
    Production {
        db: db.to_string(),
        data_dir,
        network: network.to_string(),
    }
}

#[test]
fn a_deploy_never_removes_another_project_s_live_production() {
    // `acme_prod` and `acme.prod` once gave the same container name, and a start
    // force-removed any container of that name: B's deploy took A's production down.
    let a_db = unique("acme_prod");
    let b_db = a_db.replace('_', ".");
    let (a_net, b_net) = (unique("odoo-ci-test-net-a"), unique("odoo-ci-test-net-b"));
    let a = project(&a_net);
    let b = project(&b_net);
    let a_prod = production_named(&a, &a_db, &a_net);
    let b_prod = production_named(&b, &b_db, &b_net);
    first_deploy(&a, &a_prod);
    let (a_name, a_ip) = serving(&a_prod).expect("A serves");
    first_deploy(&b, &b_prod);
    let (b_name, _) = serving(&b_prod).expect("B serves");
    assert_ne!(a_name, b_name);
    assert_eq!(
        serving(&a_prod).map(|s| s.0),
        Some(a_name.clone()),
        "A's release was removed"
    );
    assert!(healthy(&a_ip), "A still answers");

    // A container that merely has the name B's next release would get is not removed
    // either: only containers labelled as B's are.
    let next = b_name.replace("-blue", "-green");
    let squatter = Command::new("docker")
        .args([
            "create",
            "--name",
            &next,
            "--label",
            "odoo-ci.test=squatter",
            &image(),
            "true",
        ])
        .output()
        .unwrap();
    assert!(
        squatter.status.success(),
        "{}",
        String::from_utf8_lossy(&squatter.stderr)
    );
    b.write(
        "addons/prod_a/__manifest__.py",
        "{'name': 'prod_a', 'version': '17.0.1.1.0', 'depends': ['mail']}\n",
    );
    let (out, r) = deploy(&b, &b_prod, &[]);
    let still_there = Command::new("docker")
        .args(["inspect", &next])
        .output()
        .unwrap();
    let _ = Command::new("docker")
        .args(["rm", "-f", "-v", &next])
        .output();
    assert!(
        still_there.status.success(),
        "B's deploy removed a container it did not make"
    );
    assert_eq!(r["colour"], "red", "{}", out.stderr);
    assert!(
        out.stderr.contains("is not this project's"),
        "{}",
        out.stderr
    );
    assert_eq!(
        serving(&b_prod).map(|s| s.0),
        Some(b_name),
        "B rolled back to blue"
    );
}

/// A pre-deploy snapshot holds production as the serving release left it: `snapshots list`
/// once showed the commit being deployed. And the first deployment's snapshot predates any
/// release: rolling back to it once ran today's image on that old data, silently.
#[test]
fn snapshots_name_the_commit_they_hold_and_the_first_one_is_not_rolled_back_to_blindly() {
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    p.git_init();
    let one = p.commit("one");
    let prod = production(&p, &net);
    let (out, first) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    p.commit("two");
    let (out, second) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let cache = p.path().join(".cache");
    let env = env(&prod, cache.to_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let list = run_in(p.path(), &["snapshots", "list", "--format", "json"], &env);
    let snaps: Value = serde_json::from_str(&list.stdout).unwrap();
    let commit_of = |snapshot: &Value| {
        snaps
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == *snapshot)
            .unwrap_or_else(|| panic!("{snapshot} in {snaps:#}"))["commit"]
            .clone()
    };
    assert_eq!(commit_of(&second["snapshot"]), one.as_str(), "{snaps:#}");
    assert!(
        commit_of(&first["snapshot"]).is_null(),
        "nothing of odoo-ci served before"
    );

    let before = checksum(&prod.db);
    let back = run_in(
        p.path(),
        &[
            "rollback",
            "--to",
            first["id"].as_str().unwrap(),
            "--output",
            "out-rb",
        ],
        &env,
    );
    assert_eq!(back.code, 1, "{}", back.stderr);
    assert!(
        back.stderr.contains("before odoo-ci's first release"),
        "{}",
        back.stderr
    );
    assert_eq!(checksum(&prod.db), before, "nothing was touched");
    let (name, ip) = serving(&prod).expect("the release still serves");
    assert!(name.ends_with("-green") && healthy(&ip), "{name}");
}

/// `deploy --tag T` with the checkout ahead of T: the release runs T's files. The image was
/// once built from the working tree (a newer addon version, untracked files) and tagged
/// with T's commit, replacing the genuine image of that commit.
#[test]
fn a_deploy_of_a_tag_runs_that_tag_s_files_not_the_checkout_s() {
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    let repo = p.git_init();
    let before = p.commit("prod_a 1.0");
    let target = repo
        .find_object(git2::Oid::from_str(&before).unwrap(), None)
        .unwrap();
    repo.tag_lightweight("v-before", &target, false).unwrap();
    let prod = production(&p, &net);
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    p.commit("prod_a 1.1, not deployed");
    p.write("untracked.txt", "never committed\n");

    let (out, r) = deploy(&p, &prod, &["--tag", "v-before"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(r["commit"], before.as_str());
    assert_eq!(
        psql_on(
            &prod.db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'prod_a'"
        ),
        "17.0.1.0.0",
        "the tag's version, not the checkout's"
    );
    let volume = r["release_volume"].as_str().expect("a release volume");
    let inside = |path: &str| in_release(volume, path);
    assert!(
        !inside("untracked.txt").status.success(),
        "{volume} holds the working tree"
    );
    let manifest =
        String::from_utf8_lossy(&inside("addons/prod_a/__manifest__.py").stdout).into_owned();
    assert!(manifest.contains("17.0.1.0.0"), "{volume}: {manifest}");
}

/// One commit's files reach the engine once per kind: the development run builds its image
/// (`build: always`); staging carries them into a release volume and production of the
/// same commit finds that volume by its content and runs it with nothing carried. Branch
/// and stage go on the containers, not on the volume.
#[test]
fn one_commit_s_files_are_built_or_carried_once_for_the_three_stages() {
    let net = unique("odoo-ci-test-net");
    let p = Project::new();
    p.addon("prod_once", "17.0.1.0.0", &["mail"])
        .write("addons/prod_once/__init__.py", "")
        .write("addons/prod_once/tests/__init__.py", "from . import test_once\n")
        .write(
            "addons/prod_once/tests/test_once.py",
            "from odoo.tests.common import TransactionCase\n\n\nclass TestOnce(TransactionCase):\n    def test_once(self):\n        self.assertTrue(True)\n",
        );
    p.config(&format!(
        "odoo:\n  series: \"17.0\"\n  image: {}\naddons_paths: [addons]\nbranches:\n  - match: main\n    stage: production\n  - match: \"staging*\"\n    stage: staging\n  - match: \"*\"\n    stage: development\npostgres:\n  url: ${{ODOO_CI_TEST_PG}}\ndevelopment:\n  build: always\nstaging:\n  mail_catcher: \"127.0.0.1:1025\"\n  keep: 1\n  health_check:\n    timeout_secs: 30\nproduction:\n  database: ${{PROD_URL}}\n  data_dir: ${{PROD_DATA}}\n  network: {net}\n  health_check:\n    timeout_secs: 20\n    settle_secs: 1\n",
        image()
    ));
    p.git_init();
    let sha = p.commit("one commit");
    let db = unique("once");
    let data_dir = p.path().join("prod-data");
    fake_odoo_install(&p.path().join("addons"), &db, "prod_once", &data_dir);
    let prod = Production {
        db,
        data_dir,
        network: net,
    };
    let cache = p.path().join(".cache");
    let mut env = env(&prod, cache.to_str().unwrap());
    env.push(("ODOO_CI_TEST_PG", common::pg_url()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let runs = [
        ("test", "feature/x", "build", "(built)"),
        ("stage", "staging-once", "release", "KiB carried"),
        ("deploy", "main", "release", "reused"),
    ];
    for (command, branch, kind, expected) in runs {
        let out = run_in(
            p.path(),
            &[command, "--branch", branch, "--output", "out"],
            &env,
        );
        let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
            .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
        let r: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(r["colour"], "green", "{command}: {}\n{r:#}", out.stderr);
        let output = step(&r, kind)["output"].as_str().unwrap().to_string();
        assert!(
            output.contains(expected),
            "{command}: {output}\n{}",
            out.stderr
        );
    }
    let (name, _) = serving(&prod).expect("production serves");
    let inspect = |format: &str, what: &str| {
        let out = Command::new("docker")
            .args(["inspect", "-f", format, what])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        inspect("{{.Config.Image}}", &name),
        image(),
        "nothing built"
    );
    assert_eq!(
        inspect("{{index .Config.Labels \"odoo-ci.stage\"}}", &name),
        "production"
    );
    let volume = inspect("{{index .Config.Labels \"odoo-ci.release-volume\"}}", &name);
    assert!(
        inspect("{{range .Mounts}}{{.Name}}:{{.RW}} {{end}}", &name)
            .contains(&format!("{volume}:false")),
        "the release is mounted read-only"
    );
    let labels = Command::new("docker")
        .args(["volume", "inspect", "-f", "{{json .Labels}}", &volume])
        .output()
        .unwrap();
    let labels: Value = serde_json::from_slice(&labels.stdout).unwrap_or_else(|_| {
        panic!(
            "no volume {volume}: {}",
            String::from_utf8_lossy(&labels.stderr)
        )
    });
    assert_eq!(labels["odoo-ci.commit"], sha.as_str(), "{labels}");
    assert!(labels.get("odoo-ci.stage").is_none(), "{labels}");
    assert!(labels.get("odoo-ci.branch").is_none(), "{labels}");
    let manifest = in_release(&volume, "addons/prod_once/__manifest__.py");
    assert!(String::from_utf8_lossy(&manifest.stdout).contains("17.0.1.0.0"));
    let _ = run_in(
        p.path(),
        &["staging", "drop", "--branch", "staging-once"],
        &env,
    );
}

/// A user writing in production (tests/fixtures/production/writer.py) for as long as it runs.
struct Writer {
    child: std::process::Child,
    stop: PathBuf,
    _dir: tempfile::TempDir,
}

impl Writer {
    fn start(prod: &Production) -> Writer {
        let dir = tempfile::tempdir().unwrap();
        let stop = dir.path().join("stop");
        // Debian's python3, which has psycopg2 (scripts/test-env installs it).
        let child = Command::new("/usr/bin/python3")
            .arg(common::repo_root().join("tests/fixtures/production/writer.py"))
            .arg(db_url(&prod.db))
            .arg(&stop)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Writer {
            child,
            stop,
            _dir: dir,
        }
    }

    /// Stops it; (keys it saw committed, how many writes PostgreSQL refused).
    fn stop(mut self) -> (Vec<String>, usize) {
        std::fs::write(&self.stop, "").unwrap();
        let mut text = String::new();
        use std::io::Read;
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let _ = self.child.wait();
        let committed = text
            .lines()
            .filter_map(|l| l.strip_prefix("committed "))
            .map(str::to_string)
            .collect();
        (
            committed,
            text.lines().filter(|l| l.starts_with("refused")).count(),
        )
    }
}

/// Every write the writer saw committed is in production.
fn assert_no_write_lost(prod: &Production, committed: &[String]) {
    assert!(!committed.is_empty(), "the writer wrote nothing");
    let present = psql_on(
        &prod.db,
        "SELECT string_agg(key, ' ') FROM ir_config_parameter WHERE key LIKE 'writer.%'",
    );
    let present: std::collections::BTreeSet<&str> = present.split_whitespace().collect();
    let lost: Vec<&String> = committed
        .iter()
        .filter(|k| !present.contains(k.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} committed writes are gone: {lost:?}",
        lost.len(),
        committed.len()
    );
}

/// Production takes writes again: no read-only default is left on the database.
fn assert_writable(prod: &Production) {
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '{}'",
            prod.db
        )),
        "0",
        "a database setting is left on production"
    );
    psql_on(
        &prod.db,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('after.deploy', 'ok')",
    );
}

/// A deploy that fails at `failed` while a user writes: rolled back, every committed
/// write kept, production writable, the previous release serving.
fn deploy_failing_under_a_writer(p: &Project, prod: &Production, failed: &str) {
    let writer = Writer::start(prod);
    let (out, r) = deploy(p, prod, &[]);
    let (committed, _) = writer.stop();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(r["failed_step"], failed, "{r:#}");
    assert_eq!(step(&r, "rollback")["status"], "completed", "{r:#}");
    assert_no_write_lost(prod, &committed);
    assert_writable(prod);
    let (name, ip) = serving(prod).expect("the previous release serves");
    assert!(name.ends_with("-blue") && healthy(&ip), "{name}");
}

#[test]
fn a_code_only_deploy_that_fails_restores_nothing_and_loses_no_write() {
    let (p, prod) = serving_production();
    // A code change, no version bump: nothing to update, and the release never starts.
    p.write(
        "addons/prod_a/__init__.py",
        "import os\nimport sys\n\nif '--stop-after-init' not in sys.argv:\n    os._exit(3)\n",
    );
    deploy_failing_under_a_writer(&p, &prod, "health");
}

#[test]
fn a_failed_update_loses_no_write_made_during_the_deploy() {
    let (p, prod) = serving_production();
    p.write(
        "addons/prod_a/__manifest__.py",
        "{'name': 'prod_a', 'version': '17.0.1.1.0', 'depends': ['mail'], 'data': ['data/broken.xml']}\n",
    );
    p.write(
        "addons/prod_a/data/broken.xml",
        "<odoo>\n  <record id=\"x\"\n</odoo>\n",
    );
    deploy_failing_under_a_writer(&p, &prod, "update");
    assert_eq!(
        psql_on(
            &prod.db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'prod_a'"
        ),
        "17.0.1.0.0"
    );
}

#[test]
fn a_successful_update_loses_no_write_and_leaves_production_writable() {
    let (p, prod) = serving_production();
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    let writer = Writer::start(&prod);
    let (out, r) = deploy(&p, &prod, &[]);
    let (committed, _) = writer.stop();
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    assert_no_write_lost(&prod, &committed);
    assert_writable(&prod);
}

#[test]
fn a_release_whose_registry_fails_is_noticed_from_its_log_not_the_timeout() {
    let (p, prod) = serving_production();
    // Long enough that waiting for it would show; the log says it at once.
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&config.replace("timeout_secs: 20", "timeout_secs: 120"));
    // As real Odoo 18 with an addon that raises on import: the CRITICAL line, the server
    // listening, /web/health answering 500.
    p.write(
        "addons/prod_a/__init__.py",
        "import sys\n\nif '--stop-after-init' not in sys.argv:\n    raise ImportError('broken on purpose')\n",
    );
    let before = checksum(&prod.db);
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(r["failed_step"], "health", "{r:#}");
    let reason = r["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("Failed to initialize database") && reason.contains("broken on purpose"),
        "the log excerpt is in the result, not the timeout: {reason}"
    );
    assert_eq!(checksum(&prod.db), before);
    let (name, ip) = serving(&prod).expect("the previous release serves");
    assert!(name.ends_with("-blue") && healthy(&ip), "{name}");
}

/// The project label of the release serving `prod`.
fn project_label(prod: &Production) -> String {
    let (name, _) = serving(prod).expect("a release serves");
    let out = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{index .Config.Labels \"odoo-ci.project\"}}",
            &name,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Running containers of the project that are not a release (an update, a helper).
fn non_release_containers(project: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=odoo-ci.project={project}"),
            "--format",
            "{{.ID}} {{.Label \"odoo-ci.colour\"}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().nth(1).is_none())
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Starts `odoo-ci deploy` of `p` and returns once its update runs (a container of the
/// project whose arguments hold `-u`).
fn deploy_until_the_update_runs(p: &Project, prod: &Production) -> std::process::Child {
    let project = project_label(prod);
    let cache = p.path().join(".cache");
    let env = env(prod, cache.to_str().unwrap());
    let child = Command::new(common::bin())
        .args(["deploy", "--branch", "main", "--output", "out"])
        .current_dir(p.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let updating = || {
        non_release_containers(&project).iter().any(|id| {
            let out = Command::new("docker")
                .args(["inspect", "-f", "{{json .Args}}", id])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains("\"-u\"")
        })
    };
    while !updating() {
        assert!(Instant::now() < deadline, "the update never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    child
}

/// A bump whose update takes a minute: the job is stopped while it runs.
fn slow_update(p: &Project) {
    p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    p.write(
        "addons/prod_a/__init__.py",
        "import sys\nimport time\n\nif '--stop-after-init' in sys.argv:\n    time.sleep(60)\n",
    );
}

#[test]
fn a_cancel_during_the_update_rolls_back_to_the_end_and_production_serves() {
    let (p, prod) = serving_production();
    let project = project_label(&prod);
    let before = checksum(&prod.db);
    slow_update(&p);
    let mut child = deploy_until_the_update_runs(&p, &prod);
    // As GitHub cancels a job: SIGTERM to the process.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {stderr}"));
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(r["failed_step"], "update", "{r:#}");
    assert_eq!(
        step(&r, "rollback")["status"],
        "completed",
        "the rollback ran to its end: {r:#}"
    );
    assert_eq!(r["rolled_back"], true);
    assert_eq!(
        checksum(&prod.db),
        before,
        "production is as before the deploy"
    );
    assert_writable(&prod);
    let (name, ip) = serving(&prod).expect("the previous release serves");
    assert!(name.ends_with("-blue") && healthy(&ip), "{name}");
    assert!(
        non_release_containers(&project).is_empty(),
        "the update's container is left running"
    );
    // The lock is free: the next deploy goes through.
    p.write("addons/prod_a/__init__.py", "");
    let (out, r) = deploy(&p, &prod, &["--no-wait"]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
}

#[test]
fn a_deploy_killed_during_its_update_is_undone_by_the_next_one() {
    let (p, prod) = serving_production();
    let project = project_label(&prod);
    let before = checksum(&prod.db);
    slow_update(&p);
    let mut child = deploy_until_the_update_runs(&p, &prod);
    // A runner that dies, or GitHub's SIGKILL after the cancel's grace time.
    child.kill().unwrap();
    let _ = child.wait();
    // Left in maintenance: writes are refused, never taken and lost; the old release serves.
    let refused = Command::new("psql")
        .args([
            &db_url(&prod.db),
            "-c",
            "INSERT INTO ir_config_parameter (key, value) VALUES ('during.kill', 'x')",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("read-only transaction"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(checksum(&prod.db), before);
    let (name, _) = serving(&prod).expect("the previous release serves");
    assert!(name.ends_with("-blue"), "{name}");
    // The history says it never finished.
    let cache = p.path().join(".cache");
    let env = env(&prod, cache.to_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let list = run_in(p.path(), &["deployments", "list", "--format", "json"], &env);
    let history: Value = serde_json::from_str(&list.stdout)
        .unwrap_or_else(|_| panic!("{}{}", list.stdout, list.stderr));
    assert_eq!(history[0]["colour"], "red", "{history:#}");
    assert!(
        history[0]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{history:#}"
    );

    // The next deploy (the same bump, without the slow import) finds it and undoes it first.
    p.write("addons/prod_a/__init__.py", "");
    let (out, r) = deploy(&p, &prod, &["--no-wait"]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let lock = step(&r, "lock")["output"].as_str().unwrap();
    assert!(
        lock.contains("was interrupted") && lock.contains("restored its pre-deploy snapshot"),
        "{lock}"
    );
    assert_writable(&prod);
    assert_eq!(
        psql_on(
            &prod.db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'prod_a'"
        ),
        "17.0.1.1.0"
    );
    assert!(
        non_release_containers(&project).is_empty(),
        "the dead deploy's update is left running"
    );
    let (name, ip) = serving(&prod).expect("the new release serves");
    assert!(name.ends_with("-green") && healthy(&ip), "{name}");
    assert_eq!(
        containers_labelled(&format!("odoo-ci.production={}", prod.db), true).len(),
        1,
        "one release"
    );
}

#[test]
fn a_terminal_deploy_after_a_ci_deploy_of_one_database_leaves_one_release_serving() {
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    let prod = production(&p, &net);
    // From CI: the project is the repository (`GITHUB_REPOSITORY`).
    let cache = p.path().join(".cache");
    let mut ci = env(&prod, cache.to_str().unwrap());
    ci.extend([
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_REPOSITORY", "acme/shop".to_string()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".to_string()),
        ("GITHUB_REF_NAME", "main".to_string()),
        ("GITHUB_REF", "refs/heads/main".to_string()),
    ]);
    let ci: Vec<(&str, &str)> = ci.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_in(
        p.path(),
        &["deploy", "--branch", "main", "--output", "out"],
        &ci,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (from_ci, _) = serving(&prod).expect("CI's release serves");
    // From a terminal in the same repository: the project is the folder's name.
    p.write("addons/prod_a/models.py", "# a hotfix\n");
    let (out, r) = deploy(&p, &prod, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    let releases = containers_labelled(&format!("odoo-ci.production={}", prod.db), true);
    assert_eq!(
        releases.len(),
        1,
        "one release of the database: {releases:?}"
    );
    let (from_terminal, ip) = serving(&prod).expect("the hotfix serves");
    assert_ne!(from_terminal, from_ci, "the terminal's release took over");
    assert!(healthy(&ip));
}
