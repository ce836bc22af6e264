//! Attacks on odoo-ci as a pull request, a crafted result file or a hostile config could
//! make them (issue "Security"): each test reproduces one as described and checks that
//! nothing secret is printed and nothing is done that should not be.

use crate::common;

use std::path::Path;

use common::{run_in, Output, Project, BASIC_CONFIG};
use serde_json::Value;

const TOKEN: &str = "ghs_securityTEST0123456789abcdef";
const DB_PASSWORD: &str = "pr0d-Passw0rd-never-shown";

fn secret_env() -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_TOKEN", TOKEN.to_string()),
        ("PGPASSWORD", DB_PASSWORD.to_string()),
        (
            "PRODUCTION_DB_URL",
            format!("postgresql://odoo:{DB_PASSWORD}@db.example:5432/prod"),
        ),
    ]
}

fn run_with(dir: &Path, args: &[&str], env: &[(&'static str, String)]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_in(dir, args, &env)
}

/// Nothing secret in what the run printed, except inside `::add-mask::` lines (the
/// runner hides those and every later occurrence).
fn assert_nothing_secret(out: &Output) {
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        for line in text.lines().filter(|l| !l.starts_with("::add-mask::")) {
            for secret in [TOKEN, DB_PASSWORD] {
                assert!(
                    !line.contains(secret),
                    "a secret leaked on {stream}: {line}\n--- stdout\n{}\n--- stderr\n{}",
                    out.stdout,
                    out.stderr
                );
            }
        }
    }
}

fn project_with_symlink(link: &str, target: &str) -> Project {
    let p = Project::new();
    p.config(BASIC_CONFIG).addon("acc_base", "17.0.1.0.0", &[]);
    p.git_init();
    let path = p.path().join(link);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, &path).unwrap();
    p.commit("a pull request commits a link");
    p
}

#[test]
fn s1_a_manifest_linked_to_the_environment_is_refused_without_quoting_it() {
    for target in ["/proc/self/environ", "/etc/shadow", "/etc/hostname"] {
        let p = project_with_symlink("addons/evil/__manifest__.py", target);
        let out = run_with(p.path(), &["plan", "--branch", "feat/x"], &secret_env());
        assert_eq!(out.code, 2, "{target}: {}", out.stderr);
        assert_nothing_secret(&out);
        assert!(
            out.stderr.contains("addons/evil/__manifest__.py")
                && out.stderr.contains("outside the repository"),
            "{target}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("PATH="), "{}", out.stderr);
    }
}

#[test]
fn s1_a_config_linked_to_the_environment_is_refused_without_quoting_it() {
    let p = Project::new();
    p.addon("acc_base", "17.0.1.0.0", &[]);
    std::os::unix::fs::symlink("/proc/self/environ", p.path().join(".odoo-ci.yml")).unwrap();
    let out = run_with(p.path(), &["plan", "--branch", "feat/x"], &secret_env());
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_nothing_secret(&out);
    assert!(
        out.stderr.contains(".odoo-ci.yml") && out.stderr.contains("outside the repository"),
        "{}",
        out.stderr
    );
}

#[test]
fn s1_a_manifest_that_is_a_device_or_a_fifo_is_refused_at_once() {
    let p = project_with_symlink("addons/zero/__manifest__.py", "/dev/zero");
    let out = run_with(p.path(), &["plan", "--branch", "feat/x"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("outside the repository"),
        "{}",
        out.stderr
    );
    let fifo = p.path().join("addons/pipe/__manifest__.py");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::remove_file(p.path().join("addons/zero/__manifest__.py")).unwrap();
    let out = run_with(p.path(), &["plan", "--branch", "feat/x"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
}

#[test]
fn s1_masks_come_before_anything_else_in_github_actions() {
    let p = project_with_symlink("addons/evil/__manifest__.py", "/proc/self/environ");
    let mut env = secret_env();
    env.extend([
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", "push".to_string()),
        ("GITHUB_REF_NAME", "feat/x".to_string()),
    ]);
    let out = run_with(p.path(), &["plan"], &env);
    assert_nothing_secret(&out);
    let masks: Vec<&str> = out
        .stderr
        .lines()
        .take_while(|l| l.starts_with("::add-mask::"))
        .collect();
    for secret in [TOKEN, DB_PASSWORD] {
        assert!(
            masks.iter().any(|m| m.ends_with(secret)),
            "no mask for a secret before other output:\n{}",
            out.stderr
        );
    }
}

fn pull_request_env(dir: &Path, head_ref: &str, head_sha: &str) -> Vec<(&'static str, String)> {
    let source =
        common::repo_root().join("tests/fixtures/hosts/payloads/pull_request_opened.payload.json");
    let mut payload: Value =
        serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
    payload["pull_request"]["head"]["ref"] = Value::from(head_ref);
    payload["pull_request"]["head"]["sha"] = Value::from(head_sha);
    payload["pull_request"]["base"]["sha"] = Value::from(head_sha);
    let event = dir.join("event.json");
    std::fs::write(&event, payload.to_string()).unwrap();
    vec![
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", "pull_request".to_string()),
        ("GITHUB_EVENT_PATH", event.display().to_string()),
        ("GITHUB_REPOSITORY", "Codertocat/Hello-World".to_string()),
        ("GITHUB_HEAD_REF", head_ref.to_string()),
    ]
}

#[test]
fn s2_a_pull_request_whose_head_is_main_plans_development_not_production() {
    let p = Project::new();
    p.config(BASIC_CONFIG).addon("acc_base", "17.0.1.0.0", &[]);
    p.git_init();
    let sha = p.commit("one");
    let events = tempfile::tempdir().unwrap();
    for head in ["main", "staging-1"] {
        let env = pull_request_env(events.path(), head, &sha);
        let out = run_with(p.path(), &["plan", "--format", "json"], &env);
        let plan: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        assert_eq!(
            plan["stage"], "development",
            "head `{head}`: {}",
            out.stdout
        );
        assert!(
            plan["notes"].to_string().contains("pull request"),
            "the plan says why: {}",
            plan["notes"]
        );
        // Asking for a deploy explicitly on a pull-request event is refused before anything runs.
        let out = run_with(p.path(), &["deploy"], &env);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("pull request"), "{}", out.stderr);
    }
    let gitlab = [
        ("GITLAB_CI", "true".to_string()),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "main".to_string()),
        ("CI_MERGE_REQUEST_IID", "3".to_string()),
    ];
    let out = run_with(p.path(), &["plan", "--format", "json"], &gitlab);
    let plan: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr));
    assert_eq!(plan["stage"], "development");
}

#[test]
fn s5_a_percent_before_a_multibyte_character_in_a_database_url_is_no_panic() {
    let p = Project::new();
    let url = format!("postgresql://odoo:{DB_PASSWORD}%€x@127.0.0.1:1/db");
    p.config(&format!(
        "{BASIC_CONFIG}postgres:\n  url: \"${{TEST_DB_URL}}\"\n"
    ))
    .addon("acc_base", "17.0.1.0.0", &[]);
    p.git_init();
    p.commit("one");
    let out = run_with(
        p.path(),
        &["test", "--branch", "feat/x", "--output", "out"],
        &[("TEST_DB_URL", url)],
    );
    assert_ne!(out.code, 101, "panicked: {}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_nothing_secret(&out);
}

#[test]
fn s7_a_result_file_cannot_inject_outputs_or_workflow_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let crafted = serde_json::json!({
        "stage": "development\nEVIL_OUTPUT=1\n::stop-commands::pwned",
        "colour": "green\nEVIL_COLOUR=1",
        "reasons": [],
    });
    std::fs::write(
        dir.path().join("out/odoo-ci-result.json"),
        crafted.to_string(),
    )
    .unwrap();
    let outputs = dir.path().join("outputs.txt");
    let env = [
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", "push".to_string()),
        ("GITHUB_REF_NAME", "main".to_string()),
        ("GITHUB_SHA", "abc123".to_string()),
        ("GITHUB_OUTPUT", outputs.display().to_string()),
    ];
    let out = run_with(
        dir.path(),
        &["report", "--result", "out/odoo-ci-result.json"],
        &env,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let written = std::fs::read_to_string(&outputs).unwrap_or_default();
    assert!(!written.contains("EVIL"), "{written}");
    assert!(!out.stdout.contains("::stop-commands::"), "{}", out.stdout);
    assert!(out.stderr.contains("stage"), "{}", out.stderr);
}

#[test]
fn s8_a_yaml_alias_bomb_is_refused_quickly_and_by_name() {
    let p = Project::new();
    let mut bomb = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..12 {
        let prev = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev},*a{prev}]\n"
        ));
    }
    p.config(&bomb);
    let started = std::time::Instant::now();
    let out = run_with(p.path(), &["plan", "--branch", "x"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".odoo-ci.yml") && out.stderr.contains("alias"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.len() < 10_000);
    // Not a timing assertion on speed, a bound on a runaway: the bomb expands to 9^12 nodes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn s8_aliases_that_expand_to_gigabytes_of_text_are_refused_under_a_memory_limit() {
    // 20,000 aliases of one 200 KB string: few nodes, 4 GB of text. Under a 1 GB address
    // space limit the process once aborted ("memory allocation … failed").
    let p = Project::new();
    let mut config = format!(
        "project: &s \"{}\"\naddons_paths: [",
        "x".repeat(200 * 1024)
    );
    config.push_str(&"*s, ".repeat(20_000));
    config.push_str("*s]\n");
    p.config(&config);
    let out = common::run_wrapped(
        &["prlimit", "--as=1073741824"],
        p.path(),
        &["plan", "--branch", "x"],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".odoo-ci.yml:2") && out.stderr.contains("MiB"),
        "{}",
        out.stderr
    );
}

#[test]
fn s8_deep_nesting_and_huge_files_are_refused_with_the_file_named() {
    let p = Project::new();
    let deep = format!("odoo: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    p.config(&deep);
    let out = run_with(p.path(), &["plan", "--branch", "x"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(".odoo-ci.yml") && out.stderr.contains("nest"),
        "{}",
        out.stderr
    );
    let huge = format!("{BASIC_CONFIG}# {}\n", "x".repeat(2 * 1024 * 1024));
    p.config(&huge);
    let out = run_with(p.path(), &["plan", "--branch", "x"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("larger than"), "{}", out.stderr);
}

/// A stand-in PostgreSQL server that only answers the first message: to an `SSLRequest`
/// it says `N` (no TLS), as a server without TLS does. Returns what the client opened
/// with: `"ssl"` for an SSLRequest, `"plain"` for a plaintext startup message.
fn no_tls_server() -> (u16, std::thread::JoinHandle<Vec<&'static str>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let mut seen = Vec::new();
        // Bounded: one connection, or a few seconds.
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut first = [0u8; 8];
        if stream.read_exact(&mut first).is_ok() {
            let code = u32::from_be_bytes([first[4], first[5], first[6], first[7]]);
            if code == 80_877_103 {
                seen.push("ssl");
                let _ = stream.write_all(b"N");
                let mut next = [0u8; 8];
                if stream.read_exact(&mut next).is_ok() {
                    seen.push("plain");
                }
            } else {
                seen.push("plain");
            }
        }
        seen
    });
    (port, handle)
}

#[test]
fn s6_sslmode_require_never_falls_back_to_plaintext() {
    let (port, server) = no_tls_server();
    let url = format!("postgresql://odoo:{DB_PASSWORD}@127.0.0.1:{port}/prod?sslmode=require");
    let dir = tempfile::tempdir().unwrap();
    let out = run_with(
        dir.path(),
        &["neutralize", "--verify-only"],
        &[("ODOO_CI_NEUTRALIZE_DATABASE", url)],
    );
    let seen = server.join().unwrap();
    assert_eq!(
        seen,
        ["ssl"],
        "the client must ask for TLS and stop when refused"
    );
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.to_lowercase().contains("tls"), "{}", out.stderr);
    assert_nothing_secret(&out);
}

#[test]
fn s6_an_unknown_sslmode_is_refused_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with(
        dir.path(),
        &["neutralize", "--verify-only"],
        &[(
            "ODOO_CI_NEUTRALIZE_DATABASE",
            format!("postgresql://odoo:{DB_PASSWORD}@127.0.0.1:1/prod?sslmode=always"),
        )],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("sslmode"), "{}", out.stderr);
    assert_nothing_secret(&out);
}

#[test]
fn s4_a_password_written_in_postgres_url_is_masked_before_it_can_show() {
    let literal = "Literal-Pa55word-in-config";
    let p = Project::new();
    p.config(&format!(
        "{BASIC_CONFIG}postgres:\n  url: postgresql://odoo:{literal}@127.0.0.1:1/postgres\n"
    ))
    .addon("acc_base", "17.0.1.0.0", &[]);
    p.git_init();
    p.commit("one");
    let env = [
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", "push".to_string()),
        ("GITHUB_REF_NAME", "feat/x".to_string()),
    ];
    let out = run_with(p.path(), &["test", "--output", "out"], &env);
    let lines: Vec<&str> = out.stderr.lines().chain(out.stdout.lines()).collect();
    let mask = lines
        .iter()
        .position(|l| *l == format!("::add-mask::{literal}"))
        .unwrap_or_else(|| panic!("never masked:\n{}", out.stderr));
    let first_use = out
        .stderr
        .lines()
        .position(|l| l.contains(literal) && !l.starts_with("::add-mask::"));
    assert!(
        first_use.is_none_or(|i| i > mask),
        "shown before its mask:\n{}",
        out.stderr
    );
    // The plan never shows it either.
    let plan = run_with(
        p.path(),
        &["plan", "--branch", "feat/x", "--format", "json"],
        &[],
    );
    assert!(!plan.stdout.contains(literal), "{}", plan.stdout);
}

// --- Issue 26: the code under test never sees the runner's secrets ----------------------

const GITLAB_TOKEN: &str = "glpat-securityTEST-abcdef";
const API_SECRET: &str = "my-api-secret-value-0123";

/// A job's environment as a runner has it: odoo-ci's tokens, production's URL, a secret of
/// the job's own, and what the tests' PostgreSQL needs.
fn job_env(cache: &Path) -> Vec<(&'static str, String)> {
    let mut env = secret_env();
    env.extend([
        ("ODOO_CI_GITHUB_TOKEN", TOKEN.to_string()),
        ("ODOO_CI_GITLAB_TOKEN", GITLAB_TOKEN.to_string()),
        ("MY_API_SECRET", API_SECRET.to_string()),
        ("ODOO_CI_TEST_PG", common::pg_url()),
        ("ODOO_CI_CACHE_DIR", cache.display().to_string()),
    ]);
    env
}

/// A development project whose addon, when Odoo imports it, writes its process's whole
/// environment to the log (stderr), as any code under test could read it.
fn env_dumping_project(env_yaml: &str) -> Project {
    let p = Project::new();
    let command = common::repo_root().join("tests/fake-odoo/bin/odoo");
    p.config(&format!(
        "project: odoo-ci-tests/security\nodoo:\n  series: \"17.0\"\n  image: {}\n  command: {}\naddons_paths: [addons]\nbranches:\n  - match: \"*\"\n    stage: development\npostgres:\n  url: ${{ODOO_CI_TEST_PG}}\ndevelopment:\n  env:\n{env_yaml}",
        common::image(),
        command.display()
    ))
    .addon("env_dump", "17.0.1.0.0", &["base"])
    .write(
        "addons/env_dump/__init__.py",
        "import os, sys\nsys.stderr.write('ENV-DUMP %r\\n' % sorted(os.environ.items()))\n",
    );
    p
}

fn env_dump(p: &Project) -> String {
    let log = std::fs::read_to_string(p.path().join("out/install.log")).unwrap_or_default();
    log.lines()
        .find(|l| l.contains("ENV-DUMP"))
        .unwrap_or_else(|| panic!("the addon was not imported:\n{log}"))
        .to_string()
}

#[test]
fn s9_the_code_under_test_sees_none_of_the_job_s_secrets() {
    for executor in ["local", "docker"] {
        let p = env_dumping_project("    SHOWN: visible-to-odoo\n");
        let env = job_env(&p.path().join(".cache"));
        let out = run_with(
            p.path(),
            &[
                "test",
                "--branch",
                "feat/x",
                "--executor",
                executor,
                "--output",
                "out",
            ],
            &env,
        );
        assert_eq!(out.code, 0, "{executor}: {}", out.stderr);
        let dump = env_dump(&p);
        for secret in [TOKEN, DB_PASSWORD, GITLAB_TOKEN, API_SECRET] {
            assert!(
                !dump.contains(secret),
                "{executor}: the code under test saw a secret of the job: {dump}"
            );
        }
        assert!(
            dump.contains("'SHOWN', 'visible-to-odoo'"),
            "{executor}: {dump}"
        );
        assert!(dump.contains("'PATH'"), "{executor}: {dump}");
        assert!(dump.contains("'PGPASSWORD'"), "its own database: {dump}");
    }
}

#[test]
fn s9_no_configuration_hands_odoo_ci_s_credentials_to_the_code_under_test() {
    for (line, variable) in [
        ("    X: ${ODOO_CI_GITHUB_TOKEN}\n", "ODOO_CI_GITHUB_TOKEN"),
        ("    Y: \"url=${PRODUCTION_DB_URL}\"\n", "PRODUCTION_DB_URL"),
        // The backups' password, whatever it is called: restic's alone.
        (
            "    W: ${RESTIC_REPO_PW}\nproduction:\n  backup:\n    repository: /srv/backups\n    password: ${RESTIC_REPO_PW}\n",
            "RESTIC_REPO_PW",
        ),
    ] {
        let p = env_dumping_project(line);
        let env = job_env(&p.path().join(".cache"));
        let plan = run_with(
            p.path(),
            &["plan", "--branch", "feat/x", "--format", "json"],
            &env,
        );
        let plan: Value =
            serde_json::from_str(&plan.stdout).unwrap_or_else(|e| panic!("{e}: {}", plan.stderr));
        assert_eq!(
            plan["refused_variables"][0]["variable"], variable,
            "the plan says which reference is refused: {plan:#}"
        );
        let out = run_with(
            p.path(),
            &["test", "--branch", "feat/x", "--output", "out"],
            &env,
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains(variable) && out.stderr.contains("development.env."),
            "{}",
            out.stderr
        );
        assert_nothing_secret(&out);
        assert!(
            !p.path().join("out/install.log").exists(),
            "nothing was started"
        );
    }
}

/// `odoo-ci test` of `p` with the local executor, its results in `out/`.
fn test_locally(p: &Project, env: &[(&'static str, String)]) -> Output {
    let args = [
        "test",
        "--branch",
        "feat/x",
        "--executor",
        "local",
        "--output",
        "out",
    ];
    run_with(p.path(), &args, env)
}

#[test]
fn s9_a_variable_that_copies_a_token_is_caught_before_odoo_starts() {
    let p = env_dumping_project("    Z: ${INNOCENT_LOOKING}\n");
    let mut env = job_env(&p.path().join(".cache"));
    env.push(("INNOCENT_LOOKING", TOKEN.to_string()));
    let out = test_locally(&p, &env);
    // A setup error before anything runs (exit 2), not a red result halfway.
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_nothing_secret(&out);
    assert!(
        out.stderr.contains("refusing to start Odoo") && out.stderr.contains("`Z`"),
        "{}",
        out.stderr
    );
    let log = std::fs::read_to_string(p.path().join("out/install.log")).unwrap_or_default();
    assert!(!log.contains("ENV-DUMP"), "Odoo ran: {log}");
}

/// A variable the stage's `env` needs and the job lacks stops it before anything runs, and
/// says which key and what to do — not a red result after the template was built.
#[test]
fn a_missing_variable_of_the_stage_s_env_is_a_setup_error_before_anything_runs() {
    let p = env_dumping_project("    API_KEY: ${NOT_IN_THIS_JOB}\n");
    let env = job_env(&p.path().join(".cache"));
    let out = test_locally(&p, &env);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("development.env.API_KEY") && out.stderr.contains("hint:"),
        "{}",
        out.stderr
    );
    assert!(
        !p.path().join("out/template.log").exists() && !p.path().join("out/install.log").exists(),
        "nothing ran"
    );
}

#[test]
fn s9_in_a_pull_request_no_reference_may_name_a_secret() {
    let p = env_dumping_project("    API: ${MY_API_SECRET}\n");
    p.git_init();
    let sha = p.commit("a pull request asks for the job's secret");
    let events = tempfile::tempdir().unwrap();
    let mut env = job_env(&p.path().join(".cache"));
    let on_push = run_with(p.path(), &["plan", "--format", "json"], &env);
    let on_push: Value = serde_json::from_str(&on_push.stdout).unwrap();
    assert_eq!(
        on_push["refused_variables"],
        serde_json::json!([]),
        "a push's configuration is the project's own"
    );
    env.extend(pull_request_env(events.path(), "feat/x", &sha));
    let plan = run_with(p.path(), &["plan", "--format", "json"], &env);
    let plan: Value =
        serde_json::from_str(&plan.stdout).unwrap_or_else(|e| panic!("{e}: {}", plan.stderr));
    assert_eq!(plan["refused_variables"][0]["variable"], "MY_API_SECRET");
    assert!(
        plan["refused_variables"][0]["why"]
            .as_str()
            .unwrap()
            .contains("pull request"),
        "{plan:#}"
    );
    let out = run_with(p.path(), &["test", "--output", "out"], &env);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("MY_API_SECRET"), "{}", out.stderr);
    assert_nothing_secret(&out);
    assert!(!p.path().join("out/install.log").exists());
}
