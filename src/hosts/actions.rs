//! Inside GitHub Actions: workflow commands (`::error file=…,line=…::`, `::warning`,
//! `::group::`, `::add-mask::`), the Markdown summary appended to `$GITHUB_STEP_SUMMARY`,
//! and outputs in `$GITHUB_OUTPUT`. Escaping follows @actions/core's `toCommandValue`.

use std::io::Write;
use std::path::Path;

use crate::secrets::escape_data;

use super::{HostEnv, Level, StageReport};

/// GitHub shows only this many annotations of each kind per step.
pub const PER_KIND: usize = 10;
/// The step summary limit.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// A command's property value: also `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow commands for the report's annotations: failures first, at most ten of each.
pub fn annotation_commands(report: &StageReport) -> Vec<String> {
    let mut out = Vec::new();
    for (level, command) in [(Level::Failure, "error"), (Level::Warning, "warning")] {
        for a in report
            .annotations
            .iter()
            .filter(|a| a.level == level)
            .take(PER_KIND)
        {
            out.push(format!(
                "::{command} file={},line={},title={}::{}",
                escape_property(&a.path),
                a.line,
                escape_property(&a.title),
                escape_data(&a.message)
            ));
        }
    }
    if report.colour == crate::odoo::Colour::Red && report.annotations.is_empty() {
        out.push(format!(
            "::error title=odoo-ci / {}::{}",
            report.stage,
            escape_data(&report.title)
        ));
    }
    out
}

/// Writes the annotations (unless a check run carries them), the step summary and the
/// outputs. Failures are warned about.
pub fn write_all(env: &HostEnv, report: &StageReport, output: &Path, annotate: bool) {
    let mut stdout = std::io::stdout().lock();
    if annotate {
        for line in annotation_commands(report) {
            let _ = writeln!(stdout, "{line}");
        }
    }
    if let Some(path) = env.var("GITHUB_STEP_SUMMARY") {
        // The file may already hold an earlier step's text: the runner drops the whole
        // summary when the file is over the limit, so the room left is what counts.
        let used = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as usize;
        let room = STEP_SUMMARY_LIMIT.saturating_sub(used + 1);
        let text = report.summary(room, env.links().as_ref());
        if let Err(e) = append(path, &format!("{text}\n")) {
            eprintln!("warning: cannot write the step summary {path}: {e}");
        }
    }
    if let Some(path) = env.var("GITHUB_OUTPUT") {
        // Absolute: a later step may run from the repository root (`GITHUB_WORKSPACE`),
        // not from this step's `working-directory`.
        let result = std::path::absolute(output.join("odoo-ci-result.json"))
            .unwrap_or_else(|_| output.join("odoo-ci-result.json"));
        let mut lines = outputs(report);
        lines.push_str(&output_entry("result", &result.display().to_string()));
        if let Err(e) = append(path, &lines) {
            eprintln!("warning: cannot write the step outputs {path}: {e}");
        }
    }
}

/// The step's outputs besides `result`: `colour`, `conclusion` (as a check run's:
/// success, neutral, failure), `stage`, and for development the counts test-report
/// actions give (`passed`, `failed`, `errors`, `skipped`, `warnings`).
pub fn outputs(report: &StageReport) -> String {
    let mut out = format!(
        "colour={}\nconclusion={}\nstage={}\n",
        report.colour.as_str(),
        super::github::conclusion(report.colour),
        report.stage
    );
    if let Some(t) = &report.tests {
        out.push_str(&format!(
            "passed={}\nfailed={}\nerrors={}\nskipped={}\nwarnings={}\n",
            t.passed, t.failed, t.errors, t.skipped, report.warnings
        ));
    }
    out
}

/// One `$GITHUB_OUTPUT` entry: `name=value`, or the delimiter form when the value holds a
/// line break (a path can), with a delimiter the value does not contain.
pub fn output_entry(name: &str, value: &str) -> String {
    if !value.contains(['\n', '\r']) {
        return format!("{name}={value}\n");
    }
    let mut delimiter = String::from("ODOO_CI_EOF");
    while value.contains(&delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

fn append(path: &str, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::Annotation;

    #[test]
    fn an_output_with_a_line_break_uses_the_delimiter_form() {
        assert_eq!(output_entry("result", "out/r.json"), "result=out/r.json\n");
        let entry = output_entry("result", "a\nEVIL=1");
        assert_eq!(entry, "result<<ODOO_CI_EOF\na\nEVIL=1\nODOO_CI_EOF\n");
        assert!(output_entry("r", "x\nODOO_CI_EOF").starts_with("r<<ODOO_CI_EOF_\n"));
    }

    #[test]
    fn escaping_matches_the_toolkit() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn failures_come_first_and_each_kind_is_capped() {
        let mut annotations = Vec::new();
        for i in 0..12 {
            annotations.push(Annotation {
                path: "w.py".into(),
                line: i,
                level: Level::Warning,
                title: "w".into(),
                message: "warn".into(),
            });
        }
        annotations.push(Annotation {
            path: "addons/a/tests/t.py".into(),
            line: 3,
            level: Level::Failure,
            title: "a T.test (failure)".into(),
            message: "AssertionError: 1 != 2".into(),
        });
        let report = StageReport {
            annotations,
            warnings: 12,
            ..StageReport::stopped(crate::hosts::Subject::of(crate::config::Stage::Development))
        };
        let cmds = annotation_commands(&report);
        assert_eq!(cmds.len(), 11);
        assert_eq!(
            cmds[0],
            "::error file=addons/a/tests/t.py,line=3,title=a T.test (failure)::AssertionError: 1 != 2"
        );
        assert!(cmds[1..].iter().all(|c| c.starts_with("::warning ")));
    }
}
