//! `odoo-ci plan` and `odoo-ci addons` end to end: the real binary on real git repos.

use crate::common;

use common::{repo_root, run_in, Project, BASIC_CONFIG};
use serde_json::Value;

fn json(out: &common::Output) -> Value {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    serde_json::from_str(&out.stdout).expect("json")
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|n| n.as_str().expect("str").to_string())
        .collect()
}

#[test]
fn example_plan_gives_the_stage_of_each_branch() {
    let root = repo_root();
    let config = "examples/basic/.odoo-ci.yml";
    for (branch, stage) in [
        ("main", "production"),
        ("staging-1", "staging"),
        ("feature/login", "development"),
    ] {
        let out = run_in(
            &root,
            &[
                "plan", "--config", config, "--branch", branch, "--format", "json",
            ],
            &[],
        );
        let plan = json(&out);
        assert_eq!(plan["stage"], stage, "{branch}");
        assert_eq!(plan["branch"], branch);
        assert!(plan["steps"].as_array().is_some_and(|s| !s.is_empty()));
    }
    let dev = json(&run_in(
        &root,
        &[
            "plan",
            "--config",
            config,
            "--branch",
            "feature/login",
            "--format",
            "json",
        ],
        &[],
    ));
    // Install order puts dependencies first; the non-installable addon is left out.
    assert_eq!(
        names(&dev["addons"]["install"]),
        ["acc_base", "acc_sale", "acc_report"]
    );
    assert_eq!(
        names(&dev["addons"]["test"]),
        ["acc_base", "acc_sale", "acc_report"]
    );
    assert_eq!(names(&dev["addons"]["update"]), Vec::<String>::new());
    assert_eq!(names(&dev["addons"]["external"]), ["base", "mail", "sale"]);
    let steps: Vec<&str> = dev["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    // The example has no Dockerfile and no requirements.txt: nothing to build.
    assert_eq!(steps, ["mount", "template", "database", "install-and-test"]);
    // Secrets stay templates.
    let prod = json(&run_in(
        &root,
        &[
            "plan", "--config", config, "--branch", "main", "--format", "json",
        ],
        &[("PRODUCTION_DB_URL", "postgres://u:hunter2@db/prod")],
    ));
    assert!(!prod.to_string().contains("hunter2"));
}

#[test]
fn text_plan_reads_well() {
    let out = run_in(
        &repo_root(),
        &[
            "plan",
            "--config",
            "examples/basic/.odoo-ci.yml",
            "--branch",
            "dev",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("odoo-ci plan: development on branch dev"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--test-tags /acc_base,/acc_sale,/acc_report"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains('\x1b'),
        "no colour when not a terminal"
    );
}

/// A repo on `main` whose last commit bumps one addon and adds another.
fn bumped_repo() -> Project {
    let p = Project::new();
    // Production runs every repo addon: new ones are installed there.
    p.config(&format!("{BASIC_CONFIG}production:\n  install: all\n"))
        .addon("a_core", "17.0.1.0.0", &["base"])
        .addon("a_sale", "1.0.0", &["a_core", "sale"])
        .addon("a_views", "17.0.1.0.0", &["a_core"]);
    p.git_init();
    p.commit("base");
    p.addon("a_sale", "1.1.0", &["a_core", "sale"])
        .addon("a_new", "17.0.1.0.0", &["a_core"])
        .write("addons/a_views/views/x.xml", "<odoo/>");
    p.commit("bump a_sale, add a_new, change a_views without a bump");
    p
}

#[test]
fn production_plan_updates_bumped_addons_against_the_base_ref() {
    let p = bumped_repo();
    let plan = json(&p.run(&["plan", "--base", "HEAD~1", "--format", "json"]));
    assert_eq!(plan["stage"], "production");
    assert_eq!(names(&plan["addons"]["update"]), ["a_sale"]);
    assert_eq!(names(&plan["addons"]["install"]), ["a_new"]);
    let guard = &plan["guard"][0];
    assert_eq!(guard["addon"], "a_views", "{plan}");
    assert_eq!(guard["kind"], "unbumped");
    assert_eq!(guard["suggested_version"], "17.0.1.0.1");
    assert_eq!(plan["commit"].as_str().map(str::len), Some(40));
    let details = plan["addons"]["details"].to_string();
    assert!(
        details.contains("version 17.0.1.0.0 → 17.0.1.1.0"),
        "{details}"
    );
}

#[test]
fn a_downgrade_is_a_problem_and_exits_red() {
    let p = Project::new();
    p.config(BASIC_CONFIG)
        .addon("a_core", "17.0.2.0.0", &["base"]);
    p.git_init();
    p.commit("v2");
    p.addon("a_core", "17.0.1.9.0", &["base"]);
    p.commit("oops");
    let out = p.run(&["plan", "--base", "HEAD~1", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(plan["problems"][0].as_str().unwrap().contains("went down"));
}

#[test]
fn github_pull_request_context_comes_from_the_event() {
    let p = bumped_repo();
    let repo = git2::Repository::open(p.path()).unwrap();
    let head = repo.head().unwrap().target().unwrap().to_string();
    let base = repo.revparse_single("HEAD~1").unwrap().id().to_string();
    let event = p.path().join("event.json");
    std::fs::write(
        &event,
        format!(r#"{{"pull_request": {{"number": 3, "head": {{"ref": "staging-x", "sha": "{head}"}}, "base": {{"ref": "main", "sha": "{base}"}}}}}}"#),
    )
    .unwrap();
    let out = run_in(
        p.path(),
        &["plan", "--format", "json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_SHA", "0123456789012345678901234567890123456789"),
        ],
    );
    let plan = json(&out);
    // A pull request runs development whatever its head branch maps to (see tests/it/security.rs).
    assert_eq!(plan["stage"], "development");
    assert_eq!(plan["commit"], head.as_str());
    assert_eq!(plan["base"], base.as_str());
    assert!(plan["notes"][0].as_str().unwrap().contains("never staging"));
}

#[test]
fn detached_head_without_branch_is_a_clear_error() {
    let p = bumped_repo();
    p.detach();
    let out = p.run(&["plan"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("detached") && out.stderr.contains("--branch"),
        "{}",
        out.stderr
    );
    let ok = p.run(&["plan", "--branch", "feature/x", "--format", "json"]);
    assert_eq!(json(&ok)["stage"], "development");
}

#[test]
fn addons_list_works_without_a_config() {
    let p = Project::new();
    p.addon("x_one", "17.0.1.0.0", &["base"])
        .addon("x_two", "2.0", &["x_one"]);
    let out = p.run(&[
        "addons",
        "list",
        "--addons-path",
        "addons",
        "--format",
        "json",
    ]);
    let list = json(&out);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["name"], "x_two");
    assert_eq!(
        list[1]["version"], "17.0.2.0",
        "series inferred from the other manifest"
    );
    assert_eq!(list[1]["path"], "addons/x_two");
    assert_eq!(list[1]["depends"][0], "x_one");
    assert_eq!(list[1]["installable"], true);
    // On 18.0 a 17.0-prefixed version is invalid, exactly as Odoo says.
    let wrong = p.run(&[
        "addons",
        "list",
        "--addons-path",
        "addons",
        "--series",
        "18.0",
    ]);
    assert_eq!(wrong.code, 2);
    assert!(
        wrong.stderr.contains("x_one/__manifest__.py:3:16"),
        "{}",
        wrong.stderr
    );
}

#[test]
fn addons_graph_and_changed() {
    let p = bumped_repo();
    let graph = json(&p.run(&["addons", "graph", "--format", "json"]));
    assert_eq!(
        names(&graph["install_order"]),
        ["a_core", "a_new", "a_sale", "a_views"]
    );
    assert_eq!(names(&graph["external"]), ["base", "sale"]);
    let changed = json(&p.run(&["addons", "changed", "--since", "HEAD~1", "--format", "json"]));
    assert_eq!(names(&changed["changed"]), ["a_new", "a_sale", "a_views"]);
    p.write("addons/a_core/models.py", "x = 1\n");
    p.commit("touch core");
    let core = json(&p.run(&["addons", "changed", "--since", "HEAD~1", "--format", "json"]));
    assert_eq!(names(&core["changed"]), ["a_core"]);
    assert_eq!(
        names(&core["affected"]),
        ["a_core", "a_new", "a_sale", "a_views"]
    );
}

#[test]
fn series_14_and_15_are_read_with_odoo_s_own_rules() {
    // Shaped like OCA's 14.0/15.0 manifests (a `development_status`, `website`, a
    // non-installable addon with a bare version).
    for series in ["14.0", "15.0"] {
        let p = Project::new();
        p.write(
            "addons/oca_a/__manifest__.py",
            &format!("# Copyright 2021 ACSONE\n{{\n    \"name\": \"A\",\n    \"version\": \"{series}.1.2.0\",\n    \"license\": \"AGPL-3\",\n    \"website\": \"https://github.com/OCA/server-tools\",\n    \"development_status\": \"Production/Stable\",\n    \"depends\": [\"base\"],\n    \"installable\": True,\n}}\n"),
        )
        .write(
            "addons/oca_b/__manifest__.py",
            "{\"name\": \"B\", \"version\": \"1.0.1\", \"depends\": [\"oca_a\"]}\n",
        );
        for extra in [&[][..], &["--series", series][..]] {
            let mut args = vec![
                "addons",
                "list",
                "--addons-path",
                "addons",
                "--format",
                "json",
            ];
            args.extend_from_slice(extra);
            let list = json(&p.run(&args));
            assert_eq!(list[0]["version"], format!("{series}.1.2.0"));
            assert_eq!(
                list[1]["version"],
                format!("{series}.1.0.1"),
                "{series} {extra:?}"
            );
        }
    }
    // A series odoo-ci does not know is named as such, not as "no version has one".
    let p = Project::new();
    p.addon("old", "13.0.1.0.0", &["base"]);
    let out = p.run(&["addons", "list", "--addons-path", "addons"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("start with 13.0, which odoo-ci does not support"),
        "{}",
        out.stderr
    );
}

#[test]
fn non_installable_versions_are_normalised_as_odoo_does() {
    let p = Project::new();
    p.write(
        "addons/x_old/__manifest__.py",
        "{'name': 'Old', 'version': '1.0.0', 'installable': False}\n",
    )
    .write(
        "addons/x_ported/__manifest__.py",
        "{'name': 'Ported', 'version': '16.0.1.0.0', 'installable': False}\n",
    );
    let list = json(&p.run(&[
        "addons",
        "list",
        "--addons-path",
        "addons",
        "--series",
        "17.0",
        "--format",
        "json",
    ]));
    // Odoo's load_manifest adapts every version; an invalid one stays as written when the
    // addon is not installable.
    assert_eq!(list[0]["name"], "x_old");
    assert_eq!(list[0]["version"], "17.0.1.0.0");
    assert_eq!(list[1]["version"], "16.0.1.0.0");
}

#[test]
fn bump_refuses_a_version_of_another_series() {
    let p = Project::new();
    p.config(BASIC_CONFIG)
        .addon("x_ported", "16.0.1.0.0", &["base"]);
    let manifest =
        std::fs::read_to_string(p.path().join("addons/x_ported/__manifest__.py")).unwrap();
    // An installable 16.0 addon on 17.0 is invalid for Odoo too; mark it uninstallable, as
    // a port in progress is.
    let pending = manifest.replace("'depends'", "'installable': False,\n    'depends'");
    p.write("addons/x_ported/__manifest__.py", &pending);
    let out = p.run(&["bump", "x_ported", "--part", "major"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("belongs to series 16.0"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: migrate the addon to 17.0"),
        "{}",
        out.stderr
    );
    let after = std::fs::read_to_string(p.path().join("addons/x_ported/__manifest__.py")).unwrap();
    assert_eq!(after, pending, "the manifest is untouched");
}

/// What a user reads from `odoo-ci plan` for each stage of the bundled example.
#[test]
fn the_text_plan_of_each_stage_is_what_users_read() {
    for (branch, name) in [
        ("main", "plan/production"),
        ("staging-1", "plan/staging"),
        ("feature/login", "plan/development"),
    ] {
        let out = run_in(
            &repo_root(),
            &[
                "plan",
                "--config",
                "examples/basic/.odoo-ci.yml",
                "--branch",
                branch,
            ],
            &[],
        );
        common::assert_snapshot(name, &format!("{}{}", out.stdout, out.stderr), None);
    }
}

/// The dry run takes the choices `odoo-ci test` takes, and plans what they run: with the
/// local executor no image is built (the plan once listed a build that never happened).
#[test]
fn the_dry_run_plans_the_local_executor_and_a_shard_as_test_runs_them() {
    let dev = json(&run_in(
        &repo_root(),
        &[
            "plan",
            "--config",
            "examples/basic/.odoo-ci.yml",
            "--branch",
            "feature/login",
            "--executor",
            "local",
            "--shard",
            "1/2",
            "--format",
            "json",
        ],
        &[],
    ));
    let steps: Vec<&str> = dev["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["local", "template", "database", "install-and-test"]);
    let tested = names(&dev["addons"]["test"]);
    assert!(
        !tested.is_empty() && tested.len() < 3,
        "one shard of three addons: {tested:?}"
    );
    assert!(
        dev["notes"].to_string().contains("shard 1/2"),
        "{}",
        dev["notes"]
    );
}

/// On a terminal, `plan --branch X` plans X as the repository has it, not HEAD.
#[test]
fn plan_for_another_local_branch_reads_that_branch_s_commit() {
    let p = Project::new();
    p.config(BASIC_CONFIG)
        .addon("a_core", "17.0.1.0.0", &["base"]);
    let repo = p.git_init();
    let first = p.commit("one");
    let here = repo.head().unwrap().name().unwrap().to_string();
    p.checkout_branch("staging-x");
    p.addon("a_core", "17.0.1.1.0", &["base"]);
    let feature = p.commit("bump on the feature branch");
    // Back to the first branch, working tree and all.
    repo.set_head(&here).unwrap();
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
    let plan = json(&p.run(&[
        "plan",
        "--branch",
        "staging-x",
        "--base",
        &first,
        "--format",
        "json",
    ]));
    assert_eq!(plan["commit"], feature.as_str(), "{plan:#}");
    assert_eq!(names(&plan["addons"]["update"]), ["a_core"], "{plan:#}");
}

/// A minimal config is two lines: the official image of its series, and branch rules that
/// only deploy once a production database is named.
#[test]
fn a_minimal_config_gets_the_official_image_and_the_usual_branch_rules() {
    let p = Project::new();
    p.addon("a_core", "17.0.1.0.0", &["base"]);
    p.config("odoo:\n  series: \"17.0\"\naddons_paths: [addons]\n");
    for branch in ["main", "staging-1", "feat/x"] {
        let plan = json(&p.run(&["plan", "--branch", branch, "--format", "json"]));
        assert_eq!(plan["stage"], "development", "{branch}: {plan:#}");
        assert!(
            plan["steps"].to_string().contains("\"base\":\"odoo:17.0\""),
            "{plan:#}"
        );
    }
    p.config("odoo:\n  series: \"17.0\"\naddons_paths: [addons]\nproduction:\n  database: ${PRODUCTION_DB_URL}\n");
    for (branch, stage) in [
        ("main", "production"),
        ("master", "production"),
        ("staging-1", "staging"),
        ("feat/x", "development"),
    ] {
        let out = p.run(&["plan", "--branch", branch, "--format", "json"]);
        let plan: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{branch}: {e}: {}{}", out.stdout, out.stderr));
        assert_eq!(plan["stage"], stage, "{branch}: {plan:#}");
    }
}

/// `odoo-ci init` on a repository with no config: the series from the manifests, the
/// folders that hold addons (a submodule's said so), a file `plan` then reads; never an
/// existing file replaced unasked.
#[test]
fn init_writes_a_starting_config_that_plan_reads() {
    let p = Project::new();
    p.addon("acc_a", "17.0.1.0.0", &["base"])
        .addon("acc_b", "17.0.1.2.0", &["acc_a"]);
    std::fs::create_dir_all(p.path().join("vendor/oca/tool_x")).unwrap();
    p.write(
        "vendor/oca/tool_x/__manifest__.py",
        "{'name': 'x', 'version': '17.0.1.0.0', 'depends': ['base']}",
    );
    p.git_init();
    p.commit("addons, no config yet");

    let shown = run_in(p.path(), &["init", "--stdout"], &[]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        !p.path().join(".odoo-ci.yml").exists(),
        "--stdout writes nothing"
    );
    common::assert_snapshot("init/two_folders", &shown.stdout, Some(p.path()));

    let out = run_in(p.path(), &["init"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = json(&run_in(
        p.path(),
        &["plan", "--branch", "feat/x", "--format", "json"],
        &[],
    ));
    assert_eq!(plan["stage"], "development");
    assert_eq!(plan["series"], "17.0");
    assert!(
        names(&plan["addons"]["test"]).contains(&"acc_b".to_string()),
        "{plan:#}"
    );

    let again = run_in(p.path(), &["init"], &[]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
}

#[test]
fn init_without_a_series_to_read_asks_for_one() {
    let p = Project::new();
    let out = run_in(p.path(), &["init"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--series 17.0"), "{}", out.stderr);
    let out = run_in(p.path(), &["init", "--series", "18.0"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    assert!(written.contains("series: \"18.0\""), "{written}");
}

/// With `engine: swarm` the plan says how staging's server runs and is replaced; a `swarm`
/// section without it is refused at its line.
#[test]
fn the_plan_says_staging_s_server_is_a_swarm_service() {
    let example = std::fs::read_to_string(repo_root().join("examples/basic/.odoo-ci.yml")).unwrap();
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("addons")).unwrap();
    for engine in [
        "engine: swarm\n",
        "",
        "swarm:\n  constraints: [\"node.hostname == odoo-1\"]\n",
    ] {
        p.config(&format!("{example}\n{engine}"));
        let out = run_in(p.path(), &["plan", "--branch", "staging-1"], &[]);
        let said = format!("{}{}", out.stdout, out.stderr);
        match engine {
            "engine: swarm\n" => {
                assert!(
                    out.code == 0 && said.contains("; as a Swarm service, replaced start-first"),
                    "{said}"
                );
                let out = run_in(p.path(), &["plan", "--branch", "main"], &[]);
                let said = format!("{}{}", out.stdout, out.stderr);
                assert!(
                    said.contains(
                        "production keeps odoo-ci's two-colour switch, not a Swarm service"
                    ),
                    "{said}"
                );
            }
            "" => assert!(out.code == 0 && !said.contains("Swarm"), "{said}"),
            _ => assert!(
                out.code == 2
                    && said.contains("`swarm` is set while `engine` is not `swarm`")
                    && said.contains(".odoo-ci.yml:"),
                "{said}"
            ),
        }
    }
}
