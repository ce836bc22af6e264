//! A production for tests: a database made by the fake Odoo on the real PostgreSQL, its
//! data dir, a Docker network, and the deploys that run against it; all removed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{
    checksum, containers_labelled, db_url, fake_odoo_install, image, psql, psql_on, run_in, unique,
    Output, Project,
};

pub struct Production {
    pub db: String,
    pub data_dir: PathBuf,
    pub network: String,
}

impl Drop for Production {
    fn drop(&mut self) {
        for id in containers_labelled(&format!("odoo-ci.production={}", self.db), true) {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v", &id])
                .stdout(Stdio::null())
                .status();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let snaps = psql(&format!(
            "SELECT string_agg(datname, ' ') FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE '%\"production\":\"{}\"%'",
            self.db
        ));
        for s in snaps.split_whitespace() {
            psql(&format!("DROP DATABASE IF EXISTS \"{s}\" WITH (FORCE)"));
        }
        psql(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.db
        ));
    }
}

pub fn project(network: &str) -> Project {
    let p = Project::new();
    p.addon("prod_a", "17.0.1.0.0", &["mail"])
        .write("addons/prod_a/__init__.py", "");
    p.config(&format!(
        "odoo:\n  series: \"17.0\"\n  image: {}\naddons_paths: [addons]\nbranches:\n  - match: main\n    stage: production\n  - match: \"*\"\n    stage: development\nproduction:\n  database: ${{PROD_URL}}\n  data_dir: ${{PROD_DATA}}\n  network: {network}\n  health_check:\n    timeout_secs: 20\n    settle_secs: 6\n  snapshots:\n    keep: 3\n",
        image()
    ));
    p
}

pub fn production(p: &Project, network: &str) -> Production {
    let db = unique("live");
    let network = network.to_string();
    let data_dir = p.path().join("prod-data");
    fake_odoo_install(&p.path().join("addons"), &db, "prod_a", &data_dir);
    psql_on(
        &db,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('customer.data', 'precious')",
    );
    Production {
        db,
        data_dir,
        network,
    }
}

pub fn env(prod: &Production, cache: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PROD_URL", db_url(&prod.db)),
        ("PROD_DATA", prod.data_dir.to_str().unwrap().to_string()),
        ("ODOO_CI_CACHE_DIR", cache.to_string()),
    ]
}

pub fn deploy(p: &Project, prod: &Production, extra: &[&str]) -> (Output, Value) {
    let cache = p.path().join(".cache");
    let mut args = vec!["deploy", "--branch", "main", "--output", "out"];
    args.extend_from_slice(extra);
    let env = env(prod, cache.to_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_in(p.path(), &args, &env);
    let text = std::fs::read_to_string(p.path().join("out/odoo-ci-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}", out.stderr));
    let result: Value = serde_json::from_str(&text).unwrap();
    super::assert_ran_as_planned(&out.stderr, &result);
    (out, result)
}

/// `odoo-ci rollback --to <id>` (a deployment or snapshot) of `prod`, results in `out-rb`.
pub fn rollback_to(p: &Project, prod: &Production, id: &str) -> Output {
    let cache = p.path().join(".cache");
    let env = env(prod, cache.to_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_in(
        p.path(),
        &["rollback", "--to", id, "--output", "out-rb"],
        &env,
    )
}

/// The container serving (holding the `odoo` alias): (name, ip).
pub fn serving(prod: &Production) -> Option<(String, String)> {
    for id in containers_labelled(&format!("odoo-ci.production={}", prod.db), false) {
        let fmt = format!(
            "{{{{.Name}}}} {{{{with index .NetworkSettings.Networks \"{}\"}}}}{{{{.IPAddress}}}} {{{{join .Aliases \",\"}}}}{{{{end}}}}",
            prod.network
        );
        let out = Command::new("docker")
            .args(["inspect", "-f", &fmt, &id])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let parts: Vec<&str> = line.split(' ').collect();
        if parts.len() == 3 && parts[2].split(',').any(|a| a == "odoo") {
            return Some((
                parts[0].trim_start_matches('/').to_string(),
                parts[1].to_string(),
            ));
        }
    }
    None
}

pub fn healthy(ip: &str) -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)",
            &format!("http://{ip}:8069/web/health"),
        ])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

pub fn step<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {r:#}"))
}

/// A production database with a first release serving.
pub fn serving_production() -> (Project, Production) {
    let net = unique("odoo-ci-test-net");
    let p = project(&net);
    let prod = production(&p, &net);
    first_deploy(&p, &prod);
    (p, prod)
}

/// A first deploy: blue serves.
pub fn first_deploy(p: &Project, prod: &Production) {
    let (out, r) = deploy(p, prod, &[]);
    assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
    // The result names its stage, so every reporter reports it as production.
    assert_eq!(r["stage"], "production");
    assert!(!out.stderr.contains("nothing to report"), "{}", out.stderr);
    assert_eq!(r["active_colour"], "blue");
    let (name, ip) = serving(prod).expect("a release serves");
    assert!(name.ends_with("-blue"), "{name}");
    assert!(healthy(&ip));
}

/// After a failed deploy: production equal to before, blue serving, red naming `step`.
pub fn assert_rolled_back(
    p: &Project,
    prod: &Production,
    before: &str,
    out: &Output,
    r: &Value,
    failed: &str,
) {
    assert_red_at(out, r, failed);
    assert_eq!(r["rolled_back"], true);
    assert_eq!(step(r, "rollback")["status"], "completed", "{r:#}");
    assert_eq!(
        checksum(&prod.db),
        before,
        "production must equal the pre-deploy database"
    );
    let (name, ip) = serving(prod).expect("the previous release serves again");
    assert!(name.ends_with("-blue"), "{name}");
    assert!(healthy(&ip), "the previous release answers");
    assert!(p.path().join("out/summary.md").is_file());
}

/// A red deploy (exit 1) whose result names `failed` as the step that failed.
pub fn assert_red_at(out: &Output, r: &Value, failed: &str) {
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(r["colour"], "red");
    assert_eq!(r["failed_step"], failed, "{r:#}");
    assert!(
        r["reasons"][0]
            .as_str()
            .unwrap()
            .contains(&format!("step `{failed}` failed")),
        "{r:#}"
    );
}

/// `cat /mnt/odoo-ci/project/<path>` in the base image with the release volume `volume`
/// mounted where odoo-ci mounts it.
pub fn in_release(volume: &str, path: &str) -> std::process::Output {
    Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "cat", "-v"])
        .arg(format!("{volume}:/mnt/odoo-ci:ro"))
        .arg(super::image())
        .arg(format!("/mnt/odoo-ci/project/{path}"))
        .output()
        .unwrap()
}
