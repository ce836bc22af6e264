//! The development stage, as Odoo.sh runs it for a development branch: build the image,
//! make a fresh database with demo data (from a cached template), install the repo's addons
//! with their tests, and turn the log into the colour, JUnit and summary.
//!
//! Cleanup (the test database, its filestore, containers) runs on success, failure, timeout
//! and Ctrl-C alike, through `Cleanup`'s `Drop`; `--keep` leaves them for debugging.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::config::schema::WarningPolicy;
use crate::config::Stage;
use crate::db::{self, PgServer};
use crate::executor::command_line;
use crate::executor::docker::DockerExecutor;
use crate::executor::local::LocalExecutor;
use crate::executor::Executor;
use crate::odoo::result::LogResult;
use crate::odoo::traceback::PathMap;
use crate::odoo::{Analyzer, Colour, Event, Options};
use crate::plan::odoo_command::{Demo, OdooCommand};
use crate::plan::StepKind;
use crate::plan::{steps, Plan, Step};
use crate::project::Project;
use crate::result::development::{DevDetail, PreviewInfo, TemplateInfo};
use crate::result::{Detail, Reporter, StageResult};
use crate::stages::heartbeat::{Heartbeat, HEARTBEAT};
use crate::stages::previews;
use crate::stages::runner::Runner;
use crate::stages::runtime::{absolute, docker_executor, mounted_executor, RunsOn};
use crate::stages::static_times;
use crate::stages::template_cache::TemplateCache;
use crate::style::Style;

pub const TEMPLATE_PREFIX: &str = "odoo_ci_tpl_";
pub const TEST_DB_PREFIX: &str = "odoo_ci_test_";

pub use crate::plan::ExecutorKind;

#[derive(Clone)]
pub struct DevOptions {
    /// Where the template and test databases go (resolved and reached before the stage;
    /// `None` when the plan runs nothing).
    pub server: Option<PgServer>,
    pub output: PathBuf,
    pub no_cache: bool,
    pub keep: bool,
    /// Where templates' filestores and the data dir live on this machine.
    pub cache_dir: PathBuf,
    /// Where templates travel between jobs (`development.template_cache`, `--template-cache`).
    pub template_cache: Option<PathBuf>,
    /// The managed PostgreSQL container `server` is, when it is one (`postgres.image`):
    /// its whole cluster travels in the template cache folder too.
    pub managed: Option<crate::executor::managed_pg::Managed>,
    /// How Odoo runs: development's variables, resolved, and its timeout.
    pub odoo: crate::targets::odoo_env::OdooEnv,
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
                Err(e) => tracing::warn!("could not drop test database `{name}`: {e}"),
            }
        }
    }
}

/// Runs the development stage as planned. Whatever stops it makes the result red, with the
/// reason: the result is always there to report.
pub fn run(
    project: &Project,
    plan: &Plan,
    opts: &DevOptions,
    reporter: &mut dyn Reporter,
) -> StageResult {
    crate::cancel::install();
    let started = Instant::now();
    let mut result = StageResult::begin(
        &plan.branch,
        plan.commit.clone(),
        Detail::Development(DevDetail {
            shard: plan.shard,
            tested: plan.addons.test.clone(),
            installed: plan.addons.install.clone(),
            ..DevDetail::default()
        }),
    );
    let mut runner = Runner::new(plan, reporter);
    let mut detail = DevDetail::default();
    match run_steps(project, plan, opts, &mut runner, &mut detail) {
        Ok(colour_and_reasons) => {
            (result.colour, result.reasons) = colour_and_reasons;
        }
        Err(e) => {
            result.colour = Colour::Red;
            result.reasons.insert(0, format!("{e:#}"));
        }
    }
    runner.finish(&mut result);
    if let Detail::Development(d) = &mut result.detail {
        d.database = detail.database;
        d.template = detail.template;
        d.log = detail.log;
        d.screenshots = detail.screenshots;
        d.preview = detail.preview;
    }
    result.total_ms = started.elapsed().as_millis() as u64;
    result
}

/// The output folder and the data dir made, the server reached: its admin session.
fn prepare(opts: &DevOptions) -> anyhow::Result<(PgServer, postgres::Client, PathBuf)> {
    std::fs::create_dir_all(&opts.output)?;
    let server = opts.server.clone().ok_or_else(|| {
        anyhow::anyhow!("internal: the development stage was given no database server to run on")
    })?;
    let admin = server.connect("postgres")?;
    let data_dir = opts.cache_dir.join("data");
    std::fs::create_dir_all(&data_dir)?;
    Ok((server, admin, data_dir))
}

/// The plan's steps, in order; returns the colour and its reasons.
fn run_steps(
    project: &Project,
    plan: &Plan,
    opts: &DevOptions,
    runner: &mut Runner<'_>,
    detail: &mut DevDetail,
) -> anyhow::Result<(Colour, Vec<String>)> {
    if plan.steps.is_empty() {
        return Ok((
            Colour::Green,
            vec!["nothing to test: no addon of this shard or change set".into()],
        ));
    }
    let (server, mut admin, data_dir) = prepare(opts)?;
    let executor = executor_step(project, plan, opts, runner, &data_dir)?;

    // Held (shared) from the template found or made to the test database made from it: no
    // other run drops or prunes it meanwhile.
    let use_lock = template_use_lock(&project.scope);
    let (template, keep_templates) = template_step(
        project,
        opts,
        runner,
        executor.as_ref(),
        (&server, &mut admin, use_lock),
        &data_dir,
    )?;
    detail.template = Some(template.clone());
    let template = template.name;

    let mut cleanup = Cleanup {
        server: server.clone(),
        database: None,
        filestore: None,
        keep: opts.keep,
    };
    let database = database_step(
        runner,
        &mut admin,
        &mut cleanup,
        (&template, &data_dir),
        opts.keep,
    )?;
    detail.database = Some(database.clone());
    let keep = (use_lock, keep_templates);
    prune_unused_templates(&mut admin, keep, project, &template, &data_dir);

    let run = TestRun {
        project,
        odoo: &opts.odoo,
        server: &server,
        executor: executor.as_ref(),
        output: &opts.output,
        kept: plan.first::<steps::Keep>().is_some(),
    };
    let log = test_step(&run, runner, &database);
    detail.screenshots = collect_screenshots(&data_dir, &database, &opts.output, runner);
    let log = log?;
    let outcome = (log.colour, log.reasons.clone());
    detail.log = Some(log);
    if plan.first::<steps::Keep>().is_some() {
        let tested = previews::Tested {
            database: &database,
            branch: &plan.branch,
            commit: plan.commit.clone(),
        };
        let serving = (executor.as_ref(), &server, &opts.odoo);
        let at = (&mut admin, data_dir.as_path());
        detail.preview = keep_step(project, runner, serving, (tested, outcome.0), at)?;
        if detail.preview.is_some() {
            (cleanup.database, cleanup.filestore) = (None, None);
        }
    }
    drop(cleanup);
    Ok(outcome)
}

/// The plan's `keep` step: a green or yellow build stays up as its branch's preview; a red
/// one is not kept.
fn keep_step(
    project: &Project,
    runner: &mut Runner<'_>,
    (executor, server, odoo): (&dyn Executor, &PgServer, &crate::targets::odoo_env::OdooEnv),
    (tested, colour): (previews::Tested<'_>, Colour),
    (admin, data_dir): (&mut postgres::Client, &Path),
) -> anyhow::Result<Option<Box<PreviewInfo>>> {
    if colour == Colour::Red {
        runner.skip(StepKind::Keep, "the build is red: a red build is not kept")?;
        return Ok(None);
    }
    runner.step(|keep: &steps::Keep, _| {
        let docker_executor = executor.as_docker().ok_or_else(|| {
            anyhow::anyhow!(
                "a preview needs the Docker engine to serve it (the local executor runs none)"
            )
        })?;
        // On a swarm the preview is a service: its data dir a volume, as on a remote engine.
        let mut serving = docker_executor.clone();
        if let Some(swarm) = &keep.swarm {
            serving.swarm = Some(swarm.clone());
            serving.mirror = Some(absolute(data_dir));
        }
        let serve = |database: &str, port: u16| {
            let command =
                OdooCommand::on(Stage::Development, project.addons.series, database).serve_on(port);
            crate::stages::invocation::invocation(&command, odoo, server, &serving)
        };
        let engine = crate::executor::docker::Engine::from_env();
        let docker = &docker_executor.docker;
        let image = &docker_executor.image;
        let reach = crate::executor::host_http::admin_reach(&engine, docker, image, &project.scope);
        let mut place = previews::Place {
            server,
            admin,
            docker,
            scope: &project.scope,
            data_dir,
            proxy: keep
                .route
                .as_ref()
                .map(|r| crate::proxy::Caddy::reached(&r.caddy, &r.server, reach)),
            host: previews::reached_at(&engine),
            fleet: crate::executor::swarm::fleet(docker, keep.swarm.is_some()),
        };
        let now = crate::clock::now_secs();
        let kept = previews::keep(keep, tested, (&serving, &serve), &mut place, now)?;
        let text = format!("{} serves `{}` until it goes", kept.url, keep.database);
        let info = PreviewInfo {
            database: keep.database.clone(),
            url: kept.url,
            until: now + keep.for_secs,
            mail_url: kept.mail_url,
            dropped: kept.budget.dropped,
            stopped: kept.budget.stopped,
        };
        Ok((Some(Box::new(info)), text))
    })
}

/// The install-and-test step on `database`: the log read into a result.
fn test_step(
    run: &TestRun<'_>,
    runner: &mut Runner<'_>,
    database: &str,
) -> anyhow::Result<LogResult> {
    runner.step(|step: &steps::InstallAndTest, reporter| {
        let log = install_and_test(run, step, database, reporter)?;
        let text = log.reasons.first().cloned().unwrap_or_default();
        Ok((log, text))
    })
}

/// The test database from the template, with its filestore hard-linked from the
/// template's; `cleanup` drops both when the run ends (unless `keep`).
fn database_step(
    runner: &mut Runner<'_>,
    admin: &mut postgres::Client,
    cleanup: &mut Cleanup,
    (template, data_dir): (&str, &Path),
    keep: bool,
) -> anyhow::Result<String> {
    runner.step(|_: &steps::Database, _| {
        let database = format!("{TEST_DB_PREFIX}{}", run_id());
        db::create_from_template(admin, &database, template)?;
        cleanup.database = Some(database.clone());
        let target_store = data_dir.join("filestore").join(&database);
        // Hard links: Odoo never rewrites an attachment in place, so the template's files
        // are safe to share.
        crate::filestore::copy_local(&data_dir.join("filestore").join(template), &target_store)?;
        cleanup.filestore = Some(target_store);
        let kept = if keep {
            " (kept after the run: --keep)"
        } else {
            ""
        };
        Ok((
            database.clone(),
            format!("`{database}` from `{template}`{kept}"),
        ))
    })
}

/// The plan's first step: the commit's image, the base image with the project mounted, or
/// the local command.
fn executor_step(
    project: &Project,
    plan: &Plan,
    opts: &DevOptions,
    runner: &mut Runner<'_>,
    data_dir: &Path,
) -> anyhow::Result<Box<dyn Executor>> {
    let engine = crate::executor::docker::Engine::from_env();
    let on = RunsOn {
        engine: &engine,
        data_dir,
        output: &opts.output,
        cache_dir: &opts.cache_dir,
    };
    // A remote engine sees none of this runner's folders: the data dir is mirrored.
    let mirror = (engine.reach() == crate::executor::docker::Reach::ThroughEngine)
        .then(|| absolute(data_dir));
    let boxed = |(mut ex, done): (DockerExecutor, String)| {
        ex.mirror = mirror.clone();
        (Box::new(ex) as Box<dyn Executor>, done)
    };
    match plan.steps.first() {
        Some(Step::Local(_)) => runner.step(|local: &steps::Local, _| {
            let ex = local_executor(project, local.command.as_deref(), data_dir)?;
            let text = ex.command.join(" ");
            let settled = settle_static_times(project, plan, &opts.cache_dir)?;
            Ok((Box::new(ex) as Box<dyn Executor>, text + &settled))
        }),
        Some(Step::Mount(_)) => runner.step(|mount: &steps::Mount, reporter| {
            let (ex, text) = mounted_executor(project, plan, mount, &on, reporter).map(boxed)?;
            let settled = settle_static_times(project, plan, &opts.cache_dir)?;
            Ok((ex, text + &settled))
        }),
        _ => runner.step(|build: &steps::Build, reporter| {
            docker_executor(project, plan, build, &on, reporter).map(boxed)
        }),
    }
}

/// In CI, where the files are read in place (mounted, or by the local executor), the addons'
/// static files get times made of their bytes (see [`static_times`]); says how many, or
/// nothing.
fn settle_static_times(project: &Project, plan: &Plan, cache_dir: &Path) -> anyhow::Result<String> {
    if !static_times::wanted(project, plan) {
        return Ok(String::new());
    }
    let root = crate::stages::runtime::files_root(project, cache_dir)?;
    Ok(static_times::settle_and_say(&static_times::static_dirs(
        project, &root,
    )))
}

/// The template database: found by its key, restored from the template cache, or built;
/// older cached entries of this project pruned (older databases go after the test database
/// is made: see [`prune_unused_templates`]). Returns it and how many templates to keep.
fn template_step(
    project: &Project,
    opts: &DevOptions,
    runner: &mut Runner<'_>,
    executor: &dyn Executor,
    session: Session<'_>,
    data_dir: &Path,
) -> anyhow::Result<(TemplateInfo, u32)> {
    let root = crate::stages::runtime::files_root(project, &opts.cache_dir)?;
    runner.step(|planned: &steps::Template, reporter| {
        let contents = (&planned.preinstall[..], planned.assets.is_some());
        let key = template_key(project, &root, &executor.identity(), contents);
        let name = template_name(&key);
        let cache = opts.template_cache.clone().map(TemplateCache::new);
        let log = opts.output.join("template.log");
        let wanted = Template {
            name: &name,
            key: &key,
            preinstall: &planned.preinstall,
            assets: planned.assets.is_some(),
            cache: cache.as_ref(),
            log: &log,
            odoo: &opts.odoo,
        };
        let on = (executor, project, opts, data_dir);
        let info = ensure_template(session, on, &wanted, reporter)?;
        if let Some(cache) = &cache {
            cache.prune(&key, &project.scope, planned.keep as usize);
        }
        let done = match (&info.restored_from, &info.saved_to) {
            (Some(dir), _) => format!("`{name}` (restored from {dir})"),
            (None, Some(dir)) => format!("`{name}` (built, saved to {dir})"),
            _ if info.hit => format!("`{name}` (cache hit)"),
            _ => format!("`{name}` (built)"),
        };
        Ok(((info, planned.keep), done))
    })
}

/// The server, the run's own session on it (which holds the template-use lock) and that
/// lock's key.
type Session<'a> = (&'a PgServer, &'a mut postgres::Client, i64);

/// The advisory lock key a run of the project `scope` holds, shared, while it uses a
/// template (from finding it to its test database and filestore made from it); dropping
/// or pruning a template takes it exclusively, so no run loses a template it is about to
/// copy.
pub fn template_use_lock(scope: &str) -> i64 {
    db::lock_key(&format!("odoo-ci template use\0{scope}"))
}

/// The database name of the template with `key`.
pub fn template_name(key: &str) -> String {
    format!("{TEMPLATE_PREFIX}{}", &key[..16])
}

/// What the local executor runs Odoo as (`command`, `odoo.command`), as the template key
/// sees it.
pub fn local_identity(project: &Project, command: Option<&str>) -> anyhow::Result<String> {
    Ok(local_executor(project, command, Path::new("."))?.identity())
}

fn local_executor(
    project: &Project,
    command: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<LocalExecutor> {
    let layout = &project.layout;
    let command = command.ok_or_else(|| {
        anyhow::anyhow!("the local executor needs `odoo.command` in .odoo-ci.yml (e.g. `odoo`)")
    })?;
    let (command, own) = command_line::own_addons_paths(command_line::split(command)?);
    // The repository's addons first (they may override a core module), then the extra
    // addons paths', then the command's.
    let mut addons_paths: Vec<String> = layout
        .addons_dirs
        .iter()
        .map(|d| {
            absolute(&layout.root.join(d))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let extra = project
        .layout
        .extra_dirs
        .iter()
        .map(|d| d.to_string_lossy().into_owned());
    for path in extra.chain(own) {
        if !addons_paths.contains(&path) {
            addons_paths.push(path);
        }
    }
    Ok(LocalExecutor {
        command,
        addons_paths,
        data_dir: absolute(data_dir).to_string_lossy().into_owned(),
    })
}

/// Moves the screenshots failing tours saved for `database` (under the data dir, where
/// the test command's `--screenshots` points) into the output folder's `screenshots/`;
/// returns them, relative to the output folder.
fn collect_screenshots(
    data_dir: &Path,
    database: &str,
    output: &Path,
    runner: &mut Runner<'_>,
) -> Vec<String> {
    use crate::plan::odoo_command::SCREENSHOTS;
    let saved = data_dir.join(SCREENSHOTS).join(database);
    let moved = move_pngs(&saved.join("screenshots"), &output.join("screenshots"));
    let _ = std::fs::remove_dir_all(&saved);
    match moved {
        Ok(names) if !names.is_empty() => {
            let folder = output.join("screenshots");
            let line = format!(
                "{} screenshots of failing tours in {}",
                names.len(),
                folder.display()
            );
            runner.progress(&line);
            names
                .into_iter()
                .map(|n| format!("screenshots/{n}"))
                .collect()
        }
        Ok(_) => Vec::new(),
        Err(e) => {
            runner.progress(&format!(
                "warning: the tours' screenshots were not kept: {e}"
            ));
            Vec::new()
        }
    }
}

/// Moves the `.png` files of `from` (when it exists) into `to`; returns their names, sorted.
fn move_pngs(from: &Path, to: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = match std::fs::read_dir(from) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".png"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    names.sort();
    if !names.is_empty() {
        std::fs::create_dir_all(to)?;
    }
    for name in &names {
        std::fs::copy(from.join(name), to.join(name))?;
    }
    Ok(names)
}

/// Where the tests run: the project, its database server, the executor, the output folder.
struct TestRun<'a> {
    project: &'a Project,
    odoo: &'a crate::targets::odoo_env::OdooEnv,
    server: &'a PgServer,
    executor: &'a dyn Executor,
    output: &'a Path,
    /// The tested database is kept (a preview): its filestore, as the run left it, is kept
    /// too (carried out of the container where the data dir is mirrored).
    kept: bool,
}

/// Installs the addons with their tests as the plan's step says, on `database`, reading the
/// log as it streams (and saving it to `install.log`, flushed per line, so it is there even
/// if odoo-ci is killed).
fn install_and_test(
    run: &TestRun<'_>,
    step: &steps::InstallAndTest,
    database: &str,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<LogResult> {
    let TestRun {
        project,
        odoo,
        server,
        executor,
        output,
        kept,
    } = *run;
    let command = step.command.clone().on_database(database);
    let mut inv = crate::stages::invocation::invocation(&command, odoo, server, executor);
    // What Odoo reads of the data dir, and what is read of it after (see `Invocation`).
    inv.data_in = vec![format!("filestore/{database}")];
    inv.data_out = vec![format!(
        "{}/{database}",
        crate::plan::odoo_command::SCREENSHOTS
    )];
    if kept {
        inv.data_out.push(format!("filestore/{database}"));
    }
    let mut analyzer = Analyzer::new(analyzer_options(
        project,
        true,
        step.warnings,
        &step.ignore_warnings,
    )?);
    let mut log = std::io::BufWriter::new(std::fs::File::create(output.join("install.log"))?);
    let s = Style::for_stderr();
    reporter.progress(&s.dim(&command.describe()));
    let outcome = executor.run(&inv, &mut |line| {
        let _ = log.write_all(line);
        let _ = log.write_all(b"\n");
        let _ = log.flush();
        reporter.odoo_line(line);
        for event in analyzer.feed_line(line).into_iter().flatten() {
            if let Some(text) = event_line(&analyzer, event, s) {
                reporter.progress(&text);
            }
        }
    })?;
    log.flush()?;
    let mut log_result = analyzer.finish_with_exit(outcome.exit_code.map(|c| c as i32));
    if outcome.timed_out {
        log_result.colour = Colour::Red;
        log_result.reasons.insert(
            0,
            format!(
                "Odoo did not finish within {} s (`development.timeout_secs`) and was stopped",
                inv.timeout.as_secs()
            ),
        );
    }
    if outcome.cancelled {
        log_result.colour = Colour::Red;
        log_result
            .reasons
            .insert(0, "cancelled (Ctrl-C / SIGTERM)".into());
    }
    Ok(log_result)
}

fn analyzer_options(
    project: &Project,
    tests_expected: bool,
    warnings: WarningPolicy,
    ignore_warnings: &[String],
) -> anyhow::Result<Options> {
    let prefix = crate::repo::Repo::prefix_of(&project.layout.root);
    let map: BTreeMap<String, String> = project
        .addons
        .addons
        .iter()
        .map(|a| (a.name.clone(), format!("{prefix}{}", a.rel_dir)))
        .collect();
    let ignore = ignore_warnings
        .iter()
        .map(|p| regex::Regex::new(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Options {
        ignore,
        path_map: PathMap::new(map),
        tests_expected,
        exit_code: None,
        warnings,
        allow_truncated: false,
    })
}

/// A line for the terminal about a log event, if it deserves one.
fn event_line(analyzer: &Analyzer, event: Event, s: Style) -> Option<String> {
    match event {
        Event::Failure(i) => {
            let f = analyzer.failure(i);
            let at = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!("{file}:{line}: "),
                _ => String::new(),
            };
            Some(format!(
                "{} {at}{} {} — {}",
                s.red("✗"),
                f.module,
                f.test,
                f.message
            ))
        }
        Event::Problem(i) => {
            let p = analyzer.problem(i);
            Some(format!(
                "{} {} {}: {}",
                s.red("!"),
                p.level,
                p.logger,
                p.message
            ))
        }
        Event::TestStarted(_) => {
            let p = analyzer.progress();
            (p.tests_started % 25 == 0).then(|| {
                format!(
                    "{} {} tests run, {} failed",
                    s.dim("…"),
                    p.tests_started,
                    p.failures
                )
            })
        }
        Event::Summary => None,
    }
}

/// The cache key of the template: what Odoo runs, its requirements, series, and what it
/// holds: the preinstalled addons with demo data, and whether Odoo's asset bundles.
pub fn template_key(
    project: &Project,
    root: &Path,
    identity: &str,
    (preinstall, assets): (&[String], bool),
) -> String {
    let mut h = Sha256::new();
    h.update(identity.as_bytes());
    h.update(b"\0");
    if let Ok(Some(req)) = crate::repo_file::optional_text(root, "requirements.txt") {
        h.update(req.as_bytes());
    }
    h.update(b"\0");
    h.update(project.addons.series.to_string().as_bytes());
    let mut pre: Vec<&str> = preinstall.iter().map(String::as_str).collect();
    pre.sort_unstable();
    pre.dedup();
    h.update(pre.join(",").as_bytes());
    h.update(b"\0demo\0");
    if assets {
        h.update(b"assets\0");
    }
    // The extra addons paths' addons (Enterprise): another checkout of them is another
    // template.
    for addon in project.addons.addons.iter().filter(|a| a.extra.is_some()) {
        h.update(format!("{}@{}\0", addon.name, addon.version).as_bytes());
    }
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

/// The template a run wants, and where templates travel.
struct Template<'a> {
    name: &'a str,
    key: &'a str,
    preinstall: &'a [String],
    /// Whether Odoo's asset bundles are made in it (see `stages::template_assets`).
    assets: bool,
    cache: Option<&'a TemplateCache>,
    /// Where a build's whole Odoo log goes (the output folder's `template.log`).
    log: &'a Path,
    /// How Odoo runs: development's variables and timeout.
    odoo: &'a crate::targets::odoo_env::OdooEnv,
}

/// Makes sure the template exists: on a miss, under an advisory lock (so two jobs racing
/// make it once), restored from the template cache when it has it, else built (and saved
/// there). Only then is it marked ready: nothing else uses it half made.
fn ensure_template(
    (server, admin, use_lock): Session<'_>,
    (executor, project, opts, data_dir): (&dyn Executor, &Project, &DevOptions, &Path),
    wanted: &Template<'_>,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<TemplateInfo> {
    let template = wanted.name;
    let ready = template_comment(wanted.key, &project.scope);
    // A hit needs the database and, on this runner, its filestore: another runner's cache
    // folder holds the files of the templates it built, not ours.
    let files = data_dir.join("filestore").join(template);
    // Ready, and this run holds the use lock: nobody drops it before the test database.
    let held_ready = |admin: &mut postgres::Client| -> anyhow::Result<bool> {
        db::lock_shared(admin, use_lock)?;
        let ready = db::database_comment(admin, template)?.as_deref() == Some(ready.as_str())
            && files.is_dir();
        if !ready {
            db::unlock_shared(admin, use_lock)?;
        }
        Ok(ready)
    };
    let mut info = TemplateInfo {
        name: template.to_string(),
        hit: true,
        restored_from: None,
        saved_to: None,
        from_cluster: false,
    };
    if !opts.no_cache && held_ready(admin)? {
        return Ok(info);
    }
    let lock_key = i64::from_be_bytes(wanted.key.as_bytes()[..8].try_into().unwrap_or([0; 8]));
    let _lock = db::AdvisoryLock::acquire(server.connect("postgres")?, lock_key)?;
    // Another job may have made it while we waited.
    if !opts.no_cache && held_ready(admin)? {
        return Ok(info);
    }
    info.hit = false;
    let cache = wanted.cache.filter(|_| !opts.no_cache);
    let carried = (server, &mut *admin, use_lock);
    if let Some(dir) = carried_template(carried, cache, &project.scope, wanted, (&ready, data_dir))?
    {
        (info.restored_from, info.from_cluster) = (Some(dir), true);
        return Ok(info);
    }
    if db::database_exists(admin, template)? || files.exists() {
        // Another run may be about to copy it: wait until none is.
        db::lock_exclusive(admin, use_lock)?;
        discard_template(admin, template, &files);
        db::unlock_exclusive(admin, use_lock)?;
    }
    let on = (server, executor, project, data_dir);
    (info.restored_from, info.saved_to) = make_template(admin, on, wanted, cache, reporter)?;
    // Held before it is marked ready, until this run's test database is made from it.
    db::lock_shared(admin, use_lock)?;
    db::set_database_comment(admin, template, &ready)?;
    if let (Some(cache), Some(managed)) = (cache, &opts.managed) {
        save_cluster(managed, &project.scope, cache, reporter);
    }
    Ok(info)
}

/// The template cache folder, when the server already holds the template, ready — carried
/// in the managed server's saved cluster — and its files, missing on this runner, could be
/// restored from `cache`; then this run holds the use lock.
fn carried_template(
    (server, admin, use_lock): Session<'_>,
    cache: Option<&TemplateCache>,
    scope: &str,
    wanted: &Template<'_>,
    (ready, data_dir): (&str, &Path),
) -> anyhow::Result<Option<String>> {
    let Some(cache) = cache else {
        return Ok(None);
    };
    db::lock_shared(admin, use_lock)?;
    let in_server = db::database_comment(admin, wanted.name)?.as_deref() == Some(ready);
    let files = data_dir.join("filestore").join(wanted.name);
    let restored = match in_server && !files.exists() {
        true => cache.restore_files(wanted.key, scope, server, wanted.name, data_dir),
        false => Ok(None),
    };
    match restored {
        Ok(Some(moved)) => {
            tracing::info!(
                "template `{}` was in the server (its saved cluster); its {} attachments restored from {} in {} ms",
                wanted.name,
                moved.attachments,
                cache.dir().display(),
                moved.millis
            );
            Ok(Some(cache.dir().display().to_string()))
        }
        other => {
            if let Err(e) = other {
                tracing::warn!(
                    "the template's files in {} were not used: {e}",
                    cache.dir().display()
                );
                let _ = std::fs::remove_dir_all(&files);
            }
            db::unlock_shared(admin, use_lock)?;
            Ok(None)
        }
    }
}

/// Saves the managed server's whole cluster next to the template cache entries, so that
/// the next fresh job starts its server with the template in it. A failure costs the next
/// job time, not this one its result: a warning.
fn save_cluster(
    managed: &crate::executor::managed_pg::Managed,
    scope: &str,
    cache: &TemplateCache,
    reporter: &mut dyn Reporter,
) {
    let saved = crate::executor::docker::Engine::from_env()
        .connect()
        .map_err(|e| crate::executor::ExecError::Other(e.to_string()))
        .and_then(|docker| {
            let container = (
                managed.container.as_str(),
                managed.image.as_str(),
                managed.user(),
            );
            crate::executor::pg_cluster::save(&docker, container, scope, cache.dir())
        });
    match saved {
        Ok(saved) => tracing::info!(
            "the cluster of {} saved to {} ({} bytes, {} packed)",
            managed.container,
            cache.dir().display(),
            saved.bytes,
            saved.archive_bytes
        ),
        Err(e) => reporter.progress(&format!(
            "warning: could not save the cluster of {} to {}: {e}",
            managed.container,
            cache.dir().display()
        )),
    }
}

/// Drops a template that is not ready, with its filestore.
fn discard_template(admin: &mut postgres::Client, template: &str, files: &Path) {
    let _ = db::drop_database(admin, template);
    let _ = std::fs::remove_dir_all(files);
}

/// Makes the missing template: restored from `cache` when it has it, else built (and
/// saved there). Returns where it was restored from, or saved to.
fn make_template(
    admin: &mut postgres::Client,
    (server, executor, project, data_dir): (&PgServer, &dyn Executor, &Project, &Path),
    wanted: &Template<'_>,
    cache: Option<&TemplateCache>,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let template = wanted.name;
    let files = data_dir.join("filestore").join(template);
    if let Some(cache) = cache {
        match cache.restore(wanted.key, &project.scope, server, template, data_dir) {
            Ok(Some(moved)) => {
                tracing::info!(
                    "template `{template}` restored from {} in {} ms ({} attachments)",
                    cache.dir().display(),
                    moved.millis,
                    moved.attachments
                );
                return Ok((Some(cache.dir().display().to_string()), None));
            }
            Ok(None) => {}
            Err(e) => {
                reporter.progress(&format!(
                    "warning: the template saved in {} was not used, building it instead: {e}",
                    cache.dir().display()
                ));
                discard_template(admin, template, &files);
            }
        }
    }
    if let Err(e) = build_template(server, executor, project, wanted, (data_dir, reporter)) {
        discard_template(admin, template, &files);
        return Err(e);
    }
    let saved = cache.and_then(|cache| {
        match cache.save(wanted.key, &project.scope, server, template, data_dir) {
            Ok(_) => Some(cache.dir().display().to_string()),
            Err(e) => {
                reporter.progress(&format!(
                    "warning: could not save the template to {}: {e}",
                    cache.dir().display()
                ));
                None
            }
        }
    });
    Ok((None, saved))
}

/// What builds the template: the preinstalled addons (or `base`) with demo data, its
/// filestore read out of the data dir afterwards.
fn template_invocation(
    server: &PgServer,
    executor: &dyn Executor,
    project: &Project,
    wanted: &Template<'_>,
) -> crate::executor::Invocation {
    let modules = match wanted.preinstall.is_empty() {
        true => vec!["base".to_string()],
        false => wanted.preinstall.to_vec(),
    };
    let command = OdooCommand::on(Stage::Development, project.addons.series, wanted.name)
        .install(&modules)
        .once()
        .demo(Demo::With)
        .skip_auto_install();
    let mut inv = crate::stages::invocation::invocation(&command, wanted.odoo, server, executor);
    inv.data_out = vec![format!("filestore/{}", wanted.name)];
    inv
}

/// Installs the preinstalled addons (or `base`) with demo data into the new database
/// `template`, and gives it its filestore folder.
fn build_template(
    server: &PgServer,
    executor: &dyn Executor,
    project: &Project,
    wanted: &Template<'_>,
    (data_dir, reporter): (&Path, &mut dyn Reporter),
) -> anyhow::Result<()> {
    let template = wanted.name;
    let inv = template_invocation(server, executor, project, wanted);
    let mut analyzer = Analyzer::new(analyzer_options(
        project,
        false,
        WarningPolicy::Ignore,
        &[],
    )?);
    let mut tail: Vec<String> = Vec::new();
    let mut whole = std::io::BufWriter::new(std::fs::File::create(wanted.log)?);
    let mut heartbeat = Heartbeat::every(HEARTBEAT);
    let outcome = executor.run(&inv, &mut |line| {
        analyzer.feed_line(line);
        reporter.odoo_line(line);
        let _ = whole.write_all(line);
        let _ = whole.write_all(b"\n");
        tail.push(String::from_utf8_lossy(line).into_owned());
        if tail.len() > 40 {
            tail.remove(0);
        }
        if let Some(secs) = heartbeat.due() {
            reporter.progress(&format!(
                "building the template: Odoo has run {secs} s, {} log lines",
                heartbeat.lines
            ));
        }
    })?;
    whole.flush()?;
    let log = analyzer.finish_with_exit(outcome.exit_code.map(|c| c as i32));
    if outcome.cancelled {
        anyhow::bail!("cancelled (Ctrl-C / SIGTERM) while building the template database");
    }
    if log.colour == Colour::Red || outcome.timed_out {
        anyhow::bail!(
            "building the template database failed: {}\n--- last lines of the Odoo log (all of it: {}) ---\n{}",
            log.reasons.join("; "),
            wanted.log.display(),
            tail.join("\n")
        );
    }
    if wanted.assets {
        make_assets(server, executor, project, wanted, reporter)?;
    }
    // Its folder, even with no file in it: the mark that this runner has its filestore.
    // Owned as the data dir is: test databases copy it, and Odoo (run as the data dir's
    // owner) writes into their copies.
    let files = data_dir.join("filestore").join(template);
    std::fs::create_dir_all(&files)?;
    crate::filestore::own_like(&files, data_dir)?;
    Ok(())
}

/// Makes Odoo's asset bundles in the template just built, its log added to the
/// template's. A failure costs speed, not the template: the shell's transaction is rolled
/// back, and Odoo makes the bundles in the test database as it would have.
fn make_assets(
    server: &PgServer,
    executor: &dyn Executor,
    project: &Project,
    wanted: &Template<'_>,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<()> {
    use crate::stages::template_assets::{make_in, AssetsError};
    let mut log = std::fs::OpenOptions::new().append(true).open(wanted.log)?;
    let on = (server, executor, project.addons.series);
    match make_in(wanted.name, on, wanted.odoo, (&mut log, reporter)) {
        Ok(made) => reporter.progress(&format!(
            "Odoo's asset bundles made in the template in {} ms ({} new)",
            made.millis, made.bundles
        )),
        Err(AssetsError::Cancelled) => return Err(AssetsError::Cancelled.into()),
        Err(e) => reporter.progress(&format!(
            "warning: {e}; the tests make them instead (the whole log: {})",
            wanted.log.display()
        )),
    }
    Ok(())
}

/// Prunes this project's older templates — only when no other run of the project holds
/// the template-use lock; else the next run does. Then lets go of this run's own hold.
fn prune_unused_templates(
    admin: &mut postgres::Client,
    (use_lock, keep): (i64, u32),
    project: &Project,
    current: &str,
    data_dir: &Path,
) {
    let keep = keep as usize;
    match db::try_lock_exclusive(admin, use_lock) {
        Ok(true) => {
            prune_templates(admin, current, keep, &project.scope, data_dir);
            let _ = db::unlock_exclusive(admin, use_lock);
        }
        Ok(false) => tracing::info!("another run uses this project's templates: no pruning now"),
        Err(e) => tracing::warn!("could not take the template-use lock: {e}"),
    }
    let _ = db::unlock_shared(admin, use_lock);
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
