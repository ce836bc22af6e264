//! `odoo-ci doctor` checks a runner as the stages check it before they start, and says what
//! to fix: against the real engine, the test PostgreSQL server and this machine's client
//! programs.

use crate::common;

use common::{image, pg_url, run_in, Project};

fn doctor_project() -> Project {
    let p = Project::new();
    p.config(&format!(
        "odoo:\n  series: \"17.0\"\n  image: {}\naddons_paths: [\".\"]\npostgres:\n  url: ${{ODOO_CI_TEST_PG}}\nproduction:\n  database: ${{PROD_URL}}\ndevelopment:\n  env:\n    API_KEY: ${{DOCTOR_API_KEY}}\n",
        image()
    ));
    p
}

#[test]
fn doctor_says_what_this_runner_has_and_what_to_fix() {
    let p = doctor_project();
    let pg = pg_url();
    let base = [("ODOO_CI_TEST_PG", pg.as_str()), ("PROD_URL", pg.as_str())];
    let out = run_in(p.path(), &["doctor"], &base);
    assert_eq!(
        out.code, 2,
        "a variable is missing: {}{}",
        out.stdout, out.stderr
    );
    for found in [
        "✓ Docker engine: reachable",
        &format!("✓ base image: `{}` is on the engine", image()),
        "✓ PostgreSQL (odoo-ci's databases): PostgreSQL ",
        "✓ production database: `",
        "✓ PostgreSQL client programs: pg_dump and pg_restore ",
        "✗ development's variables: ",
        "✓ staging's variables: no variable to resolve",
        "✓ Git host: not in CI",
        "not ready: 1 of 9 checks failed",
    ] {
        assert!(
            out.stdout.contains(found),
            "{found}\n{}{}",
            out.stdout,
            out.stderr
        );
    }
    assert!(
        out.stdout.contains("DOCTOR_API_KEY") && out.stdout.contains("  hint: "),
        "{}",
        out.stdout
    );
    // The test password is a common word: look for it where a secret leaks, in a URL.
    let leak = format!(":{}@", common::pg_parts().password);
    assert!(!out.stdout.contains(&leak) && !out.stderr.contains(&leak));

    let mut all = base.to_vec();
    all.push(("DOCTOR_API_KEY", "set"));
    let ready = run_in(p.path(), &["doctor"], &all);
    assert_eq!(ready.code, 0, "{}", ready.stdout);
    assert!(
        ready
            .stdout
            .contains("ok: this runner has what the stages need"),
        "{}",
        ready.stdout
    );

    let empty = p.path().join("no-tools");
    std::fs::create_dir_all(&empty).unwrap();
    all.push(("PATH", empty.to_str().unwrap()));
    let no_clients = run_in(p.path(), &["doctor"], &all);
    assert_eq!(no_clients.code, 2, "{}", no_clients.stdout);
    assert!(
        no_clients
            .stdout
            .contains("✗ PostgreSQL client programs: `pg_dump` is not installed")
            && no_clients
                .stdout
                .contains("hint: install the PostgreSQL client"),
        "{}",
        no_clients.stdout
    );
}

/// With `engine: swarm` the doctor checks the engine is a swarm manager.
#[test]
fn doctor_checks_the_swarm_when_the_servers_run_there() {
    common::swarm::manager();
    let p = doctor_project();
    let text = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).unwrap();
    p.config(&format!("{text}engine: swarm\n"));
    let pg = pg_url();
    let env = [
        ("ODOO_CI_TEST_PG", pg.as_str()),
        ("PROD_URL", pg.as_str()),
        ("DOCTOR_API_KEY", "set"),
    ];
    let out = run_in(p.path(), &["doctor"], &env);
    assert!(
        out.code == 0 && out.stdout.contains("✓ Docker Swarm: a manager"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}
