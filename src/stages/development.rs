//! The development stage, as Odoo.sh runs it for a development branch: build the image,
//! make a fresh database with demo data (from a cached template), install the repo's addons
//! with their tests, and turn the log into the colour, JUnit and summary.
//!
//! Cleanup (the test database, its filestore, containers) runs on success, failure, timeout
//! and Ctrl-C alike, through [`Cleanup`]'s `Drop`; `--keep` leaves them for debugging.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Stage;
use crate::db::{self, PgServer};
use crate::executor::local::LocalExecutor;
use crate::executor::{Executor, Invocation};
use crate::odoo::result::LogResult;
use crate::odoo::traceback::PathMap;
use crate::odoo::{Analyzer, Colour, Event, Options};
use crate::plan::Plan;
use crate::project::Project;
use crate::stages::runtime::{absolute, docker_executor, odoo_args, odoo_env, pg_server};
use crate::stages::shard;
use crate::style::Style;

pub const TEMPLATE_PREFIX: &str = "odoo_ci_tpl_";
pub const TEST_DB_PREFIX: &str = "odoo_ci_test_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    Docker,
    Local,
}

#[derive(Debug, Clone)]
pub struct DevOptions {
    pub output: PathBuf,
    pub executor: ExecutorKind,
    pub no_cache: bool,
    pub keep: bool,
    pub changed_only: bool,
    pub shard: Option<(usize, usize)>,
    /// A JUnit file of a previous run, to balance shards by duration.
    pub durations: Option<PathBuf>,
    /// Where templates' filestores and the data dir live on this machine.
    pub cache_dir: PathBuf,
}

/// What the stage did, for `odoo-ci-result.json`.
#[derive(Debug, Serialize)]
pub struct DevResult {
    pub stage: &'static str,
    pub branch: String,
    pub commit: Option<String>,
    pub colour: Colour,
    pub reasons: Vec<String>,
    pub tested: Vec<String>,
    pub installed: Vec<String>,
    pub database: Option<String>,
    pub template: Option<TemplateInfo>,
    pub timings_ms: BTreeMap<&'static str, u128>,
    pub log: Option<LogResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    pub name: String,
    pub hit: bool,
}

/// Drops the test database and its filestore when dropped, unless kept.
struct Cleanup {
    server: PgServer,
    database: Option<String>,
    filestore: Option<PathBuf>,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.keep {
            if let Some(db) = &self.database {
                eprintln!("kept database `{db}` (--keep)");
            }
            return;
        }
        if let Some(dir) = &self.filestore {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = &self.database {
            match self
                .server
                .connect("postgres")
                .and_then(|mut c| db::drop_database(&mut c, name))
            {
                Ok(()) => tracing::info!("dropped test database `{name}`"),
                Err(e) => eprintln!("warning: could not drop test database `{name}`: {e}"),
            }
        }
    }
}

/// Runs the development stage. Errors that stop it are returned as a red result, not `Err`,
/// whenever the user can act on them; `Err` is for bugs in odoo-ci's own surroundings.
pub fn run(project: &Project, plan: &Plan, opts: &DevOptions) -> anyhow::Result<DevResult> {
    crate::cancel::install();
    let started = Instant::now();
    let mut result = DevResult {
        stage: "development",
        branch: plan.branch.clone(),
        commit: plan.commit.clone(),
        colour: Colour::Red,
        reasons: Vec::new(),
        tested: Vec::new(),
        installed: Vec::new(),
        database: None,
        template: None,
        timings_ms: BTreeMap::new(),
        log: None,
    };
    std::fs::create_dir_all(&opts.output)?;
    match run_inner(project, plan, opts, &mut result) {
        Ok(()) => {}
        Err(e) => {
            result.colour = Colour::Red;
            result.reasons.insert(0, format!("{e:#}"));
        }
    }
    result
        .timings_ms
        .insert("total", started.elapsed().as_millis());
    write_outputs(&opts.output, &result)?;
    Ok(result)
}

fn run_inner(
    project: &Project,
    plan: &Plan,
    opts: &DevOptions,
    result: &mut DevResult,
) -> anyhow::Result<()> {
    let config = &project.config;
    let dev = &config.file.development;
    let s = Style::for_stderr();

    // Which addons: the plan's, narrowed to the push's changes and to this shard.
    let mut tested = plan.addons.test.clone();
    if opts.changed_only {
        let base = project.base.as_ref().ok_or_else(|| {
            anyhow::anyhow!("--changed-only needs a base to compare with: pass --base REF")
        })?;
        let affected = project
            .graph
            .with_dependents(base.changed_files.keys().map(String::as_str));
        tested.retain(|a| affected.contains(a));
    }
    if let Some((k, n)) = opts.shard {
        let durations = match &opts.durations {
            Some(p) => shard::durations_from_junit(&std::fs::read_to_string(p)?),
            None => BTreeMap::new(),
        };
        tested = shard::split(&tested, k, n, &durations);
    }
    result.tested = tested.clone();
    if tested.is_empty() {
        result.colour = Colour::Green;
        result
            .reasons
            .push("nothing to test: no addon of this shard or change set".into());
        return Ok(());
    }
    let install = project
        .graph
        .with_dependencies(tested.iter().map(String::as_str));
    result.installed = install.clone();

    let server = pg_server(&project.config)?;
    let mut admin = server.connect("postgres")?;
    let data_dir = opts.cache_dir.join("data");
    std::fs::create_dir_all(&data_dir)?;

    // The executor: build the image for this commit, or use the local command.
    let t = Instant::now();
    let executor: Box<dyn Executor> = match opts.executor {
        ExecutorKind::Local => {
            let command = config.file.odoo.command.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "the local executor needs `odoo.command` in .odoo-ci.yml (e.g. `odoo`)"
                )
            })?;
            Box::new(LocalExecutor {
                command: command.split_whitespace().map(str::to_string).collect(),
                addons_paths: config
                    .addons_dirs
                    .iter()
                    .map(|d| {
                        absolute(&config.root.join(d))
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect(),
                data_dir: absolute(&data_dir).to_string_lossy().into_owned(),
            })
        }
        ExecutorKind::Docker => Box::new(docker_executor(
            project,
            plan,
            &data_dir,
            &opts.output,
            &opts.cache_dir,
        )?),
    };
    result.timings_ms.insert("build", t.elapsed().as_millis());

    // A fresh database with demo data, from the template.
    let t = Instant::now();
    let key = template_key(project, executor.as_ref(), &dev.preinstall);
    let template = format!("{TEMPLATE_PREFIX}{}", &key[..16]);
    let hit = ensure_template(
        &server,
        executor.as_ref(),
        project,
        &template,
        &key,
        opts,
        &data_dir,
    )?;
    eprintln!(
        "{} template `{template}` ({})",
        s.bold("database:"),
        if hit { "cache hit" } else { "built" }
    );
    result.template = Some(TemplateInfo {
        name: template.clone(),
        hit,
    });
    prune_templates(
        &mut admin,
        &template,
        dev.keep_templates as usize,
        &project.scope,
        &data_dir,
    );

    let database = format!("{TEST_DB_PREFIX}{}", run_id());
    let mut cleanup = Cleanup {
        server: server.clone(),
        database: None,
        filestore: None,
        keep: opts.keep,
    };
    db::create_from_template(&mut admin, &database, &template)?;
    cleanup.database = Some(database.clone());
    let target_store = data_dir.join("filestore").join(&database);
    // Hard links: Odoo never rewrites an attachment in place, so the template's files are
    // safe to share.
    crate::filestore::copy_local(&data_dir.join("filestore").join(&template), &target_store)?;
    cleanup.filestore = Some(target_store);
    result.database = Some(database.clone());
    result
        .timings_ms
        .insert("database", t.elapsed().as_millis());

    // Install the repo's addons with their tests, reading the log as it streams.
    let t = Instant::now();
    let tags = dev.test_tags.clone().unwrap_or_else(|| {
        tested
            .iter()
            .map(|a| format!("/{a}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    let mut args = odoo_args(&server, executor.as_ref(), &database, project);
    args.extend(["-i".into(), install.join(","), "--test-tags".into(), tags]);
    args.extend([
        "--stop-after-init".into(),
        "--workers".into(),
        "0".into(),
        "--max-cron-threads".into(),
        "0".into(),
    ]);
    if !project.addons.series.demo_by_default() {
        args.push("--with-demo".into());
    }
    let inv = Invocation {
        args,
        env: odoo_env(project, &server, Stage::Development)?,
        timeout: Duration::from_secs(dev.timeout_secs),
    };
    let mut analyzer = Analyzer::new(analyzer_options(project, true, None));
    let mut log = std::io::BufWriter::new(std::fs::File::create(opts.output.join("install.log"))?);
    eprintln!(
        "{} {}",
        s.bold("odoo:"),
        s.dim(&format!("odoo {}", display_args(&inv.args)))
    );
    let outcome = executor.run(&inv, &mut |line| {
        // Flushed per line: install.log is read live (and kept if odoo-ci is killed).
        let _ = log.write_all(line);
        let _ = log.write_all(b"\n");
        let _ = log.flush();
        for event in analyzer.feed_line(line).into_iter().flatten() {
            show_event(&analyzer, event, s);
        }
    })?;
    log.flush()?;
    result.timings_ms.insert("tests", t.elapsed().as_millis());

    let mut log_result = analyzer.finish_with_exit(outcome.exit_code.map(|c| c as i32));
    if outcome.timed_out {
        log_result.colour = Colour::Red;
        log_result.reasons.insert(
            0,
            format!(
                "Odoo did not finish within {} s and was stopped",
                dev.timeout_secs
            ),
        );
    }
    if outcome.cancelled {
        log_result.colour = Colour::Red;
        log_result
            .reasons
            .insert(0, "cancelled (Ctrl-C / SIGTERM)".into());
    }
    result.colour = log_result.colour;
    result.reasons.extend(log_result.reasons.iter().cloned());
    result.log = Some(log_result);
    drop(cleanup);
    Ok(())
}

fn display_args(args: &[String]) -> String {
    args.join(" ")
}

fn analyzer_options(project: &Project, tests_expected: bool, exit_code: Option<i32>) -> Options {
    let map: BTreeMap<String, String> = project
        .addons
        .addons
        .iter()
        .map(|a| (a.name.clone(), a.rel_dir.clone()))
        .collect();
    Options {
        ignore: project.config.ignore_warnings.clone(),
        path_map: PathMap::new(map),
        tests_expected,
        exit_code,
        warnings: project.config.file.development.warnings,
        allow_truncated: false,
    }
}

fn show_event(analyzer: &Analyzer, event: Event, s: Style) {
    match event {
        Event::Failure(i) => {
            let f = analyzer.failure(i);
            let at = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!("{file}:{line}: "),
                _ => String::new(),
            };
            eprintln!("{} {at}{} {} — {}", s.red("✗"), f.module, f.test, f.message);
        }
        Event::Problem(i) => {
            let p = analyzer.problem(i);
            eprintln!("{} {} {}: {}", s.red("!"), p.level, p.logger, p.message);
        }
        Event::TestStarted(_) => {
            let p = analyzer.progress();
            if p.tests_started % 25 == 0 {
                eprintln!(
                    "{} {} tests run, {} failed",
                    s.dim("…"),
                    p.tests_started,
                    p.failures
                );
            }
        }
        Event::Summary => {}
    }
}

/// The cache key of the template: what Odoo runs, its requirements, series, and the
/// preinstalled addons with demo data.
fn template_key(project: &Project, executor: &dyn Executor, preinstall: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(executor.identity().as_bytes());
    h.update(b"\0");
    if let Ok(Some(req)) = crate::repo_file::optional_text(&project.config.root, "requirements.txt")
    {
        h.update(req.as_bytes());
    }
    h.update(b"\0");
    h.update(project.addons.series.to_string().as_bytes());
    let mut pre: Vec<&str> = preinstall.iter().map(String::as_str).collect();
    pre.sort_unstable();
    pre.dedup();
    h.update(pre.join(",").as_bytes());
    h.update(b"\0demo\0");
    // Per project: a template is dropped only by the project that made it.
    h.update(project.scope.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The comment that marks a finished template of the project `scope`.
fn template_comment(key: &str, scope: &str) -> String {
    format!("odoo-ci template {key} project {scope}")
}

/// Whether a template's comment says the project `scope` made it.
fn is_own_template(comment: Option<&str>, scope: &str) -> bool {
    comment
        .and_then(|c| c.strip_prefix("odoo-ci template "))
        .and_then(|rest| rest.split_once(" project "))
        .is_some_and(|(_, owner)| owner == scope)
}

/// Makes sure the template exists; builds it once under an advisory lock, so two jobs
/// racing build it once. Returns whether it was a cache hit.
fn ensure_template(
    server: &PgServer,
    executor: &dyn Executor,
    project: &Project,
    template: &str,
    key: &str,
    opts: &DevOptions,
    data_dir: &Path,
) -> anyhow::Result<bool> {
    let ready = template_comment(key, &project.scope);
    let mut admin = server.connect("postgres")?;
    if opts.no_cache {
        db::drop_database(&mut admin, template)?;
    } else if db::database_comment(&mut admin, template)?.as_deref() == Some(ready.as_str()) {
        return Ok(true);
    }
    let lock_key = i64::from_be_bytes(key.as_bytes()[..8].try_into().unwrap_or([0; 8]));
    let _lock = db::AdvisoryLock::acquire(server.connect("postgres")?, lock_key)?;
    // Another job may have built it while we waited.
    if !opts.no_cache
        && db::database_comment(&mut admin, template)?.as_deref() == Some(ready.as_str())
    {
        return Ok(true);
    }
    db::drop_database(&mut admin, template)?;
    let _ = std::fs::remove_dir_all(data_dir.join("filestore").join(template));
    let preinstall = &project.config.file.development.preinstall;
    let mut args = odoo_args(server, executor, template, project);
    let modules = if preinstall.is_empty() {
        "base".to_string()
    } else {
        preinstall.join(",")
    };
    args.extend([
        "-i".into(),
        modules,
        "--stop-after-init".into(),
        "--workers".into(),
        "0".into(),
    ]);
    args.extend(["--max-cron-threads".into(), "0".into()]);
    if !project.addons.series.demo_by_default() {
        args.extend(["--with-demo".into(), "--skip-auto-install".into()]);
    }
    let inv = Invocation {
        args,
        env: odoo_env(project, server, Stage::Development)?,
        timeout: Duration::from_secs(project.config.file.development.timeout_secs),
    };
    let mut analyzer = Analyzer::new(analyzer_options(project, false, None));
    let mut tail: Vec<String> = Vec::new();
    let outcome = executor.run(&inv, &mut |line| {
        analyzer.feed_line(line);
        tail.push(String::from_utf8_lossy(line).into_owned());
        if tail.len() > 40 {
            tail.remove(0);
        }
    })?;
    let log = analyzer.finish_with_exit(outcome.exit_code.map(|c| c as i32));
    if outcome.cancelled {
        let _ = db::drop_database(&mut admin, template);
        anyhow::bail!("cancelled (Ctrl-C / SIGTERM) while building the template database");
    }
    if log.colour == Colour::Red || outcome.timed_out {
        let _ = db::drop_database(&mut admin, template);
        anyhow::bail!(
            "building the template database failed: {}\n--- last lines of the Odoo log ---\n{}",
            log.reasons.join("; "),
            tail.join("\n")
        );
    }
    db::set_database_comment(&mut admin, template, &ready)?;
    Ok(false)
}

/// Drops all but the `keep` newest templates of the project `scope` (never `current`), with
/// their filestores. Another project's templates, and any database whose comment does not
/// say it is this project's, are never touched.
fn prune_templates(
    admin: &mut postgres::Client,
    current: &str,
    keep: usize,
    scope: &str,
    data_dir: &Path,
) {
    let Ok(all) = db::databases_with_prefix(admin, TEMPLATE_PREFIX) else {
        return;
    };
    let mut own = Vec::new();
    for name in all.into_iter().filter(|t| t != current) {
        let comment = db::database_comment(admin, &name).ok().flatten();
        if is_own_template(comment.as_deref(), scope) {
            own.push(name);
        }
    }
    let excess = (own.len() + 1).saturating_sub(keep.max(1));
    for old in own.into_iter().take(excess) {
        match db::drop_database(admin, &old) {
            Ok(()) => {
                if let Some(dir) = crate::names::child_of(&data_dir.join("filestore"), &old) {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            Err(e) => tracing::warn!("could not prune template `{old}`: {e}"),
        }
    }
}

fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_outputs(dir: &Path, result: &DevResult) -> anyhow::Result<()> {
    std::fs::write(
        dir.join("odoo-ci-result.json"),
        serde_json::to_string_pretty(result)?,
    )?;
    if let Some(log) = &result.log {
        std::fs::write(
            dir.join("junit.xml"),
            crate::report::junit::render(log, "odoo-ci development")?,
        )?;
        std::fs::write(
            dir.join("summary.md"),
            crate::report::summary::render(
                log,
                "odoo-ci / development",
                crate::report::summary::STEP_SUMMARY_LIMIT,
            ),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_this_project_s_only_when_its_comment_says_so() {
        let mine = template_comment("abc", "acme-odoo-1234abcd");
        assert!(is_own_template(Some(&mine), "acme-odoo-1234abcd"));
        assert!(!is_own_template(Some(&mine), "other-5678abcd"));
        // Older templates, templates being built (no comment yet), foreign databases.
        assert!(!is_own_template(
            Some("odoo-ci template abc"),
            "acme-odoo-1234abcd"
        ));
        assert!(!is_own_template(None, "acme-odoo-1234abcd"));
        assert!(!is_own_template(Some("client db"), "acme-odoo-1234abcd"));
    }
}
