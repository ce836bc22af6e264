//! `odoo-ci stage` (the staging stage) and `odoo-ci staging list|drop`.

use std::path::Path;

use crate::cli::{Format, StageArgs, StagingCommand};
use crate::config::Stage;
use crate::context::Overrides;
use crate::db;
use crate::exit::{self, BadInput};
use crate::odoo::Colour;
use crate::plan::make_plan_as;
use crate::stages::staging::{self, StagingOptions};
use crate::style::Style;

pub fn run(config: &Path, args: &StageArgs) -> anyhow::Result<u8> {
    crate::cancel::install();
    let overrides = Overrides {
        branch: args.target.branch.clone(),
        git_ref: args.target.git_ref.clone(),
        base: args.target.base.clone(),
    };
    let project = crate::project::load(config, &overrides)?;
    let plan = make_plan_as(&project.facts(), Some(Stage::Staging))?;
    plan.ready()?;
    staging::production_source(&project.config).map_err(|e| {
        BadInput::new(format!("{e:#}")).hint(
            "staging copies production: set `production.database` (e.g. `${PRODUCTION_DB_URL}`)",
        )
    })?;
    let s = Style::for_stderr();
    super::print_plan(&project, &plan);
    let opts = StagingOptions {
        output: args.output.clone(),
        cache_dir: super::test::cache_dir(),
        push: args.push,
    };
    let reporting = super::StageReporting::start(&project, &plan);
    let result = staging::run(&project, &plan, &opts)?;
    for c in &result.neutralization {
        let mark = if c.ok { s.green("✓") } else { s.red("✗") };
        eprintln!("{mark} {}: {}", c.name, c.detail);
    }
    for r in &result.reasons {
        eprintln!("{} {r}", s.red("error:"));
    }
    if result.colour == Colour::Red {
        eprintln!(
            "{} staging failed; results in {}",
            s.red("red:"),
            args.output.display()
        );
    } else {
        eprintln!(
            "{} staging `{}` is up at {}",
            s.green("green:"),
            result.database.as_deref().unwrap_or_default(),
            result.url.as_deref().unwrap_or_default()
        );
    }
    Ok(reporting.finish(&args.output, result.colour, false))
}

pub fn staging(config: &Path, cmd: &StagingCommand) -> anyhow::Result<u8> {
    let config = crate::config::Config::load(config)?;
    let (source, _) = staging::production_source(&config)?;
    let server = match &config.file.postgres.url {
        Some(_) => crate::stages::runtime::pg_server(&config)?,
        None => source,
    };
    let mut admin = server.connect("postgres")?;
    let scope = crate::project::scope_for(&config);
    let all = staging::list(&mut admin, &scope)?;
    match cmd {
        StagingCommand::List { format } => {
            let text = match format {
                Format::Json => super::to_json(&all)?,
                Format::Text => {
                    let mut out = String::new();
                    for d in &all {
                        out.push_str(&format!("{}  {}\n", d.name, d.branch));
                    }
                    if all.is_empty() {
                        out.push_str("no staging databases\n");
                    }
                    out
                }
            };
            super::print_stdout(&text)?;
            Ok(exit::OK)
        }
        StagingCommand::Drop { names, of_branch } => {
            if names.is_empty() && of_branch.is_none() {
                return Err(BadInput::new("nothing to drop")
                    .hint("name databases (see `odoo-ci staging list`) or pass --of-branch B")
                    .into());
            }
            let mut targets = Vec::new();
            for name in names {
                if !all.iter().any(|d| &d.name == name) {
                    return Err(BadInput::new(format!(
                        "`{name}` is not a staging database odoo-ci made for this project"
                    ))
                    .hint("see `odoo-ci staging list`")
                    .into());
                }
                targets.push(name.clone());
            }
            if let Some(branch) = of_branch {
                targets.extend(
                    all.iter()
                        .filter(|d| &d.branch == branch)
                        .map(|d| d.name.clone()),
                );
            }
            let docker = crate::executor::docker::connect().ok();
            for name in &targets {
                if let Some(docker) = &docker {
                    crate::executor::docker::remove_labelled(docker, "odoo-ci.database", name)?;
                }
                db::drop_database(&mut admin, name)?;
                println!("dropped {name}");
            }
            Ok(exit::OK)
        }
    }
}
