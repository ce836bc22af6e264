//! The image for a one-file change (issue 16): how long each stage spends getting the
//! image Odoo runs in, after changing one file of a project. Against the engine and
//! PostgreSQL that `./scripts/test` sets up (`eval "$(bash scripts/test-env)"` first).
//!
//! - development, nothing to build (no Dockerfile, no requirements.txt): the `mount` step;
//! - development with `build: always`: the `build` step of the changed commit;
//! - a second stage (another branch) of the same commit: the `build` step that reuses it.
//!
//! `ODOO_CI_OLD_BIN=<path>` also times an older odoo-ci binary on the same change (its
//! labels carried branch and stage, so every stage built again): "before".
//!
//! Run: `cargo bench --bench image_build`

use std::path::Path;
use std::process::Command;

mod common;
use common::{addon, config, env, median, run_green, write};

const RUNS: usize = 3;

/// Five addons with tests and 20 MiB of static files (200 × 100 KiB), a middling repo.
fn project(root: &Path, name: &str, image: &str, build: &str) {
    write(
        root,
        ".odoo-ci.yml",
        &config(
            &format!("project: {name}\n"),
            image,
            &format!("  keep_templates: 3\n  build: {build}\n"),
        ),
    );
    for i in 0..5 {
        let name = format!("bench_{i}");
        addon(root, &name, "base");
        for j in 0..40 {
            let blob: String = format!("{i}-{j} ").repeat(100 * 1024 / 6);
            write(root, &format!("addons/{name}/static/img/f{j}.svg"), &blob);
        }
    }
}

/// Runs `odoo-ci test` on `branch`; the duration of its first step (build or mount).
fn first_step_ms(bin: &str, root: &Path, branch: &str) -> (String, u64) {
    let result = run_green(bin, root, branch, &root.join(".cache"), &[]).result;
    let first = &result["steps"][0];
    (
        first["name"].as_str().expect("name").to_string(),
        first["duration_ms"].as_u64().expect("ms"),
    )
}

/// Nanoseconds since the epoch: unique enough for one machine's bench runs.
fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Removes the images of the project `scope` (and only those) that the bench built.
fn remove_images(scope: &str) {
    let out = Command::new("docker")
        .args(["images", "-q", "--filter"])
        .arg(format!("label={}={scope}", odoo_ci::names::PROJECT_LABEL))
        .output()
        .expect("docker images");
    let ids: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rmi", "-f"])
            .args(&ids)
            .output();
    }
}

/// One-file changes on `root`: the first step's median for this branch, then for a second
/// branch of the same files.
fn one_file_changes(bin: &str, root: &Path) -> (String, f64, f64) {
    first_step_ms(bin, root, "warm-up");
    let mut this = Vec::new();
    let mut other = Vec::new();
    let mut kind = String::new();
    for i in 0..RUNS {
        // Never seen before: an earlier bench run's image must not answer for this one.
        write(
            root,
            "addons/bench_0/models.py",
            &format!("# change {i} of {}\n", nonce()),
        );
        let (k, ms) = first_step_ms(bin, root, "feature/a");
        kind = k;
        this.push(ms as f64);
        let (_, ms) = first_step_ms(bin, root, "staging-like/b");
        other.push(ms as f64);
    }
    (kind, median(this), median(other))
}

fn main() {
    let image = env("ODOO_CI_TEST_IMAGE");
    env("ODOO_CI_TEST_PG");
    let new_bin = env!("CARGO_BIN_EXE_odoo-ci");
    let mut cases: Vec<(&str, String, &str)> = vec![
        (
            "this odoo-ci, nothing to build",
            new_bin.to_string(),
            "auto",
        ),
        ("this odoo-ci, build: always", new_bin.to_string(), "always"),
    ];
    if let Ok(old) = std::env::var("ODOO_CI_OLD_BIN") {
        cases.insert(0, ("older odoo-ci (before)", old, "always"));
    }
    for (label, bin, build) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("repo");
        let name = format!("odoo-ci-bench/image-{}", nonce());
        project(&root, &name, &image, build);
        let config = std::fs::read_to_string(root.join(".odoo-ci.yml")).expect("config");
        if label.starts_with("older") {
            // An older binary does not know `development.build`; it always built.
            write(
                &root,
                ".odoo-ci.yml",
                &config.replace("  build: always\n", ""),
            );
        }
        let (kind, this, other) = one_file_changes(&bin, &root);
        println!(
            "{label}: one-file change, `{kind}` step {this:.0} ms; the same commit on another branch/stage {other:.0} ms (medians of {RUNS})"
        );
        remove_images(&odoo_ci::names::scope(&name));
    }
}
