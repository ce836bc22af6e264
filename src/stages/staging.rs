//! The staging stage, as Odoo.sh runs it for a staging branch: a copy of production (data
//! and filestore), neutralized and *verified* before anything starts, updated to this
//! commit, started and health-checked — the plan's steps, in its order.
//!
//! Production is only read (`pg_dump` in one snapshot; the filestore is hard-linked or
//! copied). A staging database that fails any step after this run made or reused it is
//! dropped with its server, and the result says what was reached, so a half-neutralized
//! copy never survives and never serves. An update (`-u`) writes back what its modules'
//! data defines (an active mail server, a cron), so the copy is neutralized again after it,
//! with no server running on it, and verified before a server starts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::backups::Backups;
use crate::config::Stage;
use crate::db;
use crate::executor::docker::DockerExecutor;
use crate::executor::mail_catcher::Greeter;
use crate::executor::servers::GivenUp;
use crate::neutralize::{self, Policy};
use crate::odoo::Colour;
use crate::plan::odoo_command::OdooCommand;
use crate::plan::steps::{self, Params};
use crate::plan::updates;
use crate::plan::{Plan, StepKind};
use crate::project::Project;
use crate::result::staging::{CopyInfo, StagingDetail};
use crate::result::{Detail, Reporter, StageResult};
use crate::stages::heartbeat::{streaming, waiting, Heartbeat, HEARTBEAT};
use crate::stages::invocation::invocation;
use crate::stages::runner::Runner;
use crate::stages::runtime::{
    docker_executor, release_executor, run_invocation_to_end, run_to_end, tail_lines, RunsOn,
};
use crate::stages::staging_dbs::{
    branch_prefix, container_name, discard, list, of_branch, Discarded, MARKER,
};
use crate::targets::staging::Staging;

pub struct StagingOptions {
    pub output: PathBuf,
    pub cache_dir: PathBuf,
    /// How Odoo runs: staging's variables, resolved, and its timeout.
    pub odoo: crate::targets::odoo_env::OdooEnv,
    /// Production's backups, resolved when the copy comes from one (`--from-backup`).
    pub backups: Option<Backups>,
}

/// Runs the staging stage as planned; whatever stops it makes the result red, with the
/// reason.
pub fn run(
    project: &Project,
    plan: &Plan,
    place: &Staging,
    opts: &StagingOptions,
    reporter: &mut dyn Reporter,
) -> StageResult {
    crate::cancel::install();
    let started = Instant::now();
    let mut detail = StagingDetail {
        push: planned_copy(plan).map(|c| c.push).unwrap_or_default(),
        ..StagingDetail::default()
    };
    let mut result = StageResult::begin(
        &plan.branch,
        plan.commit.clone(),
        Detail::Staging(StagingDetail::default()),
    );
    let mut runner = Runner::new(plan, reporter);
    match run_steps((project, plan, place), opts, &mut runner, &mut detail) {
        Ok(()) => result.colour = Colour::Green,
        Err(e) => result.reasons.insert(0, format!("{e:#}")),
    }
    runner.finish(&mut result);
    result.detail = Detail::Staging(detail);
    result.total_ms = started.elapsed().as_millis() as u64;
    result
}

/// Where a staging run acts (resolved by the command), and for which plan.
struct Where<'a> {
    project: &'a Project,
    plan: &'a Plan,
    opts: &'a StagingOptions,
    place: &'a Staging,
    /// The prefix of this branch's staging databases.
    prefix: String,
}

impl Where<'_> {
    /// The backup of production the plan copies instead of production (`--from-backup`).
    fn planned_backup(&self) -> Option<&str> {
        planned_copy(self.plan).and_then(|c| c.from_backup.as_deref())
    }

    /// The snapshot of production the plan copies instead of production (`--from-snapshot`).
    fn planned_snapshot(&self) -> Option<&str> {
        planned_copy(self.plan).and_then(|c| c.from_snapshot.as_deref())
    }
}

/// The plan's copy step: what the database of this run is.
fn planned_copy(plan: &Plan) -> Option<&steps::Copy> {
    plan.steps.iter().find_map(steps::Copy::of)
}

fn run_steps(
    (project, plan, place): (&Project, &Plan, &Staging),
    opts: &StagingOptions,
    runner: &mut Runner<'_>,
    detail: &mut StagingDetail,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.output)?;
    let at = Where {
        project,
        plan,
        opts,
        place,
        prefix: branch_prefix(&project.scope, &plan.branch),
    };
    // Held until the failed copy is discarded too: no other run reuses it meanwhile.
    let _lock = runner.step(|_: &steps::Lock, _| {
        let key = db::lock_key(&at.prefix);
        let lock = db::AdvisoryLock::acquire(at.place.server.connect("postgres")?, key)?;
        Ok((lock, format!("staging of `{}`", plan.branch)))
    })?;
    let mut owned = None;
    let outcome = steps_on_the_copy(&at, runner, detail, &mut owned);
    let (Err(e), Some(database)) = (&outcome, owned) else {
        return outcome;
    };
    let discarded = discard_copy(&at, &database);
    if discarded.servers.is_ok() {
        detail.container = None;
        detail.url = None;
    }
    if discarded.database.is_ok() {
        detail.database = None;
    }
    let outcome = discarded.describe();
    tracing::warn!("{outcome}");
    Err(anyhow::anyhow!("{e:#} — {outcome}"))
}

/// Every step from the image to the pruning. `owned` names the copy this run made or
/// reused as soon as it has one: on any failure after that, the caller discards it.
fn steps_on_the_copy(
    at: &Where<'_>,
    runner: &mut Runner<'_>,
    detail: &mut StagingDetail,
    owned: &mut Option<String>,
) -> anyhow::Result<()> {
    let (project, plan, opts) = (at.project, at.plan, at.opts);
    let engine = crate::executor::docker::Engine::from_env();
    let on = RunsOn {
        engine: &engine,
        data_dir: &at.place.data_dir,
        output: &opts.output,
        cache_dir: &opts.cache_dir,
    };
    let mut executor = match plan.first::<steps::Release>() {
        Some(_) => runner.step(|release: &steps::Release, reporter| {
            release_executor(project, plan, release, &on, reporter)
        })?,
        None => runner.step(|build: &steps::Build, reporter| {
            docker_executor(project, plan, build, &on, reporter)
        })?,
    };
    // A remote engine sees none of this runner's folders, nor does the swarm node that
    // runs the server: the data dir is mirrored, and the server's is a volume there.
    executor.swarm = plan.first::<steps::Start>().and_then(|s| s.swarm.clone());
    if engine.reach() == crate::executor::docker::Reach::ThroughEngine || executor.swarm.is_some() {
        executor.mirror = Some(std::path::absolute(&at.place.data_dir)?);
    }
    let mut admin = at.place.server.connect("postgres")?;
    let existing = of_branch(
        list(&mut admin, &project.scope)?,
        &project.scope,
        &plan.branch,
    );
    let database = copy_or_reuse(at, runner, &executor, &existing, &mut admin, owned, detail)?;
    detail.database = Some(database.clone());
    runner.step(|_: &steps::Verify, _| {
        let mut db = at.place.server.connect(&database)?;
        route_and_verify(&mut db, &at.place.policy, detail, "after neutralization")?;
        Ok(((), format!("{} checks passed", detail.neutralization.len())))
    })?;
    update(at, runner, &executor, &database, detail)?;
    serve(at, runner, &executor, &database, detail)?;
    *owned = None;
    runner.step(|prune: &steps::Prune, _| {
        let keep = (prune.keep as usize).max(1);
        let pruned = retention(at, &mut admin, existing, &database, keep);
        let text = format!("dropped {}", pruned.len());
        detail.pruned = pruned;
        Ok(((), text))
    })
}

/// Drops a copy that failed, with its servers and filestore, checking each.
fn discard_copy(at: &Where<'_>, database: &str) -> Discarded {
    let docker = crate::executor::docker::Engine::from_env().connect().ok();
    let filestores = at.place.data_dir.join("filestore");
    match at.place.server.connect("postgres") {
        Ok(mut admin) => discard(
            &mut admin,
            docker.as_ref(),
            &at.project.scope,
            database,
            &filestores,
        ),
        Err(e) => Discarded {
            name: database.to_string(),
            servers: Err("not tried: PostgreSQL could not be reached".into()),
            database: Err(e.to_string()),
            filestore: Err("not tried".into()),
        },
    }
}

/// The plan's database: the branch's copy it reuses, or a new copy of production,
/// neutralized. Returns its name, which `owned` holds from the moment it exists.
fn copy_or_reuse(
    at: &Where<'_>,
    runner: &mut Runner<'_>,
    executor: &DockerExecutor,
    existing: &[String],
    admin: &mut postgres::Client,
    owned: &mut Option<String>,
    detail: &mut StagingDetail,
) -> anyhow::Result<String> {
    let reuse = runner.peek::<steps::Copy>().and_then(|c| c.reuse.clone());
    if let Some(name) = reuse.as_deref() {
        runner.step(|_: &steps::Copy, _| {
            if !existing.iter().any(|e| e == name) {
                anyhow::bail!("`{name}`, which the plan reuses, is gone: run again");
            }
            *owned = Some(name.to_string());
            Ok(((), format!("reused `{name}` (push: update)")))
        })?;
        runner.skip(
            StepKind::Neutralize,
            "a reused database was neutralized when it was copied, and is verified again",
        )?;
        return Ok(name.to_string());
    }
    let name =
        runner.step(|_: &steps::Copy, reporter| copy(at, admin, (owned, reporter), detail))?;
    runner
        .step(|_: &steps::Neutralize, _| neutralize_copy(at, executor, &name, "neutralize.log"))?;
    Ok(name)
}

/// Starts the staging server on the database and waits until it answers.
fn serve(
    at: &Where<'_>,
    runner: &mut Runner<'_>,
    executor: &DockerExecutor,
    database: &str,
    detail: &mut StagingDetail,
) -> anyhow::Result<()> {
    let name = container_name(&at.project.scope, &at.plan.branch);
    let port = at.place.port;
    let servers = executor.servers();
    let (id, route) = runner.step(|start: &steps::Start, _| {
        catcher_answers(at, executor)?;
        let series = at.project.addons.series;
        let server = OdooCommand::on(Stage::Staging, series, database).serve_on(port);
        let mut inv = invocation(&server, &at.opts.odoo, &at.place.server, executor);
        // Where the engine cannot see this machine's data dir, the copy's files go into
        // the server's own (a volume there).
        inv.data_in = vec![format!("filestore/{database}")];
        let labels = HashMap::from([("odoo-ci.database".to_string(), database.to_string())]);
        let id = servers.start(&name, &inv, &labels)?;
        Ok(((id, start.route.clone()), format!("{name} on port {port}")))
    })?;
    detail.container = Some(name);
    runner.step(|check: &steps::Health, reporter| {
        let mut beat = Heartbeat::every(HEARTBEAT);
        let health = crate::health::wait_for_200(
            &mut || servers.http_status(&id, port, &check.path),
            &check.path,
            Duration::from_secs(check.timeout_secs),
            &mut || {
                if let Some(secs) = beat.due() {
                    reporter.progress(&waiting(&check.path, secs, check.timeout_secs));
                }
                servers.never_healthy(&id)
            },
        );
        if let Err(reason) = health {
            let logs = servers.logs_tail(&id, 200);
            let _ = std::fs::write(at.opts.output.join("server.log"), &logs);
            let before = match servers.give_up(&id) {
                Ok(GivenUp::PreviousServes(database)) => format!("\nSwarm put the server before it back: it serves `{database}` again"),
                Ok(GivenUp::Removed) => {
                    detail.container = None;
                    String::new()
                }
                Err(e) => format!("\nthe server could not be given up on: {e}"),
            };
            anyhow::bail!(
                "the staging server did not become healthy: {reason}{before}\n--- last lines of the server log ---\n{}",
                tail_lines(&logs, 20)
            );
        }
        Ok(((), format!("{} is up", at.place.url)))
    })?;
    // A swarm node's address, when the server is a service: its port opens there.
    let node = servers.host_of(&id);
    published(at, executor, (route.as_ref(), node.as_deref()), detail)
}

/// The healthy server's URL in `detail`: its route on Caddy (and its catcher's beside
/// it), else where its port opens (a swarm `node`'s address, else the place's URL).
fn published(
    at: &Where<'_>,
    executor: &DockerExecutor,
    (route, node): (Option<&steps::Route>, Option<&str>),
    detail: &mut StagingDetail,
) -> anyhow::Result<()> {
    let port = at.place.port;
    detail.url = Some(match route {
        Some(route) => {
            let routed = crate::stages::staging_route::Routed {
                caddy: &route.caddy,
                server: &route.server,
                scope: &at.project.scope,
                branch: &at.plan.branch,
                docker: &executor.docker,
                image: &executor.image,
            };
            routed.route(
                &route.url,
                &format!("{}:{port}", node.unwrap_or("127.0.0.1")),
            )?;
            if let Some(catcher) = &at.place.catcher {
                detail.mail_url = Some(routed.route_mail(&route.url, catcher.ui_port)?);
            }
            route.url.clone()
        }
        None => match node {
            Some(node) => format!("http://{node}:{port}"),
            None => at.place.url.clone(),
        },
    });
    if detail.mail_url.is_none() {
        detail.mail_url = at.place.catcher.as_ref().map(|c| c.ui.clone());
    }
    Ok(())
}

/// Fails closed: no staging server starts while the catcher its mail goes to does not
/// answer (it was checked when the run began; it may have stopped since). On a remote
/// engine it is heard from that engine's host.
fn catcher_answers(at: &Where<'_>, executor: &DockerExecutor) -> anyhow::Result<()> {
    let Some(c) = at.place.catcher.as_ref() else {
        return Ok(());
    };
    let (docker, image) = (&executor.docker, &executor.image);
    let greeter = Greeter::on(executor.is_remote(), docker, image, &at.project.scope);
    greeter.answers(c, Duration::from_secs(10)).map_err(|e| {
        anyhow::anyhow!(
            "the mail catcher {} does not answer SMTP on {} ({e}): the staging server is not started, so no mail can go elsewhere",
            c.container,
            c.check
        )
    })
}

/// Production's database and filestore into a new staging database, marked as this
/// project's and branch's; returns its name.
fn copy(
    at: &Where<'_>,
    admin: &mut postgres::Client,
    (owned, reporter): (&mut Option<String>, &mut dyn Reporter),
    detail: &mut StagingDetail,
) -> anyhow::Result<(String, String)> {
    let stamp: String = admin
        .query_one(
            "SELECT to_char(clock_timestamp() at time zone 'UTC', 'YYYYMMDDHH24MISSMS')",
            &[],
        )?
        .get(0);
    let name = format!("{}{stamp}", at.prefix);
    let (info, source) = match (at.planned_backup(), at.planned_snapshot()) {
        (Some(id), _) => restore_backup(at, id, &name, owned)?,
        (None, Some(key)) => clone_snapshot(at, admin, key, (&name, owned), reporter)?,
        (None, None) => copy_production(at, admin, (&name, owned), reporter)?,
    };
    let marker = serde_json::json!({
        "project": at.project.scope,
        "branch": at.plan.branch,
        "source": source,
        "commit": at.plan.commit,
    });
    db::set_database_comment(admin, &name, &format!("{MARKER} {marker}"))?;
    let mut copy_db = at.place.server.connect(&name)?;
    crate::db::copy::reset_identity(&mut copy_db, &at.place.url)?;
    drop(copy_db);
    let text = format!(
        "`{source}` into `{name}` ({} bytes, {} files)",
        info.bytes, info.filestore_files
    );
    detail.copy = Some(info);
    Ok((name, text))
}

/// Production's database (streamed dump and restore) and filestore into `name`.
fn copy_production(
    at: &Where<'_>,
    admin: &mut postgres::Client,
    (name, owned): (&str, &mut Option<String>),
    reporter: &mut dyn Reporter,
) -> anyhow::Result<(CopyInfo, String)> {
    crate::db::copy::create_empty(admin, name)?;
    *owned = Some(name.to_string());
    // A large database streams for minutes: say so now and then.
    let mut streamed = streaming("copy", "production", reporter);
    let stats = crate::db::copy::dump_restore(
        &at.place.source,
        &at.place.source_db,
        &at.place.server,
        name,
        &mut streamed,
    )?;
    let store = at.place.data_dir.join("filestore").join(name);
    let files = match &at.place.source_filestore {
        Some(from) => at.place.source_files.fetch(from, &store)?,
        None => {
            std::fs::create_dir_all(&store)?;
            0
        }
    };
    let info = CopyInfo {
        method: "dump-restore".into(),
        source: at.place.source_db.clone(),
        bytes: stats.bytes,
        millis: stats.millis as u64,
        filestore_files: files,
    };
    Ok((info, at.place.source_db.clone()))
}

/// The backup `id` of production (fetched, its dump's checksum and the restored database's
/// fingerprint checked) into `name`, with its filestore.
/// Production's snapshot `key` (a name or a deployment id) into `name`: cloned with
/// `CREATE DATABASE … TEMPLATE` when staging's server is production's (a snapshot is a
/// database nobody connects to), streamed otherwise; its filestore copy copied as
/// production's filestore is (hard links where the file system allows).
fn clone_snapshot(
    at: &Where<'_>,
    admin: &mut postgres::Client,
    key: &str,
    (name, owned): (&str, &mut Option<String>),
    reporter: &mut dyn Reporter,
) -> anyhow::Result<(CopyInfo, String)> {
    let started = std::time::Instant::now();
    let mut source_admin = at.place.source.connect("postgres")?;
    let snapshot = crate::snapshots::find(&mut source_admin, &at.place.source_db, key)?;
    let (source, server) = (&at.place.source, &at.place.server);
    let same_server = source.host == server.host && source.port == server.port;
    // Only the snapshot's owner (production's role) or a superuser may clone it: another
    // role on the same server streams it like another server.
    let cloned = same_server
        && db::create_from_template(admin, name, &snapshot.name)
            .inspect_err(|e| tracing::info!("cloning {} failed ({e}): streaming it", snapshot.name))
            .is_ok();
    let (method, bytes) = if cloned {
        *owned = Some(name.to_string());
        ("clone", 0)
    } else {
        crate::db::copy::create_empty(admin, name)?;
        *owned = Some(name.to_string());
        let mut streamed = streaming("copy", &snapshot.name, reporter);
        let stats =
            crate::db::copy::dump_restore(source, &snapshot.name, server, name, &mut streamed)?;
        ("dump-restore", stats.bytes)
    };
    let store = at.place.data_dir.join("filestore").join(name);
    let snapshots_dir = crate::stages::production::snapshots_dir(
        at.place.source_filestore.as_deref(),
        &at.opts.cache_dir,
    );
    let from = crate::snapshots::filestore_dir(&snapshots_dir, &snapshot.name);
    let files = match at.place.source_filestore {
        Some(_) => at.place.source_files.fetch(&from, &store)?,
        None => {
            std::fs::create_dir_all(&store)?;
            0
        }
    };
    let info = CopyInfo {
        method: method.into(),
        source: format!("snapshot {} of {}", snapshot.name, at.place.source_db),
        bytes,
        millis: started.elapsed().as_millis() as u64,
        filestore_files: files,
    };
    let source = info.source.clone();
    Ok((info, source))
}

fn restore_backup(
    at: &Where<'_>,
    id: &str,
    name: &str,
    owned: &mut Option<String>,
) -> anyhow::Result<(CopyInfo, String)> {
    let started = std::time::Instant::now();
    let backups = at.opts.backups.as_ref().ok_or_else(|| {
        anyhow::anyhow!("`production.backup` is not set: there are no backups to copy")
    })?;
    let restored = crate::backups::fetch(backups, id)?;
    let done = (|| -> anyhow::Result<(CopyInfo, String)> {
        // Dropped by `into_database` itself when it fails; the caller's from then on.
        restored.into_database(&at.place.server, name)?;
        *owned = Some(name.to_string());
        let store = at.place.data_dir.join("filestore").join(name);
        let files = match restored.filestore()? {
            Some(dir) => crate::filestore::copy_local(&dir, &store)?,
            None => {
                std::fs::create_dir_all(&store)?;
                0
            }
        };
        let info = CopyInfo {
            method: "backup".into(),
            source: format!("backup {} of {}", restored.id, at.place.source_db),
            bytes: restored.manifest.database.bytes,
            millis: started.elapsed().as_millis() as u64,
            filestore_files: files,
        };
        let source = info.source.clone();
        Ok((info, source))
    })();
    restored.clean();
    done
}

/// Odoo's own `neutralize` (16.0+; odoo-ci's own SQL before).
fn neutralize_copy(
    at: &Where<'_>,
    executor: &DockerExecutor,
    name: &str,
    log: &str,
) -> anyhow::Result<((), String)> {
    let allowlist = &at.place.policy.cron_allowlist;
    let kept = neutralize::active_allowed_crons(&mut at.place.server.connect(name)?, allowlist)?;
    let ((), how) = neutralize_with(at, executor, name, log)?;
    neutralize::reactivate_crons(&mut at.place.server.connect(name)?, &kept)?;
    match kept.len() {
        0 => Ok(((), how)),
        n => Ok(((), format!("{how}; {n} allow-listed cron(s) kept active"))),
    }
}

/// Neutralizes the copy `name`: Odoo's own command where the series has it, else odoo-ci's
/// SQL.
fn neutralize_with(
    at: &Where<'_>,
    executor: &DockerExecutor,
    name: &str,
    log: &str,
) -> anyhow::Result<((), String)> {
    if at.project.addons.series.has_neutralize_command() {
        run_to_end(
            executor,
            &at.opts.odoo,
            &at.place.server,
            &OdooCommand::neutralize(Stage::Staging, at.project.addons.series, name),
            &at.opts.output.join(log),
        )
        .map_err(|e| anyhow::anyhow!("neutralization failed: {e}"))?;
        Ok(((), "odoo neutralize".into()))
    } else {
        let mut copy_db = at.place.server.connect(name)?;
        neutralize::apply_own(&mut copy_db)
            .map_err(|e| anyhow::anyhow!("neutralization failed: {e}"))?;
        Ok(((), "odoo-ci's own SQL".into()))
    }
}

/// The plan's update, once the database is confirmed to still be as the plan read it;
/// then the neutralization is verified again (an update may add mail servers or crons).
fn update(
    at: &Where<'_>,
    runner: &mut Runner<'_>,
    executor: &DockerExecutor,
    database: &str,
    detail: &mut StagingDetail,
) -> anyhow::Result<()> {
    let mut db = at.place.server.connect(database)?;
    let installed = db::installed_modules(&mut db)?;
    drop(db);
    let now = updates::changes(&at.project.addons, &installed, &at.plan.addons.selected);
    // A restored backup holds its own versions: the plan said the update follows them.
    let changes = match at.planned_backup() {
        Some(_) => now.clone(),
        None => at.plan.changes.clone(),
    };
    detail.changes = changes.clone();
    if let Err(why) = updates::confirm(&changes, &now, database) {
        return runner
            .step(|_: &steps::Update, _| -> anyhow::Result<((), String)> { anyhow::bail!(why) });
    }
    if changes.is_empty() {
        return runner.skip(StepKind::Update, "nothing to update or install");
    }
    runner.step(|planned: &steps::Update, _| {
        // No server may act on the copy while its data is rewritten and until it is
        // verified again: `serve` starts one afterwards.
        let stopped = executor.servers().remove_serving(database)?;
        let command = match (&planned.command, at.planned_backup()) {
            (Some(command), None) => command.clone(),
            // A restored backup's own versions, as the plan said.
            _ => OdooCommand::module_update(
                Stage::Staging,
                at.project.addons.series,
                &changes.update_names(),
                &changes.install,
            ),
        }
        .on_database(database);
        let mut inv = invocation(&command, &at.opts.odoo, &at.place.server, executor);
        // The copy's files: carried in and back where the engine cannot see them.
        let files = vec![format!("filestore/{database}")];
        (inv.data_in, inv.data_out) = (files.clone(), files);
        let log = at.opts.output.join("update.log");
        run_invocation_to_end(executor, &inv, Stage::Staging, &log)
            .map_err(|e| anyhow::anyhow!("updating the staging database failed: {e}"))?;
        let ((), how) = neutralize_copy(at, executor, database, "neutralize-after-update.log")?;
        let mut db = at.place.server.connect(database)?;
        route_and_verify(&mut db, &at.place.policy, detail, "after the update")?;
        let server = match stopped {
            0 => String::new(),
            _ => "; its server was stopped meanwhile".to_string(),
        };
        Ok((
            (),
            format!(
                "{}; then {how} again and verified{server}",
                command.describe()
            ),
        ))
    })
}

/// Keeps the newest `staging.keep` databases of this branch; returns those dropped.
fn retention(
    at: &Where<'_>,
    admin: &mut postgres::Client,
    existing: Vec<String>,
    database: &str,
    keep: usize,
) -> Vec<String> {
    let mut all: Vec<String> = existing.into_iter().filter(|n| n != database).collect();
    all.push(database.to_string());
    let mut pruned = Vec::new();
    if all.len() > keep {
        for old in &all[..all.len() - keep] {
            if db::drop_database(admin, old).is_ok() {
                if let Some(dir) = crate::names::child_of(&at.place.data_dir.join("filestore"), old)
                {
                    let _ = std::fs::remove_dir_all(dir);
                }
                pruned.push(old.clone());
            }
        }
    }
    pruned
}

/// Verifies the copy, then points its mail at the catcher (when there is one) and
/// verifies again.
fn route_and_verify(
    db: &mut postgres::Client,
    policy: &Policy,
    detail: &mut StagingDetail,
    when: &str,
) -> anyhow::Result<()> {
    verify_or_fail(db, policy, detail, when)?;
    if let Some(c) = &policy.catcher {
        neutralize::route_mail_to(db, c)?;
        verify_or_fail(db, policy, detail, "after routing mail to the catcher")?;
    }
    Ok(())
}

fn verify_or_fail(
    db: &mut postgres::Client,
    policy: &Policy,
    detail: &mut StagingDetail,
    when: &str,
) -> anyhow::Result<()> {
    let checks = neutralize::verify(db, policy)?;
    detail.neutralization = checks.clone();
    if let Some(failed) = neutralize::first_failure(&checks) {
        anyhow::bail!(
            "neutralization check `{}` failed {when}: {}",
            failed.name,
            failed.detail
        );
    }
    Ok(())
}
