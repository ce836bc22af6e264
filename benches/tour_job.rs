//! A development run whose tests start a tour (issue 29, goal 1 with a browser): before
//! the first browser test Odoo makes every asset bundle the database lacks; a real Odoo 18
//! with `sale_management` makes 47, about 30 s of a 42 s run on 2 cores. odoo-ci makes them
//! in the template, so the test database remakes only those its addons change.
//!
//! The project has a real one's bundle count: a preinstalled addon declares 21 bundles of
//! one JS and one SCSS file each, beside the fake's own `web` and `mail` ones (47 in all),
//! and the tested addon adds its tour to `web.assets_tests`. The fake Odoo makes bundles
//! as Odoo 17/18 does (tests/fake-odoo/odoo/assets.py) and sleeps
//! `ODOO_CI_BENCH_BUNDLE_SECONDS` (default 0.6, the real cost) for each one it makes.
//! Compared, p50 of `RUNS` runs on the template (a one-line change each):
//!   - odoo-ci: the template holds the bundles, the commit runs mounted in an image of the
//!     base with a browser (built once);
//!   - before: the same template without them (its bundle attachments deleted) and the
//!     commit's image built with the browser, as every tour run was until now.
//!
//! Run: `eval "$(bash scripts/test-env)"; cargo bench --bench tour_job`

use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod common;
#[path = "common/guard.rs"]
mod guard;
use common::{config, env, runs, write};
use guard::Better;

/// Bundle names the preinstalled addon declares (a JS and a CSS bundle each).
const BUNDLES: usize = 21;

fn bundle_seconds() -> String {
    std::env::var("ODOO_CI_BENCH_BUNDLE_SECONDS").unwrap_or_else(|_| "0.6".into())
}

const TOUR_TEST: &str = "from odoo.tests.common import HttpCase, tagged\n\n\n@tagged('post_install', '-at_install')\nclass TestUi(HttpCase):\n    def test_tour(self):\n        self.start_tour('/odoo', 'bench_tour', login='admin')\n";

/// `.odoo-ci.yml`; `built`: the commit's image built with the browser (`build: always`),
/// as every tour run was before the browser got an image of its own.
fn configure(root: &Path, image: &str, built: bool) {
    let development = format!(
        "  preinstall: [mail, bench_core]\n  build: {}\n  env:\n    FAKE_ASSET_BUNDLE_SECONDS: \"{}\"\n",
        if built { "always" } else { "auto" },
        bundle_seconds()
    );
    write(
        root,
        ".odoo-ci.yml",
        &config("project: bench/tour-job\n", image, &development),
    );
}

fn project(root: &Path, image: &str) {
    configure(root, image, false);
    let assets: Vec<String> = (0..BUNDLES)
        .map(|i| format!("'bench_core.assets_{i}': ['bench_core/static/src/b{i}/*']"))
        .collect();
    write(
        root,
        "addons/bench_core/__manifest__.py",
        &format!(
            "{{'name': 'bench_core', 'version': '17.0.1.0.0', 'depends': ['mail'], 'assets': {{{}}}}}\n",
            assets.join(", ")
        ),
    );
    write(root, "addons/bench_core/__init__.py", "");
    for i in 0..BUNDLES {
        let body: String = (0..200)
            .map(|j| format!("const v{j} = {};\n", i * j))
            .collect();
        write(
            root,
            &format!("addons/bench_core/static/src/b{i}/main.js"),
            &body,
        );
        write(
            root,
            &format!("addons/bench_core/static/src/b{i}/main.scss"),
            &format!(".o_b{i} {{ color: red; }}\n"),
        );
    }
    write(
        root,
        "addons/bench_tour/__manifest__.py",
        "{'name': 'bench_tour', 'version': '17.0.1.0.0', 'depends': ['bench_core'], 'assets': {'web.assets_tests': ['bench_tour/static/tests/tours/*.js']}}\n",
    );
    write(root, "addons/bench_tour/__init__.py", "");
    write(
        root,
        "addons/bench_tour/tests/__init__.py",
        "from . import test_ui\n",
    );
    write(root, "addons/bench_tour/tests/test_ui.py", TOUR_TEST);
    write(
        root,
        "addons/bench_tour/static/tests/tours/tour.js",
        "registry.category(\"web_tour.tours\").add(\"bench_tour\", { steps: () => [] });\n",
    );
}

struct Run {
    wall_ms: f64,
    /// Bundles the test database made (Odoo's "Generating a new asset bundle" lines).
    made: usize,
    /// Each step and how long it took.
    steps: String,
}

/// One run with a one-line change to the tested addon; green, or the bench stops.
fn run(bin: &str, root: &Path, cache: &Path, n: usize) -> Run {
    let change = format!("# change {n} of bench {}\n", std::process::id());
    write(root, "addons/bench_tour/__init__.py", &change);
    let started = Instant::now();
    let out = Command::new(bin)
        .current_dir(root)
        .args(["test", "--branch", "feature/tour", "--output", "out"])
        .env("ODOO_CI_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .output()
        .expect("run odoo-ci");
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let text = std::fs::read_to_string(root.join("out/odoo-ci-result.json")).unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(
        result["colour"],
        "green",
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps = result["steps"].as_array().cloned().unwrap_or_default();
    let steps: Vec<String> = steps
        .iter()
        .map(|s| format!("{} {}", s["name"].as_str().unwrap_or("?"), s["duration_ms"]))
        .collect();
    let log = std::fs::read_to_string(root.join("out/install.log")).expect("install.log");
    let made = log
        .lines()
        .filter(|l| l.contains("Generating a new asset bundle attachment"))
        .count();
    Run {
        wall_ms,
        made,
        steps: steps.join(" + "),
    }
}

/// The template's name, from the last result.
fn template_of(root: &Path) -> String {
    let text = std::fs::read_to_string(root.join("out/odoo-ci-result.json")).expect("result");
    let result: serde_json::Value = serde_json::from_str(&text).expect("json");
    result["template"]["name"]
        .as_str()
        .expect("template")
        .to_string()
}

/// Deletes the template's bundles: the template every run had before.
fn without_bundles(template: &str) {
    let server = odoo_ci::db::PgServer::from_given_url(&env("ODOO_CI_TEST_PG")).expect("server");
    let mut db = server.connect(template).expect("connect to the template");
    db.batch_execute("DELETE FROM ir_attachment WHERE url LIKE '/web/assets/%'")
        .expect("delete the bundles");
}

/// Removes the commit images the runs built (1.2 GB each, with the browser); the browser
/// image of the base stays, as it would on a runner, for the next run of the bench.
fn remove_commit_images() {
    let out = Command::new("docker")
        .args(["images", "--format", "{{.ID}} {{.Tag}}", "odoo-ci/tour-job"])
        .output()
        .expect("docker images");
    let text = String::from_utf8_lossy(&out.stdout);
    for (id, tag) in text.lines().filter_map(|l| l.split_once(' ')) {
        if !tag.starts_with("browser-") {
            let _ = Command::new("docker").args(["rmi", "-f", id]).output();
        }
    }
}

/// The median run's wall time and bundles made; its steps printed as `what`.
fn p50(what: &str, runs: &[Run]) -> (f64, usize) {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.wall_ms.total_cmp(&b.wall_ms));
    let mid = sorted[sorted.len() / 2];
    println!(
        "  {what}: {:.0} ms = {} (ms) + plan and reports",
        mid.wall_ms, mid.steps
    );
    (mid.wall_ms, mid.made)
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_odoo-ci");
    let image = env("ODOO_CI_TEST_IMAGE");
    let dir = tempfile::tempdir().expect("temp dir");
    let (root, cache) = (dir.path().join("repo"), dir.path().join("cache"));
    project(&root, &image);
    let first = run(bin, &root, &cache, 0);
    let template = template_of(&root);
    let held: Vec<Run> = (1..=runs()).map(|n| run(bin, &root, &cache, n)).collect();
    configure(&root, &image, true);
    let before: Vec<Run> = (1..=runs())
        .map(|n| {
            without_bundles(&template);
            run(bin, &root, &cache, 100 + n)
        })
        .collect();
    let (held_ms, held_made) = p50("odoo-ci", &held);
    let (before_ms, before_made) = p50("before", &before);
    println!(
        "tour run on the template, p50 of {} ({} s per bundle made; a real Odoo on 2 cores takes ~0.6 s): odoo-ci {held_ms:.0} ms, the tests made {held_made} bundle(s); before (a template without bundles, the commit's image built) {before_ms:.0} ms, the tests made {before_made}",
        runs(),
        bundle_seconds()
    );
    println!(
        "the miss that built the template and its bundles: {:.0} ms",
        first.wall_ms
    );
    remove_commit_images();
    let regressions = guard::check(
        "tour_job.test_bundles_made",
        held_made as f64,
        Better::Lower,
    ) + guard::check(
        // A fraction of the run without bundles measured in the same bench, so a slower or
        // busier machine moves both (see benches/common/reference.rs).
        "tour_job.held.of_without_bundles",
        held_ms / before_ms,
        Better::Lower,
    );
    guard::exit_if(regressions);
}
