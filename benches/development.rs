//! The development stage's speed (issue 4), against the real engine and PostgreSQL that
//! `./scripts/test` sets up (`eval "$(bash scripts/test-env)"` first):
//!   1. time to a fresh demo database on a template-cache hit vs a miss, and their ratio;
//!   2. the runner's overhead over running the same fake-odoo command by hand
//!      (`createdb -T template` + filestore copy + `docker run … odoo <same args>`).
//!      Target: under 5 % or 2 s.
//!
//! Run: `cargo bench --bench development`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{addon, config, env, median, run_green, step_ms, write, Green};

const RUNS: usize = 3;

/// A repo of five addons with tests, preinstalling two Odoo addons in the template.
fn project(root: &Path, image: &str) {
    write(
        root,
        ".odoo-ci.yml",
        &config("", image, "  preinstall: [mail, contacts, sale]\n"),
    );
    for i in 0..5 {
        let name = format!("bench_{i}");
        let dep = if i == 0 {
            "sale".to_string()
        } else {
            format!("bench_{}", i - 1)
        };
        addon(root, &name, &dep);
    }
}

struct Run {
    wall: Duration,
    database_ms: u64,
    hit: bool,
    stderr: String,
    template: String,
}

fn odoo_ci(root: &Path, cache: &Path, extra: &[&str]) -> Run {
    let Green {
        result,
        stderr,
        wall,
    } = run_green(env!("CARGO_BIN_EXE_odoo-ci"), root, "bench", cache, extra);
    Run {
        wall,
        // A fresh demo database: the template (found or built), then the copy of it.
        database_ms: ["template", "database"]
            .iter()
            .map(|name| step_ms(&result, name))
            .sum(),
        hit: result["template"]["hit"].as_bool().expect("hit"),
        template: result["template"]["name"]
            .as_str()
            .expect("template")
            .to_string(),
        stderr,
    }
}

/// The same work by hand: a database from the template, its filestore, and the `odoo`
/// command odoo-ci printed, with the connection flags a person would add, in the base
/// image with the project mounted (what odoo-ci runs when there is nothing to build).
fn by_hand(run: &Run, root: &Path, cache: &Path, pg: &str, image: &str) -> Duration {
    let printed: Vec<String> = run
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("odoo -i "))
        .expect("the printed odoo command")
        .split(' ')
        .map(str::to_string)
        .collect();
    let database = "odoo_ci_bench_by_hand";
    // postgresql://user:password@host:port/db
    let url = pg.split("://").nth(1).expect("a URL");
    let (credentials, address) = url.split_once('@').expect("user@host");
    let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
    let address = address.split('/').next().unwrap_or(address);
    let (host, port) = address.split_once(':').unwrap_or((address, "5432"));
    let mut args: Vec<String> = [
        "-d",
        database,
        "--db_host",
        host,
        "--db_port",
        port,
        "-r",
        user,
        "--db_password=",
        "--addons-path",
        "/mnt/odoo-ci/project/addons",
        "-D",
        "/var/lib/odoo-ci",
        "-i",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(printed);
    let data = cache.join("data");
    let psql = |sql: &str| {
        let ok = Command::new("psql")
            .env("PGOPTIONS", "-c client_min_messages=warning")
            .args([pg, "-qAtc", sql])
            .status()
            .expect("psql")
            .success();
        assert!(ok, "psql failed: {sql}");
    };
    psql(&format!("DROP DATABASE IF EXISTS {database}"));
    let started = Instant::now();
    psql(&format!(
        "CREATE DATABASE {database} TEMPLATE {}",
        run.template
    ));
    let source = data.join("filestore").join(&run.template);
    let target = data.join("filestore").join(database);
    let ok = if source.exists() {
        Command::new("cp")
            .arg("-a")
            .arg(&source)
            .arg(&target)
            .status()
            .expect("cp")
            .success()
    } else {
        std::fs::create_dir_all(&target).is_ok()
    };
    assert!(
        ok,
        "cannot copy {} to {}",
        source.display(),
        target.display()
    );
    // As odoo-ci does (and as anyone must with the official image, which runs as `odoo`):
    // Odoo runs as the data dir's owner.
    let owner = {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&data).expect("data dir");
        format!("{}:{}", meta.uid(), meta.gid())
    };
    let status = Command::new("docker")
        .args(["run", "--rm", "--network", "host", "--user", &owner, "-e"])
        .arg(format!("PGPASSWORD={password}"))
        .arg("-v")
        .arg(format!("{}:/var/lib/odoo-ci", data.display()))
        .arg("-v")
        .arg(format!("{}:/mnt/odoo-ci/project:ro", root.display()))
        .args(["--entrypoint", "odoo", image])
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("docker run");
    let elapsed = started.elapsed();
    assert!(status.success(), "the by-hand run failed");
    psql(&format!("DROP DATABASE IF EXISTS {database}"));
    let _ = std::fs::remove_dir_all(data.join("filestore").join(database));
    elapsed
}

fn main() {
    let pg = env("ODOO_CI_TEST_PG");
    let image = env("ODOO_CI_TEST_IMAGE");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("repo");
    let cache: PathBuf = dir.path().join("cache");
    project(&root, &image);

    // 1. cache miss vs hit.
    let mut miss = Vec::new();
    let mut hit = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let r = odoo_ci(&root, &cache, &["--no-cache"]);
        assert!(!r.hit);
        miss.push(r.database_ms as f64);
    }
    odoo_ci(&root, &cache, &[]); // builds the cached template
    for _ in 0..RUNS {
        let r = odoo_ci(&root, &cache, &[]);
        assert!(r.hit, "expected a cache hit");
        hit.push(r.database_ms as f64);
        last = Some(r);
    }
    let (miss, hit) = (median(miss), median(hit));
    println!("fresh demo database, cache miss: {miss:.0} ms (median of {RUNS})");
    println!("fresh demo database, cache hit:  {hit:.0} ms (median of {RUNS})");
    println!("hit is {:.1}x faster than a miss", miss / hit.max(1.0));

    // 2. overhead over the same command by hand.
    let mut runner = Vec::new();
    let mut hand = Vec::new();
    let first = last.expect("a hit run");
    for _ in 0..RUNS {
        let r = odoo_ci(&root, &cache, &[]);
        runner.push(r.wall.as_secs_f64());
        hand.push(by_hand(&first, &root, &cache, &pg, &image).as_secs_f64());
    }
    let (runner, hand) = (median(runner), median(hand));
    let overhead = runner - hand;
    println!("odoo-ci test (cache hit, project mounted): {runner:.2} s");
    println!(
        "the same by hand (createdb -T, cp filestore, docker run odoo, project mounted): {hand:.2} s"
    );
    println!(
        "runner overhead: {overhead:+.2} s ({:+.1} %) — target under 5 % or 2 s: {}",
        overhead / hand * 100.0,
        if overhead < 2.0 || overhead / hand < 0.05 {
            "met"
        } else {
            "NOT met"
        }
    );
}
