//! Inside GitHub Actions: workflow commands (`::error file=…,line=…::`, `::warning`,
//! `::group::`, `::add-mask::`), the Markdown summary appended to `$GITHUB_STEP_SUMMARY`,
//! and outputs in `$GITHUB_OUTPUT`. Escaping follows @actions/core's `toCommandValue`.

use std::io::Write;
use std::path::Path;

use super::{truncate, HostEnv, Level, StageReport};

/// GitHub shows only this many annotations of each kind per step.
pub const PER_KIND: usize = 10;
/// The step summary limit.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// A command's message: `%`, CR and LF escaped.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

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
    if report.colour == "red" && report.annotations.is_empty() {
        out.push(format!(
            "::error title=odoo-ci / {}::{}",
            report.stage,
            escape_data(&report.title)
        ));
    }
    out
}

/// `::add-mask::` for each secret, so the runner hides it from every later log line.
pub fn mask_commands(secrets: &[&str]) -> Vec<String> {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .map(|s| format!("::add-mask::{}", escape_data(s)))
        .collect()
}

/// Writes the annotations, the step summary and the outputs. Failures are warned about.
pub fn write_all(env: &HostEnv, report: &StageReport, output: &Path) {
    let mut stdout = std::io::stdout().lock();
    for line in annotation_commands(report) {
        let _ = writeln!(stdout, "{line}");
    }
    if let Some(path) = env.var("GITHUB_STEP_SUMMARY") {
        let text = truncate(&report.summary, STEP_SUMMARY_LIMIT);
        if let Err(e) = append(path, &format!("{text}\n")) {
            eprintln!("warning: cannot write the step summary {path}: {e}");
        }
    }
    if let Some(path) = env.var("GITHUB_OUTPUT") {
        let result = output.join("odoo-ci-result.json");
        let lines = format!(
            "colour={}\nstage={}\nresult={}\n",
            report.colour,
            report.stage,
            result.display()
        );
        if let Err(e) = append(path, &lines) {
            eprintln!("warning: cannot write the step outputs {path}: {e}");
        }
    }
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
            stage: "development".into(),
            colour: "red".into(),
            title: "t".into(),
            summary: String::new(),
            annotations,
            url: None,
            warnings: 12,
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
