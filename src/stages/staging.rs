//! The staging stage, as Odoo.sh runs it for a staging branch: a copy of production (data
//! and filestore), neutralized and *verified* before anything starts, updated to this
//! commit, started and health-checked.
//!
//! Production is only read (`pg_dump` in one snapshot; the filestore is hard-linked or
//! copied). A staging database that fails any step after its creation is dropped, so a
//! half-neutralized copy never survives.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::schema::PushMode;
use crate::config::Stage;
use crate::db::{self, PgServer};
use crate::executor::bluegreen::Reach;
use crate::executor::docker::DockerExecutor;
use crate::executor::Invocation;
use crate::neutralize::{self, Check, MailCatcher, Policy};
use crate::odoo::Colour;
use crate::plan::Plan;
use crate::project::Project;
use crate::stages::runtime::{
    absolute, docker_executor, odoo_args, odoo_env, pg_server, run_to_end, tail_lines,
};
use crate::stages::updates::{self, ModuleChanges};
use crate::style::Style;

pub const STAGING_PREFIX: &str = "odoo_ci_stg_";
const MARKER: &str = "odoo-ci staging";

#[derive(Debug, Clone)]
pub struct StagingOptions {
    pub output: PathBuf,
    pub cache_dir: PathBuf,
    /// Overrides `staging.push`.
    pub push: Option<PushMode>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CopyInfo {
    /// `dump-restore` or `template` (from a snapshot).
    pub method: &'static str,
    pub source: String,
    pub bytes: u64,
    pub millis: u128,
    pub filestore_files: u64,
}

#[derive(Debug, Serialize)]
pub struct StagingResult {
    pub stage: &'static str,
    pub branch: String,
    pub commit: Option<String>,
    pub colour: Colour,
    pub reasons: Vec<String>,
    pub push: PushMode,
    pub database: Option<String>,
    pub url: Option<String>,
    pub container: Option<String>,
    pub copy: Option<CopyInfo>,
    pub neutralization: Vec<Check>,
    pub changes: ModuleChanges,
    /// Older staging databases of this branch dropped by retention.
    pub pruned: Vec<String>,
    pub timings_ms: BTreeMap<&'static str, u128>,
}

/// A staging database that odoo-ci made, as listed by `odoo-ci staging list`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StagingDatabase {
    pub name: String,
    pub branch: String,
}

/// `odoo_ci_stg_<slug>_<hash8>_`: the prefix of every staging database of `branch` in the
/// project `scope`. The slug keeps it readable, the hash of project and branch keeps
/// projects and branches with the same slug apart; any branch name (`feat/"; drop`)
/// becomes `[a-z0-9_]` only. A prefix is never how odoo-ci decides what is its own: the
/// marker comment is (see [`list`]).
pub fn branch_prefix(scope: &str, branch: &str) -> String {
    let slug = crate::names::slug(branch, '_', 21);
    let hex = crate::names::short_hash(&[scope, branch]);
    format!("{STAGING_PREFIX}{slug}_{hex}_")
}

/// The staging databases odoo-ci made for the project `scope` on `admin`'s server, oldest
/// first: those whose marker comment names the project. Another project's, or one whose
/// comment was lost, is never listed, so never dropped.
pub fn list(
    admin: &mut postgres::Client,
    scope: &str,
) -> Result<Vec<StagingDatabase>, db::DbError> {
    let mut out = Vec::new();
    for name in db::databases_with_prefix(admin, STAGING_PREFIX)? {
        let Some(comment) = db::database_comment(admin, &name)? else {
            continue;
        };
        let Some(json) = comment.strip_prefix(MARKER) else {
            continue;
        };
        let Ok(marker) = serde_json::from_str::<serde_json::Value>(json.trim()) else {
            continue;
        };
        if marker["project"].as_str() != Some(scope) {
            continue;
        }
        let branch = marker["branch"].as_str().unwrap_or_default().to_string();
        out.push(StagingDatabase { name, branch });
    }
    Ok(out)
}

/// The staging databases of exactly `branch`: listed as this project's, named as odoo-ci
/// names them (`<prefix><17 digits>`).
fn of_branch(all: Vec<StagingDatabase>, scope: &str, branch: &str) -> Vec<String> {
    let prefix = branch_prefix(scope, branch);
    all.into_iter()
        .filter(|d| d.branch == branch)
        .filter(|d| {
            d.name
                .strip_prefix(&prefix)
                .is_some_and(|stamp| stamp.len() == 17 && stamp.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|d| d.name)
        .collect()
}

/// The staging server container of a branch of the project `scope`.
fn container_name(scope: &str, branch: &str) -> String {
    format!(
        "odoo-ci-staging-{}",
        branch_prefix(scope, branch)
            .trim_start_matches(STAGING_PREFIX)
            .trim_end_matches('_')
            .replace('_', "-")
    )
}

/// Drops the staging database (and its filestore) on failure, unless disarmed.
struct DropOnFailure {
    server: PgServer,
    database: Option<String>,
    filestore: Option<PathBuf>,
}

impl Drop for DropOnFailure {
    fn drop(&mut self) {
        if let Some(dir) = &self.filestore {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = &self.database {
            match self
                .server
                .connect("postgres")
                .and_then(|mut c| db::drop_database(&mut c, name))
            {
                Ok(()) => eprintln!("dropped staging database `{name}` (the stage failed)"),
                Err(e) => eprintln!("warning: could not drop staging database `{name}`: {e}"),
            }
        }
    }
}

impl DropOnFailure {
    fn disarm(&mut self) {
        self.database = None;
        self.filestore = None;
    }
}

pub fn run(project: &Project, plan: &Plan, opts: &StagingOptions) -> anyhow::Result<StagingResult> {
    crate::cancel::install();
    let started = Instant::now();
    let push = opts.push.unwrap_or(project.config.file.staging.push);
    let mut result = StagingResult {
        stage: "staging",
        branch: plan.branch.clone(),
        commit: plan.commit.clone(),
        colour: Colour::Red,
        reasons: Vec::new(),
        push,
        database: None,
        url: None,
        container: None,
        copy: None,
        neutralization: Vec::new(),
        changes: ModuleChanges::default(),
        pruned: Vec::new(),
        timings_ms: BTreeMap::new(),
    };
    std::fs::create_dir_all(&opts.output)?;
    if let Err(e) = run_inner(project, plan, opts, push, &mut result) {
        result.colour = Colour::Red;
        result.reasons.insert(0, format!("{e:#}"));
    }
    result
        .timings_ms
        .insert("total", started.elapsed().as_millis());
    std::fs::write(
        opts.output.join("odoo-ci-result.json"),
        serde_json::to_string_pretty(&result)? + "\n",
    )?;
    std::fs::write(opts.output.join("summary.md"), summary(&result))?;
    Ok(result)
}

/// Production's server and database name, from `production.database`.
pub fn production_source(config: &crate::config::Config) -> anyhow::Result<(PgServer, String)> {
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
pub fn production_filestore(project: &Project, database: &str) -> anyhow::Result<Option<PathBuf>> {
    let config = &project.config;
    let Some(t) = &config.file.production.data_dir else {
        return Ok(None);
    };
    let env = |k: &str| std::env::var(k).ok();
    let dir = config.resolve("production.data_dir", t, &env)?;
    // Absolute: the engine's helpers and bind mounts need full paths.
    let dir = std::path::absolute(config.root.join(dir))?;
    Ok(Some(dir.join("filestore").join(database)))
}

/// Copies production's filestore into staging's folder: on this machine, or streamed from
/// the host of production's engine when `production.docker_host` is a remote one (the
/// runner cannot see that host's files).
fn copy_production_filestore(project: &Project, from: &Path, to: &Path) -> anyhow::Result<u64> {
    let config = &project.config;
    match crate::stages::production::production_docker_host(config)? {
        Some(host) if Reach::for_docker_host(Some(&host)) == Reach::ThroughEngine => {
            let docker = crate::executor::docker::connect_to(&host)
                .map_err(|e| anyhow::anyhow!("production's Docker engine: {e}"))?;
            let engine = crate::filestore::EngineFiles {
                docker,
                image: config.file.odoo.image.clone(),
            };
            match engine.fetch(from, to)? {
                Some(files) => Ok(files),
                None => {
                    std::fs::create_dir_all(to)?;
                    Ok(0)
                }
            }
        }
        _ => Ok(crate::filestore::copy_local(from, to)?),
    }
}

fn staging_data_dir(project: &Project, opts: &StagingOptions) -> anyhow::Result<PathBuf> {
    let config = &project.config;
    let dir = match &config.file.staging.data_dir {
        Some(t) => {
            let env = |k: &str| std::env::var(k).ok();
            config
                .root
                .join(config.resolve("staging.data_dir", t, &env)?)
        }
        None => opts.cache_dir.join("data"),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(absolute(&dir))
}

fn run_inner(
    project: &Project,
    plan: &Plan,
    opts: &StagingOptions,
    push: PushMode,
    result: &mut StagingResult,
) -> anyhow::Result<()> {
    let s = Style::for_stderr();
    let config = &project.config;
    let staging = &config.file.staging;
    let (source, source_db) = production_source(&project.config)?;
    let target = match &config.file.postgres.url {
        Some(_) => pg_server(&project.config)?,
        None => source.clone(),
    };
    let catcher = match &staging.mail_catcher {
        Some(text) => Some(MailCatcher::parse(text).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: `staging.mail_catcher` is `{text}`: expected host:port, e.g. mailpit:1025",
                config.path.display()
            )
        })?),
        None => None,
    };
    let policy = Policy {
        catcher: catcher.clone(),
        cron_allowlist: staging.cron_allowlist.clone(),
    };
    let data_dir = staging_data_dir(project, opts)?;
    let mut admin = target.connect("postgres")?;

    // One staging run per branch at a time.
    let prefix = branch_prefix(&project.scope, &plan.branch);
    let lock_key = i64::from_be_bytes(
        Sha256::digest(prefix.as_bytes())[..8]
            .try_into()
            .unwrap_or([0; 8]),
    );
    let _lock = db::AdvisoryLock::acquire(target.connect("postgres")?, lock_key)?;

    let t = Instant::now();
    let executor = docker_executor(project, plan, &data_dir, &opts.output, &opts.cache_dir)?;
    result.timings_ms.insert("build", t.elapsed().as_millis());

    let existing = of_branch(
        list(&mut admin, &project.scope)?,
        &project.scope,
        &plan.branch,
    );
    let mut guard = DropOnFailure {
        server: target.clone(),
        database: None,
        filestore: None,
    };
    let port = if staging.http_port == 0 {
        crate::health::free_port()?
    } else {
        staging.http_port
    };
    let url = match &staging.url {
        Some(t) => config.resolve("staging.url", t, &|k: &str| std::env::var(k).ok())?,
        None => format!("http://127.0.0.1:{port}"),
    };

    let reuse = match push {
        PushMode::Update => existing.last().cloned(),
        PushMode::Fresh => None,
    };
    let database = match reuse {
        Some(name) => {
            eprintln!("{} updating `{name}` (push: update)", s.bold("staging:"));
            name
        }
        None => {
            let stamp: String = admin
                .query_one(
                    "SELECT to_char(clock_timestamp() at time zone 'UTC', 'YYYYMMDDHH24MISSMS')",
                    &[],
                )?
                .get(0);
            let name = format!("{prefix}{stamp}");
            let t = Instant::now();
            eprintln!(
                "{} copying production `{source_db}` into `{name}`",
                s.bold("staging:")
            );
            crate::db::copy::create_empty(&mut admin, &name)?;
            guard.database = Some(name.clone());
            let stats = crate::db::copy::dump_restore(&source, &source_db, &target, &name)?;
            let marker = serde_json::json!({
                "project": project.scope,
                "branch": plan.branch,
                "source": source_db,
                "commit": plan.commit,
            });
            db::set_database_comment(&mut admin, &name, &format!("{MARKER} {marker}"))?;
            let mut copy_db = target.connect(&name)?;
            crate::db::copy::reset_identity(&mut copy_db, &url)?;
            drop(copy_db);
            let store = data_dir.join("filestore").join(&name);
            guard.filestore = Some(store.clone());
            let files = match production_filestore(project, &source_db)? {
                Some(from) => copy_production_filestore(project, &from, &store)?,
                None => {
                    std::fs::create_dir_all(&store)?;
                    0
                }
            };
            result.copy = Some(CopyInfo {
                method: "dump-restore",
                source: source_db.clone(),
                bytes: stats.bytes,
                millis: stats.millis,
                filestore_files: files,
            });
            result.timings_ms.insert("copy", t.elapsed().as_millis());

            // Neutralize with Odoo's own command (16.0+; odoo-ci's own SQL before), then
            // prove it.
            let t = Instant::now();
            if project.addons.series.has_neutralize_command() {
                run_odoo(
                    &executor,
                    project,
                    &target,
                    &name,
                    vec!["neutralize".into()],
                    &opts.output.join("neutralize.log"),
                    false,
                )
                .map_err(|e| anyhow::anyhow!("neutralization failed: {e}"))?;
            } else {
                let mut copy_db = target.connect(&name)?;
                neutralize::apply_own(&mut copy_db)
                    .map_err(|e| anyhow::anyhow!("neutralization failed: {e}"))?;
            }
            result
                .timings_ms
                .insert("neutralize", t.elapsed().as_millis());
            name
        }
    };
    result.database = Some(database.clone());

    // Prove Odoo's neutralization worked, then route mail to the catcher and prove it again
    // (every push: an update may add mail servers or crons).
    let mut staging_db = target.connect(&database)?;
    verify_or_fail(&mut staging_db, &policy, result, "after neutralization")?;
    if let Some(c) = &catcher {
        neutralize::route_mail_to(&mut staging_db, c)?;
        verify_or_fail(
            &mut staging_db,
            &policy,
            result,
            "after routing mail to the catcher",
        )?;
    }

    // Update what changed, install what is new, with the image built for this commit.
    let installed = db::installed_modules(&mut staging_db)?;
    drop(staging_db);
    let changes = updates::changes(project, &installed, &plan.addons.selected);
    if let Some(d) = changes.downgrade.first() {
        anyhow::bail!(
            "addon `{}` has version {} in the repo but {} in the database: Odoo cannot downgrade",
            d.addon,
            d.manifest,
            d.installed
        );
    }
    result.changes = changes.clone();
    if !changes.is_empty() {
        let t = Instant::now();
        let mut args = Vec::new();
        if !changes.update.is_empty() {
            args.extend(["-u".to_string(), changes.update_names().join(",")]);
        }
        if !changes.install.is_empty() {
            args.extend(["-i".to_string(), changes.install.join(",")]);
        }
        args.extend([
            "--stop-after-init".into(),
            "--workers".into(),
            "0".into(),
            "--max-cron-threads".into(),
            "0".into(),
        ]);
        if project.addons.series.demo_by_default() {
            args.push("--without-demo=all".into());
        }
        eprintln!(
            "{} update [{}] install [{}]",
            s.bold("staging:"),
            changes.update_names().join(", "),
            changes.install.join(", ")
        );
        run_odoo(
            &executor,
            project,
            &target,
            &database,
            args,
            &opts.output.join("update.log"),
            true,
        )
        .map_err(|e| anyhow::anyhow!("updating the staging database failed: {e}"))?;
        result.timings_ms.insert("update", t.elapsed().as_millis());
        let mut staging_db = target.connect(&database)?;
        if let Some(c) = &catcher {
            neutralize::route_mail_to(&mut staging_db, c)?;
        }
        verify_or_fail(&mut staging_db, &policy, result, "after the update")?;
    }

    // Start and health-check.
    let t = Instant::now();
    let name = container_name(&project.scope, &plan.branch);
    let mut args = odoo_args(&target, &executor, &database, project);
    args.extend(["--http-port".into(), port.to_string()]);
    let inv = Invocation {
        args,
        env: odoo_env(project, &target, Stage::Staging)?,
        timeout: Duration::from_secs(staging.health_check.timeout_secs),
    };
    let labels = HashMap::from([("odoo-ci.database".to_string(), database.clone())]);
    let id = executor.start_server(&name, &inv, &labels)?;
    result.container = Some(name.clone());
    let health = crate::health::wait_healthy(
        "127.0.0.1",
        port,
        &staging.health_check.path,
        Duration::from_secs(staging.health_check.timeout_secs),
        &mut || executor.not_running(&id),
    );
    if let Err(reason) = health {
        let logs = executor.logs_tail(&id, 200);
        let _ = std::fs::write(opts.output.join("server.log"), &logs);
        let _ = executor.remove(&id);
        result.container = None;
        anyhow::bail!(
            "the staging server did not become healthy: {reason}\n--- last lines of the server log ---\n{}",
            tail_lines(&logs, 20)
        );
    }
    result.timings_ms.insert("start", t.elapsed().as_millis());
    eprintln!("{} {url} is up", s.bold("staging:"));
    result.url = Some(url);
    guard.disarm();

    // Retention: keep the newest `staging.keep` databases of this branch.
    let keep = (staging.keep as usize).max(1);
    let mut all: Vec<String> = existing.into_iter().filter(|n| n != &database).collect();
    all.push(database.clone());
    if all.len() > keep {
        for old in &all[..all.len() - keep] {
            if db::drop_database(&mut admin, old).is_ok() {
                if let Some(dir) = crate::names::child_of(&data_dir.join("filestore"), old) {
                    let _ = std::fs::remove_dir_all(dir);
                }
                result.pruned.push(old.clone());
            }
        }
    }
    result.colour = Colour::Green;
    Ok(())
}

fn verify_or_fail(
    db: &mut postgres::Client,
    policy: &Policy,
    result: &mut StagingResult,
    when: &str,
) -> anyhow::Result<()> {
    let checks = neutralize::verify(db, policy)?;
    result.neutralization = checks.clone();
    if let Some(failed) = neutralize::first_failure(&checks) {
        anyhow::bail!(
            "neutralization check `{}` failed {when}: {} — the staging database is dropped",
            failed.name,
            failed.detail
        );
    }
    Ok(())
}

/// Runs `odoo <lead> <connection flags>` (or the flags first with `server_flags`) on
/// `database` to its end.
fn run_odoo(
    executor: &DockerExecutor,
    project: &Project,
    server: &PgServer,
    database: &str,
    mut lead: Vec<String>,
    log_path: &Path,
    server_flags: bool,
) -> anyhow::Result<()> {
    let base = odoo_args(server, executor, database, project);
    let args = if server_flags {
        let mut a = base;
        a.append(&mut lead);
        a
    } else {
        lead.extend(base);
        lead
    };
    run_to_end(executor, project, server, Stage::Staging, args, log_path)?;
    Ok(())
}

fn summary(r: &StagingResult) -> String {
    let mut out = format!("## odoo-ci / staging: {}\n\n", r.colour.as_str());
    for reason in &r.reasons {
        out.push_str(&format!("- {reason}\n"));
    }
    if let Some(url) = &r.url {
        out.push_str(&format!("- URL: {url}\n"));
    }
    if let Some(db) = &r.database {
        out.push_str(&format!("- database: `{db}`\n"));
    }
    if !r.neutralization.is_empty() {
        out.push_str("\n| check | result |\n| --- | --- |\n");
        for c in &r.neutralization {
            out.push_str(&format!(
                "| {} | {} {} |\n",
                c.name,
                if c.ok { "✅" } else { "❌" },
                c.detail
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_branch_names_become_safe_prefixes() {
        let p = branch_prefix("acme", "feat/\"; drop table x; --");
        assert!(p.starts_with("odoo_ci_stg_feat_drop_table_x_"), "{p}");
        assert!(p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        // Same slug, different branches: different prefixes.
        assert_ne!(branch_prefix("acme", "a/b"), branch_prefix("acme", "a-b"));
        // Same branch, different projects: different prefixes and containers.
        assert_ne!(branch_prefix("a", "staging"), branch_prefix("b", "staging"));
        assert_ne!(
            container_name("a", "staging"),
            container_name("b", "staging")
        );
        // A timestamp of 17 digits still fits PostgreSQL's 63-byte names.
        assert!(branch_prefix("acme", &"x".repeat(300)).len() + 17 <= 63);
        assert!(container_name("acme", "feat/\"; drop").starts_with("odoo-ci-staging-feat-drop-"));
    }

    #[test]
    fn only_this_branch_s_own_names_are_its_databases() {
        let db = |name: String, branch: &str| StagingDatabase {
            name,
            branch: branch.to_string(),
        };
        let mine = format!("{}20260101120000000", branch_prefix("p", "staging"));
        // `staging/<hash>/x` has a prefix that starts with `staging`'s: a prefix match took it.
        let hex = crate::names::short_hash(&["p", "staging"]);
        let other_branch = format!("staging/{hex}/x");
        let other = format!("{}20260101120000000", branch_prefix("p", &other_branch));
        let forged = format!("{}20260101/../../v", branch_prefix("p", "staging"));
        let all = vec![
            db(mine.clone(), "staging"),
            db(other, &other_branch),
            db(forged, "staging"),
        ];
        assert_eq!(of_branch(all, "p", "staging"), vec![mine]);
    }
}
