//! What the benches that run `odoo-ci` share: the environment `./scripts/test` sets up,
//! project files, addons with a passing test, and medians.
#![allow(dead_code)]

use std::path::Path;

pub mod production;

/// Two passing tests, one of them reading the database.
pub const TEST_SOURCE: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestBench(TransactionCase):\n    def test_one(self):\n        self.env.cr.execute('SELECT count(*) FROM ir_module_module')\n        self.assertTrue(self.env.cr.fetchone()[0])\n\n    def test_two(self):\n        self.assertEqual(sum(range(10)), 45)\n";

/// The variable `name`, or exit 2 saying how to set the bench's environment up.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("{name} is not set: run `eval \"$(bash scripts/test-env)\"` first");
        std::process::exit(2)
    })
}

/// Writes `text` to `root/rel`, making its folders.
pub fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// The addon `addons/<name>` depending on `depends`, with [`TEST_SOURCE`] as its test (an
/// addon without tests makes Odoo warn "0 tests", and the run is yellow).
pub fn addon(root: &Path, name: &str, depends: &str) {
    write(
        root,
        &format!("addons/{name}/__manifest__.py"),
        &format!("{{'name': '{name}', 'version': '17.0.1.0.0', 'depends': ['{depends}']}}\n"),
    );
    write(root, &format!("addons/{name}/__init__.py"), "");
    write(
        root,
        &format!("addons/{name}/tests/__init__.py"),
        &format!("from . import test_{name}\n"),
    );
    write(
        root,
        &format!("addons/{name}/tests/test_{name}.py"),
        TEST_SOURCE,
    );
}

/// How many runs a bench measures (`ODOO_CI_BENCH_RUNS`, default 5).
pub fn runs() -> usize {
    std::env::var("ODOO_CI_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `.odoo-ci.yml` of a bench project on `image`: every branch is development, the server
/// is the tests' one; `head` goes first (e.g. `project: …`), `development` under its key.
pub fn config(head: &str, image: &str, development: &str) -> String {
    format!(
        "{head}odoo:\n  series: \"17.0\"\n  image: {image}\naddons_paths: [addons]\nbranches:\n  - match: \"*\"\n    stage: development\npostgres:\n  url: ${{ODOO_CI_TEST_PG}}\ndevelopment:\n{development}"
    )
}

/// A green `odoo-ci test` run: its result, stderr and wall time.
pub struct Green {
    pub result: serde_json::Value,
    pub stderr: String,
    pub wall: std::time::Duration,
}

/// Runs `bin test --branch <branch> --output out` in `root` with `cache` as its cache dir
/// and `extra` flags; panics with its output unless it is green.
pub fn run_green(bin: &str, root: &Path, branch: &str, cache: &Path, extra: &[&str]) -> Green {
    let started = std::time::Instant::now();
    let out = std::process::Command::new(bin)
        .current_dir(root)
        .args(["test", "--branch", branch, "--output", "out"])
        .args(extra)
        .env("ODOO_CI_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .output()
        .expect("run odoo-ci");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let result: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("out/odoo-ci-result.json")).expect("result"),
    )
    .expect("json");
    assert_eq!(result["colour"], "green", "{stderr}\n{result:#}");
    Green {
        result,
        stderr,
        wall,
    }
}

/// The duration of the step `name` of `result`.
pub fn step_ms(result: &serde_json::Value, name: &str) -> u64 {
    result["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == name))
        .and_then(|s| s["duration_ms"].as_u64())
        .unwrap_or_else(|| panic!("no step {name}: {result:#}"))
}
