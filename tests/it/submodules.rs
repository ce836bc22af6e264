//! Repositories shaped as Odoo.sh projects are: OCA addons arriving as a git submodule
//! (a second real repository added with `git submodule add`), read by plan, `addons
//! changed`, `--ref` and a build from a named commit.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{run_in, Project};
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "protocol.file.allow=always"])
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn manifest(version: &str, depends: &[&str]) -> String {
    let deps: Vec<String> = depends.iter().map(|d| format!("'{d}'")).collect();
    format!(
        "{{'name': 'x', 'version': '{version}', 'depends': [{}]}}\n",
        deps.join(", ")
    )
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// An OCA-style repository (addons at its root) and a project that has it as the
/// submodule `vendor/oca-tools`, with an own addon depending on one of its addons.
struct Shaped {
    vendor: tempfile::TempDir,
    project: Project,
}

impl Shaped {
    fn new() -> Shaped {
        let vendor = tempfile::tempdir().unwrap();
        let v = vendor.path();
        git(v, &["init", "-q"]);
        write(
            v,
            "acc_dep/__manifest__.py",
            &manifest("17.0.1.0.0", &["base"]),
        );
        write(v, "acc_dep/__init__.py", "");
        write(v, "acc_dep/tests/__init__.py", "");
        write(
            v,
            "acc_other/__manifest__.py",
            &manifest("17.0.1.0.0", &["base"]),
        );
        write(v, "acc_other/__init__.py", "");
        write(v, "requirements.txt", "");
        git(v, &["add", "-A"]);
        git(v, &["commit", "-qm", "oca"]);

        let project = Project::new();
        let p = project.path();
        git(p, &["init", "-q"]);
        project.config(
            "odoo:\n  series: \"17.0\"\n  image: odoo:17.0\naddons_paths: [addons, vendor/oca-tools]\nbranches:\n  - match: \"*\"\n    stage: development\n",
        );
        write(
            p,
            "addons/acc_own/__manifest__.py",
            &manifest("17.0.1.0.0", &["acc_dep"]),
        );
        write(p, "addons/acc_own/__init__.py", "");
        git(
            p,
            &[
                "submodule",
                "add",
                "-q",
                v.to_str().unwrap(),
                "vendor/oca-tools",
            ],
        );
        git(p, &["add", "-A"]);
        git(p, &["commit", "-qm", "project with OCA as a submodule"]);
        git(p, &["tag", "v1"]);
        Shaped { vendor, project }
    }

    fn run(&self, args: &[&str]) -> common::Output {
        run_in(self.project.path(), args, &[])
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
    }

    /// A new commit in the OCA repository, pulled into the submodule and committed.
    fn bump_submodule(&self, version: &str) {
        let v = self.vendor.path();
        write(v, "acc_dep/models.py", "x = 1\n");
        write(v, "acc_dep/__manifest__.py", &manifest(version, &["base"]));
        git(v, &["add", "-A"]);
        git(v, &["commit", "-qm", "acc_dep changed"]);
        let sub = self.project.path().join("vendor/oca-tools");
        git(&sub, &["pull", "-q", "origin", "main"]);
        git(self.project.path(), &["commit", "-qam", "bump oca-tools"]);
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn submodule_addons_are_installed_for_what_needs_them_and_never_tested_unasked() {
    let s = Shaped::new();
    let plan = s.json(&["plan", "--branch", "feat/x", "--format", "json"]);
    let install = names(&plan["addons"]["install"]);
    let test = names(&plan["addons"]["test"]);
    assert!(install.contains(&"acc_dep".to_string()), "{plan:#}");
    assert!(
        !install.contains(&"acc_other".to_string()),
        "nothing needs it: {install:?}"
    );
    assert_eq!(
        test,
        ["acc_own"],
        "only the project's own addons are tested"
    );
    let why = plan["addons"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "acc_dep")
        .unwrap()
        .to_string();
    assert!(why.contains("vendor/oca-tools"), "{why}");

    // Named, a submodule's addon is tested.
    let config = std::fs::read_to_string(s.project.path().join(".odoo-ci.yml")).unwrap();
    s.project.config(&format!(
        "{config}development:\n  install: [acc_own, acc_other]\n"
    ));
    let plan = s.json(&["plan", "--branch", "feat/x", "--format", "json"]);
    assert_eq!(names(&plan["addons"]["test"]), ["acc_other", "acc_own"]);
}

#[test]
fn a_submodule_bump_changes_its_addons_and_what_depends_on_them() {
    let s = Shaped::new();
    s.bump_submodule("17.0.1.0.1");
    let changed = s.json(&["addons", "changed", "--since", "v1", "--format", "json"]);
    assert_eq!(names(&changed["changed"]), ["acc_dep"], "{changed:#}");
    assert_eq!(names(&changed["affected"]), ["acc_dep", "acc_own"]);
    let plan = s.json(&[
        "plan",
        "--branch",
        "feat/x",
        "--base",
        "v1",
        "--changed-only",
        "--format",
        "json",
    ]);
    assert_eq!(names(&plan["addons"]["test"]), ["acc_own"], "{plan:#}");
}

#[test]
fn a_named_commit_reads_its_submodule_at_the_pinned_commit() {
    let s = Shaped::new();
    s.bump_submodule("17.0.1.0.1");
    let plan = s.json(&[
        "plan", "--branch", "feat/x", "--ref", "v1", "--format", "json",
    ]);
    assert!(
        !names(&plan["addons"]["external"]).contains(&"acc_dep".to_string()),
        "acc_dep is the submodule's, not the base image's: {plan:#}"
    );
    assert!(names(&plan["addons"]["install"]).contains(&"acc_dep".to_string()));
    // At v1 the submodule pinned acc_dep 1.0.0; the checkout has 1.0.1 since. Read at v1,
    // the checkout's acc_dep is 1.0.1 against a base of 1.0.0: a bump the guard sees.
    let guard = s.json(&["guard", "--base", "v1", "--format", "json"]);
    let text = guard.to_string();
    assert!(!text.contains("went down"), "{guard:#}");
    let back = s.run(&["guard", "--ref", "v1", "--base", "HEAD", "--format", "json"]);
    assert!(
        back.stdout.contains("acc_dep") && back.stdout.contains("17.0.1.0.1"),
        "v1 holds acc_dep 1.0.0, lower than HEAD's 1.0.1: {}{}",
        back.stdout,
        back.stderr
    );
}

#[test]
fn a_missing_submodule_is_named_with_what_to_run_and_nothing_is_planned() {
    let s = Shaped::new();
    let clone = tempfile::tempdir().unwrap();
    git(
        clone.path(),
        &["clone", "-q", s.project.path().to_str().unwrap(), "c"],
    );
    let dir = clone.path().join("c");
    for args in [
        &["plan", "--branch", "feat/x"][..],
        &["plan", "--branch", "feat/x", "--ref", "v1"][..],
    ] {
        let out = run_in(&dir, args, &[]);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("vendor/oca-tools")
                && out.stderr.contains("git submodule update --init"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

const PASSING: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestOk(TransactionCase):\n    def test_math(self):\n        self.assertEqual(2 * 3, 6)\n";

#[test]
fn an_image_built_from_a_named_commit_holds_its_submodule_s_addons() {
    let s = Shaped::new();
    let p = s.project.path();
    let command = common::repo_root().join("tests/fake-odoo/bin/odoo");
    s.project.config(&format!(
        "project: odoo-ci-tests/submodules\nodoo:\n  series: \"17.0\"\n  image: {}\n  command: {}\naddons_paths: [addons, vendor/oca-tools]\nbranches:\n  - match: \"*\"\n    stage: development\npostgres:\n  url: ${{ODOO_CI_TEST_PG}}\ndevelopment:\n  build: always\n",
        common::image(),
        command.display()
    ));
    write(
        p,
        "addons/acc_own/tests/__init__.py",
        "from . import test_acc_own\n",
    );
    write(p, "addons/acc_own/tests/test_acc_own.py", PASSING);
    // The OCA repository's own requirements, at its root (Odoo.sh installs them).
    let v = s.vendor.path();
    let fresh = common::unique("req");
    write(
        v,
        "requirements.txt",
        &format!("# {fresh}\nopenupgradelib==3.6.1\n"),
    );
    git(v, &["commit", "-qam", "requirements"]);
    git(
        &p.join("vendor/oca-tools"),
        &["pull", "-q", "origin", "main"],
    );
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "a tested addon"]);
    let named = git(p, &["rev-parse", "HEAD"]);
    git(p, &["commit", "-q", "--allow-empty", "-m", "later"]);
    let cache = p.join(".cache");
    let out = run_in(
        p,
        &[
            "test",
            "--branch",
            "feature/x",
            "--ref",
            &named,
            "--output",
            "out",
        ],
        &[
            ("ODOO_CI_TEST_PG", &common::pg_url()),
            ("ODOO_CI_CACHE_DIR", cache.to_str().unwrap()),
            ("ODOO_CI_TEST_LABEL", "submodules"),
        ],
    );
    let text = std::fs::read_to_string(p.join("out/odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["colour"], "green", "{}\n{r:#}", out.stderr);
    let built = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "build")
        .and_then(|s| s["output"].as_str())
        .unwrap_or_else(|| panic!("{r:#}"));
    let image = built
        .strip_prefix("image ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{built}"))
        .to_string();
    let inside = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "cat", &image])
        .arg("/mnt/odoo-ci/project/vendor/oca-tools/acc_dep/__manifest__.py")
        .output()
        .unwrap();
    assert!(
        inside.status.success(),
        "the submodule's addon is not in {image}"
    );
    let installed = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "cat", &image])
        .arg("/usr/lib/python3/dist-packages/fake-pip-installed.txt")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&installed.stdout).contains("openupgradelib==3.6.1"),
        "the submodule's requirements.txt was not installed in {image}: {}",
        out.stderr
    );
}

/// An Odoo Enterprise checkout beside the project (outside the repository), named in
/// `odoo.extra_addons_paths`: `ent_dep`, which the project's `acc_own` depends on, and
/// `ent_other`, which nothing needs. Both ship tests, which the project never runs.
struct WithEnterprise {
    enterprise: tempfile::TempDir,
    project: Project,
}

impl WithEnterprise {
    fn new(extra_config: &str) -> WithEnterprise {
        let enterprise = tempfile::tempdir().unwrap();
        let e = enterprise.path();
        for name in ["ent_dep", "ent_other"] {
            write(
                e,
                &format!("{name}/__manifest__.py"),
                &manifest("17.0.1.0.0", &["base"]),
            );
            write(e, &format!("{name}/__init__.py"), "");
            write(
                e,
                &format!("{name}/tests/__init__.py"),
                "from . import test_bad\n",
            );
            write(e, &format!("{name}/tests/test_bad.py"), FAILING);
        }
        let project = Project::new();
        let p = project.path();
        git(p, &["init", "-q"]);
        let command = common::repo_root().join("tests/fake-odoo/bin/odoo");
        project.config(&format!(
            "project: odoo-ci-tests/enterprise\nodoo:\n  series: \"17.0\"\n  image: {}\n  command: {}\n  extra_addons_paths: [\"${{ENTERPRISE_DIR}}\"]\naddons_paths: [addons]\nbranches:\n  - match: \"*\"\n    stage: development\npostgres:\n  url: ${{ODOO_CI_TEST_PG:-postgresql://localhost/postgres}}\n{extra_config}",
            std::env::var("ODOO_CI_TEST_IMAGE").unwrap_or_else(|_| "odoo:17.0".into()),
            command.display()
        ));
        write(
            p,
            "addons/acc_own/__manifest__.py",
            &manifest("17.0.1.0.0", &["ent_dep"]),
        );
        write(p, "addons/acc_own/__init__.py", "");
        write(
            p,
            "addons/acc_own/tests/__init__.py",
            "from . import test_acc_own\n",
        );
        write(p, "addons/acc_own/tests/test_acc_own.py", PASSING);
        git(p, &["add", "-A"]);
        git(p, &["commit", "-qm", "one addon on enterprise"]);
        WithEnterprise {
            enterprise,
            project,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let cache = self.project.path().join(".cache");
        vec![
            (
                "ENTERPRISE_DIR",
                self.enterprise.path().display().to_string(),
            ),
            (
                "ODOO_CI_TEST_PG",
                std::env::var("ODOO_CI_TEST_PG").unwrap_or_default(),
            ),
            ("ODOO_CI_CACHE_DIR", cache.display().to_string()),
            ("ODOO_CI_TEST_LABEL", "enterprise".into()),
        ]
    }

    fn run(&self, args: &[&str]) -> common::Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_in(self.project.path(), args, &env)
    }

    fn plan(&self) -> Value {
        let out = self.run(&["plan", "--branch", "feat/x", "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }
}

const FAILING: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestBad(TransactionCase):\n    def test_bad(self):\n        self.assertEqual(1, 2)\n";

#[test]
fn enterprise_from_outside_the_repository_is_installed_for_what_needs_it_and_never_tested() {
    let s = WithEnterprise::new("");
    let plan = s.plan();
    let install = names(&plan["addons"]["install"]);
    assert!(install.contains(&"ent_dep".to_string()), "{plan:#}");
    assert!(!install.contains(&"ent_other".to_string()), "{install:?}");
    assert!(
        !names(&plan["addons"]["external"]).contains(&"ent_dep".to_string()),
        "ent_dep is the extra path's, not the base image's: {plan:#}"
    );
    assert_eq!(names(&plan["addons"]["test"]), ["acc_own"]);
    let why = plan["addons"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "ent_dep")
        .unwrap()
        .to_string();
    assert!(why.contains("extra addons path"), "{why}");

    // Named, an extra path's addon is installed, and still not tested.
    let config = std::fs::read_to_string(s.project.path().join(".odoo-ci.yml")).unwrap();
    s.project.config(&format!(
        "{config}development:\n  install: [acc_own, ent_other]\n"
    ));
    let plan = s.plan();
    assert!(names(&plan["addons"]["install"]).contains(&"ent_other".to_string()));
    assert_eq!(names(&plan["addons"]["test"]), ["acc_own"]);
}

#[test]
fn an_extra_addons_path_that_is_missing_or_clashes_is_refused_with_where_and_what_to_do() {
    let s = WithEnterprise::new("");
    let out = run_in(
        s.project.path(),
        &["plan", "--branch", "feat/x"],
        &[("ENTERPRISE_DIR", "../no-enterprise-here")],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".odoo-ci.yml:6")
            && out.stderr.contains("no-enterprise-here")
            && out.stderr.contains("hint: ")
            && out.stderr.contains("actions/checkout"),
        "{}",
        out.stderr
    );
    // One name in the repository and in the extra path.
    let e = s.enterprise.path();
    write(
        e,
        "acc_own/__manifest__.py",
        &manifest("17.0.1.0.0", &["base"]),
    );
    let out = s.run(&["plan", "--branch", "feat/x"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("`acc_own` is both in the repository"),
        "{}",
        out.stderr
    );
}

/// The development stage finds the extra path's addons wherever Odoo runs: in an image
/// built for the commit, in the base image with the project mounted, and as a local
/// process. The extra path's failing tests never run.
#[test]
fn a_development_run_finds_enterprise_in_the_image_the_mount_and_the_local_executor() {
    for (build, executor) in [("always", "docker"), ("auto", "docker"), ("auto", "local")] {
        let s = WithEnterprise::new(&format!("development:\n  build: {build}\n"));
        let out = s.run(&[
            "test",
            "--branch",
            "feature/x",
            "--executor",
            executor,
            "--output",
            "out",
        ]);
        let text = std::fs::read_to_string(s.project.path().join("out/odoo-ci-result.json"))
            .unwrap_or_else(|e| panic!("{build}/{executor}: no result ({e}): {}", out.stderr));
        let r: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            r["colour"], "green",
            "{build}/{executor}: {}\n{r:#}",
            out.stderr
        );
        assert_eq!(r["log"]["tests"]["total"], 1, "{build}/{executor}: {r:#}");
        let first = r["steps"][0]["name"].as_str().unwrap().to_string();
        let expected = match (build, executor) {
            (_, "local") => "local",
            ("always", _) => "build",
            _ => "mount",
        };
        assert_eq!(first, expected, "{r:#}");
    }
}
