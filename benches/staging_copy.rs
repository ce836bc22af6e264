//! Staging's database copy (issue 5) against a plain `pg_dump | pg_restore` of the same
//! generated database (≥ 1 GiB) on the same server. Target: no slower than the baseline.
//! Also the clone path of `stage --from-snapshot` (a template copy on the same server).
//!
//! Run: `eval "$(bash scripts/test-env)"; cargo bench --bench staging_copy`
//! The generated source database (`odoo_ci_bench_source`) is kept between runs.

use std::process::{Command, Stdio};
use std::time::Instant;

use odoo_ci::db::copy::{create_empty, dump_restore};
use odoo_ci::db::{drop_database, PgServer};

const SOURCE: &str = "odoo_ci_bench_source";
const MIN_BYTES: i64 = 1 << 30;

fn main() {
    let url = std::env::var("ODOO_CI_TEST_PG").unwrap_or_else(|_| {
        eprintln!("ODOO_CI_TEST_PG is not set: run `eval \"$(bash scripts/test-env)\"` first");
        std::process::exit(2)
    });
    let server = PgServer::from_url(&url).expect("server");
    let mut admin = server.connect("postgres").expect("connect");
    let size = |admin: &mut postgres::Client| -> i64 {
        admin
            .query_opt("SELECT pg_database_size($1)", &[&SOURCE])
            .ok()
            .flatten()
            .map(|r| r.get(0))
            .unwrap_or(0)
    };
    if size(&mut admin) < MIN_BYTES {
        eprintln!("generating {SOURCE} (≥ 1 GiB, once)…");
        drop_database(&mut admin, SOURCE).expect("drop");
        create_empty(&mut admin, SOURCE).expect("create");
        let mut db = server.connect(SOURCE).expect("connect source");
        // Odoo-like tables: many narrow rows with text, an index, and a wide table.
        db.batch_execute(
            "CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar, email varchar, street varchar, comment text, create_date timestamp DEFAULT now());
             INSERT INTO res_partner (name, email, street, comment)
               SELECT 'Partner ' || i, 'p' || i || '@example.com', i || ' Main Street', repeat(md5(i::text), 3)
               FROM generate_series(1, 4500000) i;
             CREATE INDEX res_partner_email ON res_partner (email);
             CREATE TABLE mail_message (id serial PRIMARY KEY, res_id integer, body text);
             INSERT INTO mail_message (res_id, body)
               SELECT i, repeat('<p>' || md5(i::text) || '</p>', 8) FROM generate_series(1, 1000000) i;",
        )
        .expect("generate");
    }
    let bytes = size(&mut admin);
    let mib = bytes as f64 / (1 << 20) as f64;
    println!("source database: {mib:.0} MiB");

    // Baseline: a plain pg_dump | pg_restore (custom format, default compression).
    let baseline_db = "odoo_ci_bench_baseline";
    drop_database(&mut admin, baseline_db).expect("drop");
    create_empty(&mut admin, baseline_db).expect("create");
    let conn = format!("-h {} -p {} -U {}", server.host, server.port, server.user);
    let started = Instant::now();
    let ok = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; pg_dump {conn} -Fc {SOURCE} | pg_restore {conn} --no-owner -d {baseline_db}"
        ))
        .env("PGPASSWORD", server.password.clone().unwrap_or_default())
        .stdout(Stdio::null())
        .status()
        .expect("baseline")
        .success();
    assert!(ok, "the baseline copy failed");
    let baseline = started.elapsed().as_secs_f64();
    drop_database(&mut admin, baseline_db).expect("drop");

    // odoo-ci's copy.
    let ours_db = "odoo_ci_bench_copy";
    drop_database(&mut admin, ours_db).expect("drop");
    let started = Instant::now();
    create_empty(&mut admin, ours_db).expect("create");
    let stats = dump_restore(&server, SOURCE, &server, ours_db, &mut |_| {}).expect("copy");
    let ours = started.elapsed().as_secs_f64();
    drop_database(&mut admin, ours_db).expect("drop");

    // The clone path (`stage --from-snapshot` on production's server): a snapshot is a
    // database nobody connects to, so `CREATE DATABASE … TEMPLATE` copies its files.
    let clone_db = "odoo_ci_bench_clone";
    drop_database(&mut admin, clone_db).expect("drop");
    let started = Instant::now();
    odoo_ci::db::create_from_template(&mut admin, clone_db, SOURCE).expect("clone");
    let cloned = started.elapsed().as_secs_f64();
    drop_database(&mut admin, clone_db).expect("drop");
    println!(
        "clone (CREATE DATABASE … TEMPLATE, --from-snapshot): {cloned:.1} s = {:.0} MB/s",
        bytes as f64 / 1e6 / cloned
    );
    println!(
        "pg_dump | pg_restore (baseline): {baseline:.1} s = {:.0} MB/s",
        bytes as f64 / 1e6 / baseline
    );
    println!(
        "odoo-ci staging copy:            {ours:.1} s = {:.0} MB/s ({} MB streamed)",
        bytes as f64 / 1e6 / ours,
        stats.bytes / 1_000_000
    );
    println!(
        "odoo-ci / baseline: {:.2}x — target ≥ 1.0: {}",
        baseline / ours,
        if ours <= baseline * 1.02 {
            "met"
        } else {
            "NOT met"
        }
    );
}
