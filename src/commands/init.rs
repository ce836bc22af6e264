//! `odoo-ci init`: a starting `.odoo-ci.yml` from what the repository holds — the series
//! its manifests name and the folders that hold its addons (a submodule's said so) — with
//! the next keys a team sets shown as comments. It is checked as `plan` reads it before it
//! is written; an existing file is never replaced unless asked.

use std::fmt::Write;
use std::path::Path;

use crate::addons::layout::{self, Layout};
use crate::cli::InitArgs;
use crate::exit::{self, BadInput};

/// The JSON Schema of `.odoo-ci.yml` (kept true to the config types by a test).
pub const SCHEMA: &str = include_str!("../../docs/odoo-ci.schema.json");

/// `odoo-ci schema`.
pub fn schema() -> anyhow::Result<u8> {
    super::print_stdout(SCHEMA)?;
    Ok(exit::OK)
}

pub fn run(config_path: &Path, args: &InitArgs) -> anyhow::Result<u8> {
    let root = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if config_path.exists() && !args.force && !args.stdout {
        return Err(
            BadInput::new(format!("{} exists already", config_path.display()))
                .hint(
                    "edit it, pass --force to replace it, or --stdout to see what init would write",
                )
                .into(),
        );
    }
    let layout = layout::find(&root)?;
    let series = match (&args.series, &layout.series) {
        (Some(given), _) => given.clone(),
        (None, Some(found)) => found.clone(),
        (None, None) => {
            return Err(BadInput::new(
                "no manifest here names its series (a version like 17.0.1.0.0)",
            )
            .hint("pass the Odoo series: `odoo-ci init --series 17.0`")
            .into())
        }
    };
    let text = config_text(&series, &layout, &submodule_paths(&root));
    // What plan will read: a starting config that does not load is a bug, not the user's.
    crate::config::Config::from_source(config_path, text.clone())?;
    if args.stdout {
        super::print_stdout(&text)?;
        return Ok(exit::OK);
    }
    std::fs::write(config_path, &text)?;
    let addons: usize = layout.paths.values().map(Vec::len).sum();
    eprintln!(
        "wrote {}: series {series}, {addons} addons in {} folder(s); next: `odoo-ci plan`",
        config_path.display(),
        layout.paths.len()
    );
    Ok(exit::OK)
}

/// The submodules' folders, relative to the project (none outside a git checkout).
fn submodule_paths(root: &Path) -> Vec<String> {
    let Ok(repo) = crate::repo::Repo::discover(root) else {
        return Vec::new();
    };
    let Ok(head) = repo.resolve("HEAD") else {
        return Vec::new();
    };
    repo.submodules_at(head)
        .map(|subs| subs.into_iter().map(|s| s.path).collect())
        .unwrap_or_default()
}

fn config_text(series: &str, layout: &Layout, submodules: &[String]) -> String {
    let mut out = String::new();
    out.push_str(
        "# odoo-ci: the Odoo.sh pipeline in your CI. Every key: README.md, \"Configuration\".\n\
         # Editor completion: `odoo-ci schema > .odoo-ci.schema.json`, then make the first\n\
         # line `# yaml-language-server: $schema=.odoo-ci.schema.json`.\n",
    );
    let _ = writeln!(out, "odoo:\n  series: \"{series}\"");
    let _ = writeln!(
        out,
        "  # image: odoo:{series}          # the default: the official image"
    );
    out.push_str(
        "  # extra_addons_paths: [\"${ENTERPRISE_DIR:-../enterprise}\"]   # Odoo Enterprise\n",
    );
    if layout.paths.is_empty() {
        out.push_str("addons_paths: [\".\"]   # no addon found yet: where yours will be\n");
    } else {
        out.push_str("addons_paths:\n");
        for (path, addons) in &layout.paths {
            let from = match submodules
                .iter()
                .any(|s| path == s || path.starts_with(&format!("{s}/")))
            {
                true => "a submodule: installed when yours need them, not tested",
                false => "tested",
            };
            let _ = writeln!(out, "  - \"{path}\"   # {} addon(s), {from}", addons.len());
        }
    }
    out.push_str(
        "# Templates and test databases: on the server the PG* variables name (a CI service)\n\
         # when they are set, else on a PostgreSQL odoo-ci runs itself, whose whole cluster\n\
         # travels with the template cache (the fastest fresh CI job).\n\
         postgres:\n  image: postgres:16\n",
    );
    out.push_str(
        "# production:\n#   database: ${PRODUCTION_DB_URL}   # then main deploys, staging* copies it\n\
         # Branches by default: main/master → production and staging* → staging (with a\n\
         # production database), every other branch → development.\n",
    );
    out
}
