//! Release volumes against the real engine: filled once and then immutable, filled again
//! after an upload that stopped short, never another project's, pruned oldest first but
//! never while a container uses one.

use std::process::Command;

use odoo_ci::executor::release_volume::{carry, check, prune, Helper, ReleaseFiles};
use odoo_ci::image::release_tree;

use crate::common::{image, unique};

fn engine() -> bollard::Docker {
    bollard::Docker::connect_with_local_defaults().expect("engine")
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker")
}

/// A project folder with one addon whose manifest says `version`.
fn project(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let addon = dir.path().join("addons/rel_a");
    std::fs::create_dir_all(&addon).unwrap();
    std::fs::write(
        addon.join("__manifest__.py"),
        format!("{{'name': 'rel_a', 'version': '{version}'}}\n"),
    )
    .unwrap();
    dir
}

fn labels() -> std::collections::HashMap<String, String> {
    std::env::var("ODOO_CI_TEST_RUN")
        .map(|run| [("odoo-ci.test-run".to_string(), run)].into())
        .unwrap_or_default()
}

/// What odoo-ci's containers of `scope` carry: the project and the stage.
fn helper_labels(scope: &str) -> std::collections::HashMap<String, String> {
    let mut labels = labels();
    labels.insert("odoo-ci.project".into(), scope.into());
    labels.insert("odoo-ci.stage".into(), "production".into());
    labels
}

fn helpers_of(scope: &str) -> usize {
    let out = docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=odoo-ci.helper=release",
        "--filter",
        &format!("label=odoo-ci.project={scope}"),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .count()
}

fn remove_volumes(scope: &str) {
    let out = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=odoo-ci.project={scope}"),
    ]);
    for v in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        docker(&["volume", "rm", "-f", v]);
    }
}

#[test]
fn a_release_is_filled_once_refilled_when_incomplete_and_never_another_s() {
    let scope = unique("rel-scope");
    let docker_api = engine();
    let (base, helper_labels) = (image(), helper_labels(&scope));
    let helper = Helper {
        image: &base,
        labels: &helper_labels,
    };
    let p = project("17.0.1.0.0");
    let tree = || release_tree(p.path(), &[], &[]).unwrap();
    let first = carry(&docker_api, &scope, &helper, tree(), &labels()).unwrap();
    assert!(!first.reused && first.bytes > 0, "{first:?}");
    let again = carry(&docker_api, &scope, &helper, tree(), &labels()).unwrap();
    assert_eq!(
        (again.volume.as_str(), again.reused),
        (first.volume.as_str(), true)
    );
    check(&docker_api, &helper, &first.volume).expect("complete");

    // An upload that stopped short: the marker (its last entry) is missing.
    let mount = format!("{}:/mnt/odoo-ci", first.volume);
    let out = docker(&[
        "run",
        "--rm",
        "--user",
        "0",
        "-v",
        &mount,
        "--entrypoint",
        "rm",
        &base,
        "/mnt/odoo-ci/.odoo-ci-release",
        "/mnt/odoo-ci/project/addons/rel_a/__manifest__.py",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refused = check(&docker_api, &helper, &first.volume).unwrap_err();
    assert!(refused.to_string().contains("incomplete"), "{refused}");
    let refilled = carry(&docker_api, &scope, &helper, tree(), &labels()).unwrap();
    assert!(!refilled.reused, "an incomplete release is filled again");
    check(&docker_api, &helper, &first.volume).expect("complete again");
    let out = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{mount}:ro"),
        "--entrypoint",
        "cat",
        &base,
        "/mnt/odoo-ci/project/addons/rel_a/__manifest__.py",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("17.0.1.0.0"));

    // A volume of that name that is not this project's is refused, never written.
    let other = unique("rel-other");
    let foreign = odoo_ci::executor::release_volume::name(&other, tree().content());
    docker(&["volume", "create", &foreign]);
    let err = carry(&docker_api, &other, &helper, tree(), &labels()).unwrap_err();
    assert!(
        err.to_string().contains("not this project's release"),
        "{err}"
    );
    docker(&["volume", "rm", "-f", &foreign]);

    // A missing release is refused by name (the engine would make an empty one).
    let gone = check(&docker_api, &helper, "odoo-ci-nobody-release-0").unwrap_err();
    assert!(gone.to_string().contains("is not on the engine"), "{gone}");
    assert_eq!(
        helpers_of(&scope),
        0,
        "every helper is removed after its work"
    );
    remove_volumes(&scope);
}

#[test]
fn older_releases_are_pruned_but_never_one_in_use() {
    let scope = unique("rel-prune");
    let docker_api = engine();
    let (base, helper_labels) = (image(), helper_labels(&scope));
    let helper = Helper {
        image: &base,
        labels: &helper_labels,
    };
    let mut volumes = Vec::new();
    for minor in 0..4 {
        let p = project(&format!("17.0.1.{minor}.0"));
        let tree = release_tree(p.path(), &[], &[]).unwrap();
        volumes.push(
            carry(&docker_api, &scope, &helper, tree, &labels())
                .unwrap()
                .volume,
        );
        std::thread::sleep(std::time::Duration::from_millis(1100)); // distinct creation times
    }
    // The oldest is in use by a (stopped) container: it stays whatever the budget.
    let user = docker(&[
        "create",
        "-v",
        &format!("{}:/mnt/odoo-ci:ro", volumes[0]),
        &base,
    ]);
    let user = String::from_utf8_lossy(&user.stdout).trim().to_string();
    let current = volumes[3].clone();
    let removed = prune(&docker_api, &scope, 2, &current);
    let exists = |v: &str| docker(&["volume", "inspect", v]).status.success();
    assert_eq!(removed, 1, "only the unused one beyond the newest two");
    assert!(exists(&volumes[0]), "in use");
    assert!(!exists(&volumes[1]), "pruned");
    assert!(exists(&volumes[2]) && exists(&current));
    docker(&["rm", "-f", "-v", &user]);
    remove_volumes(&scope);
}
