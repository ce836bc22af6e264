//! The plan as a person reads it in a terminal or a CI log.

use std::fmt::Write;

use crate::plan::{Action, Plan};
use crate::style::Style;

pub fn render(plan: &Plan, s: Style) -> String {
    let mut out = String::new();
    heading(&mut out, plan, s);
    addons(&mut out, plan, s);
    steps(&mut out, plan, s);
    if !plan.env.is_empty() {
        let _ = writeln!(out, "\n{}", s.bold("environment"));
        for (k, v) in &plan.env {
            let _ = writeln!(out, "  {k}={v}");
        }
    }
    findings(&mut out, plan, s);
    out
}

/// The stage, branch and commit; what Odoo runs in; the base compared with.
fn heading(out: &mut String, plan: &Plan, s: Style) {
    let commit = plan
        .commit
        .as_deref()
        .map(|c| c.get(..12).unwrap_or(c).to_string())
        .unwrap_or_else(|| "(no commit)".into());
    let _ = writeln!(
        out,
        "{} {} on branch {} at {}{}",
        s.bold("odoo-ci plan:"),
        s.cyan(plan.stage.as_str()),
        s.bold(&plan.branch),
        commit,
        plan.commit_summary
            .as_deref()
            .map(|m| format!(" {}", s.dim(&format!("({m})"))))
            .unwrap_or_default()
    );
    let runs_in = plan.steps.iter().find_map(|step| match step {
        crate::plan::Step::Mount(m) => Some(format!("image {} (project mounted)", m.base)),
        crate::plan::Step::Release(r) => Some(format!("image {} (release volume)", r.base)),
        crate::plan::Step::Local(_) => Some("local executor".to_string()),
        _ => None,
    });
    let runs_in = runs_in.unwrap_or_else(|| format!("image {}", plan.image));
    let _ = writeln!(out, "  series {}, {runs_in}", plan.series);
    if let Some(base) = &plan.base {
        let _ = writeln!(out, "  compared with {}", base.get(..12).unwrap_or(base));
    }
}

/// What is installed, tested and updated, each with why; the base image's dependencies.
fn addons(out: &mut String, plan: &Plan, s: Style) {
    for (title, names, action) in [
        ("install", &plan.addons.install, Action::Install),
        ("test", &plan.addons.test, Action::Test),
        ("update", &plan.addons.update, Action::Update),
    ] {
        let _ = writeln!(out, "\n{} ({})", s.bold(title), names.len());
        if names.is_empty() {
            let _ = writeln!(out, "  {}", s.dim("(none)"));
        }
        for d in plan.addons.details.iter().filter(|d| d.action == action) {
            let _ = writeln!(out, "  {:<32} {}", d.name, s.dim(&d.reason));
        }
    }
    if !plan.addons.external.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {}",
            s.bold("external dependencies (from the base image):"),
            plan.addons.external.join(", ")
        );
    }
}

/// The steps, numbered, then those that run only on failure.
fn steps(out: &mut String, plan: &Plan, s: Style) {
    let _ = writeln!(out, "\n{}", s.bold("steps"));
    if plan.steps.is_empty() {
        let _ = writeln!(out, "  {}", s.dim("(none: nothing to run)"));
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {:<18} {step}", i + 1, step.kind().as_str());
    }
    for step in &plan.on_failure {
        let _ = writeln!(out, "  {} {:<18} {step}", s.dim("!"), step.kind().as_str());
    }
}

/// The version guard's findings, the notes and the problems.
fn findings(out: &mut String, plan: &Plan, s: Style) {
    if !plan.guard.is_empty() {
        let _ = writeln!(out, "\n{}", s.bold("version guard"));
        for f in &plan.guard {
            let mark = match f.colour {
                crate::odoo::Colour::Red => s.red("error"),
                _ => s.yellow("warning"),
            };
            let _ = writeln!(out, "  {}:{}: {mark}: {}", f.file, f.line, f.message);
        }
    }
    for note in &plan.notes {
        let _ = writeln!(out, "\n{} {note}", s.yellow("note:"));
    }
    for problem in &plan.problems {
        let _ = writeln!(out, "\n{} {problem}", s.red("problem:"));
    }
}
