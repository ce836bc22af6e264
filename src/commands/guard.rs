//! `odoo-ci guard`: the version-bump guard on its own, for a pull/merge request job.

use std::fmt::Write;
use std::path::Path;

use crate::cli::{Format, GuardArgs};
use crate::context::Overrides;
use crate::exit::{self, BadInput};
use crate::guard::{check, GuardFinding};
use crate::odoo::Colour;
use crate::style::Style;

pub fn run(config: &Path, args: &GuardArgs) -> anyhow::Result<u8> {
    let overrides = Overrides {
        branch: args.target.branch.clone(),
        git_ref: args.target.git_ref.clone(),
        base: args.target.base.clone(),
    };
    let project = crate::project::load(config, &overrides)?;
    let Some(base) = &project.base else {
        return Err(BadInput::new("the guard needs a base to compare with")
            .hint("pass --base REF, or run it on a pull/merge request or a push")
            .into());
    };
    let findings = check(
        &project.addons,
        base,
        project.config.file.version_guard.unbumped,
        &project.config.guard_ignore,
    );
    let text = match args.format {
        Format::Json => super::to_json(&findings)?,
        Format::Text => render(&findings, Style::for_stdout()),
    };
    super::print_stdout(&text)?;
    let worst = findings
        .iter()
        .map(|f| f.colour)
        .max()
        .unwrap_or(Colour::Green);
    Ok(match worst {
        Colour::Red => exit::RED,
        Colour::Yellow if args.fail_on_warning => exit::RED,
        _ => exit::OK,
    })
}

fn render(findings: &[GuardFinding], s: Style) -> String {
    let mut out = String::new();
    for f in findings {
        let mark = match f.colour {
            Colour::Red => s.red("error"),
            _ => s.yellow("warning"),
        };
        let _ = writeln!(out, "{}:{}: {mark}: {}", f.file, f.line, f.message);
    }
    if findings.is_empty() {
        let _ = writeln!(
            out,
            "{} every changed addon has a higher version",
            s.green("ok:")
        );
    }
    out
}
