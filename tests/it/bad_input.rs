//! Every bad input of issue 2 gets one clear paragraph: file, line, column where there is
//! one, what to do, exit code 2, and never a panic.

use crate::common;

use common::{Project, BASIC_CONFIG};

/// Runs `plan` on a project and returns stderr, checking the exit code and that it did not panic.
fn plan_error(p: &Project, args: &[&str]) -> String {
    let mut all = vec!["plan", "--branch", "feature/x"];
    all.extend_from_slice(args);
    let out = p.run(&all);
    assert_eq!(
        out.code, 2,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: "),
        "every error says what to do: {}",
        out.stderr
    );
    common::assert_snapshot(
        &common::snapshot_name("bad_input"),
        &out.stderr,
        Some(p.path()),
    );
    out.stderr
}

fn project_with(config: &str) -> Project {
    let p = Project::new();
    p.config(config).addon("a_core", "17.0.1.0.0", &["base"]);
    p
}

#[test]
fn yaml_syntax_error() {
    let p = project_with("odoo:\n  series: \"17.0\n  image: odoo\n");
    let err = plan_error(&p, &[]);
    assert!(err.contains(".odoo-ci.yml:"), "{err}");
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let p = project_with(&BASIC_CONFIG.replace("addons_paths:", "addon_paths:"));
    let err = plan_error(&p, &[]);
    assert!(err.contains("unknown field `addon_paths`"), "{err}");
    assert!(err.contains(".odoo-ci.yml:4:1"), "{err}");
    assert!(err.contains("did you mean `addons_paths`?"), "{err}");
    let nested = project_with(&format!("{BASIC_CONFIG}development:\n  shard: 2\n"));
    let err = plan_error(&nested, &[]);
    assert!(
        err.contains(".odoo-ci.yml:13:3") && err.contains("did you mean `shards`?"),
        "{err}"
    );
}

#[test]
fn wrong_type() {
    let p = project_with(&format!("{BASIC_CONFIG}development:\n  shards: many\n"));
    let err = plan_error(&p, &[]);
    assert!(err.contains("invalid type"), "{err}");
    assert!(err.contains(".odoo-ci.yml:13:"), "{err}");
    let stage = project_with(&BASIC_CONFIG.replace("stage: staging", "stage: stagin"));
    let err = plan_error(&stage, &[]);
    assert!(err.contains("did you mean `staging`?"), "{err}");
}

#[test]
fn a_keep_that_is_not_a_duration_names_its_line() {
    let p = project_with(&format!("{BASIC_CONFIG}development:\n  keep: three days\n"));
    let err = plan_error(&p, &[]);
    assert!(
        err.contains(".odoo-ci.yml:13:") && err.contains("e.g. 3d, 12h or 90m"),
        "{err}"
    );
}

#[test]
fn unsupported_series() {
    let p = project_with(&BASIC_CONFIG.replace("\"17.0\"", "\"13.0\""));
    let err = plan_error(&p, &[]);
    assert!(
        err.contains("not a supported Odoo series") && err.contains(".odoo-ci.yml:2:"),
        "{err}"
    );
}

#[test]
fn two_production_rules() {
    let p = project_with(&BASIC_CONFIG.replace("stage: staging", "stage: production"));
    let err = plan_error(&p, &[]);
    assert!(
        err.contains("two branch rules map to `production`"),
        "{err}"
    );
    assert!(err.contains("the first is on line 6"), "{err}");
    assert!(err.contains(".odoo-ci.yml:9:5"), "{err}");
}

#[test]
fn invalid_glob() {
    let p = project_with(&BASIC_CONFIG.replace("\"staging*\"", "\"staging[\""));
    let err = plan_error(&p, &[]);
    assert!(err.contains("invalid branch glob `staging[`"), "{err}");
    assert!(err.contains(".odoo-ci.yml:8:5"), "{err}");
}

#[test]
fn invalid_ignore_regex() {
    let p = project_with(&format!(
        "{BASIC_CONFIG}development:\n  ignore_warnings:\n    - \"ok\"\n    - \"(unclosed\"\n"
    ));
    let err = plan_error(&p, &[]);
    assert!(
        err.contains("invalid regex") && err.contains(".odoo-ci.yml:15:7"),
        "{err}"
    );
}

#[test]
fn addons_path_that_does_not_exist() {
    let p = project_with(&BASIC_CONFIG.replace("[addons]", "[addons, vendor/*, missing]"));
    let err = plan_error(&p, &[]);
    assert!(
        err.contains("addons path `vendor/*` matches no folder"),
        "{err}"
    );
    assert!(err.contains(".odoo-ci.yml:4:"), "{err}");
}

#[test]
fn manifest_syntax_error() {
    let p = project_with(BASIC_CONFIG);
    p.write(
        "addons/a_bad/__manifest__.py",
        "{\n    'name': 'x',\n    'version' '1.0',\n}\n",
    );
    let err = plan_error(&p, &[]);
    assert!(err.contains("syntax error in manifest"), "{err}");
    // Like Python, adjacent strings concatenate, so the error is at the comma.
    assert!(
        err.contains("expected `:`, found `,`") && err.contains("a_bad/__manifest__.py:3:20"),
        "{err}"
    );
}

#[test]
fn manifest_with_a_non_literal() {
    let p = project_with(BASIC_CONFIG);
    p.write(
        "addons/a_bad/__manifest__.py",
        "{\n    'name': 'x',\n    'depends': get_depends(),\n}\n",
    );
    let err = plan_error(&p, &[]);
    assert!(
        err.contains("uses `get_depends(…)`, which is not a literal"),
        "{err}"
    );
    assert!(err.contains("a_bad/__manifest__.py:3:16"), "{err}");
    assert!(
        err.contains("3 |     'depends': get_depends(),"),
        "shows the line: {err}"
    );
}

#[test]
fn dependency_cycle_names_the_cycle() {
    let p = project_with(BASIC_CONFIG);
    p.addon("a_one", "1.0", &["a_two"])
        .addon("a_two", "1.0", &["a_three"])
        .addon("a_three", "1.0", &["a_one"]);
    let err = plan_error(&p, &[]);
    assert!(err.contains("a_one -> a_two -> a_three -> a_one"), "{err}");
}

#[test]
fn invalid_module_name() {
    let p = project_with(BASIC_CONFIG);
    p.addon("my-addon", "1.0", &["base"]);
    let err = plan_error(&p, &[]);
    assert!(
        err.contains("`my-addon`") && err.contains("rename it, e.g. to `my_addon`"),
        "{err}"
    );
}

#[test]
fn branch_that_matches_no_rule() {
    let p = project_with(&BASIC_CONFIG.replace("  - match: \"*\"\n    stage: development\n", ""));
    let err = plan_error(&p, &[]);
    assert!(err.contains("branch `feature/x` matches no rule"), "{err}");
    assert!(err.contains("rules: `main`, `staging*`"), "{err}");
    assert!(err.contains(".odoo-ci.yml:5:"), "{err}");
}

#[test]
fn unknown_addon_in_selection() {
    let p = project_with(&format!("{BASIC_CONFIG}development:\n  install: [a_cor]\n"));
    let err = plan_error(&p, &[]);
    assert!(
        err.contains("names `a_cor`") && err.contains("did you mean `a_core`?"),
        "{err}"
    );
}

#[test]
fn missing_config_file() {
    let p = Project::new();
    let err = plan_error(&p, &[]);
    assert!(err.contains("cannot read config `.odoo-ci.yml`"), "{err}");
}

#[test]
fn bad_git_ref() {
    let p = project_with(BASIC_CONFIG);
    p.git_init();
    p.commit("one");
    let err = plan_error(&p, &["--base", "no-such-ref"]);
    assert!(err.contains("`no-such-ref`"), "{err}");
}

#[test]
fn a_deeply_nested_manifest_is_a_located_error_not_a_crash() {
    // 10-20k levels aborted the process (stack overflow), at 2-5k with 64+ addons, whose
    // manifests are read on worker threads with smaller stacks.
    let p = project_with(BASIC_CONFIG);
    for i in 0..70 {
        p.addon(&format!("a_more_{i}"), "17.0.1.0.0", &["base"]);
    }
    let deep = format!(
        "{{'name': 'x', 'data': {}{}}}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    p.write("addons/a_deep/__manifest__.py", &deep);
    let err = plan_error(&p, &[]);
    assert!(err.contains("too many nested"), "{err}");
    assert!(err.contains("addons/a_deep/__manifest__.py:1:"), "{err}");
}

#[test]
fn a_symlinked_addon_folder_is_listed_as_odoo_lists_it() {
    let p = project_with(BASIC_CONFIG);
    p.addon("vendored", "17.0.1.0.0", &["base"]);
    std::fs::create_dir_all(p.path().join("vendor")).unwrap();
    std::fs::rename(
        p.path().join("addons/vendored"),
        p.path().join("vendor/vendored"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../vendor/vendored", p.path().join("addons/vendored")).unwrap();
    let out = p.run(&["addons", "list", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"vendored\""), "{}", out.stdout);
}

const STAGED_CONFIG: &str = "odoo:\n  series: \"17.0\"\n  image: odoo:17.0\naddons_paths: [addons]\nbranches:\n  - match: main\n    stage: production\n  - match: \"staging*\"\n    stage: staging\n  - match: \"*\"\n    stage: development\nproduction:\n  database: ${PRODUCTION_DB_URL}\n";

#[test]
fn a_variable_a_stage_needs_is_warned_by_plan_and_stops_every_stage_before_it_starts() {
    let p = project_with(STAGED_CONFIG);
    let out = p.run(&["plan", "--branch", "staging-x", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["unset_variables"][0]["variable"], "PRODUCTION_DB_URL");
    assert!(
        plan["notes"].to_string().contains("PRODUCTION_DB_URL"),
        "{}",
        plan["notes"]
    );
    for args in [
        vec!["stage", "--branch", "staging-x", "--output", "out-stage"],
        vec!["deploy", "--branch", "main", "--output", "out-deploy"],
        vec!["run", "--branch", "staging-x", "--output", "out-run"],
    ] {
        let out = p.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("PRODUCTION_DB_URL"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("hint: "), "{}", out.stderr);
        let output = args[args.len() - 1];
        assert!(
            !p.path().join(output).exists(),
            "{args:?} wrote {output} before refusing"
        );
    }
}

#[test]
fn run_takes_every_stage_s_flags() {
    // The action calls `odoo-ci run` when `stage:` is empty, with the workflow's `args:`.
    let p = project_with(STAGED_CONFIG);
    for branch in ["main", "staging-x"] {
        let out = p.run(&[
            "run",
            "--branch",
            branch,
            "--no-wait",
            "--update-mode",
            "hash",
            "--push",
            "update",
        ]);
        assert!(
            !out.stderr.contains("unexpected argument"),
            "{}",
            out.stderr
        );
        assert_eq!(
            out.code, 2,
            "stops on the unset variable, not on a flag: {}",
            out.stderr
        );
        assert!(out.stderr.contains("PRODUCTION_DB_URL"), "{}", out.stderr);
    }
}

#[test]
fn addons_paths_outside_the_project_are_refused_by_line() {
    for (path, why) in [
        ("../../x", "leaves the project root"),
        ("/opt/odoo/addons", "is absolute"),
    ] {
        let p = project_with(&BASIC_CONFIG.replace(
            "addons_paths: [addons]",
            &format!("addons_paths: [addons, \"{path}\"]"),
        ));
        std::fs::create_dir_all(p.path().join("opt/odoo/addons")).unwrap();
        let err = plan_error(&p, &[]);
        assert!(
            err.contains(why) && err.contains(".odoo-ci.yml:4:"),
            "{path}: {err}"
        );
    }
}

/// A stage that cannot reach what it needs is a setup error — exit 2, the reason and what
/// to do — not a red result: nothing was tested, so no colour would tell the truth.
#[test]
fn a_stage_without_postgresql_is_a_setup_error_with_a_hint() {
    let cases = [
        // No server configured at all (no `postgres:` section, no PGHOST).
        ("", vec![("PGHOST", "")]),
        // A server that does not answer.
        (
            "postgres:\n  url: postgresql://odoo@127.0.0.1:1/postgres\n",
            vec![],
        ),
    ];
    for (extra, env) in cases {
        let p = project_with(&format!("{BASIC_CONFIG}{extra}"));
        let out = common::run_in(
            p.path(),
            &["test", "--branch", "feature/x", "--output", "out"],
            &env,
        );
        assert_eq!(out.code, 2, "{extra}: {}", out.stderr);
        assert!(out.stderr.contains("PostgreSQL"), "{}", out.stderr);
        assert!(out.stderr.contains("hint: "), "{}", out.stderr);
        assert!(
            !p.path().join("out/odoo-ci-result.json").exists(),
            "no result: nothing ran"
        );
    }
}

#[test]
fn outside_a_git_repository_the_error_says_so_not_detached_head() {
    let p = project_with(BASIC_CONFIG);
    let out = p.run(&["plan"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("not in a git repository") && !out.stderr.contains("detached"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: pass --branch NAME"),
        "{}",
        out.stderr
    );
    p.git_init();
    p.commit("one");
    p.detach();
    let out = p.run(&["plan"]);
    assert!(out.stderr.contains("HEAD is detached"), "{}", out.stderr);
}
