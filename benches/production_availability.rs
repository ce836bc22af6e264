//! What users see of a production deploy (issue 24): how long the proxy alias does not
//! answer, and how long writes are refused, for a code-only deploy and for one that
//! updates a module; and how long a broken release takes to be noticed. A prober on the
//! production network asks `http://<alias>:8069/web/health` 10 times a second; a writer
//! inserts into the database 10 times a second. Guards: a code-only deploy may leave the
//! alias unanswered at most 5 s and may refuse no write; a broken release must be noticed
//! within 10 s. The fake Odoo starts in well under a second; a real Odoo 18 with 54 modules
//! takes 3.6–4.4 s, which adds to the update deploy's write window (start + health).
//!
//! Run: `eval "$(bash scripts/test-env)"; cargo bench --bench production_availability`

mod common;

use common::production;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PROBER: &str = "import sys, time, urllib.request
url, stop = sys.argv[1], sys.argv[2]
import os
while not os.path.exists(stop):
    t = time.monotonic()
    try:
        ok = urllib.request.urlopen(url, timeout=0.5).status == 200
    except Exception:
        ok = False
    print('%.3f %d' % (t, ok), flush=True)
    time.sleep(max(0, 0.1 - (time.monotonic() - t)))
";

const WRITER: &str = "import os, sys, time, psycopg2
url, stop = sys.argv[1], sys.argv[2]
conn = None
while not os.path.exists(stop):
    t = time.monotonic()
    ok = False
    try:
        if conn is None or conn.closed:
            conn = psycopg2.connect(url, connect_timeout=1); conn.autocommit = True
        conn.cursor().execute(\"INSERT INTO ir_config_parameter (key, value) VALUES (%s, 'x')\", ('bench.%d' % time.monotonic_ns(),))
        ok = True
    except Exception:
        conn = None
    print('%.3f %d' % (t, ok), flush=True)
    time.sleep(max(0, 0.1 - (time.monotonic() - t)))
";

/// A sampler that prints `<time> <0|1>` lines until the stop file exists.
struct Sampler {
    child: Child,
    stop: std::path::PathBuf,
}

impl Sampler {
    fn start(program: &[&str], stop: &Path) -> Sampler {
        let _ = std::fs::remove_file(stop);
        let child = Command::new(program[0])
            .args(&program[1..])
            .arg(stop)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sampler");
        Sampler {
            child,
            stop: stop.to_path_buf(),
        }
    }

    /// Stops; (total seconds failing, longest failing stretch in seconds).
    fn stop(self) -> (f64, f64) {
        std::fs::write(&self.stop, "").expect("stop");
        let out = self.child.wait_with_output().expect("sampler output");
        let samples: Vec<(f64, bool)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (t, ok) = l.split_once(' ')?;
                Some((t.parse().ok()?, ok == "1"))
            })
            .collect();
        let (mut total, mut longest, mut since) = (0.0, 0.0_f64, None);
        for pair in samples.windows(2) {
            let ((t, ok), (next, _)) = (pair[0], pair[1]);
            if !ok {
                total += next - t;
                let start = *since.get_or_insert(t);
                longest = longest.max(next - start);
            } else {
                since = None;
            }
        }
        (total, longest)
    }
}

fn step_ms(r: &serde_json::Value, name: &str) -> u64 {
    r["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .and_then(|s| s["duration_ms"].as_u64())
        .unwrap_or_default()
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_odoo-ci");
    let image = common::env("ODOO_CI_TEST_IMAGE");
    let pg = common::env("ODOO_CI_TEST_PG");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let db = format!("bench_avail_{}", std::process::id());
    let net = format!("odoo-ci-bench-{}", std::process::id());
    let prod = production::Production::install(root, &pg, &db, &net, &image);
    let env = prod.env(root);
    let first = production::deploy(bin, root, &env);
    assert_eq!(first["colour"], "green", "{first:#}");
    let url = prod.url.clone();
    let shared = format!("{0}:{0}", root.display());
    let run = |label: &str| {
        let stop = root.join(format!("stop-{label}"));
        let http = Sampler::start(
            &prod.prober_command(PROBER, &shared),
            &stop.with_extension("http"),
        );
        let writes = Sampler::start(
            &["/usr/bin/python3", "-c", WRITER, &url],
            &stop.with_extension("db"),
        );
        std::thread::sleep(Duration::from_millis(500));
        let r = production::deploy(bin, root, &env);
        std::thread::sleep(Duration::from_millis(500));
        let (http_total, http_longest) = http.stop();
        let (write_total, _) = writes.stop();
        (r, http_total, http_longest, write_total)
    };

    common::write(root, "addons/prod_a/models.py", "# code only\n");
    let (r, code_http, code_longest, code_writes) = run("code");
    assert_eq!(r["colour"], "green", "{r:#}");
    println!(
        "code-only deploy:     alias unanswered {code_http:.1} s (longest {code_longest:.1} s), writes refused {code_writes:.1} s, deploy {:.1} s",
        r["total_ms"].as_f64().unwrap_or_default() / 1000.0
    );

    common::write(
        root,
        "addons/prod_a/__manifest__.py",
        "{'name': 'prod_a', 'version': '17.0.1.1.0', 'depends': ['mail']}\n",
    );
    let (r, up_http, up_longest, up_writes) = run("update");
    assert_eq!(r["colour"], "green", "{r:#}");
    println!(
        "deploy with an update: alias unanswered {up_http:.1} s (longest {up_longest:.1} s), writes refused {up_writes:.1} s (update {:.1} s, start + health {:.1} s, settle {:.1} s)",
        step_ms(&r, "update") as f64 / 1000.0,
        (step_ms(&r, "start") + step_ms(&r, "health")) as f64 / 1000.0,
        step_ms(&r, "settle") as f64 / 1000.0,
    );

    common::write(
        root,
        "addons/prod_a/__init__.py",
        "import sys\n\nif '--stop-after-init' not in sys.argv:\n    raise ImportError('broken')\n",
    );
    let r = production::deploy(bin, root, &env);
    let noticed = step_ms(&r, "health") as f64 / 1000.0;
    println!(
        "a broken release (registry fails) noticed after {noticed:.1} s (health timeout 120 s)"
    );
    drop(prod);

    let mut failed = Vec::new();
    if code_longest > 5.0 {
        failed.push(format!(
            "code-only deploy left the alias unanswered {code_longest:.1} s (> 5 s)"
        ));
    }
    if code_writes > 0.0 {
        failed.push(format!(
            "code-only deploy refused writes for {code_writes:.1} s"
        ));
    }
    if noticed > 10.0 {
        failed.push(format!(
            "a broken release took {noticed:.1} s to notice (> 10 s)"
        ));
    }
    if !failed.is_empty() {
        eprintln!("regression: {}", failed.join("; "));
        std::process::exit(1);
    }
}
