//! The production stage: one deploy at a time (an advisory lock), the module changes read
//! from the database, a pre-deploy snapshot, the update, the new release started beside the
//! old one (blue/green), health-checked, switched, watched — and on any failure the
//! snapshot and the previous release put back.
//!
//! The deployment record (steps with status, output and timings) is written to the output
//! folder and kept as part of the snapshot's record in PostgreSQL: the history lives where
//! production's state lives, not in a file of ours.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::schema::UpdateMode;
use crate::config::Stage;
use crate::db::{self, PgServer};
use crate::executor::bluegreen::{self, BlueGreen, Colour, Reach, Release};
use crate::executor::docker::DockerExecutor;
use crate::executor::Invocation;
use crate::filestore::EngineFiles;
use crate::plan::Plan;
use crate::project::Project;
use crate::snapshots::{self, SnapshotFiles, SnapshotRecord};
use crate::stages::runtime::{absolute, docker_executor, odoo_args, odoo_env, run_to_end};
use crate::stages::staging::production_source;
use crate::stages::updates::{self, ModuleChanges, VersionChange};
use crate::style::Style;

const HTTP_PORT: u16 = 8069;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Push,
    Manual,
    Rollback,
}

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub output: PathBuf,
    pub cache_dir: PathBuf,
    pub no_wait: bool,
    pub update_mode: Option<UpdateMode>,
    pub trigger: Trigger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub status: StepStatus,
    pub output: String,
    pub duration_ms: u128,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    /// Always production: the result contract every reporter reads names its stage (a
    /// result without one was once reported as development).
    #[serde(default = "production_stage")]
    pub stage: Stage,
    pub id: String,
    pub trigger: Trigger,
    pub database: String,
    pub branch: String,
    pub commit: Option<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    pub image: String,
    /// The image that served before this deployment (what a rollback to its snapshot runs).
    pub previous_image: Option<String>,
    pub snapshot: Option<String>,
    pub active_colour: Option<Colour>,
    /// `green` (deployed), `red` (failed; see `rolled_back`).
    pub colour: crate::odoo::Colour,
    pub reasons: Vec<String>,
    pub failed_step: Option<String>,
    pub rolled_back: bool,
    pub changes: ModuleChanges,
    pub steps: Vec<StepRecord>,
    pub started_at: String,
    pub total_ms: u128,
}

fn production_stage() -> Stage {
    Stage::Production
}

const STEPS: &[&str] = &[
    "snapshot", "build", "update", "start", "health", "switch", "verify", "stop-old",
];

/// The container of one colour of a production: scoped by project, readable, and unique
/// per exact database name (`acme_prod`, `acme.prod` and `Acme-Prod` slug alike).
pub fn release_name(scope: &str, database: &str, colour: Colour) -> String {
    format!(
        "odoo-ci-{scope}-{}-{}-{}",
        crate::names::slug(database, '-', 24),
        crate::names::short_hash(&[database]),
        colour.as_str()
    )
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl Deployment {
    /// A record that says red until the deployment proves otherwise.
    fn begin(plan: &Plan, trigger: Trigger, database: &str) -> Deployment {
        Deployment {
            stage: Stage::Production,
            id: deployment_id(plan),
            trigger,
            database: database.to_string(),
            branch: plan.branch.clone(),
            commit: None,
            message: None,
            author: None,
            image: String::new(),
            previous_image: None,
            snapshot: None,
            active_colour: None,
            colour: crate::odoo::Colour::Red,
            reasons: Vec::new(),
            failed_step: None,
            rolled_back: false,
            changes: ModuleChanges::default(),
            steps: Vec::new(),
            started_at: now_rfc3339(),
            total_ms: 0,
        }
    }

    fn step(&mut self, name: &str) -> &mut StepRecord {
        let i = self
            .steps
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| {
                self.steps.push(StepRecord {
                    name: name.to_string(),
                    status: StepStatus::Pending,
                    output: String::new(),
                    duration_ms: 0,
                    started_at: None,
                    ended_at: None,
                });
                self.steps.len() - 1
            });
        &mut self.steps[i]
    }

    /// Runs one recorded step; its error carries the step's name.
    fn run<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Deployment) -> anyhow::Result<(T, String)>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        {
            let s = self.step(name);
            s.status = StepStatus::Running;
            s.started_at = Some(now_rfc3339());
        }
        eprintln!("{} {name}", Style::for_stderr().bold("deploy:"));
        let result = f(self);
        let s = self.step(name);
        s.duration_ms = started.elapsed().as_millis();
        s.ended_at = Some(now_rfc3339());
        match result {
            Ok((value, output)) => {
                s.status = StepStatus::Completed;
                s.output = output;
                Ok(value)
            }
            Err(e) => {
                s.status = StepStatus::Failed;
                s.output = format!("{e:#}");
                self.failed_step = Some(name.to_string());
                Err(e.context(format!("step `{name}` failed")))
            }
        }
    }

    fn skip(&mut self, name: &str, why: &str) {
        let s = self.step(name);
        s.status = StepStatus::Skipped;
        s.output = why.to_string();
    }
}

/// Everything a deploy talks to.
struct Target<'a> {
    project: &'a Project,
    server: PgServer,
    database: String,
    /// The server as Odoo's containers see it.
    container_server: PgServer,
    filestore: Option<PathBuf>,
    snapshots_dir: PathBuf,
    /// Odoo's data dir as the engine's host sees it (bind-mounted into the containers).
    data_dir: PathBuf,
    /// Helpers on the engine's host that copy the filestore (known once the image is).
    engine: Option<EngineFiles>,
    output: PathBuf,
}

pub fn deploy(project: &Project, plan: &Plan, opts: &DeployOptions) -> anyhow::Result<Deployment> {
    crate::cancel::install();
    let started = Instant::now();
    let (server, database) = production_source(&project.config)?;
    use_production_engine(project)?;
    let mut d = Deployment {
        commit: plan.commit.clone(),
        message: project.commit.as_ref().map(|c| c.summary.clone()),
        author: project.commit.as_ref().map(|c| c.author.clone()),
        image: plan.image.clone(),
        ..Deployment::begin(plan, opts.trigger, &database)
    };
    for name in STEPS {
        d.step(name);
    }
    std::fs::create_dir_all(&opts.output)?;
    let outcome = deploy_inner(project, plan, opts, server.clone(), &database, &mut d);
    if let Err(e) = outcome {
        d.colour = crate::odoo::Colour::Red;
        d.reasons.insert(0, format!("{e:#}"));
    }
    d.total_ms = started.elapsed().as_millis();
    finalize(&mut d, &server, &database, &opts.output)?;
    Ok(d)
}

fn deployment_id(plan: &Plan) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(plan.commit.as_deref().unwrap_or_default().as_bytes());
    let hex: String = h
        .finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("d-{}-{hex}", &now_rfc3339()[..10].replace('-', ""))
}

/// The deploy lock of `database`: held on its own connection until dropped.
fn lock(server: &PgServer, database: &str, no_wait: bool) -> anyhow::Result<postgres::Client> {
    let key = i64::from_be_bytes(
        Sha256::digest(format!("odoo-ci deploy {database}").as_bytes())[..8]
            .try_into()
            .unwrap_or([0; 8]),
    );
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

fn deploy_inner(
    project: &Project,
    plan: &Plan,
    opts: &DeployOptions,
    server: PgServer,
    database: &str,
    d: &mut Deployment,
) -> anyhow::Result<()> {
    let config = &project.config;
    let prod = &config.file.production;
    let mode = opts.update_mode.unwrap_or(prod.update_mode);
    let _lock = lock(&server, database, opts.no_wait)?;
    let mut target = target(project, server, database, opts)?;

    // What to update, from the database itself.
    let mut conn = target.server.connect(database)?;
    let installed = db::installed_modules(&mut conn)?;
    let mut changes = updates::changes(project, &installed, &plan.addons.selected);
    if let Some(down) = changes.downgrade.first() {
        anyhow::bail!(
            "refused: addon `{}` is {} in the repo but {} in production — Odoo cannot downgrade a module; raise the version instead",
            down.addon,
            down.manifest,
            down.installed
        );
    }
    let hashes = addon_hashes(project);
    if mode == UpdateMode::Hash {
        for (name, hash) in &hashes {
            let stored =
                db::copy::config_parameter(&mut conn, &format!("odoo_ci.addon_hash.{name}"))?;
            let present = installed.get(name).is_some_and(|m| m.state == "installed");
            let listed = changes.update.iter().any(|c| &c.addon == name);
            if present && !listed && stored.as_deref() != Some(hash.as_str()) {
                let v = installed
                    .get(name)
                    .and_then(|m| m.latest_version.clone())
                    .unwrap_or_default();
                changes.update.push(VersionChange {
                    addon: name.clone(),
                    installed: v.clone(),
                    manifest: format!("{v} (content changed)"),
                });
            }
        }
    }
    drop(conn);
    d.changes = changes.clone();

    // The image and the engine.
    let executor = d.run("build", |_| {
        let ex = production_executor(project, plan, &target.data_dir, opts)?;
        Ok((ex, format!("image {}", plan.image)))
    })?;
    target.engine = Some(engine_files(&executor.docker, &plan.image));
    let bg = BlueGreen {
        docker: &executor.docker,
        network: executor.network.clone(),
        alias: prod.alias.clone().unwrap_or_else(|| "odoo".into()),
        production: database.to_string(),
        project: project.scope.clone(),
        reach: Reach::from_env(),
    };
    bg.ensure_network()?;
    let previous = bg.active()?;
    d.previous_image = previous.as_ref().map(|r| r.image.clone());

    let snapshot = d.run("snapshot", |d| {
        target.snapshot(d, d.commit.clone(), "pre-deploy")
    })?;
    d.snapshot = Some(snapshot.clone());

    let result = release(
        &target,
        &executor,
        &bg,
        previous.as_ref(),
        &changes,
        d,
        &hashes,
        mode,
    );
    match result {
        Ok(()) => {
            let keep = prod.snapshots.keep as usize;
            if let Ok(files) = target.snapshot_files() {
                let _ = snapshots::prune(&target.server, database, keep.max(1), files.as_ref());
            }
            d.colour = crate::odoo::Colour::Green;
            Ok(())
        }
        Err(e) => {
            let why = format!("{e:#}");
            rollback(&target, &bg, previous.as_ref(), &snapshot, d)?;
            anyhow::bail!("{why} — rolled back to snapshot `{snapshot}`")
        }
    }
}

impl Target<'_> {
    /// A snapshot of production (database and filestore) labelled with the deployment `d`
    /// as it stands; returns its name and the step's output.
    fn snapshot(
        &self,
        d: &Deployment,
        commit: Option<String>,
        reason: &str,
    ) -> anyhow::Result<(String, String)> {
        let record = SnapshotRecord {
            production: self.database.clone(),
            created: now_rfc3339(),
            commit,
            deployment: serde_json::to_value(d).ok(),
            pinned: false,
            reason: reason.into(),
        };
        let files = self.snapshot_files()?;
        let snap = snapshots::create(&self.server, &self.database, files.as_ref(), record)?;
        Ok((snap.name.clone(), format!("snapshot {}", snap.name)))
    }

    /// Puts `snapshot` back as production (database and filestore).
    fn restore(&self, snapshot: &str) -> anyhow::Result<()> {
        let files = self.snapshot_files()?;
        snapshots::restore(&self.server, snapshot, &self.database, files.as_ref())?;
        Ok(())
    }

    /// Production's filestore and its snapshots' copies, when production's data dir is
    /// known.
    fn snapshot_files(&self) -> anyhow::Result<Option<SnapshotFiles<'_>>> {
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
}

fn target<'a>(
    project: &'a Project,
    server: PgServer,
    database: &str,
    opts: &DeployOptions,
) -> anyhow::Result<Target<'a>> {
    let prod = &project.config.file.production;
    let filestore = crate::stages::staging::production_filestore(project, database)?;
    let snapshots_dir = snapshots_dir(filestore.as_deref(), &opts.cache_dir);
    let data_dir = match filestore.as_ref().and_then(|f| f.parent()?.parent()) {
        Some(dir) => dir.to_path_buf(),
        None => absolute(&opts.cache_dir.join("data")),
    };
    if Reach::from_env() == Reach::Direct {
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
    Ok(Target {
        project,
        server,
        database: database.to_string(),
        container_server,
        filestore,
        snapshots_dir,
        data_dir,
        engine: None,
        output: opts.output.clone(),
    })
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

/// Points this process's Docker client at production's engine: `production.docker_host`
/// when set (`tcp://` with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, `https://`, `ssh://`),
/// else `DOCKER_HOST` or the local socket. Deploys and rollbacks both go through here, so
/// they always act on the same engine.
pub fn use_production_engine(project: &Project) -> anyhow::Result<()> {
    let config = &project.config;
    if let Some(host) = production_docker_host(config)? {
        std::env::set_var("DOCKER_HOST", host);
    }
    if Reach::from_env() == Reach::ThroughEngine {
        // Odoo's data dir is on the engine's host: its path must be known there, or the
        // containers would mount an empty folder and rollbacks would miss the filestore.
        // Refuse before anything is touched.
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
    Ok(())
}

/// `production.docker_host`, resolved, when the config sets one.
pub fn production_docker_host(config: &crate::config::Config) -> anyhow::Result<Option<String>> {
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

/// Filestore helpers for commands that run no release (`odoo-ci snapshots`), on
/// production's engine: from the image that serves production, else the configured Odoo
/// base image.
pub fn standalone_engine_files(project: &Project, database: &str) -> anyhow::Result<EngineFiles> {
    use_production_engine(project)?;
    let docker = crate::executor::docker::connect()?;
    let prod = &project.config.file.production;
    let bg = BlueGreen {
        docker: &docker,
        network: prod
            .network
            .clone()
            .unwrap_or_else(|| "odoo-ci-production".into()),
        alias: prod.alias.clone().unwrap_or_else(|| "odoo".into()),
        production: database.to_string(),
        project: project.scope.clone(),
        reach: Reach::from_env(),
    };
    let image = match bg.active()? {
        Some(release) => release.image,
        None => project.config.file.odoo.image.clone(),
    };
    Ok(engine_files(&docker, &image))
}

/// Helpers from `image` (already on the engine) that copy production's filestore on the
/// engine's host, as root: the files belong to the user Odoo runs as, not to the runner.
pub fn engine_files(docker: &bollard::Docker, image: &str) -> EngineFiles {
    EngineFiles {
        docker: docker.clone(),
        image: image.to_string(),
    }
}

fn production_executor(
    project: &Project,
    plan: &Plan,
    data_dir: &Path,
    opts: &DeployOptions,
) -> anyhow::Result<DockerExecutor> {
    let prod = &project.config.file.production;
    let mut ex = docker_executor(project, plan, data_dir, &opts.output, &opts.cache_dir)?;
    ex.network = prod
        .network
        .clone()
        .unwrap_or_else(|| "odoo-ci-production".into());
    ex.host_data_dir = absolute(data_dir).to_string_lossy().into_owned();
    ex.extra_hosts = vec!["host.docker.internal:host-gateway".into()];
    Ok(ex)
}

#[allow(clippy::too_many_arguments)]
fn release(
    target: &Target<'_>,
    executor: &DockerExecutor,
    bg: &BlueGreen<'_>,
    previous: Option<&Release>,
    changes: &ModuleChanges,
    d: &mut Deployment,
    hashes: &BTreeMap<String, String>,
    mode: UpdateMode,
) -> anyhow::Result<()> {
    let project = target.project;
    let prod = &project.config.file.production;
    if changes.is_empty() {
        d.skip("update", "no addon to update or install");
    } else {
        d.run("update", |_| {
            let mut args = odoo_args(
                &target.container_server,
                executor,
                &target.database,
                project,
            );
            if !changes.update.is_empty() {
                args.extend(["-u".into(), changes.update_names().join(",")]);
            }
            if !changes.install.is_empty() {
                args.extend(["-i".into(), changes.install.join(",")]);
            }
            args.extend(["--stop-after-init".into(), "--workers".into(), "0".into()]);
            args.extend(["--max-cron-threads".into(), "0".into()]);
            if project.addons.series.demo_by_default() {
                args.push("--without-demo=all".into());
            }
            let log = run_to_end(
                executor,
                project,
                &target.container_server,
                Stage::Production,
                args,
                &target.output.join("update.log"),
            )?;
            Ok(((), log))
        })?;
    }
    if mode == UpdateMode::Hash {
        let mut conn = target.server.connect(&target.database)?;
        for (name, hash) in hashes {
            let key = format!("odoo_ci.addon_hash.{name}");
            let n = conn.execute(
                "UPDATE ir_config_parameter SET value = $2 WHERE key = $1",
                &[&key, hash],
            )?;
            if n == 0 {
                conn.execute(
                    "INSERT INTO ir_config_parameter (key, value) VALUES ($1, $2)",
                    &[&key, hash],
                )?;
            }
        }
    }

    let colour = previous.map(|p| p.colour.other()).unwrap_or(Colour::Blue);
    let name = release_name(&project.scope, &target.database, colour);
    let id = d.run("start", |d| {
        let mut args = odoo_args(
            &target.container_server,
            executor,
            &target.database,
            project,
        );
        args.extend(["--http-port".into(), HTTP_PORT.to_string()]);
        let inv = Invocation {
            args,
            env: odoo_env(project, &target.container_server, Stage::Production)?,
            timeout: Duration::from_secs(prod.health_check.timeout_secs),
        };
        let labels = HashMap::from([
            (
                bluegreen::PRODUCTION_LABEL.to_string(),
                target.database.clone(),
            ),
            (
                bluegreen::COLOUR_LABEL.to_string(),
                colour.as_str().to_string(),
            ),
            ("odoo-ci.deployment".to_string(), d.id.clone()),
            ("odoo-ci.database".to_string(), target.database.clone()),
            (
                crate::names::PROJECT_LABEL.to_string(),
                project.scope.clone(),
            ),
        ]);
        let id = executor.start_server(&name, &inv, &labels)?;
        Ok((id, format!("{name} ({})", colour.as_str())))
    })?;
    let health = d.run("health", |_| {
        let waited = crate::health::wait_for_200(
            &mut || bg.http_status(&id, HTTP_PORT, &prod.health_check.path),
            &prod.health_check.path,
            Duration::from_secs(prod.health_check.timeout_secs),
            &mut || executor.not_running(&id),
        );
        match waited {
            Ok(t) => Ok((
                (),
                format!(
                    "{} answered 200 after {} ms ({})",
                    prod.health_check.path,
                    t.as_millis(),
                    match bg.reach {
                        Reach::Direct => "from this machine",
                        Reach::ThroughEngine => "probed inside the container, through the engine",
                    }
                ),
            )),
            Err(reason) => {
                save_server_log(executor, &id, &target.output);
                Err(anyhow::anyhow!(
                    "the new release never became healthy: {reason}"
                ))
            }
        }
    });
    if let Err(e) = health {
        let _ = bg.remove(&id);
        return Err(e);
    }
    let switched = d.run("switch", |_| {
        bg.switch(previous.map(|p| p.id.as_str()), &id)?;
        Ok(((), format!("alias `{}` → {name}", bg.alias)))
    });
    if let Err(e) = switched {
        let _ = bg.remove(&id);
        return Err(e);
    }
    d.active_colour = Some(colour);
    let verified = d.run("verify", |_| {
        std::thread::sleep(Duration::from_secs(prod.health_check.settle_secs));
        if let Err(reason) = bg.stable(&id)? {
            save_server_log(executor, &id, &target.output);
            anyhow::bail!("after the switch: {reason}");
        }
        match bg.http_status(&id, HTTP_PORT, &prod.health_check.path) {
            Ok(200) => Ok((
                (),
                format!(
                    "healthy {} s after the switch",
                    prod.health_check.settle_secs
                ),
            )),
            other => {
                save_server_log(executor, &id, &target.output);
                anyhow::bail!("after the switch the health check answered {other:?}")
            }
        }
    });
    if let Err(e) = verified {
        let _ = bg.remove(&id);
        d.active_colour = previous.map(|p| p.colour);
        return Err(e);
    }
    save_server_log(executor, &id, &target.output);
    match previous {
        Some(old) => d.run("stop-old", |_| {
            bg.remove(&old.id)?;
            Ok((
                (),
                format!("removed {} ({})", old.name, old.colour.as_str()),
            ))
        })?,
        None => d.skip("stop-old", "no previous release"),
    }
    Ok(())
}

/// Puts the snapshot back and the previous release in front again.
fn rollback(
    target: &Target<'_>,
    bg: &BlueGreen<'_>,
    previous: Option<&Release>,
    snapshot: &str,
    d: &mut Deployment,
) -> anyhow::Result<()> {
    d.rolled_back = true;
    let prod = &target.project.config.file.production;
    d.run("rollback", |d| {
        target.restore(snapshot)?;
        let mut out = format!("restored `{}` from `{snapshot}`", target.database);
        if let Some(old) = previous {
            // Its database connections were ended by the restore: restart it, give it the
            // alias back, and check it serves.
            bg.restart(&old.id)?;
            bg.set_alias(&old.id, true)?;
            crate::health::wait_for_200(
                &mut || bg.http_status(&old.id, HTTP_PORT, &prod.health_check.path),
                &prod.health_check.path,
                Duration::from_secs(prod.health_check.timeout_secs),
                &mut || None,
            )
            .map_err(|e| anyhow::anyhow!("the previous release did not come back: {e}"))?;
            d.active_colour = Some(old.colour);
            out.push_str(&format!(
                "; {} ({}) serves again",
                old.name,
                old.colour.as_str()
            ));
        }
        Ok(((), out))
    })
}

/// `odoo-ci rollback --to KEY`: production's database and filestore back to a snapshot
/// (by name, or a deployment's pre-deploy snapshot), served by the image that served then.
/// Itself a recorded deployment (trigger `rollback`) with its own pre-rollback snapshot, so
/// a rollback that fails is undone like any deploy.
pub fn rollback_to(
    project: &Project,
    plan: &Plan,
    opts: &DeployOptions,
    key: &str,
) -> anyhow::Result<Deployment> {
    let started = Instant::now();
    let (server, database) = production_source(&project.config)?;
    use_production_engine(project)?;
    let mut d = Deployment {
        message: Some(format!("rollback to {key}")),
        ..Deployment::begin(plan, Trigger::Rollback, &database)
    };
    std::fs::create_dir_all(&opts.output)?;
    let outcome = (|| -> anyhow::Result<()> {
        let _lock = lock(&server, &database, opts.no_wait)?;
        let mut target = target(project, server.clone(), &database, opts)?;
        let mut admin = server.connect("postgres")?;
        let chosen = snapshots::find(&mut admin, &database, key)?;
        let deployment: Option<Deployment> = chosen
            .record
            .deployment
            .clone()
            .and_then(|v| serde_json::from_value(v).ok());
        let docker = crate::executor::docker::connect()?;
        let prod = &project.config.file.production;
        let network = prod
            .network
            .clone()
            .unwrap_or_else(|| "odoo-ci-production".into());
        let bg = BlueGreen {
            docker: &docker,
            network: network.clone(),
            alias: prod.alias.clone().unwrap_or_else(|| "odoo".into()),
            production: database.clone(),
            project: project.scope.clone(),
            reach: Reach::from_env(),
        };
        let previous = bg.active()?;
        let image = deployment
            .as_ref()
            .and_then(|d| d.previous_image.clone())
            .or_else(|| previous.as_ref().map(|p| p.image.clone()))
            .ok_or_else(|| {
                anyhow::anyhow!("no image to run: the snapshot records none and nothing is serving")
            })?;
        target.engine = Some(engine_files(&docker, &image));
        d.image = image.clone();
        d.previous_image = previous.as_ref().map(|p| p.image.clone());
        let executor = DockerExecutor {
            docker: docker.clone(),
            image: image.clone(),
            environment_id: String::new(),
            network,
            host_data_dir: target.data_dir.to_string_lossy().into_owned(),
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
            user: crate::stages::runtime::container_user(&target.data_dir),
        };
        let safety = d.run("snapshot", |d| target.snapshot(d, None, "pre-rollback"))?;
        d.snapshot = Some(safety.clone());
        d.run("restore", |_| {
            target.restore(&chosen.name)?;
            Ok(((), format!("restored `{database}` from `{}`", chosen.name)))
        })?;
        let result = release(
            &target,
            &executor,
            &bg,
            previous.as_ref(),
            &ModuleChanges::default(),
            &mut d,
            &BTreeMap::new(),
            UpdateMode::Version,
        );
        if let Err(e) = result {
            let why = format!("{e:#}");
            rollback(&target, &bg, previous.as_ref(), &safety, &mut d)?;
            anyhow::bail!("{why} — production put back as it was before the rollback");
        }
        d.colour = crate::odoo::Colour::Green;
        Ok(())
    })();
    if let Err(e) = outcome {
        d.reasons.insert(0, format!("{e:#}"));
    }
    d.total_ms = started.elapsed().as_millis();
    finalize(&mut d, &server, &database, &opts.output)?;
    Ok(d)
}

/// Closes the record: pending steps are skipped; the record goes onto its snapshot (the
/// history) and into the output folder with its summary.
fn finalize(
    d: &mut Deployment,
    server: &PgServer,
    database: &str,
    output: &Path,
) -> anyhow::Result<()> {
    for s in d.steps.iter_mut() {
        if s.status == StepStatus::Pending {
            s.status = StepStatus::Skipped;
        }
    }
    if let Some(snap) = d.snapshot.clone() {
        if let Ok(mut admin) = server.connect("postgres") {
            if let Ok(mut found) = snapshots::find(&mut admin, database, &snap) {
                found.record.deployment = serde_json::to_value(&*d).ok();
                let _ = snapshots::save_record(&mut admin, &snap, &found.record);
            }
        }
    }
    std::fs::write(
        output.join("odoo-ci-result.json"),
        serde_json::to_string_pretty(&*d)? + "\n",
    )?;
    std::fs::write(output.join("summary.md"), summary(d))?;
    Ok(())
}

/// The deployment history, newest first: the records kept on the snapshots.
pub fn history(server: &PgServer, database: &str) -> anyhow::Result<Vec<Deployment>> {
    let mut admin = server.connect("postgres")?;
    let mut out: Vec<Deployment> = snapshots::list(&mut admin, database)?
        .into_iter()
        .filter_map(|s| {
            s.record
                .deployment
                .and_then(|v| serde_json::from_value(v).ok())
        })
        .collect();
    out.reverse();
    Ok(out)
}

fn save_server_log(executor: &DockerExecutor, id: &str, output: &Path) {
    let logs = executor.logs_tail(id, 2000);
    let _ = std::fs::write(output.join("server.log"), logs);
}

/// A content hash per repo addon (for `update_mode: hash`).
fn addon_hashes(project: &Project) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for addon in &project.addons.addons {
        let mut files = Vec::new();
        collect_files(&addon.dir, &addon.dir, &mut files);
        files.sort();
        let mut h = Sha256::new();
        for (rel, path) in files {
            h.update(rel.as_bytes());
            h.update([0]);
            if let Ok(bytes) = std::fs::read(&path) {
                h.update(&bytes);
            }
            h.update([0]);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        out.insert(addon.name.clone(), hex);
    }
    out
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        if path.is_dir() {
            collect_files(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((rel, path));
        }
    }
}

fn summary(d: &Deployment) -> String {
    let mut out = format!(
        "## odoo-ci / production: {}\n\ndeployment `{}` of {} ({})\n\n",
        d.colour.as_str(),
        d.id,
        d.commit.as_deref().unwrap_or("worktree"),
        d.branch
    );
    for r in &d.reasons {
        out.push_str(&format!("- {r}\n"));
    }
    out.push_str("\n| step | status | ms |\n| --- | --- | --- |\n");
    for s in &d.steps {
        out.push_str(&format!(
            "| {} | {:?} | {} |\n",
            s.name, s.status, s.duration_ms
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_differ_by_exact_database_and_project() {
        let names: Vec<String> = ["acme_prod", "acme.prod", "Acme-Prod"]
            .iter()
            .map(|db| release_name("p-12345678", db, Colour::Blue))
            .collect();
        assert!(names[0] != names[1] && names[1] != names[2] && names[0] != names[2]);
        assert_ne!(
            release_name("a-11111111", "prod", Colour::Blue),
            release_name("b-22222222", "prod", Colour::Blue)
        );
        assert!(
            names[0].starts_with("odoo-ci-p-12345678-acme-prod-") && names[0].ends_with("-blue")
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
    }
}
