//! `odoo-ci test`: the development stage.

use std::path::{Path, PathBuf};

use crate::cli::TestArgs;
use crate::config::Stage;
use crate::exit::BadInput;
use crate::plan::{make_plan_as, shard, Choices, DatabaseFacts};
use crate::stages::development::{self, DevOptions};

pub fn run(config: &Path, args: &TestArgs) -> anyhow::Result<u8> {
    crate::cancel::install();
    let choices = choices(&args.choices)?;
    let project = crate::project::load(config, &args.target.overrides())?;
    let mut choices = choices;
    choices.template_cache = args.template_cache.clone();
    let facts = project.facts_with(choices, DatabaseFacts::NotRead);
    let plan = make_plan_as(&facts, Some(Stage::Development))?;
    plan.ready()?;
    require_keepable(&project.config, &plan)?;
    super::print_plan(&project, &plan);
    let cache = template_cache(&project, args.template_cache.as_deref());
    let (server, managed, odoo) = match plan.steps.first().map(|s| s.kind()) {
        None => (None, None, Default::default()),
        Some(first) => {
            if matches!(
                first,
                crate::plan::StepKind::Build | crate::plan::StepKind::Mount
            ) {
                super::require_docker(&crate::executor::docker::Engine::from_env())?;
            }
            // A managed server starts from the cluster the template cache carries.
            let (server, managed) = super::require_own_postgres(&project.config, cache.as_deref())?;
            let odoo = super::require_odoo_env(&project.config, Stage::Development)?;
            // Templates travel between jobs as a dump.
            if cache.is_some() {
                super::require_pg_clients(&[&server])?;
            }
            (Some(server), managed, odoo)
        }
    };
    let opts = DevOptions {
        server,
        output: args.output.clone(),
        no_cache: args.no_cache,
        keep: args.keep,
        cache_dir: crate::cachedir::root(),
        template_cache: cache,
        managed,
        odoo,
    };
    let mut reporters = super::reporters(&project, &plan, &args.output);
    let result = development::run(&project, &plan, &opts, &mut reporters);
    Ok(super::conclude(
        reporters,
        &result,
        project.context.provider,
        args.fail_on_warning,
    ))
}

/// A preview outlives the job: refused, before anything runs, where the engine goes with
/// the job, with the line of `development.keep`.
fn require_keepable(
    config: &crate::config::Config,
    plan: &crate::plan::Plan,
) -> anyhow::Result<()> {
    let Some(keep) = plan.first::<crate::plan::steps::Keep>() else {
        return Ok(());
    };
    let engine = crate::executor::docker::Engine::from_env();
    if let Some(swarm) = &keep.swarm {
        let catcher = keep.mail_catcher.is_some();
        super::require_swarm(
            &engine,
            swarm,
            catcher.then_some("the preview's mail catcher"),
        )?;
    }
    let previews = &config.file.previews;
    if engine.host_name().is_some() && previews.mail_catcher.is_some() && previews.proxy.is_none() {
        return Err(config
            .error_at(
                crate::diag::DiagKind::InvalidValue,
                "previews.mail_catcher",
                "a preview's mail catcher publishes its web UI on its engine's loopback, and this engine is remote (`DOCKER_HOST`): without `previews.proxy` no reviewer could read it",
            )
            .hint("set `previews.proxy` (the catcher's UI is then routed at the preview's URL prefixed with `mail-`), or unset `previews.mail_catcher` (the preview's mail then goes nowhere). Nothing ran")
            .into());
    }
    let Some(why) = engine_goes_with_the_job(&engine, |name| std::env::var(name).ok()) else {
        return Ok(());
    };
    Err(config
        .error_at(
            crate::diag::DiagKind::InvalidValue,
            "development.keep",
            format!("`development.keep` asks for a preview that stays up, but {why}"),
        )
        .hint("drive a Docker engine that stays up: `DOCKER_HOST` (ssh:// or tcp:// with TLS) to a host of yours, or a self-hosted runner (GitHub: `runs-on: self-hosted`; GitLab: a shell or docker-socket runner); or unset `development.keep`. Nothing ran")
        .into())
}

/// Why a server started on `engine` would be gone when the job ends, if it would: a
/// GitHub-hosted runner's own engine, or a GitLab job's `docker:dind` service (reached as
/// `tcp://docker:…`, the service's alias). `env` reads the job's variables.
fn engine_goes_with_the_job(
    engine: &crate::executor::docker::Engine,
    env: impl Fn(&str) -> Option<String>,
) -> Option<&'static str> {
    let is = |name: &str, value: &str| env(name).is_some_and(|v| v == value);
    match engine.host_name() {
        None if is("RUNNER_ENVIRONMENT", "github-hosted") => Some("this is a GitHub-hosted runner: its Docker engine is gone when the job ends, and the preview with it"),
        Some(host) if host == "docker" && is("GITLAB_CI", "true") => Some("`DOCKER_HOST` is the job's `docker:dind` service: it is gone when the job ends, and the preview with it"),
        _ => None,
    }
}

/// What the command line asks of the development plan.
pub fn choices(args: &crate::cli::DevChoiceArgs) -> anyhow::Result<Choices> {
    let shard = match &args.shard {
        Some(spec) => Some(shard::parse(spec).ok_or_else(|| {
            BadInput::new(format!("--shard `{spec}` is not K/N with 1 ≤ K ≤ N"))
                .hint("e.g. --shard 2/4")
        })?),
        None => None,
    };
    let durations = match &args.durations {
        Some(p) => shard::durations_from_junit(&std::fs::read_to_string(p).map_err(|e| {
            BadInput::new(format!("--durations {}: {e}", p.display()))
                .hint("pass the junit.xml of an earlier run, or leave --durations out")
        })?),
        None => Default::default(),
    };
    Ok(Choices {
        executor: args.executor,
        changed_only: args.changed_only,
        shard,
        durations,
        ..Choices::default()
    })
}

/// The template cache folder: `--template-cache`, else `development.template_cache`
/// (relative to the project).
pub fn template_cache(project: &crate::project::Project, flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        let config = &project.config;
        config
            .file
            .development
            .template_cache
            .as_ref()
            .map(|dir| config.root.join(dir))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::docker::Engine;

    fn goes(host: Option<&str>, vars: &[(&str, &str)]) -> bool {
        let engine = Engine::from_docker_host(host.map(str::to_string));
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        engine_goes_with_the_job(&engine, env).is_some()
    }

    #[test]
    fn a_preview_needs_an_engine_that_outlives_the_job() {
        let hosted = [("RUNNER_ENVIRONMENT", "github-hosted")];
        let gitlab = [("GITLAB_CI", "true")];
        assert!(goes(None, &hosted), "a GitHub-hosted runner's own engine");
        assert!(!goes(Some("ssh://deploy@previews.example"), &hosted));
        assert!(!goes(None, &[("RUNNER_ENVIRONMENT", "self-hosted")]));
        assert!(goes(Some("tcp://docker:2376"), &gitlab), "docker:dind");
        assert!(!goes(Some("tcp://previews.example:2376"), &gitlab));
        assert!(!goes(None, &gitlab), "a shell or docker-socket runner");
    }
}
