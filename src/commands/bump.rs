//! `odoo-ci bump`: raise addon versions, optionally as one commit of only the manifests.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::addons::{discover, Addon, AddonSet};
use crate::bump::{bump_version, rewrite_version, BumpError};
use crate::cli::{BumpArgs, Format};
use crate::config::{Config, GuardLevel};
use crate::diag::did_you_mean;
use crate::exit::{self, BadInput};
use crate::guard::{check, GuardKind};
use crate::repo::Repo;

#[derive(Serialize)]
struct Bumped {
    addon: String,
    from: String,
    to: String,
    manifest: String,
}

pub fn run(config_path: &Path, args: &BumpArgs) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let addons = discover(
        &config.root,
        &config.addons_dirs,
        Some(config.file.odoo.series),
    )?;
    let repo = Repo::discover(&config.root).ok();
    let targets = targets(&config, &addons, repo.as_ref(), args)?;
    let done = bump_all(&targets, &addons, repo.as_ref(), args)?;
    if args.commit && !done.is_empty() {
        commit(repo.as_ref(), &done)?;
    }
    let text = match args.format {
        Format::Json => super::to_json(&done)?,
        Format::Text => {
            let mut out = String::new();
            for b in &done {
                let _ = writeln!(out, "{}: {} → {} ({})", b.addon, b.from, b.to, b.manifest);
            }
            if done.is_empty() {
                out.push_str("nothing to bump\n");
            }
            out
        }
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}

/// The addons to bump: those named, and with `--changed` every unbumped one.
fn targets<'a>(
    config: &Config,
    addons: &'a AddonSet,
    repo: Option<&Repo>,
    args: &BumpArgs,
) -> anyhow::Result<Vec<&'a Addon>> {
    let mut targets: Vec<&Addon> = Vec::new();
    for name in &args.addons {
        let addon = addons.get(name).ok_or_else(|| {
            let hint = match did_you_mean(name, addons.names()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "`odoo-ci addons list` shows the addons".to_string(),
            };
            BadInput::new(format!("no addon `{name}` in the addons paths")).hint(hint)
        })?;
        targets.push(addon);
    }
    if args.changed {
        let since = args.since.as_deref().unwrap_or("HEAD");
        let repo = repo.ok_or_else(|| BadInput::new("--changed needs a Git repository"))?;
        let base = repo.resolve(since)?;
        let head = repo.resolve("HEAD")?;
        let facts = crate::project::base_facts(repo, addons, since, base, head)?;
        // Every unbumped addon, whatever level the guard reports it at.
        let level = match config.file.version_guard.unbumped {
            GuardLevel::Off => GuardLevel::Yellow,
            other => other,
        };
        for finding in check(addons, &facts, level, &config.guard_ignore) {
            if finding.kind == GuardKind::Unbumped
                && !targets.iter().any(|a| a.name == finding.addon)
            {
                if let Some(addon) = addons.get(&finding.addon) {
                    targets.push(addon);
                }
            }
        }
    } else if targets.is_empty() {
        return Err(BadInput::new("no addon to bump")
            .hint("name the addons (`odoo-ci bump acc_x`), or pass --changed --since REF")
            .into());
    }

    Ok(targets)
}

/// Raises each target's manifest version, rewriting only the version's text.
fn bump_all(
    targets: &[&Addon],
    addons: &AddonSet,
    repo: Option<&Repo>,
    args: &BumpArgs,
) -> anyhow::Result<Vec<Bumped>> {
    let mut done = Vec::new();
    for addon in targets {
        let source = std::fs::read_to_string(&addon.manifest_file)?;
        let fail = |e: BumpError| {
            BadInput::new(format!(
                "cannot bump `{}` ({}): {e}",
                addon.name,
                addon.manifest_file.display()
            ))
            .hint(e.hint())
        };
        let span = addon
            .manifest
            .version_span
            .ok_or(BumpError::NoVersion)
            .map_err(fail)?;
        let to = bump_version(&addon.manifest.version, addons.series, args.part).map_err(fail)?;
        let new_source = rewrite_version(&source, span, &to).map_err(fail)?;
        std::fs::write(&addon.manifest_file, new_source)?;
        done.push(Bumped {
            addon: addon.name.clone(),
            from: addon.manifest.version.clone(),
            to,
            manifest: repo
                .and_then(|r| r.relative(&addon.manifest_file))
                .unwrap_or_else(|| addon.manifest_file.to_string_lossy().into_owned()),
        });
    }

    Ok(done)
}

/// One commit of the bumped manifests, listing each change.
fn commit(repo: Option<&Repo>, done: &[Bumped]) -> anyhow::Result<()> {
    let repo = repo.ok_or_else(|| BadInput::new("--commit needs a Git repository"))?;
    let mut message = String::from(if done.len() == 1 {
        "Bump addon version\n\n"
    } else {
        "Bump addon versions\n\n"
    });
    for b in done {
        let _ = writeln!(message, "- {}: {} → {}", b.addon, b.from, b.to);
    }
    let paths: Vec<&str> = done.iter().map(|b| b.manifest.as_str()).collect();
    repo.commit_paths(&paths, &message)?;
    Ok(())
}
