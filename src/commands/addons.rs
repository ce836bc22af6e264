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

/// Where the addons are: a root, the addons folders under it and the series (when known).
struct AddonsSource {
    root: PathBuf,
    dirs: Vec<PathBuf>,
    series: Option<Series>,
}

/// The addons from `--addons-path` (relative to the current folder) or from the config.
fn load_addons(config: &Path, args: &AddonsSourceArgs) -> anyhow::Result<(PathBuf, AddonSet)> {
    let source = addons_source(config, args)?;
    let set = discover(&source.root, &source.dirs, source.series)?;
    Ok((source.root, set))
}

fn addons_source(config: &Path, args: &AddonsSourceArgs) -> anyhow::Result<AddonsSource> {
    let series = super::series_flag(args.series.as_deref())?;
    if !args.addons_paths.is_empty() {
        return Ok(AddonsSource {
            root: PathBuf::from("."),
            dirs: args.addons_paths.clone(),
            series,
        });
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
    Ok(AddonsSource {
        series: Some(series.unwrap_or(cfg.file.odoo.series)),
        root: cfg.root,
        dirs: cfg.addons_dirs,
    })
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
    let source = addons_source(config, &args.source)?;
    let repo = Repo::discover(&source.root)?;
    let base = repo.resolve(&args.since)?;
    let head = repo.resolve(&args.git_ref)?;
    // The addons of the commit named, not of the working tree.
    let set = if repo.resolve("HEAD").ok() == Some(head) {
        discover(&source.root, &source.dirs, source.series)?
    } else {
        crate::addons::at_commit::discover_at_commit(
            &repo,
            head,
            &source.root,
            &source.dirs,
            source.series,
        )?
    };
    let g = AddonGraph::build(&set)?;
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
