//! A production database the fake Odoo installed, for the benches that deploy.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `bin deploy --branch main --output out` in `root` with `env`: its result.
pub fn deploy(bin: &str, root: &Path, env: &[(&str, String)]) -> serde_json::Value {
    let out = Command::new(bin)
        .current_dir(root)
        .args(["deploy", "--branch", "main", "--output", "out"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NO_COLOR", "1")
        .output()
        .expect("deploy");
    let text = std::fs::read_to_string(root.join("out/odoo-ci-result.json"))
        .unwrap_or_else(|_| panic!("no result: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(&text).expect("result")
}

/// A production database the fake Odoo installed, with one addon, on `network`.
pub struct Production {
    pub db: String,
    pub url: String,
    pub network: String,
    pub data_dir: PathBuf,
    pub image: String,
}

impl Production {
    pub fn install(root: &Path, pg: &str, db: &str, network: &str, image: &str) -> Production {
        super::write(
            root,
            "addons/prod_a/__manifest__.py",
            "{'name': 'prod_a', 'version': '17.0.1.0.0', 'depends': ['mail']}\n",
        );
        super::write(root, "addons/prod_a/__init__.py", "");
        super::write(
            root,
            ".odoo-ci.yml",
            &format!("odoo:\n  series: \"17.0\"\n  image: {image}\naddons_paths: [addons]\nbranches:\n  - match: main\n    stage: production\nproduction:\n  database: ${{PROD_URL}}\n  data_dir: ${{PROD_DATA}}\n  network: {network}\n  health_check:\n    timeout_secs: 120\n    settle_secs: 2\n"),
        );
        let (base, _) = pg.rsplit_once('/').expect("url");
        let url = format!("{base}/{db}");
        let data_dir = root.join("prod-data");
        let (auth, host) = base
            .trim_start_matches("postgresql://")
            .split_once('@')
            .expect("url");
        let (user, password) = auth.split_once(':').expect("auth");
        let (host, port) = host.split_once(':').expect("host");
        let fake = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-odoo/bin/odoo");
        let out = Command::new(fake)
            .args(["-d", db, "--db_host", host, "--db_port", port, "-r", user])
            .arg("--addons-path")
            .arg(root.join("addons"))
            .arg("-D")
            .arg(&data_dir)
            .args(["-i", "prod_a", "--stop-after-init", "--without-demo=all"])
            .env("PGPASSWORD", password)
            .output()
            .expect("fake odoo");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Production {
            db: db.to_string(),
            url,
            network: network.to_string(),
            data_dir,
            image: image.to_string(),
        }
    }

    pub fn env(&self, root: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("PROD_URL", self.url.clone()),
            ("PROD_DATA", self.data_dir.display().to_string()),
            (
                "ODOO_CI_CACHE_DIR",
                root.join(".cache").display().to_string(),
            ),
        ]
    }

    /// The prober, in a container on the production network (where the alias resolves,
    /// as a proxy's does), writing its samples to stdout.
    /// Its stop file is under `shared`, mounted at the same path.
    pub fn prober_command<'a>(&'a self, script: &'a str, shared: &'a str) -> Vec<&'a str> {
        vec![
            "docker",
            "run",
            "--rm",
            "-i",
            "--user",
            "0",
            "--network",
            &self.network,
            "-v",
            shared,
            "--entrypoint",
            "python3",
            &self.image,
            "-c",
            script,
            "http://odoo:8069/web/health",
        ]
    }
}

impl Drop for Production {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=odoo-ci.production={}", self.db),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let scopes: Vec<String> = ids
            .split_whitespace()
            .filter_map(|id| {
                let out = Command::new("docker")
                    .args([
                        "inspect",
                        "-f",
                        "{{index .Config.Labels \"odoo-ci.project\"}}",
                        id,
                    ])
                    .output()
                    .ok()?;
                Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
            })
            .filter(|s| !s.is_empty())
            .collect();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", "-v", id]).output();
        }
        // The project's release volumes, once no container uses them.
        for scope in scopes {
            let volumes = Command::new("docker")
                .args(["volume", "ls", "-q", "--filter"])
                .arg(format!("label=odoo-ci.project={scope}"))
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for v in volumes.split_whitespace() {
                let _ = Command::new("docker").args(["volume", "rm", v]).output();
            }
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
        let admin = self.url.replace(&format!("/{}", self.db), "/postgres");
        let psql = |sql: &str| {
            Command::new("psql")
                .args([admin.as_str(), "-qAtc", sql])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let snapshots = psql(&format!(
            "SELECT string_agg(datname, ' ') FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE '%\"production\":\"{}\"%'",
            self.db
        ));
        for name in snapshots.split_whitespace().chain([self.db.as_str()]) {
            psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}
