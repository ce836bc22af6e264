//! JUnit XML: one testsuite per module, one testcase per test, with `file` and `line`
//! attributes where known (GitLab and the GitHub test reporters read them). quick-junit is
//! used because it can carry extra attributes; junit-report cannot.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::odoo::result::{CaseStatus, LogResult};

pub fn render(result: &LogResult, name: &str) -> Result<String, quick_junit::SerializeError> {
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    // Tracebacks are kept once, in the failures.
    let tracebacks: std::collections::HashMap<(&str, &str), &str> = result
        .failures
        .iter()
        .map(|f| ((f.module.as_str(), f.test.as_str()), f.traceback.as_str()))
        .collect();
    for case in &result.cases {
        let status = match case.status {
            CaseStatus::Passed => TestCaseStatus::success(),
            CaseStatus::Skipped => {
                let mut s = TestCaseStatus::skipped();
                if let Some(m) = case.message.as_deref().filter(|m| !m.is_empty()) {
                    s.set_message(m);
                }
                s
            }
            CaseStatus::Failed | CaseStatus::Error => {
                let kind = if case.status == CaseStatus::Failed {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                if let Some(m) = &case.message {
                    s.set_message(m.as_str());
                    if let Some((ty, _)) = m.split_once(':') {
                        s.set_type(ty);
                    }
                }
                let id = format!("{}.{}", case.class, case.method);
                let traceback = case.traceback.as_deref().or_else(|| {
                    tracebacks
                        .get(&(case.module.as_str(), id.as_str()))
                        .copied()
                });
                if let Some(tb) = traceback {
                    s.set_description(tb);
                }
                s
            }
        };
        let test_name = if case.class.is_empty() {
            case.method.clone()
        } else {
            format!("{}.{}", case.class, case.method)
        };
        let mut tc = TestCase::new(test_name, status);
        let classname = if case.class.is_empty() {
            case.logger.clone()
        } else {
            format!("{}.{}", case.logger, case.class)
        };
        tc.set_classname(classname);
        if let Some(s) = case.seconds {
            tc.set_time(Duration::from_secs_f64(s));
        }
        if let Some(f) = &case.file {
            tc.extra.insert("file".into(), f.as_str().into());
        }
        if let Some(l) = case.line {
            tc.extra.insert("line".into(), l.to_string().into());
        }
        suites
            .entry(case.module.as_str())
            .or_insert_with(|| TestSuite::new(case.module.as_str()))
            .add_test_case(tc);
    }
    for m in &result.modules {
        if let (Some(s), Some(suite)) = (m.seconds, suites.get_mut(m.name.as_str())) {
            suite.set_time(Duration::from_secs_f64(s));
        }
    }
    let mut report = Report::new(name);
    report.add_test_suites(suites.into_values());
    report.to_string()
}
