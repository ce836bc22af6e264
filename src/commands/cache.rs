//! `odoo-ci cache key`: the development template's key, for a CI cache to carry the
//! template folder between jobs (`actions/cache`, GitLab `cache:`).

use std::path::Path;

use crate::cli::CacheCommand;
use crate::context::Overrides;
use crate::plan::ExecutorKind;

pub fn run(config: &Path, cmd: &CacheCommand) -> anyhow::Result<u8> {
    let CacheCommand::Key(args) = cmd;
    let overrides = Overrides {
        branch: args.target.branch.clone(),
        git_ref: args.target.git_ref.clone(),
        base: args.target.base.clone(),
    };
    let project = crate::project::load(config, &overrides)?;
    let cache_dir = super::test::cache_dir();
    let identity = match args.executor {
        ExecutorKind::Docker => {
            let engine = crate::executor::docker::Engine::from_env();
            super::require_docker(&engine)?;
            crate::stages::runtime::docker_identity(&project, &engine, &cache_dir)?
        }
        ExecutorKind::Local => crate::stages::development::local_identity(
            &project,
            project.config.file.odoo.command.as_deref(),
        )?,
    };
    let root = crate::stages::runtime::files_root(&project, &cache_dir)?;
    let key = crate::stages::development::template_key(
        &project,
        &root,
        &identity,
        &project.config.file.development.preinstall,
    );
    super::print_stdout(&format!("{key}\n"))?;
    Ok(0)
}
