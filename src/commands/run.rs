//! `odoo-ci run`: what a CI job calls. Maps the branch to its stage and runs that stage.

use std::path::Path;

use crate::cli::RunArgs;
use crate::config::Stage;

pub fn run(config: &Path, run: &RunArgs) -> anyhow::Result<u8> {
    let args = &run.test;
    let project = crate::project::load(config, &args.target.overrides())?;
    let plan = crate::plan::make_plan_as(&project.facts(), None)?;
    match plan.stage {
        Stage::Development => super::test::run(config, args),
        Stage::Staging => super::stage::run(
            config,
            &crate::cli::StageArgs {
                target: args.target.clone(),
                output: args.output.clone(),
                push: run.push,
                from_backup: None,
                from_snapshot: None,
            },
        ),
        Stage::Production => super::deploy::deploy(
            config,
            &crate::cli::DeployArgs {
                target: args.target.clone(),
                sha: None,
                tag: None,
                no_wait: run.no_wait,
                update_mode: run.update_mode,
                output: args.output.clone(),
            },
        ),
    }
}
