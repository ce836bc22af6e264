//! What a deploy talks to: production's server and database, its filestore and the
//! snapshots' copies of it, and the engine its releases run on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::db::PgServer;
use crate::executor::bluegreen::{BlueGreen, Reach};
use crate::executor::docker::{DockerExecutor, Engine};
use crate::filestore::EngineFiles;
use crate::plan::{steps, Plan};
use crate::project::Project;
use crate::result::now_rfc3339;
use crate::snapshots::{self, SnapshotFiles, SnapshotRecord};
use crate::stages::runtime::{absolute, docker_executor, RunsOn};
use crate::targets::production_filestore;

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
}

impl<'a> Target<'a> {
    pub fn resolve(
        project: &'a Project,
        docker_engine: Engine,
        server: PgServer,
        database: &str,
        output: &Path,
        cache_dir: &Path,
    ) -> anyhow::Result<Target<'a>> {
        let prod = &project.config.file.production;
        let filestore = production_filestore(&project.config, database)?;
        let snapshots_dir = snapshots_dir(filestore.as_deref(), cache_dir);
        let data_dir = match filestore.as_ref().and_then(|f| f.parent()?.parent()) {
            Some(dir) => dir.to_path_buf(),
            None => absolute(&cache_dir.join("data")),
        };
        if docker_engine.reach() == Reach::Direct {
            std::fs::create_dir_all(&data_dir)?;
        }
        let mut container_server = server.clone();
        container_server.host = match &prod.db_host {
            Some(h) => h.clone(),
            None if matches!(server.host.as_str(), "127.0.0.1" | "localhost" | "::1") => {
                "host.docker.internal".into()
            }
            None => server.host.clone(),
        };
        let identity = database_identity(&server, database);
        Ok(Target {
            identity,
            project,
            docker_engine,
            server,
            database: database.to_string(),
            container_server,
            filestore,
            snapshots_dir,
            data_dir,
            engine: None,
            output: output.to_path_buf(),
        })
    }

    /// A snapshot of production (database and filestore), recording `deployment` as it
    /// stands; returns its name.
    pub fn snapshot(
        &self,
        deployment: Option<serde_json::Value>,
        commit: Option<String>,
        reason: &str,
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
        let snap = snapshots::create(&self.server, &self.database, files.as_ref(), record)?;
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
        let mut bg = blue_green(self.project, &self.docker_engine, docker, &self.database);
        bg.identity = self.identity.clone();
        bg
    }

    /// Runs the image that served at some point (a rollback): no build.
    pub fn executor_for(&self, docker: &bollard::Docker, image: &str) -> DockerExecutor {
        let project = self.project;
        DockerExecutor {
            docker: docker.clone(),
            image: image.to_string(),
            environment_id: String::new(),
            network: network(project),
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
        }
    }

    /// The commit's image (built, or reused when the engine has one of the same files),
    /// run on production's network.
    pub fn build(
        &self,
        plan: &Plan,
        build: &steps::Build,
        cache_dir: &Path,
    ) -> anyhow::Result<(DockerExecutor, String)> {
        let on = RunsOn {
            engine: &self.docker_engine,
            data_dir: &self.data_dir,
            output: &self.output,
            cache_dir,
        };
        let (mut ex, done) = docker_executor(self.project, plan, build, &on)?;
        ex.network = network(self.project);
        ex.host_data_dir = absolute(&self.data_dir).to_string_lossy().into_owned();
        ex.extra_hosts = vec!["host.docker.internal:host-gateway".into()];
        Ok((ex, done))
    }
}

fn network(project: &Project) -> String {
    project
        .config
        .file
        .production
        .network
        .clone()
        .unwrap_or_else(|| "odoo-ci-production".into())
}

fn blue_green<'d>(
    project: &Project,
    engine: &Engine,
    docker: &'d bollard::Docker,
    database: &str,
) -> BlueGreen<'d> {
    BlueGreen {
        docker,
        network: network(project),
        alias: project
            .config
            .file
            .production
            .alias
            .clone()
            .unwrap_or_else(|| "odoo".into()),
        production: database.to_string(),
        project: project.scope.clone(),
        identity: None,
        reach: engine.reach(),
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

fn production_identity(project: &Project, database: &str) -> Option<String> {
    let (server, _) = crate::targets::production_source(&project.config).ok()?;
    database_identity(&server, database)
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
pub fn lock(server: &PgServer, database: &str, no_wait: bool) -> anyhow::Result<postgres::Client> {
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
        eprintln!("another deploy of `{database}` is running: waiting for it to end…");
        conn.execute("SELECT pg_advisory_lock($1)", &[&key])?;
    }
    Ok(conn)
}

/// Production's engine, checked before anything is touched: on a remote engine Odoo's data
/// dir is on the engine's host, so its path must be known there, or the containers would
/// mount an empty folder and rollbacks would miss the filestore.
pub fn production_engine(project: &Project) -> anyhow::Result<Engine> {
    let config = &project.config;
    let engine = crate::targets::production_engine(config)?;
    if engine.reach() == Reach::ThroughEngine {
        let on_engine = match &config.file.production.data_dir {
            Some(t) => {
                let dir =
                    config.resolve("production.data_dir", t, &|k: &str| std::env::var(k).ok())?;
                Path::new(&dir).is_absolute()
            }
            None => false,
        };
        if !on_engine {
            anyhow::bail!(
                "production's Docker engine is remote, and `production.data_dir` is not an absolute path (hint: set it to production's Odoo data dir as a path on the engine's host, e.g. /srv/odoo/data; snapshots and rollbacks copy its filestore there)"
            );
        }
    }
    Ok(engine)
}

/// Filestore helpers for commands that run no release (`odoo-ci snapshots`), on
/// production's engine: from the image that serves production, else the configured Odoo
/// base image.
pub fn standalone_engine_files(project: &Project, database: &str) -> anyhow::Result<EngineFiles> {
    let engine = production_engine(project)?;
    let docker = engine.connect()?;
    let mut bg = blue_green(project, &engine, &docker, database);
    bg.identity = production_identity(project, database);
    let image = match bg.active()? {
        Some(release) => release.image,
        None => project.config.file.odoo.image.clone(),
    };
    Ok(engine_files(&docker, &image))
}

/// The release that serves production now, if any (its image and `odoo-ci.commit` label
/// say what a backup of this moment was served by).
pub fn serving_release(
    project: &Project,
    database: &str,
) -> anyhow::Result<Option<crate::executor::bluegreen::Release>> {
    let engine = production_engine(project)?;
    let docker = engine.connect()?;
    let mut bg = blue_green(project, &engine, &docker, database);
    bg.identity = production_identity(project, database);
    Ok(bg.active()?)
}

/// Helpers from `image` (already on the engine) that copy production's filestore on the
/// engine's host, as root: the files belong to the user Odoo runs as, not to the runner.
pub fn engine_files(docker: &bollard::Docker, image: &str) -> EngineFiles {
    EngineFiles {
        docker: docker.clone(),
        image: image.to_string(),
    }
}
