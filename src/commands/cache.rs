//! `odoo-ci cache key`: the development template's key, for a CI cache to carry the
//! template folder between jobs (`actions/cache`, GitLab `cache:`).

use std::path::Path;

use crate::cli::CacheCommand;
use crate::plan::ExecutorKind;

pub fn run(config: &Path, cmd: &CacheCommand) -> anyhow::Result<u8> {
    let CacheCommand::Key(args) = cmd;
    let project = crate::project::load(config, &args.target.overrides())?;
    let cache_dir = crate::cachedir::root();
    let identity = match args.executor {
        ExecutorKind::Docker => {
            let engine = crate::executor::docker::Engine::from_env();
            super::require_docker(&engine)?;
            let base = &project.config.file.odoo.image;
            crate::stages::runtime::docker_identity(&project, base, (&engine, &cache_dir))?
        }
        ExecutorKind::Local => crate::stages::development::local_identity(
            &project,
            project.config.file.odoo.command.as_deref(),
        )?,
    };
    let root = crate::stages::runtime::files_root(&project, &cache_dir)?;
    let dev = &project.config.file.development;
    let assets = crate::plan::template_assets(project.addons.series, project.http_case_files());
    let key = crate::stages::development::template_key(
        &project,
        &root,
        &identity,
        (&dev.preinstall, assets.is_some()),
    );
    super::print_stdout(&format!("{key}\n"))?;
    Ok(0)
}
