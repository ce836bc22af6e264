//! `odoo-ci addons list|graph|changed`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::addons::{discover, AddonGraph, AddonSet, Series};
use crate::cli::{AddonsChangedArgs, AddonsCommand, AddonsSourceArgs, Format};
use crate::config::Config;
use crate::exit::{self, BadInput};
use crate::repo::Repo;

pub fn run(config: &Path, command: &AddonsCommand) -> anyhow::Result<u8> {
    match command {
        AddonsCommand::List(args) => list(config, &args.source),
        AddonsCommand::Graph(args) => graph(config, args),
        AddonsCommand::Changed(args) => changed(config, args),
    }
}

/// The addons from `--addons-path` (relative to the current folder) or from the config.
fn load_addons(config: &Path, args: &AddonsSourceArgs) -> anyhow::Result<(PathBuf, AddonSet)> {
    let series = args
        .series
        .as_deref()
        .map(|s| {
            s.parse::<Series>()
                .map_err(|e| BadInput::new(format!("--series: {e}")))
        })
        .transpose()?;
    if !args.addons_paths.is_empty() {
        let root = PathBuf::from(".");
        let set = discover(&root, &args.addons_paths, series)?;
        return Ok((root, set));
    }
    if !config.exists() {
        return Err(BadInput::new(format!(
            "no `{}` here and no --addons-path given",
            config.display()
        ))
        .hint("pass --addons-path DIR (and --series 17.0), or --config FILE")
        .into());
    }
    let cfg = Config::load(config)?;
    let set = discover(
        &cfg.root,
        &cfg.addons_dirs,
        Some(series.unwrap_or(cfg.file.odoo.series)),
    )?;
    Ok((cfg.root, set))
}

#[derive(Serialize)]
struct AddonRow<'a> {
    name: &'a str,
    version: &'a str,
    path: &'a str,
    depends: &'a [String],
    installable: bool,
}

fn list(config: &Path, args: &AddonsSourceArgs) -> anyhow::Result<u8> {
    let (_, set) = load_addons(config, args)?;
    let rows: Vec<AddonRow<'_>> = set
        .addons
        .iter()
        .map(|a| AddonRow {
            name: &a.name,
            version: &a.version,
            path: &a.rel_dir,
            depends: &a.manifest.depends,
            installable: a.manifest.installable,
        })
        .collect();
    let text = match args.format {
        Format::Json => super::to_json(&rows)?,
        Format::Text => {
            let mut out = String::new();
            for r in &rows {
                let flag = if r.installable {
                    ""
                } else {
                    "  (not installable)"
                };
                let _ = writeln!(out, "{:<32} {:<16} {}{flag}", r.name, r.version, r.path);
            }
            let _ = writeln!(out, "{} addons, series {}", rows.len(), set.series);
            out
        }
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}

#[derive(Serialize)]
struct GraphOut<'a> {
    install_order: &'a [String],
    depends: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    external: &'a std::collections::BTreeSet<String>,
}

fn graph(config: &Path, args: &AddonsSourceArgs) -> anyhow::Result<u8> {
    let (_, set) = load_addons(config, args)?;
    let g = AddonGraph::build(&set)?;
    let text = match args.format {
        Format::Json => super::to_json(&GraphOut {
            install_order: &g.install_order,
            depends: &g.depends,
            external: &g.external,
        })?,
        Format::Text => {
            let mut out = String::from("install order:\n");
            for (i, name) in g.install_order.iter().enumerate() {
                let deps: Vec<&str> = g.depends[name].iter().map(String::as_str).collect();
                let deps = if deps.is_empty() {
                    String::new()
                } else {
                    format!("  ← {}", deps.join(", "))
                };
                let _ = writeln!(out, "  {:>3}. {name}{deps}", i + 1);
            }
            let ext: Vec<&str> = g.external.iter().map(String::as_str).collect();
            let _ = writeln!(
                out,
                "external: {}",
                if ext.is_empty() {
                    "(none)".to_string()
                } else {
                    ext.join(", ")
                }
            );
            out
        }
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}

#[derive(Serialize)]
struct ChangedOut {
    since: String,
    changed: Vec<String>,
    /// The changed addons plus the repo addons that depend on them.
    affected: Vec<String>,
}

fn changed(config: &Path, args: &AddonsChangedArgs) -> anyhow::Result<u8> {
    let (root, set) = load_addons(config, &args.source)?;
    let g = AddonGraph::build(&set)?;
    let repo = Repo::discover(&root)?;
    let base = repo.resolve(&args.since)?;
    let head = repo.resolve(&args.git_ref)?;
    let facts = crate::project::base_facts(&repo, &set, &args.since, base, head)?;
    let changed: Vec<String> = facts.changed_files.into_keys().collect();
    let affected = g.with_dependents(changed.iter().map(String::as_str));
    let out = ChangedOut {
        since: args.since.clone(),
        changed,
        affected,
    };
    let text = match args.source.format {
        Format::Json => super::to_json(&out)?,
        Format::Text => format!(
            "changed since {}: {}\naffected (with dependents): {}\n",
            out.since,
            if out.changed.is_empty() {
                "(none)".to_string()
            } else {
                out.changed.join(", ")
            },
            if out.affected.is_empty() {
                "(none)".to_string()
            } else {
                out.affected.join(", ")
            },
        ),
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}
