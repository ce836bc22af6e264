//! The version-bump guard and `odoo-ci bump`, on real git repositories.

use crate::common;

use common::{Project, BASIC_CONFIG};
use serde_json::Value;

/// A repo whose base commit has `a_core` 17.0.1.0.0 (manifest version on line 3).
fn repo_with(config_extra: &str) -> Project {
    let p = Project::new();
    p.config(&format!("{BASIC_CONFIG}{config_extra}"))
        .addon("a_core", "17.0.1.0.0", &["base"])
        .write("addons/a_core/views/core.xml", "<odoo/>\n")
        .write("addons/a_core/tests/test_core.py", "x = 1\n");
    p.git_init();
    p.commit("base");
    p
}

fn guard(p: &Project, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "guard",
        "--base",
        "HEAD~1",
        "--branch",
        "feature/x",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = p.run(&args);
    let v = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, v)
}

#[test]
fn a_view_change_without_a_bump_is_flagged_on_the_version_line() {
    let p = repo_with("");
    p.write("addons/a_core/views/core.xml", "<odoo><record/></odoo>\n");
    p.commit("change a view");
    let (code, v) = guard(&p, &[]);
    assert_eq!(code, 0, "yellow by default");
    let f = &v[0];
    assert_eq!(f["addon"], "a_core");
    assert_eq!(f["kind"], "unbumped");
    assert_eq!(f["colour"], "yellow");
    assert_eq!(f["file"], "addons/a_core/__manifest__.py");
    assert_eq!(f["line"], 3);
    assert_eq!(f["changed_files"][0], "views/core.xml");
    assert!(f["message"]
        .as_str()
        .unwrap()
        .contains("production will not update it"));
    let (code, _) = guard(&p, &["--fail-on-warning"]);
    assert_eq!(code, 1);
    let plan = p.run(&["plan", "--base", "HEAD~1", "--branch", "main"]);
    assert!(
        plan.stdout.contains("version guard")
            && plan.stdout.contains("odoo-ci bump a_core` (→ 17.0.1.0.1)"),
        "{}",
        plan.stdout
    );
    let text = p.run(&["guard", "--base", "HEAD~1", "--branch", "x"]);
    assert!(
        text.stdout
            .starts_with("addons/a_core/__manifest__.py:3: warning:"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_test_only_change_is_not_flagged() {
    let p = repo_with("");
    p.write("addons/a_core/tests/test_core.py", "x = 2\n")
        .write("addons/a_core/README.md", "# doc\n");
    p.commit("tests and docs");
    let (code, v) = guard(&p, &[]);
    assert_eq!((code, v.as_array().unwrap().len()), (0, 0), "{v}");
}

#[test]
fn a_bumped_change_is_not_flagged() {
    let p = repo_with("");
    p.write("addons/a_core/views/core.xml", "<odoo><record/></odoo>\n")
        .addon("a_core", "17.0.1.0.1", &["base"]);
    p.commit("change and bump");
    let (code, v) = guard(&p, &[]);
    assert_eq!((code, v.as_array().unwrap().len()), (0, 0), "{v}");
}

#[test]
fn a_downgrade_is_always_red() {
    let p = repo_with("version_guard:\n  unbumped: off\n");
    p.addon("a_core", "17.0.0.9.0", &["base"]);
    p.commit("downgrade");
    let (code, v) = guard(&p, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        (v[0]["kind"].as_str(), v[0]["colour"].as_str()),
        (Some("downgrade"), Some("red"))
    );
}

#[test]
fn the_level_is_configurable() {
    let red = repo_with("version_guard:\n  unbumped: red\n");
    red.write("addons/a_core/views/core.xml", "<odoo><x/></odoo>\n");
    red.commit("change");
    let (code, v) = guard(&red, &[]);
    assert_eq!((code, v[0]["colour"].as_str()), (1, Some("red")));
    let plan = red.run(&["plan", "--base", "HEAD~1", "--branch", "main"]);
    assert_eq!(plan.code, 1, "a red guard blocks the plan: {}", plan.stdout);

    let off = repo_with("version_guard:\n  unbumped: off\n");
    off.write("addons/a_core/views/core.xml", "<odoo><x/></odoo>\n");
    off.commit("change");
    assert_eq!(guard(&off, &[]).1.as_array().unwrap().len(), 0);

    let custom = repo_with("version_guard:\n  ignore: [\"views/*.xml\"]\n");
    custom.write("addons/a_core/views/core.xml", "<odoo><x/></odoo>\n");
    custom.commit("change");
    assert_eq!(guard(&custom, &[]).1.as_array().unwrap().len(), 0);
}

const STYLES: [(&str, &str, &str); 6] = [
    (
        "a_double",
        "# -*- coding: utf-8 -*-\n{\n    \"name\": \"Double\",\n    \"version\": \"17.0.1.0.0\",  # bump me\n    \"depends\": [\"base\"],\n}\n",
        "17.0.1.0.1",
    ),
    ("a_single", "{'name': 'Single', 'version': '1.2.0', 'depends': ['base'],}", "1.2.1"),
    (
        "a_triple",
        "{\n  'summary': '''multi\n  line''',\n  'version': '''17.0.2.0''',\n  'depends': ('base',),\n}\n",
        "17.0.2.0.1",
    ),
    ("a_prefixed", "{\n\t'version' : u'17.0.1.0.9' ,\n\t'depends':['base']\n}", "17.0.1.0.10"),
    ("a_raw", "{'version': r\"3.1\", 'name': 'x' 'y', 'depends': ['base']}", "3.1.1"),
    ("a_paren", "{'version': (\n    '17.0.5.4.3'\n), 'depends': ['base']}", "17.0.5.4.4"),
];

#[test]
fn bump_rewrites_only_the_version_in_every_style() {
    let p = Project::new();
    p.config(BASIC_CONFIG);
    for (name, src, _) in STYLES {
        p.write(&format!("addons/{name}/__manifest__.py"), src);
    }
    let names: Vec<&str> = STYLES.iter().map(|s| s.0).collect();
    let mut args = vec!["bump"];
    args.extend(&names);
    args.extend(["--format", "json"]);
    let out = p.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (name, src, new_version) in STYLES {
        let after =
            std::fs::read_to_string(p.path().join(format!("addons/{name}/__manifest__.py")))
                .unwrap();
        let m = odoo_ci::addons::manifest::parse_manifest(std::path::Path::new(name), src).unwrap();
        let old_version = m.version.clone();
        // Everything but the version is byte for byte the same.
        let expected = src.replacen(&old_version, new_version, 1);
        assert_eq!(after, expected, "{name}");
    }
    let minor = p.run(&["bump", "a_single", "--part", "minor"]);
    assert!(minor.stdout.contains("1.2.1 → 1.3.0"), "{}", minor.stdout);
    let major = p.run(&["bump", "a_double", "--part", "major"]);
    assert!(
        major.stdout.contains("17.0.1.0.1 → 17.0.2.0.0"),
        "{}",
        major.stdout
    );
}

#[test]
fn bump_refuses_what_it_cannot_rewrite_exactly() {
    let p = Project::new();
    p.config(BASIC_CONFIG)
        .write("addons/a_split/__manifest__.py", "{'version': '1.0' '.0'}")
        .write("addons/a_none/__manifest__.py", "{'name': 'x'}");
    for name in ["a_split", "a_none", "a_nope"] {
        let out = p.run(&["bump", name]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    }
    assert_eq!(
        std::fs::read_to_string(p.path().join("addons/a_split/__manifest__.py")).unwrap(),
        "{'version': '1.0' '.0'}"
    );
}

#[test]
fn bump_changed_with_commit_makes_one_commit_of_only_the_manifests() {
    let p = repo_with("");
    p.addon("a_other", "17.0.1.0.0", &["base"]);
    p.commit("add a_other");
    p.write("addons/a_core/views/core.xml", "<odoo><y/></odoo>\n");
    p.commit("change a view, forget the bump");
    // An unrelated edit that must stay out of the bump commit.
    p.write("addons/a_other/views/wip.xml", "<odoo/>\n");
    let repo = git2::Repository::open(p.path()).unwrap();
    let before = repo.head().unwrap().target().unwrap();

    let out = p.run(&["bump", "--changed", "--since", "HEAD~1", "--commit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("a_core: 17.0.1.0.0 → 17.0.1.0.1"),
        "{}",
        out.stdout
    );

    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_id(0).unwrap(), before, "exactly one new commit");
    let diff = repo
        .diff_tree_to_tree(
            Some(&head.parent(0).unwrap().tree().unwrap()),
            Some(&head.tree().unwrap()),
            None,
        )
        .unwrap();
    let files: Vec<String> = diff
        .deltas()
        .map(|d| d.new_file().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["addons/a_core/__manifest__.py"]);
    assert!(head
        .message()
        .unwrap()
        .contains("a_core: 17.0.1.0.0 → 17.0.1.0.1"));
    assert!(p.path().join("addons/a_other/views/wip.xml").exists());
    // After the bump the guard is satisfied.
    let out = p.run(&[
        "guard", "--base", "HEAD~2", "--branch", "x", "--format", "json",
    ]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v.as_array().unwrap().iter().all(|f| f["addon"] != "a_core"),
        "{v}"
    );
}

/// base: a_core 1.0.0 · R: a view changed, unbumped · HEAD: bumped to 1.0.1.
fn history_with_an_unbumped_middle() -> (Project, String) {
    let p = repo_with("");
    p.write("addons/a_core/views/core.xml", "<odoo><record/></odoo>\n");
    let unbumped = p.commit("change a view, forget the bump");
    p.addon("a_core", "17.0.1.0.1", &["base"]);
    p.commit("bump");
    (p, unbumped)
}

#[test]
fn ref_means_the_addons_and_versions_of_that_commit() {
    // At R the view changed without a bump; HEAD bumped it. `--ref R` once read HEAD's
    // working tree and said all was well.
    let (p, unbumped) = history_with_an_unbumped_middle();
    let out = p.run(&[
        "guard",
        "--base",
        "HEAD~2",
        "--ref",
        &unbumped,
        "--branch",
        "feature/x",
        "--format",
        "json",
    ]);
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr));
    assert_eq!(v[0]["addon"], "a_core", "{v:#}");
    assert_eq!(v[0]["kind"], "unbumped");
    // The same for the plan and `addons changed`.
    let plan = p.run(&[
        "plan",
        "--base",
        "HEAD~2",
        "--ref",
        &unbumped,
        "--branch",
        "feature/x",
        "--format",
        "json",
    ]);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan["commit"], unbumped.as_str());
    assert_eq!(plan["guard"][0]["addon"], "a_core");
    let at_head = p.run(&[
        "plan",
        "--base",
        "HEAD~2",
        "--branch",
        "feature/x",
        "--format",
        "json",
    ]);
    let at_head: Value = serde_json::from_str(&at_head.stdout).unwrap();
    assert_eq!(
        at_head["guard"].as_array().map(Vec::len),
        Some(0),
        "{at_head:#}"
    );
}

#[test]
fn the_guard_runs_on_any_repository_with_addons_path() {
    // No .odoo-ci.yml: an OCA-style repository with addons at the root.
    let p = Project::new();
    p.write(
        "a_core/__manifest__.py",
        "{'name': 'Core', 'version': '17.0.1.0.0', 'depends': ['base']}\n",
    )
    .write("a_core/views/core.xml", "<odoo/>\n");
    p.git_init();
    p.commit("base");
    p.write("a_core/views/core.xml", "<odoo><record/></odoo>\n");
    p.commit("change a view");
    let out = p.run(&[
        "guard",
        "--addons-path",
        ".",
        "--base",
        "HEAD~1",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["addon"], "a_core", "{v:#}");
    assert_eq!(v[0]["file"], "a_core/__manifest__.py");
    assert_eq!(v[0]["colour"], "yellow");
    let with_series = p.run(&[
        "guard",
        "--addons-path",
        ".",
        "--series",
        "17.0",
        "--base",
        "HEAD~1",
    ]);
    assert!(
        with_series.stdout.contains("a_core/__manifest__.py:1:"),
        "{}",
        with_series.stdout
    );
}

#[test]
fn a_red_guard_finding_stops_every_stage_not_only_plan() {
    // `plan` exited 1 on it; `test`, `stage` and `deploy` carried on.
    let p = repo_with("version_guard:\n  unbumped: red\n");
    p.write("addons/a_core/views/core.xml", "<odoo><record/></odoo>\n");
    p.commit("change a view, no bump");
    for (args, output) in [
        (vec!["test", "--branch", "feature/x"], "out-test"),
        (vec!["stage", "--branch", "staging-x"], "out-stage"),
        (vec!["deploy", "--branch", "main"], "out-deploy"),
    ] {
        let mut all = args.clone();
        all.extend(["--base", "HEAD~1", "--output", output]);
        let out = p.run(&all);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("the plan has problems"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("a_core"), "{}", out.stderr);
        assert!(!p.path().join(output).exists(), "{args:?} started anyway");
    }
}

#[test]
fn the_staging_plan_shows_staging_s_own_health_check() {
    let p = repo_with("staging:\n  health_check:\n    path: /staging/ping\nproduction:\n  health_check:\n    path: /prod/health\n");
    let out = p.run(&["plan", "--branch", "staging-x"]);
    assert!(out.stdout.contains("GET /staging/ping"), "{}", out.stdout);
    assert!(!out.stdout.contains("/prod/health"), "{}", out.stdout);
}

#[test]
fn a_yellow_guard_exits_3_on_gitlab_like_every_stage() {
    let p = repo_with("");
    p.write("addons/a_core/views/core.xml", "<odoo><record/></odoo>\n");
    p.commit("change a view");
    let out = common::run_in(
        p.path(),
        &["guard", "--base", "HEAD~1", "--branch", "feature/x"],
        &[("GITLAB_CI", "true"), ("CI_COMMIT_BRANCH", "feature/x")],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
}
