//! Restoring a template database from the template cache in a fresh CI job (issue 29,
//! goal 1): a template is small but holds thousands of objects (Odoo 18 with
//! `sale_management` has about 800 tables, each with indexes and constraints), so the
//! restore's cost is per object, not per byte. Compared on a generated 800-table dump:
//! `pg_restore --jobs=N` as odoo-ci restored before (and restores backups), against
//! odoo-ci's template restore (one transaction, no flush per commit).
//!
//! Run: `eval "$(bash scripts/test-env)"; cargo bench --bench template_restore`

use std::time::Instant;

use odoo_ci::db::copy::{create_empty, dump_to_file, restore_file, restore_template_file};
use odoo_ci::db::{drop_database, PgServer};

const SOURCE: &str = "odoo_ci_bench_tpl_source";
const TARGET: &str = "odoo_ci_bench_tpl_restore";
const TABLES: usize = 800;
const RUNS: usize = 5;

fn generate(server: &PgServer, admin: &mut postgres::Client) {
    drop_database(admin, SOURCE).expect("drop");
    create_empty(admin, SOURCE).expect("create");
    let mut db = server.connect(SOURCE).expect("connect source");
    let mut sql = String::from(
        "BEGIN; CREATE TABLE root_t (id serial PRIMARY KEY, name text);
         INSERT INTO root_t (name) SELECT 'r' || g FROM generate_series(1, 100) g;",
    );
    for i in 0..TABLES {
        sql.push_str(&format!(
            "CREATE TABLE t{i} (id serial PRIMARY KEY, name varchar, ref int REFERENCES root_t(id), v numeric, d timestamp DEFAULT now());
             CREATE INDEX t{i}_name ON t{i} (name);
             INSERT INTO t{i} (name, ref, v) SELECT md5(g::text), 1 + g % 100, g FROM generate_series(1, 30) g;"
        ));
    }
    sql.push_str("COMMIT;");
    db.batch_execute(&sql).expect("generate");
}

/// The median of `RUNS` restores of `dump` by `restore`, in seconds.
fn median_secs(
    server: &PgServer,
    admin: &mut postgres::Client,
    dump: &std::path::Path,
    restore: fn(&PgServer, &str, &std::path::Path) -> Result<(), odoo_ci::db::copy::CopyError>,
) -> f64 {
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            drop_database(admin, TARGET).expect("drop");
            create_empty(admin, TARGET).expect("create");
            let started = Instant::now();
            restore(server, TARGET, dump).expect("restore");
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

fn main() {
    let url = std::env::var("ODOO_CI_TEST_PG").unwrap_or_else(|_| {
        eprintln!("ODOO_CI_TEST_PG is not set: run `eval \"$(bash scripts/test-env)\"` first");
        std::process::exit(2)
    });
    let server = PgServer::from_url(&url).expect("server");
    let mut admin = server.connect("postgres").expect("connect");
    generate(&server, &mut admin);
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("database.dump");
    let bytes = dump_to_file(&server, SOURCE, &dump).expect("dump");
    let parallel = median_secs(&server, &mut admin, &dump, restore_file);
    let template = median_secs(&server, &mut admin, &dump, restore_template_file);
    drop_database(&mut admin, TARGET).expect("drop");
    drop_database(&mut admin, SOURCE).expect("drop");
    println!(
        "template restore of {TABLES} tables ({} KB dump), median of {RUNS}: pg_restore --jobs {:.2} s, odoo-ci {:.2} s ({:.0}% less)",
        bytes / 1000,
        parallel,
        template,
        (1.0 - template / parallel) * 100.0
    );
}
