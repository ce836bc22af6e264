//! `odoo-ci stage` (the staging stage) and `odoo-ci staging list|drop`.

use std::path::Path;

use crate::cli::{Format, StageArgs, StagingCommand};
use crate::config::Stage;
use crate::exit::{self, BadInput};
use crate::plan::Choices;
use crate::stages::staging::{self, StagingOptions};

pub fn run(config: &Path, args: &StageArgs) -> anyhow::Result<u8> {
    crate::cancel::install();
    let project = crate::project::load(config, &args.target.overrides())?;
    let choices = Choices {
        push: args.push,
        from_backup: args.from_backup.clone(),
        from_snapshot: args.from_snapshot.clone(),
        ..Choices::default()
    };
    let plan = super::plan_with_database(&project, Stage::Staging, choices)?;
    let cache_dir = crate::cachedir::root();
    let place = require_staging(&project.config, &cache_dir, &plan.branch)?;
    super::require_pg_clients(&[&place.source, &place.server])?;
    super::print_plan(&project, &plan);
    let opts = StagingOptions {
        output: args.output.clone(),
        cache_dir,
        odoo: super::require_odoo_env(&project.config, Stage::Staging)?,
        backups: super::require_backups(&project.config, args.from_backup.is_some())?,
    };
    let mut reporters = super::reporters(&project, &plan, &args.output);
    let result = staging::run(&project, &plan, &place, &opts, &mut reporters);
    Ok(super::conclude(
        reporters,
        &result,
        project.context.provider,
        false,
    ))
}

/// Where staging acts, resolved and reached before anything runs: the server the copies go
/// on and the Docker engine their servers run on. A missing or unreachable piece is a setup
/// error (exit 2, with what to do), not a red result: nothing was copied.
fn require_staging(
    config: &crate::config::Config,
    cache_dir: &Path,
    branch: &str,
) -> anyhow::Result<crate::targets::staging::Staging> {
    let engine = crate::executor::docker::Engine::from_env();
    super::require_docker(&engine)?;
    if config.file.engine == crate::config::EngineKind::Swarm {
        let catcher = matches!(
            config.file.staging.mail_catcher,
            Some(crate::config::MailCatcherSetting::Run(_))
        );
        super::require_swarm(
            &engine,
            &config.file.swarm.clone().unwrap_or_default(),
            catcher.then_some("the branch's mail catcher"),
        )?;
    }
    let place = crate::targets::staging::Staging::resolve(config, cache_dir, branch).map_err(|e| {
        exit::setup_error(e, "check the `staging` and `production` sections of .odoo-ci.yml and the variables they name; nothing was copied")
    })?;
    place.server.connect("postgres").map_err(|e| {
        BadInput::new(format!("the staging database server: {e}"))
            .hint("check `staging.database` (server, credentials) and that this runner can reach it; nothing was copied")
    })?;
    Ok(place)
}

pub fn staging(config: &Path, cmd: &StagingCommand) -> anyhow::Result<u8> {
    let config = crate::config::Config::load(config)?;
    let (source, _) = crate::targets::production_source(&config)?;
    let server = crate::targets::staging_server(&config, &source)?;
    let mut admin = server.connect("postgres")?;
    let scope = crate::project::scope_for(&config);
    let all = crate::stages::staging_dbs::list(&mut admin, &scope)?;
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
        StagingCommand::Drop { names, of_branch } => drop(
            &config,
            (&mut admin, &scope),
            &all,
            names,
            of_branch.as_deref(),
        ),
    }
}

/// `odoo-ci staging drop`: the named databases and those of `of_branch`, each checked to
/// be this project's, with their servers and filestores; the branch's mail catcher too.
fn drop(
    config: &crate::config::Config,
    (admin, scope): (&mut postgres::Client, &str),
    all: &[crate::stages::staging_dbs::StagingDatabase],
    names: &[String],
    of_branch: Option<&str>,
) -> anyhow::Result<u8> {
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
                .filter(|d| d.branch == branch)
                .map(|d| d.name.clone()),
        );
    }
    let docker = crate::executor::docker::Engine::from_env().connect().ok();
    let files =
        crate::targets::staging_data_dir(config, &crate::cachedir::root())?.join("filestore");
    let (mut dropped, mut left) = (Vec::new(), Vec::new());
    for name in &targets {
        let discarded =
            crate::stages::staging_dbs::discard(admin, docker.as_ref(), scope, name, &files);
        match discarded.is_complete() {
            true => {
                println!("dropped {name}");
                dropped.push(name.clone());
            }
            false => left.push(discarded.describe()),
        }
    }
    environments_gone(all, &dropped);
    if !left.is_empty() {
        return Err(anyhow::anyhow!(left.join("\n")));
    }
    if let (Some(branch), Some(docker)) = (of_branch, &docker) {
        remove_catcher(docker, scope, branch)?;
        unroute(config, (scope, branch), docker)?;
    }
    Ok(exit::OK)
}

/// The dropped `branch`'s route on the Caddy of `staging.proxy`, when it has one.
fn unroute(
    config: &crate::config::Config,
    (scope, branch): (&str, &str),
    docker: &bollard::Docker,
) -> anyhow::Result<()> {
    let Some(proxy) = &config.file.staging.proxy else {
        return Ok(());
    };
    let routed = crate::stages::staging_route::Routed {
        caddy: &proxy.caddy,
        server: &proxy.server,
        scope,
        branch,
        docker,
        image: &config.file.odoo.image,
    };
    routed.unroute()?;
    println!("removed the route of `{branch}` on {}", proxy.caddy);
    Ok(())
}

/// The mail catcher odoo-ci ran for the dropped `branch`, with the mail it holds.
fn remove_catcher(docker: &bollard::Docker, scope: &str, branch: &str) -> anyhow::Result<()> {
    let server = crate::db::staging::container_name(scope, branch);
    if crate::executor::mail_catcher::remove_of(docker, scope, &server)? > 0 {
        println!("removed the mail catcher {server}-mail");
    }
    Ok(())
}

/// The GitHub environments of branches left with no staging database: marked inactive.
fn environments_gone(all: &[crate::stages::staging_dbs::StagingDatabase], dropped: &[String]) {
    let host = crate::hosts::HostEnv::of_process();
    if host.provider != crate::context::Provider::Github {
        return;
    }
    let mut branches: Vec<&str> = all
        .iter()
        .filter(|d| dropped.contains(&d.name))
        .map(|d| d.branch.as_str())
        .collect();
    branches.sort_unstable();
    branches.dedup();
    for branch in branches {
        let left = all
            .iter()
            .any(|d| d.branch == branch && !dropped.contains(&d.name));
        if !left {
            let environment = crate::hosts::deployments::staging_environment(branch);
            crate::hosts::deployments::environment_gone(
                &host,
                &environment,
                "its staging database was dropped",
            );
        }
    }
}
