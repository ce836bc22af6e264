//! `odoo-ci guard`: the version-bump guard on its own, for a pull/merge request job.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::addons::at_commit::discover_at_commit;
use crate::addons::discover;
use crate::config::VersionGuard;
use crate::repo::Repo;

use crate::cli::{Format, GuardArgs};
use crate::context::Overrides;
use crate::exit::BadInput;
use crate::guard::{check, GuardFinding};
use crate::odoo::Colour;
use crate::style::Style;

pub fn run(config: &Path, args: &GuardArgs) -> anyhow::Result<u8> {
    let findings = if args.addons_paths.is_empty() {
        with_config(config, args)?
    } else {
        standalone(args)?
    };
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
    Ok(super::exit_code(
        worst,
        args.fail_on_warning,
        crate::context::Provider::from_env(),
    ))
}

/// The guard as the project's config sets it up.
fn with_config(config: &Path, args: &GuardArgs) -> anyhow::Result<Vec<GuardFinding>> {
    let project = crate::project::load(config, &args.target.overrides())?;
    let base = project.base.as_ref().ok_or_else(no_base)?;
    Ok(check(
        &project.addons,
        base,
        project.config.file.version_guard.unbumped,
        &project.config.guard_ignore,
    ))
}

/// The guard on any repository: `--addons-path` (relative to the current folder), the
/// base from `--base` or the CI, the head from `--ref` or HEAD, the guard's defaults.
fn standalone(args: &GuardArgs) -> anyhow::Result<Vec<GuardFinding>> {
    let series = super::series_flag(args.series.as_deref())?;
    let root = PathBuf::from(".");
    let repo = Repo::discover(&root)?;
    let env = |k: &str| std::env::var(k).ok();
    let overrides = Overrides {
        branch: Some(args.target.branch.clone().unwrap_or_else(|| "guard".into())),
        git_ref: args.target.git_ref.clone(),
        base: args.target.base.clone(),
    };
    let head = crate::context::Head::Detached;
    let context = crate::context::detect(&env, &|p| std::fs::read_to_string(p), head, &overrides)
        .map_err(|e| BadInput::new(e.to_string()).hint(e.hint()))?;
    let base_spec = context.base.clone().ok_or_else(no_base)?;
    let head = repo.resolve(context.commit.as_deref().unwrap_or("HEAD"))?;
    let addons = if repo.resolve("HEAD").ok() == Some(head) {
        discover(&root, &args.addons_paths, series)?
    } else {
        discover_at_commit(&repo, head, &root, &args.addons_paths, series)?
    };
    let base_id = repo.resolve(&base_spec)?;
    let base = crate::project::base_facts(&repo, &addons, &base_spec, base_id, head)?;
    let defaults = VersionGuard::default();
    let mut ignore = globset::GlobSetBuilder::new();
    for pattern in &defaults.ignore {
        if let Ok(glob) = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
        {
            ignore.add(glob);
        }
    }
    Ok(check(&addons, &base, defaults.unbumped, &ignore.build()?))
}

fn no_base() -> BadInput {
    BadInput::new("the guard needs a base to compare with")
        .hint("pass --base REF, or run it on a pull/merge request or a push")
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
