//! What a deploy talks to: production's server and database, its filestore and the
//! snapshots' copies of it, and the engine its releases run on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::clock::now_rfc3339;
use crate::db::PgServer;
use crate::executor::bluegreen::{BlueGreen, Reach};
use crate::executor::docker::{DockerExecutor, Engine};
use crate::filestore::EngineFiles;
use crate::plan::{steps, Plan};
use crate::project::Project;
use crate::snapshots::{self, SnapshotFiles, SnapshotRecord};
use crate::stages::runtime::{absolute, docker_executor, release_executor, RunsOn};
use crate::targets::production::Production;

/// Production's releases listen on this port inside their network.
pub const HTTP_PORT: u16 = 8069;

pub struct Target<'a> {
    pub project: &'a Project,
    /// Production's Docker engine.
    pub docker_engine: Engine,
    pub server: PgServer,
    pub database: String,
    /// The server as Odoo's containers see it.
    pub container_server: PgServer,
    pub filestore: Option<PathBuf>,
    pub snapshots_dir: PathBuf,
    /// Odoo's data dir as the engine's host sees it (bind-mounted into the containers).
    pub data_dir: PathBuf,
    /// Helpers on the engine's host that copy the filestore (known once the image is).
    pub engine: Option<EngineFiles>,
    pub output: PathBuf,
    /// The database's `database.uuid`: what its releases are labelled with.
    pub identity: Option<String>,
    /// The network and alias its releases serve on.
    pub network: String,
    pub alias: String,
    /// What helpers run from when no release serves.
    pub base_image: String,
    /// How Odoo runs here: production's variables and timeout.
    pub odoo: crate::targets::odoo_env::OdooEnv,
}

impl<'a> Target<'a> {
    /// What a deploy of `production` (resolved by the command) works with, its outputs
    /// in `output`.
    pub fn resolve(
        project: &'a Project,
        production: &Production,
        opts: &super::DeployOptions,
    ) -> anyhow::Result<Target<'a>> {
        let (output, cache_dir) = (&opts.output, &opts.cache_dir);
        let filestore = production.filestore.clone();
        let snapshots_dir = snapshots_dir(filestore.as_deref(), cache_dir);
        let data_dir = production.data_dir(cache_dir);
        if production.engine.reach() == Reach::Direct {
            std::fs::create_dir_all(&data_dir)?;
        }
        let identity = database_identity(&production.server, &production.database);
        Ok(Target {
            identity,
            project,
            docker_engine: production.engine.clone(),
            server: production.server.clone(),
            database: production.database.clone(),
            container_server: production.container_server.clone(),
            filestore,
            snapshots_dir,
            data_dir,
            engine: None,
            output: output.to_path_buf(),
            network: production.network.clone(),
            alias: production.alias.clone(),
            base_image: production.base_image.clone(),
            odoo: opts.odoo.clone(),
        })
    }

    /// How production's filestore is read from this machine.
    pub fn filestore_reader(&self) -> crate::targets::FilestoreReader {
        crate::targets::FilestoreReader {
            engine: self.docker_engine.clone(),
            image: self.base_image.clone(),
            scope: self.project.scope.clone(),
        }
    }

    /// A snapshot of production (database and filestore), recording `deployment` as it
    /// stands; returns its name.
    pub fn snapshot(
        &self,
        deployment: Option<serde_json::Value>,
        commit: Option<String>,
        reason: &str,
        reporter: &mut dyn crate::result::Reporter,
    ) -> anyhow::Result<String> {
        let record = SnapshotRecord {
            production: self.database.clone(),
            created: now_rfc3339(),
            commit,
            deployment,
            pinned: false,
            reason: reason.into(),
        };
        let files = self.snapshot_files()?;
        let mut streamed = crate::stages::heartbeat::streaming("snapshot", "production", reporter);
        let snap = snapshots::create(
            &self.server,
            &self.database,
            files.as_ref(),
            record,
            &mut streamed,
        )?;
        Ok(snap.name)
    }

    /// Puts `snapshot` back as production (database and filestore).
    pub fn restore(&self, snapshot: &str) -> anyhow::Result<()> {
        let files = self.snapshot_files()?;
        snapshots::restore(&self.server, snapshot, &self.database, files.as_ref())?;
        Ok(())
    }

    /// Production's filestore and its snapshots' copies, when production's data dir is
    /// known.
    pub fn snapshot_files(&self) -> anyhow::Result<Option<SnapshotFiles<'_>>> {
        let Some(filestore) = &self.filestore else {
            return Ok(None);
        };
        let engine = self
            .engine
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no Docker engine yet to copy the filestore with"))?;
        Ok(Some(SnapshotFiles {
            filestore,
            snapshots_dir: &self.snapshots_dir,
            engine,
        }))
    }

    /// The blue/green pair of this production on `docker`.
    pub fn blue_green<'d>(&self, docker: &'d bollard::Docker) -> BlueGreen<'d> {
        BlueGreen {
            docker,
            network: self.network.clone(),
            alias: self.alias.clone(),
            production: self.database.clone(),
            project: self.project.scope.clone(),
            identity: self.identity.clone(),
            reach: self.docker_engine.reach(),
        }
    }

    /// Runs the image that served at some point (a rollback): no build.
    pub fn executor_for(&self, docker: &bollard::Docker, image: &str) -> DockerExecutor {
        let project = self.project;
        DockerExecutor {
            docker: docker.clone(),
            image: image.to_string(),
            environment_id: String::new(),
            network: self.network.clone(),
            host_data_dir: self.data_dir.to_string_lossy().into_owned(),
            extra_binds: Vec::new(),
            addons_paths: crate::stages::runtime::container_addons_paths(project),
            labels: HashMap::from([
                ("odoo-ci.stage".to_string(), "production".to_string()),
                (
                    crate::names::PROJECT_LABEL.to_string(),
                    project.scope.clone(),
                ),
            ]),
            command: "odoo".into(),
            extra_hosts: vec!["host.docker.internal:host-gateway".into()],
            user: crate::stages::runtime::container_user(&self.docker_engine, &self.data_dir),
            mirror: None,
            swarm: None,
        }
    }

    /// The commit's image (built, or reused when the engine has one of the same files),
    /// or its release volume when there is nothing to build, run on production's network.
    pub fn image_step(
        &self,
        plan: &Plan,
        runner: &mut crate::stages::runner::Runner<'_>,
        cache_dir: &Path,
    ) -> anyhow::Result<DockerExecutor> {
        let on = RunsOn {
            engine: &self.docker_engine,
            data_dir: &self.data_dir,
            output: &self.output,
            cache_dir,
        };
        let (project, data_dir) = (self.project, &self.data_dir);
        let production = |(mut ex, done): (DockerExecutor, String)| {
            ex.host_data_dir = absolute(data_dir).to_string_lossy().into_owned();
            ex.extra_hosts = vec!["host.docker.internal:host-gateway".into()];
            Ok((ex, done))
        };
        match plan.first::<steps::Release>() {
            Some(_) => runner.step(|release: &steps::Release, reporter| {
                release_executor(project, plan, release, &on, reporter).and_then(production)
            }),
            None => runner.step(|build: &steps::Build, reporter| {
                docker_executor(project, plan, build, &on, reporter).and_then(production)
            }),
        }
    }
}

/// The database's own identity, `database.uuid` (Odoo writes it when `base` is installed
/// and a copy gets a new one), if it can be read.
fn database_identity(server: &PgServer, database: &str) -> Option<String> {
    let mut conn = server.connect(database).ok()?;
    let row = conn
        .query_opt(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'",
            &[],
        )
        .ok()??;
    row.get::<_, Option<String>>(0)
}

/// Where snapshots' filestore copies go: beside production's data dir (same file system,
/// so hard links work), or in the cache when production's filestore is unknown.
pub fn snapshots_dir(filestore: Option<&Path>, cache_dir: &Path) -> PathBuf {
    filestore
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|p| p.join("odoo-ci-snapshots"))
        .unwrap_or_else(|| cache_dir.join("snapshots"))
}

/// The deploy lock of `database`: held on its own connection until dropped.
pub fn lock(
    server: &PgServer,
    database: &str,
    no_wait: bool,
    reporter: &mut dyn crate::result::Reporter,
) -> anyhow::Result<postgres::Client> {
    let key = crate::db::lock_key(&format!("odoo-ci deploy {database}"));
    let mut conn = server.connect("postgres")?;
    // Named, so `pg_stat_activity` shows who holds production.
    conn.batch_execute(&format!(
        "SET application_name = '{}'",
        format!("odoo-ci deploy {database}")
            .replace('\'', "''")
            .chars()
            .take(63)
            .collect::<String>()
    ))?;
    let got: bool = conn
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
        .get(0);
    if !got {
        if no_wait {
            anyhow::bail!(
                "another deploy of `{database}` is running (--no-wait): try again when it ends"
            );
        }
        reporter.progress(&format!(
            "another deploy of `{database}` is running: waiting for it to end…"
        ));
        conn.execute("SELECT pg_advisory_lock($1)", &[&key])?;
    }
    Ok(conn)
}

/// The blue/green pair of `production` on `docker`, for commands that run no release.
fn standalone_pair<'d>(
    project: &Project,
    production: &Production,
    docker: &'d bollard::Docker,
) -> BlueGreen<'d> {
    BlueGreen {
        docker,
        network: production.network.clone(),
        alias: production.alias.clone(),
        production: production.database.clone(),
        project: project.scope.clone(),
        identity: database_identity(&production.server, &production.database),
        reach: production.engine.reach(),
    }
}

/// Filestore helpers for commands that run no release (`odoo-ci snapshots`), on
/// production's engine: from the image that serves production, else the configured Odoo
/// base image.
pub fn standalone_engine_files(
    project: &Project,
    production: &Production,
) -> anyhow::Result<EngineFiles> {
    let docker = production.engine.connect()?;
    let image = match standalone_pair(project, production, &docker).active()? {
        Some(release) => release.image,
        None => production.base_image.clone(),
    };
    Ok(engine_files(&docker, &image, &project.scope))
}

/// The release that serves production now, if any (its image and `odoo-ci.commit` label
/// say what a backup of this moment was served by).
pub fn serving_release(
    project: &Project,
    production: &Production,
) -> anyhow::Result<Option<crate::executor::bluegreen::Release>> {
    let docker = production.engine.connect()?;
    Ok(standalone_pair(project, production, &docker).active()?)
}

/// Helpers from `image` (already on the engine) that copy production's filestore on the
/// engine's host, as root: the files belong to the user Odoo runs as, not to the runner.
pub fn engine_files(docker: &bollard::Docker, image: &str, scope: &str) -> EngineFiles {
    EngineFiles {
        docker: docker.clone(),
        image: image.to_string(),
        scope: scope.to_string(),
    }
}
