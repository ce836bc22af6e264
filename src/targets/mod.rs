//! Where each stage acts, resolved from the config and the environment before anything
//! runs: production's server, database, filestore and engine; staging's server. One
//! place, so staging, production and the snapshot commands can never disagree on it.

pub mod odoo_env;
pub mod production;
pub mod staging;

use std::path::{Path, PathBuf};

use crate::config::schema::UpdateMode;
use crate::config::{Config, PushMode, Stage};
use crate::db::staging as staging_dbs;
use crate::db::{self, PgServer};
use crate::executor::bluegreen::Reach;
use crate::executor::docker::Engine;
use crate::plan::{Choices, DatabaseFacts, InstalledFacts};
use crate::project::Project;

/// Production's server and database name, from `production.database`.
pub fn production_source(config: &Config) -> anyhow::Result<(PgServer, String)> {
    let template = config.file.production.database.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: `production.database` is not set: staging copies the production database \
             (e.g. `database: ${{PRODUCTION_DB_URL}}`)",
            config.path.display()
        )
    })?;
    let env = |k: &str| std::env::var(k).ok();
    let url = config.resolve("production.database", template, &env)?;
    let name = db::database_of_url(&url).ok_or_else(|| {
        anyhow::anyhow!(
            "`production.database` ({}) names no database: expected postgresql://user:password@host:port/dbname",
            db::mask_url(&url)
        )
    })?;
    Ok((PgServer::from_given_url(&url)?, name))
}

/// The host folder of production's filestore, when `production.data_dir` is set.
pub fn production_filestore(config: &Config, database: &str) -> anyhow::Result<Option<PathBuf>> {
    let Some(t) = &config.file.production.data_dir else {
        return Ok(None);
    };
    let env = |k: &str| std::env::var(k).ok();
    let dir = config.resolve("production.data_dir", t, &env)?;
    // Absolute: the engine's helpers and bind mounts need full paths.
    let dir = std::path::absolute(config.root.join(dir))?;
    Ok(Some(dir.join("filestore").join(database)))
}

/// `production.docker_host`, resolved, when the config sets one.
pub fn production_docker_host(config: &Config) -> anyhow::Result<Option<String>> {
    let Some(host) = &config.file.production.docker_host else {
        return Ok(None);
    };
    let env = |k: &str| std::env::var(k).ok();
    Ok(Some(config.resolve(
        "production.docker_host",
        host,
        &env,
    )?))
}

/// The server odoo-ci's own databases live on (templates, test databases, staging copies):
/// `postgres.url`, else the `PG*` variables, else a managed container of `postgres.image`.
pub fn pg_server(config: &Config) -> anyhow::Result<PgServer> {
    Ok(own_server(config, None)?.0)
}

/// [`pg_server`], and, when it is a managed container, which one — created, when it is
/// not there, from the cluster saved in `seed` (the template cache folder) if it has one.
pub fn own_server(
    config: &Config,
    seed: Option<&std::path::Path>,
) -> anyhow::Result<(PgServer, Option<crate::executor::managed_pg::Managed>)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(url) = &config.file.postgres.url {
        let url = config.resolve("postgres.url", url, &env)?;
        return Ok((PgServer::from_given_url(&url)?, None));
    }
    if let Some(server) = PgServer::from_env(&env) {
        return Ok((server, None));
    }
    if let Some(image) = &config.file.postgres.image {
        let engine = crate::executor::docker::Engine::from_env();
        if engine.reach() == crate::executor::docker::Reach::ThroughEngine {
            anyhow::bail!(
                "`postgres.image` runs PostgreSQL on the Docker engine's own loopback, which this runner cannot reach on a remote Docker engine (`DOCKER_HOST`): set `postgres.url` (or the PG* variables) to a server both reach, e.g. the job's `postgres` service"
            );
        }
        let docker = engine.connect().map_err(|e| {
            anyhow::anyhow!("`postgres.image` needs a Docker engine to run {image}: {e}")
        })?;
        // A fresh runner's engine has no `postgres:16`.
        pulled_when_missing(&docker, image)?;
        let scope = crate::project::scope_for(config);
        let managed = crate::executor::managed_pg::ensure(
            &docker,
            (&scope, image),
            std::time::Duration::from_secs(120),
            seed,
        )?;
        return Ok((managed.server.clone(), Some(managed)));
    }
    anyhow::bail!(
        "no PostgreSQL server: set `postgres.url` or `postgres.image` in {}, or the PGHOST/PGPORT/PGUSER/PGPASSWORD variables",
        config.path.display()
    )
}

/// Where staging's databases live: `postgres.url` when set, else production's server.
pub fn staging_server(config: &Config, production: &PgServer) -> anyhow::Result<PgServer> {
    match &config.file.postgres.url {
        Some(_) => pg_server(config),
        None => Ok(production.clone()),
    }
}

/// What the database a stage will update has installed, for the plan: production's for
/// production; for staging, the branch's staging database it reuses (`push: update`), else
/// production's (its copy starts as production is). Development reads nothing.
pub fn database_facts(project: &Project, stage: Stage, choices: &Choices) -> DatabaseFacts {
    if stage == Stage::Development {
        return DatabaseFacts::NotRead;
    }
    match read_installed(project, stage, choices) {
        Ok(facts) => DatabaseFacts::Read(facts),
        Err(e) => DatabaseFacts::Unavailable(format!("the database could not be read: {e:#}")),
    }
}

fn read_installed(
    project: &Project,
    stage: Stage,
    choices: &Choices,
) -> anyhow::Result<InstalledFacts> {
    let config = &project.config;
    let (source, production) = production_source(config)?;
    let mut facts = InstalledFacts::default();
    let mut database = production.clone();
    let mut server = source.clone();
    if stage == Stage::Staging
        && choices.push.unwrap_or(config.file.staging.push) == PushMode::Update
    {
        let target = staging_server(config, &source)?;
        let mut admin = target.connect("postgres")?;
        let all = staging_dbs::list(&mut admin, &project.scope)?;
        let branch = &project.context.branch;
        if let Some(reuse) = staging_dbs::of_branch(all, &project.scope, branch).pop() {
            facts.reuse = Some(reuse.clone());
            database = reuse;
            server = target;
        }
    }
    let mut conn = server.connect(&database)?;
    facts.modules = db::installed_modules(&mut conn)?;
    let mode = choices
        .update_mode
        .unwrap_or(config.file.production.update_mode);
    if stage == Stage::Production && mode == UpdateMode::Hash {
        facts.hashes = crate::addons::content_hash::of_all(&project.addons);
        facts.stored_hashes = db::addon_hashes::stored(&mut conn, facts.hashes.keys())?;
    }
    facts.database = database;
    Ok(facts)
}

/// Production's Docker engine: `production.docker_host` when set, else `DOCKER_HOST` or the
/// local socket.
pub fn production_engine(config: &Config) -> anyhow::Result<Engine> {
    Ok(match production_docker_host(config)? {
        Some(host) => Engine::at(&host),
        None => Engine::from_env(),
    })
}

/// Staging's Odoo data dir (its copies' filestores): `staging.data_dir`, else the cache's.
pub fn staging_data_dir(config: &Config, cache_dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let dir = match &config.file.staging.data_dir {
        Some(t) => {
            let env = |k: &str| std::env::var(k).ok();
            config
                .root
                .join(config.resolve("staging.data_dir", t, &env)?)
        }
        None => cache_dir.join("data"),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(crate::names::absolute(&dir))
}

/// How production's filestore is read from this machine: copied directly when production's
/// engine is this machine's, else through that engine (the runner cannot see its host's
/// files) with a helper from `image`.
#[derive(Debug, Clone)]
pub struct FilestoreReader {
    pub engine: Engine,
    pub image: String,
    /// The project its helpers are labelled with.
    pub scope: String,
}

impl FilestoreReader {
    pub fn resolve(config: &Config) -> anyhow::Result<FilestoreReader> {
        Ok(FilestoreReader {
            engine: production_engine(config)?,
            image: config.file.odoo.image.clone(),
            scope: crate::project::scope_for(config),
        })
    }

    /// Copies production's filestore `from` (a path on the engine's host) to `to` here;
    /// returns the number of files.
    pub fn fetch(&self, from: &Path, to: &Path) -> anyhow::Result<u64> {
        if self.engine.reach() == Reach::Direct {
            return Ok(crate::filestore::copy_local(from, to)?);
        }
        let docker = self
            .engine
            .connect()
            .map_err(|e| anyhow::anyhow!("production's Docker engine: {e}"))?;
        let files = crate::filestore::EngineFiles {
            docker,
            image: self.image.clone(),
            scope: self.scope.clone(),
        };
        match files.fetch(from, to)? {
            Some(n) => Ok(n),
            None => {
                std::fs::create_dir_all(to)?;
                Ok(0)
            }
        }
    }
}

/// Pulls `image` when the engine lacks it (a fresh runner's), with the job's `docker login`,
/// as Odoo's image is.
pub fn pulled_when_missing(docker: &bollard::Docker, image: &str) -> anyhow::Result<()> {
    crate::executor::docker::runtime()?.block_on(async {
        if docker.inspect_image(image).await.is_err() {
            crate::image::pull(docker, image).await?;
        }
        Ok::<(), crate::executor::ExecError>(())
    })?;
    Ok(())
}
