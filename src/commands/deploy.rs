//! `odoo-ci deploy`, `rollback`, `deployments list` and `snapshots …`: production.

use std::path::Path;

use crate::cli::{DeployArgs, DeploymentsCommand, Format, RollbackArgs, SnapshotsCommand};
use crate::config::{Config, Stage};
use crate::context::Overrides;
use crate::exit::{self, BadInput};
use crate::plan::{make_plan_as, Choices, RestoreSource};
use crate::result::production::Trigger;
use crate::result::Detail;
use crate::snapshots::{self, SnapshotRecord};
use crate::stages::production::{self, DeployOptions};
use crate::targets::production::Production;
use crate::targets::{production_filestore, production_source};

pub fn deploy(config: &Path, args: &DeployArgs) -> anyhow::Result<u8> {
    crate::cancel::install();
    let manual = args.sha.is_some() || args.tag.is_some() || args.target.git_ref.is_some();
    let overrides = Overrides {
        branch: args.target.branch.clone(),
        git_ref: args
            .sha
            .clone()
            .or_else(|| args.tag.clone())
            .or_else(|| args.target.git_ref.clone()),
        base: args.target.base.clone(),
    };
    let project = crate::project::load(config, &overrides)?;
    let choices = Choices {
        update_mode: args.update_mode,
        ..Choices::default()
    };
    let plan = super::plan_with_database(&project, Stage::Production, choices)?;
    let production = super::require_production(&project.config)?;
    super::require_pg_clients(&[&production.server])?;
    super::print_plan(&project, &plan);
    let opts = DeployOptions {
        output: args.output.clone(),
        cache_dir: crate::cachedir::root(),
        no_wait: args.no_wait,
        trigger: deploy_trigger(manual, project.context.trigger),
        odoo: super::require_odoo_env(&project.config, Stage::Production)?,
        backups: super::require_backups(
            &project.config,
            plan.first::<crate::plan::steps::Backup>().is_some(),
        )?,
    };
    let mut reporters = super::reporters(&project, &plan, &args.output);
    let result = production::deploy(&project, &plan, &production, &opts, &mut reporters)?;
    Ok(super::conclude(
        reporters,
        &result,
        project.context.provider,
        false,
    ))
}

/// A deploy is a `push` only when the CI says a push started it; a commit named on the
/// command line, a manual pipeline or a terminal make it `manual`.
fn deploy_trigger(named_commit: bool, context: crate::context::Trigger) -> Trigger {
    match context {
        crate::context::Trigger::Push if !named_commit => Trigger::Push,
        _ => Trigger::Manual,
    }
}

pub fn rollback(config: &Path, args: &RollbackArgs) -> anyhow::Result<u8> {
    crate::cancel::install();
    let project = crate::project::load(
        config,
        &Overrides {
            branch: Some("rollback".into()),
            ..Overrides::default()
        },
    )?;
    let mut plan = make_plan_as(&project.facts(), Some(Stage::Production))?;
    plan.require_variables()?;
    let production = super::require_production(&project.config)?;
    super::require_pg_clients(&[&production.server])?;
    let from = match (&args.to, &args.backup) {
        (_, Some(id)) => RestoreSource::Backup(id.clone()),
        (Some(key), None) => RestoreSource::Snapshot(key.clone()),
        (None, None) => {
            return Err(BadInput::new("nothing to roll back to")
                .hint("give `--to SNAPSHOT|DEPLOYMENT` or `--backup ID`")
                .into())
        }
    };
    (plan.steps, plan.on_failure) = crate::plan::rollback_steps(&project.config, &from);
    super::print_plan(&project, &plan);
    let opts = DeployOptions {
        output: args.output.clone(),
        cache_dir: crate::cachedir::root(),
        no_wait: args.no_wait,
        trigger: Trigger::Rollback,
        odoo: super::require_odoo_env(&project.config, Stage::Production)?,
        backups: super::require_backups(&project.config, matches!(from, RestoreSource::Backup(_)))?,
    };
    let mut reporters = super::reporters(&project, &plan, &args.output);
    let result =
        production::rollback_to(&project, &plan, &production, &opts, &from, &mut reporters)?;
    Ok(super::conclude(
        reporters,
        &result,
        project.context.provider,
        false,
    ))
}

pub fn deployments(config: &Path, cmd: &DeploymentsCommand) -> anyhow::Result<u8> {
    let config = Config::load(config)?;
    let (server, database) = production_source(&config)?;
    let DeploymentsCommand::List { limit, format } = cmd;
    let mut all = production::history(&server, &database)?;
    all.truncate(*limit);
    let text = match format {
        Format::Json => super::to_json(&all)?,
        Format::Text => {
            let mut out = String::new();
            for r in &all {
                let Detail::Production(d) = &r.detail else {
                    continue;
                };
                out.push_str(&format!(
                    "{}  {}  {:<8} {:<6} {:<8} {}  {} ms{}\n",
                    d.id,
                    r.started_at,
                    format!("{:?}", d.trigger).to_lowercase(),
                    r.colour.as_str(),
                    d.active_colour.map(|c| c.as_str()).unwrap_or("-"),
                    r.commit
                        .as_deref()
                        .map(|c| &c[..c.len().min(12)])
                        .unwrap_or("-"),
                    r.total_ms,
                    if d.rolled_back { "  (rolled back)" } else { "" }
                ));
            }
            if all.is_empty() {
                out.push_str("no deployments\n");
            }
            out
        }
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}

pub fn snapshots(config_path: &Path, cmd: &SnapshotsCommand) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let (server, database) = production_source(&config)?;
    let mut admin = server.connect("postgres")?;
    let project = crate::project::load(
        config_path,
        &Overrides {
            branch: Some("snapshot".into()),
            ..Overrides::default()
        },
    )?;
    let filestore = production_filestore(&project.config, &database)?;
    let snapshots_dir = production::snapshots_dir(filestore.as_deref(), &crate::cachedir::root());
    // Copying the filestore needs production's engine; only the commands that copy connect.
    let engine = || -> anyhow::Result<Option<crate::filestore::EngineFiles>> {
        match filestore {
            Some(_) => {
                let production = Production::resolve(&project.config)?;
                Ok(Some(production::standalone_engine_files(
                    &project,
                    &production,
                )?))
            }
            None => Ok(None),
        }
    };
    match cmd {
        SnapshotsCommand::List { format } => {
            let all = snapshots::list(&mut admin, &database)?;
            super::print_stdout(&snapshots_text(&all, *format)?)?;
        }
        SnapshotsCommand::Create { pin } => {
            let engine = engine()?;
            let files = snapshot_files(filestore.as_deref(), &snapshots_dir, engine.as_ref());
            let snap = snapshots::create(
                &server,
                &database,
                files.as_ref(),
                SnapshotRecord {
                    production: database.clone(),
                    created: chrono_now(&mut admin)?,
                    commit: None,
                    deployment: None,
                    pinned: *pin,
                    reason: "manual".into(),
                },
                &mut crate::stages::heartbeat::streaming(
                    "snapshot",
                    &database,
                    &mut crate::report::terminal::Terminal::stderr(),
                ),
            )?;
            println!("{}", snap.name);
        }
        SnapshotsCommand::Pin { name, unpin } => {
            let mut found = snapshots::find(&mut admin, &database, name)?;
            found.record.pinned = !unpin;
            snapshots::save_record(&mut admin, &found.name, &found.record)?;
            println!(
                "{} {}",
                if *unpin { "unpinned" } else { "pinned" },
                found.name
            );
        }
        SnapshotsCommand::Prune { keep } => {
            let keep = keep.unwrap_or(config.file.production.snapshots.keep as usize);
            if keep == 0 {
                return Err(BadInput::new("--keep 0 would drop every snapshot")
                    .hint("keep at least one")
                    .into());
            }
            let engine = engine()?;
            let files = snapshot_files(filestore.as_deref(), &snapshots_dir, engine.as_ref());
            for name in snapshots::prune(&server, &database, keep, files.as_ref())? {
                println!("dropped {name}");
            }
        }
    }
    Ok(exit::OK)
}

/// `snapshots list`'s output.
fn snapshots_text(all: &[snapshots::Snapshot], format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return super::to_json(&all);
    }
    let mut out = String::new();
    for s in all {
        out.push_str(&format!(
            "{}  {}  {:<11} {}{}\n",
            s.name,
            s.record.created,
            s.record.reason,
            s.record.commit.as_deref().unwrap_or("-"),
            if s.record.pinned { "  (pinned)" } else { "" }
        ));
    }
    if all.is_empty() {
        out.push_str("no snapshots\n");
    }
    Ok(out)
}

fn snapshot_files<'a>(
    filestore: Option<&'a Path>,
    snapshots_dir: &'a Path,
    engine: Option<&'a crate::filestore::EngineFiles>,
) -> Option<snapshots::SnapshotFiles<'a>> {
    Some(snapshots::SnapshotFiles {
        filestore: filestore?,
        snapshots_dir,
        engine: engine?,
    })
}

fn chrono_now(admin: &mut postgres::Client) -> anyhow::Result<String> {
    Ok(admin
        .query_one(
            "SELECT to_char(now() at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[],
        )?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Trigger as Ctx;

    #[test]
    fn only_a_ci_push_of_the_branch_is_a_push() {
        assert_eq!(deploy_trigger(false, Ctx::Push), Trigger::Push);
        assert_eq!(deploy_trigger(true, Ctx::Push), Trigger::Manual);
        assert_eq!(deploy_trigger(false, Ctx::Manual), Trigger::Manual);
        assert_eq!(deploy_trigger(false, Ctx::PullRequest), Trigger::Manual);
    }
}
