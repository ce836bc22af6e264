//! The template cache that travels (issue 16): in a fresh CI job (a new PostgreSQL server,
//! a new runner, only the template cache folder carried over), restoring the template vs
//! building it again. Against the engine and PostgreSQL that `./scripts/test` sets up
//! (`eval "$(bash scripts/test-env)"` first). With the fake Odoo a build takes about a
//! second; real Odoo 18 with `sale_management` takes 120–130 s, so the real ratio is far
//! larger than the one printed here.
//!
//! Run: `cargo bench --bench template_cache`

use std::path::Path;
use std::process::Command;

mod common;
use common::{addon, config, env, median, run_green, step_ms, write};

const RUNS: usize = 3;

/// The development bench's project: five addons, three Odoo addons preinstalled.
fn project(root: &Path, image: &str) {
    write(
        root,
        ".odoo-ci.yml",
        &config(
            "",
            image,
            "  preinstall: [mail, contacts, sale]\n  template_cache: .odoo-ci-cache/templates\n",
        ),
    );
    for i in 0..5 {
        let name = format!("bench_{i}");
        addon(root, &name, "sale");
    }
}

/// One fresh job: its own runner folder; returns (template step ms, template info).
fn job(root: &Path, runner: &Path, extra: &[&str]) -> (u64, serde_json::Value) {
    let result = run_green(env!("CARGO_BIN_EXE_odoo-ci"), root, "bench", runner, extra).result;
    (step_ms(&result, "template"), result["template"].clone())
}

/// What a new job's PostgreSQL server lacks: the template database.
fn drop_template(pg: &str, name: &str) {
    let ok = Command::new("psql")
        .args([
            pg,
            "-qAtc",
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        ])
        .status()
        .expect("psql")
        .success();
    assert!(ok, "cannot drop {name}");
}

fn main() {
    let pg = env("ODOO_CI_TEST_PG");
    let image = env("ODOO_CI_TEST_IMAGE");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("repo");
    project(&root, &image);
    let mut built = Vec::new();
    let mut restored = Vec::new();
    let mut name = String::new();
    for i in 0..RUNS {
        // A fresh job that has no cache entry: it builds (and saves) the template.
        let _ = std::fs::remove_dir_all(root.join(".odoo-ci-cache"));
        if !name.is_empty() {
            drop_template(&pg, &name);
        }
        let (ms, info) = job(&root, &dir.path().join(format!("build-{i}")), &[]);
        assert!(info["saved_to"].is_string(), "{info}");
        name = info["name"].as_str().expect("name").to_string();
        built.push(ms as f64);
        // A fresh job with the cache entry: it restores the template.
        drop_template(&pg, &name);
        let (ms, info) = job(&root, &dir.path().join(format!("restore-{i}")), &[]);
        assert!(info["restored_from"].is_string(), "{info}");
        restored.push(ms as f64);
    }
    drop_template(&pg, &name);
    let entry = root.join(".odoo-ci-cache/templates");
    let size: u64 = walk_size(&entry);
    let (built, restored) = (median(built), median(restored));
    println!("template in a fresh job, built (and saved): {built:.0} ms (median of {RUNS})");
    println!("template in a fresh job, restored from the cache folder: {restored:.0} ms (median of {RUNS})");
    println!(
        "restore is {:.1}x faster than a build",
        built / restored.max(1.0)
    );
    println!("cache folder: {:.1} MiB", size as f64 / 1048576.0);
}

fn walk_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => walk_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
