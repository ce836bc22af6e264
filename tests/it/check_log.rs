//! `odoo-ci check-log` on logs written in the real Odoo format (16.0–19.0): colour, counts,
//! failure locations, JUnit, summary, exit codes, and bad input.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{bin, repo_root, run_in, Output};
use serde_json::Value;

fn fixture(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/logs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs check-log in an empty dir (so no config is picked up).
fn check(args: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["check-log"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    let out = run_in(dir.path(), &all, &[]);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out, json)
}

fn check_stdin(input: &[u8], args: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .current_dir(dir.path())
        .args(["check-log", "-", "--format", "json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (out.status.code().unwrap_or(-1), json)
}

fn counts(v: &Value) -> [u64; 5] {
    let t = &v["tests"];
    ["total", "passed", "failed", "errors", "skipped"].map(|k| t[k].as_u64().unwrap())
}

#[test]
fn green_run_17() {
    let (out, v) = check(&[&fixture("green_17.log"), "--tests-expected"]);
    assert_eq!(out.code, 0);
    assert_eq!(v["colour"], "green", "{v}");
    assert_eq!(counts(&v), [4, 4, 0, 0, 0]);
    assert_eq!(v["modules_loaded"], true);
    assert_eq!(v["summary_seen"], true);
    assert_eq!(v["failures"].as_array().unwrap().len(), 0);
}

#[test]
fn ansi_coloured_levels_are_read_like_plain_ones() {
    let (_, plain) = check(&[&fixture("green_17.log")]);
    let (_, coloured) = check(&[&fixture("coloured_17.log")]);
    assert_eq!(plain["tests"], coloured["tests"]);
    assert_eq!(plain["records"], coloured["records"]);
    assert_eq!(coloured["colour"], "green");
}

#[test]
fn failure_and_error_18_point_into_the_addon() {
    let (out, v) = check(&[&fixture("red_failure_18.log")]);
    assert_eq!(out.code, 1);
    assert_eq!(v["colour"], "red");
    assert_eq!(counts(&v), [3, 1, 1, 1, 0]);
    let f = &v["failures"][0];
    assert_eq!(f["module"], "acc_x");
    assert_eq!(f["test"], "TestX.test_qty");
    assert_eq!(f["kind"], "failure");
    assert_eq!(f["file"], "acc_x/tests/test_x.py");
    assert_eq!(f["line"], 12);
    assert_eq!(
        f["message"],
        "AssertionError: 6 != 7 : doubling 3 should not give 7"
    );
    let e = &v["failures"][1];
    assert_eq!(
        (e["test"].as_str(), e["kind"].as_str()),
        (Some("TestX.test_helper"), Some("error"))
    );
    // The innermost frame inside an addon, not the Odoo frame below it.
    assert_eq!(
        (e["file"].as_str(), e["line"].as_u64()),
        (Some("acc_x/models/acc_x.py"), Some(33))
    );
    assert_eq!(e["message"], "ZeroDivisionError: division by zero");
    assert_eq!(
        v["problems"].as_array().unwrap().len(),
        0,
        "test records are failures, not problems"
    );
    let module = &v["modules"][0];
    assert_eq!(
        (
            module["failures"].as_u64(),
            module["errors"].as_u64(),
            module["tests"].as_u64()
        ),
        (Some(1), Some(1), Some(3))
    );
}

#[test]
fn path_map_maps_files_into_the_repo() {
    let (_, v) = check(&[
        &fixture("red_failure_18.log"),
        "--path-map",
        "acc_x=addons/acc_x",
    ]);
    assert_eq!(v["failures"][0]["file"], "addons/acc_x/tests/test_x.py");
}

#[test]
fn set_up_class_error_16() {
    let (out, v) = check(&[&fixture("setupclass_error_16.log")]);
    assert_eq!(out.code, 1);
    // The class's only tests never ran: Odoo counts the error, not a test run.
    assert_eq!(counts(&v), [0, 0, 0, 1, 0]);
    let e = &v["failures"][0];
    assert_eq!(
        (e["module"].as_str(), e["test"].as_str(), e["kind"].as_str()),
        (Some("acc_y"), Some("TestY.setUpClass"), Some("error"))
    );
    assert_eq!(
        (e["file"].as_str(), e["line"].as_u64()),
        (Some("acc_y/tests/test_y.py"), Some(9))
    );
}

/// Tours skipped for lack of a browser are never a silent yellow: the verdict counts and
/// names them, even when the warnings Odoo logs for them are ignored.
#[test]
fn browser_tests_skipped_for_lack_of_a_browser_are_named_in_the_verdict() {
    let (out, v) = check(&[&fixture("browser_skipped_18.log"), "--tests-expected"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(v["colour"], "yellow");
    let reasons = v["reasons"].to_string();
    assert!(
        reasons.contains("2 browser tests (tours) did not run")
            && reasons.contains("test_checkout_tour")
            && reasons.contains("test_portal_tour")
            && reasons.contains("websocket-client module is not installed"),
        "{reasons}"
    );
    assert!(
        !reasons.contains("test_rounding"),
        "a plain skip is no browser's: {reasons}"
    );
    let (_, v) = check(&[
        &fixture("browser_skipped_18.log"),
        "--ignore",
        "websocket-client",
    ]);
    assert_eq!(v["colour"], "yellow", "{v:#}");
    assert!(
        v["reasons"].to_string().contains("2 browser tests"),
        "{v:#}"
    );
}

#[test]
fn warnings_skips_and_ignore_patterns_19() {
    let (out, v) = check(&[&fixture("yellow_warnings_19.log"), "--tests-expected"]);
    assert_eq!(out.code, 0, "yellow exits 0");
    assert_eq!(v["colour"], "yellow");
    assert_eq!(counts(&v), [3, 2, 0, 0, 1]);
    assert_eq!(v["warnings"]["total"], 4);
    let top = &v["warnings"]["groups"][0];
    assert_eq!(
        (top["logger"].as_str(), top["count"].as_u64()),
        (Some("odoo.models"), Some(2))
    );
    let (out, _) = check(&[&fixture("yellow_warnings_19.log"), "--fail-on-warning"]);
    assert_eq!(out.code, 1);
    let (_, v) = check(&[
        &fixture("yellow_warnings_19.log"),
        "--ignore",
        "DeprecationWarning",
        "--ignore",
        "^odoo\\.models: .*unknown fields",
        "--ignore",
        "same label",
    ]);
    assert_eq!(v["colour"], "green", "{v}");
    assert_eq!(v["warnings"]["ignored"], 4);
}

#[test]
fn ignore_patterns_come_from_the_config_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("addons")).unwrap();
    std::fs::write(
        dir.path().join(".odoo-ci.yml"),
        "odoo: {series: \"19.0\", image: odoo}\naddons_paths: [addons]\nbranches: [{match: \"*\", stage: development}]\ndevelopment:\n  ignore_warnings: [DeprecationWarning, unknown fields, same label]\n",
    )
    .unwrap();
    let out = run_in(
        dir.path(),
        &[
            "check-log",
            &fixture("yellow_warnings_19.log"),
            "--format",
            "json",
        ],
        &[],
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["colour"], "green", "{}", out.stderr);
}

#[test]
fn data_file_parse_error_17() {
    let (out, v) = check(&[&fixture("parse_error_17.log")]);
    assert_eq!(out.code, 1);
    assert_eq!(v["colour"], "red");
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems[0]["kind"], "registry_load_failed");
    let parse = problems
        .iter()
        .find(|p| p["kind"] == "data_file_error")
        .expect("data file error");
    assert_eq!(
        (parse["file"].as_str(), parse["line"].as_u64()),
        (Some("acc_bad/data/records.xml"), Some(7))
    );
    assert!(v["reasons"]
        .to_string()
        .contains("acc_bad/data/records.xml:7"));
}

#[test]
fn import_error_18() {
    let (_, v) = check(&[&fixture("import_error_18.log"), "--exit-code", "255"]);
    assert_eq!(v["colour"], "red");
    let problems = v["problems"].as_array().unwrap();
    let import = problems
        .iter()
        .find(|p| p["kind"] == "import_error" && p["file"].is_string())
        .expect("import error");
    assert_eq!(
        (import["file"].as_str(), import["line"].as_u64()),
        (Some("acc_imp/models/oauth.py"), Some(3))
    );
    assert!(v["reasons"]
        .to_string()
        .contains("Odoo exited with code 255"));
}

#[test]
fn modules_not_loaded_16() {
    let (_, v) = check(&[&fixture("not_loaded_16.log")]);
    assert_eq!(v["colour"], "red");
    assert_eq!(v["problems"][0]["kind"], "modules_not_loaded");
    assert_eq!(counts(&v), [0, 0, 0, 0, 0]);
}

#[test]
fn halted_suite_18() {
    let (_, v) = check(&[&fixture("halted_18.log")]);
    assert_eq!(v["colour"], "red");
    assert!(v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["kind"] == "test_suite_halted"));
}

#[test]
fn a_truncated_log_without_summary_is_red_when_tests_were_expected() {
    let full = std::fs::read_to_string(fixture("green_17.log")).unwrap();
    let cut = &full[..full.find("odoo.modules.loading: Module acc_x").unwrap()];
    let (code, v) = check_stdin(cut.as_bytes(), &["--tests-expected"]);
    assert_eq!(code, 1);
    assert_eq!(v["colour"], "red");
    let reasons = v["reasons"].to_string();
    assert!(reasons.contains("no test summary line"), "{reasons}");
    assert!(reasons.contains("never finished loading"), "{reasons}");
    // Without the expectation the log is still cut while a test runs: red, and that test
    // is not counted as passed.
    let (code, v) = check_stdin(cut.as_bytes(), &[]);
    assert_eq!((code, v["colour"].as_str()), (1, Some("red")), "{v:#}");
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("the log ends while"),
        "{v:#}"
    );
    let unfinished = v["tests"]["skipped"].as_u64().unwrap();
    assert_eq!(unfinished, 1, "{v:#}");
    // Told that a cut log is expected, it is not red; the unfinished test still did not pass.
    let (code, v) = check_stdin(cut.as_bytes(), &["--allow-truncated"]);
    assert_eq!((code, v["colour"].as_str()), (0, Some("green")), "{v:#}");
    assert_eq!(v["tests"]["skipped"], 1);
    assert_eq!(
        v["tests"]["passed"].as_u64(),
        Some(v["tests"]["total"].as_u64().unwrap() - 1)
    );
}

#[test]
fn a_multi_line_assertion_is_named_by_its_exception_line() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let (out, v) = check(&[
        &fixture("diff_failure_18.log"),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    let failure = &v["failures"][0];
    assert_eq!(
        failure["message"],
        "AssertionError: 'discount: 100% off\\nreally' != 'discount: 10% off\\nreally'"
    );
    assert!(
        failure["traceback"].as_str().unwrap().ends_with("  really"),
        "the diff stays as details"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.contains("type=\"AssertionError\""), "{xml}");
    assert!(xml.contains("+ discount: 10% off"), "{xml}");
}

#[test]
fn many_distinct_stats_lines_are_read_in_linear_time() {
    // 200,000 `odoo.tests.stats` lines of distinct modules did not finish in 300 s: each
    // looked its module up with a linear search.
    let mut log = String::new();
    for i in 0..200_000 {
        log.push_str(&format!(
            "2026-11-21 22:42:22,300 5965 INFO db1 odoo.tests.stats: mod_{i}: 3 tests 0.01s 10 queries \n"
        ));
    }
    let (_, v) = check_stdin(log.as_bytes(), &[]);
    assert_eq!(v["modules"].as_array().map(Vec::len), Some(200_000));
}

#[test]
fn a_record_cut_mid_traceback_still_counts() {
    let full = std::fs::read_to_string(fixture("red_failure_18.log")).unwrap();
    let cut = &full[..full.find("    self.assertEqual").unwrap()];
    let (code, v) = check_stdin(cut.as_bytes(), &[]);
    assert_eq!(code, 1);
    assert_eq!(v["failures"][0]["test"], "TestX.test_qty");
    assert_eq!(v["failures"][0]["line"], 12);
}

#[test]
fn empty_foreign_and_garbage_input_is_red_with_a_reason() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "foreign",
            b"[INFO] Building project\n[ERROR] something\nnot odoo at all\n".to_vec(),
        ),
        ("binary", (0..=255u8).cycle().take(100_000).collect()),
        (
            "invalid utf-8",
            b"\xff\xfe\xfd garbage \xc3\x28\n\x80\x81\n".to_vec(),
        ),
    ];
    for (name, input) in cases {
        let (code, v) = check_stdin(&input, &[]);
        assert_eq!(code, 1, "{name}");
        assert_eq!(v["colour"], "red", "{name}");
        assert!(
            v["reasons"][0]
                .as_str()
                .unwrap()
                .starts_with("no Odoo log records found"),
            "{name}: {v}"
        );
    }
}

#[test]
fn lines_of_several_megabytes_and_invalid_utf8_in_records() {
    let mut log = std::fs::read(fixture("red_failure_18.log")).unwrap();
    let mut big = b"2026-11-21 22:42:26,000 5965 WARNING db1 odoo.models: huge ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 5 * 1024 * 1024));
    big.extend(b" \xff\xfe end\n");
    log.extend(big);
    log.extend(b"2026-11-21 22:42:26,100 5965 INFO db1 odoo.tests.stats: acc_y: 1 tests 0.01s 3 queries \n");
    let (code, v) = check_stdin(&log, &[]);
    assert_eq!(code, 1);
    assert_eq!(v["warnings"]["total"], 1);
    assert_eq!(counts(&v), [3, 1, 1, 1, 0]);
    assert!(
        v["warnings"]["groups"][0]["message"]
            .as_str()
            .unwrap()
            .len()
            <= 1200
    );
}

#[test]
fn junit_has_suites_cases_and_locations() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let summary = dir.path().join("summary.md");
    let out = run_in(
        dir.path(),
        &[
            "check-log",
            &fixture("red_failure_18.log"),
            "--junit",
            junit.to_str().unwrap(),
            "--summary",
            summary.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("acc_x/tests/test_x.py:12"),
        "{}",
        out.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="acc_x" tests="3" disabled="0" errors="1" failures="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"classname="odoo.addons.acc_x.tests.test_x.TestX""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"file="acc_x/tests/test_x.py" line="12""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<failure message="AssertionError: 6 != 7 : doubling 3 should not give 7" type="AssertionError">"#), "{xml}");
    assert!(
        xml.contains("<error message=\"ZeroDivisionError: division by zero\""),
        "{xml}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    let fail_at = md
        .find("FAIL `acc_x` TestX.test_qty — `acc_x/tests/test_x.py:12`")
        .expect("failure in summary");
    // The totals first: a summary cut at its end keeps them.
    assert!(
        md.find("log records").unwrap() < fail_at,
        "totals before failures"
    );
    assert!(md.contains("🔴"));
}

#[test]
fn skipped_tests_in_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("j.xml");
    run_in(
        dir.path(),
        &[
            "check-log",
            &fixture("yellow_warnings_19.log"),
            "--junit",
            junit.to_str().unwrap(),
        ],
        &[],
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<skipped message=\"needs network access\"/>"),
        "{xml}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["check-log", "/no/such/log"],
        vec!["check-log", "-", "--ignore", "(unclosed"],
        vec!["check-log", "-", "--path-map", "nonsense"],
        vec!["check-log", "--format", "xml"],
    ] {
        let out = run_in(dir.path(), &args, &[]);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"));
    }
}

#[test]
fn a_summary_line_is_read_whatever_logger_prints_it() {
    // 14.0 and 15.0 print the final verdict from loggers other than `odoo.tests.result`.
    let full = std::fs::read_to_string(fixture("red_failure_18.log")).unwrap();
    let moved = full.replace("odoo.tests.result:", "odoo.service.server:");
    assert_ne!(moved, full);
    let (code, v) = check_stdin(moved.as_bytes(), &["--tests-expected"]);
    assert_eq!(code, 1);
    assert_eq!(v["summary_seen"], true, "{v:#}");
}

#[test]
fn yellow_exits_3_on_gitlab_like_every_stage() {
    // One colour → exit code rule: check-log said 0 for yellow on GitLab, the stages 3.
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("yellow_warnings_19.log");
    let gitlab = run_in(dir.path(), &["check-log", &log], &[("GITLAB_CI", "true")]);
    assert_eq!(gitlab.code, 3, "{}", gitlab.stderr);
    let local = run_in(dir.path(), &["check-log", &log], &[]);
    assert_eq!(local.code, 0);
    let strict = run_in(
        dir.path(),
        &["check-log", &log, "--fail-on-warning"],
        &[("GITLAB_CI", "true")],
    );
    assert_eq!(strict.code, 1);
}
