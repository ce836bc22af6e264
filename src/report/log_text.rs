//! A log result as a person reads it in a terminal or a CI log.

use std::fmt::Write;

use crate::odoo::result::{Colour, LogResult};
use crate::style::Style;

/// Everything: each failure and problem, then the verdict (`check-log`).
pub fn render(result: &LogResult, s: Style) -> String {
    let mut out = items(result, s);
    out.push_str(&verdict(result, s));
    out
}

/// The failures and problems, a line each: what a stage shows as they happen.
pub fn items(result: &LogResult, s: Style) -> String {
    let mut out = String::new();
    for f in &result.failures {
        let at = match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {at}{} {} — {}",
            s.red("✗"),
            f.module,
            f.test,
            f.message
        );
    }
    for p in &result.problems {
        let at = match (&p.file, p.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {at}{} {}: {}",
            s.red("!"),
            p.level,
            p.logger,
            p.message
        );
    }
    out
}

/// The warnings, the counts and the colour with its reasons: a stage's last words, after
/// its failures streamed.
pub fn verdict(result: &LogResult, s: Style) -> String {
    let mut out = String::new();
    for g in result.warnings.groups.iter().take(20) {
        let _ = writeln!(
            out,
            "{} {}× {}: {}",
            s.yellow("⚠"),
            g.count,
            g.logger,
            g.message
        );
    }
    let t = &result.tests;
    let colour = match result.colour {
        Colour::Green => s.green("green"),
        Colour::Yellow => s.yellow("yellow"),
        Colour::Red => s.red("red"),
    };
    let _ = writeln!(
        out,
        "{colour}: {} tests, {} passed, {} failed, {} errors, {} skipped; {} warnings",
        t.total, t.passed, t.failed, t.errors, t.skipped, result.warnings.total
    );
    for r in &result.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    out
}
