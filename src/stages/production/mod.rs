//! The production stage: one deploy at a time (an advisory lock, under which the plan's
//! module changes are confirmed against the database), the commit's image, a pre-deploy
//! snapshot, then the release ([`release::Sequence`]: update, start beside the old release,
//! health, switch, settle, stop the old) — and on any failure the snapshot and the previous
//! release put back. `docs/production.md` describes the sequence.
//!
//! The result (steps with status, output and timings) is written by the reporters and kept
//! on the deployment's snapshot in PostgreSQL: the history lives where production's state
//! lives, not in a file of ours.

pub mod from_backup;
pub mod maintenance;
pub mod recovery;
pub mod release;
pub mod target;

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::clock::now_rfc3339;
use crate::config::schema::UpdateMode;
use crate::db::{self, PgServer};
use crate::executor::bluegreen::Colour;
use crate::executor::release_volume;
use crate::odoo::Colour as BuildColour;
use crate::plan::updates::{self, ModuleChanges};
use crate::plan::{steps, Plan, RestoreSource};
use crate::project::Project;
use crate::result::production::{ProductionDetail, Trigger};
use crate::result::{Detail, Reporter, StageResult};
use crate::snapshots;
use crate::stages::runner::Runner;
use crate::targets::production::Production;

pub use target::{engine_files, serving_release, snapshots_dir, standalone_engine_files};

pub struct DeployOptions {
    pub output: PathBuf,
    pub cache_dir: PathBuf,
    pub no_wait: bool,
    pub trigger: Trigger,
    /// How Odoo runs: production's variables, resolved, and its timeout.
    pub odoo: crate::targets::odoo_env::OdooEnv,
    /// Production's backups, resolved when the plan uses them.
    pub backups: Option<crate::backups::Backups>,
}

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

/// A record that says red until the deployment proves otherwise.
fn begin(plan: &Plan, trigger: Trigger, database: &str) -> (StageResult, ProductionDetail) {
    let detail = ProductionDetail {
        id: deployment_id(plan),
        trigger,
        database: database.to_string(),
        message: None,
        author: None,
        image: plan.image.clone(),
        release_volume: None,
        previous_image: None,
        previous_release_volume: None,
        snapshot: None,
        active_colour: None,
        rolled_back: false,
        changes: ModuleChanges::default(),
    };
    let result = StageResult::begin(&plan.branch, None, Detail::Production(detail.clone()));
    (result, detail)
}

/// Deploys the plan's commit; whatever stops it makes the result red, says why, and — once
/// the snapshot is taken — puts production back.
pub fn deploy(
    project: &Project,
    plan: &Plan,
    production: &Production,
    opts: &DeployOptions,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<StageResult> {
    crate::cancel::install();
    run_recorded(
        (plan, production),
        opts.trigger,
        reporter,
        |result, detail| {
            result.commit = plan.commit.clone();
            detail.message = project.commit.as_ref().map(|c| c.summary.clone());
            detail.author = project.commit.as_ref().map(|c| c.author.clone());
            detail.changes = plan.changes.clone();
        },
        |runner, detail| deploy_steps(project, plan, production, opts, runner, detail),
    )
}

/// A production run recorded as a deployment: red until its steps succeed, then closed
/// onto its snapshot (deploy and rollback alike).
fn run_recorded(
    (plan, production): (&Plan, &Production),
    trigger: Trigger,
    reporter: &mut dyn Reporter,
    prepare: impl FnOnce(&mut StageResult, &mut ProductionDetail),
    steps: impl FnOnce(&mut Runner<'_>, &mut ProductionDetail) -> anyhow::Result<()>,
) -> anyhow::Result<StageResult> {
    let started = Instant::now();
    let (mut result, mut detail) = begin(plan, trigger, &production.database);
    prepare(&mut result, &mut detail);
    let mut runner = Runner::new(plan, reporter);
    match steps(&mut runner, &mut detail) {
        Ok(()) => result.colour = BuildColour::Green,
        Err(e) => result.reasons.insert(0, format!("{e:#}")),
    }
    runner.finish(&mut result);
    close(&mut result, detail, &production.server, started);
    Ok(result)
}

fn deploy_steps(
    project: &Project,
    plan: &Plan,
    production: &Production,
    opts: &DeployOptions,
    runner: &mut Runner<'_>,
    detail: &mut ProductionDetail,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.output)?;
    let (server, database) = (&production.server, &production.database);
    let hashes = (plan.update_mode == UpdateMode::Hash)
        .then(|| crate::addons::content_hash::of_all(&project.addons));
    let mut target = target::Target::resolve(project, production, opts)?;
    let _lock = runner.step(|_: &steps::Lock, reporter| {
        let lock = target::lock(server, database, opts.no_wait, reporter)?;
        let settled = settle_interrupted(&mut target)?;
        confirm_plan(server, database, project, plan, hashes.as_ref())?;
        Ok((
            lock,
            format!("deploy lock on `{database}`; its modules are as planned{settled}"),
        ))
    })?;
    let executor = target.image_step(plan, runner, &opts.cache_dir)?;
    target.engine = Some(engine_files(
        &executor.docker,
        &executor.image,
        &target.project.scope,
    ));
    detail.image = executor.image.clone();
    detail.release_volume = executor.labels.get(release_volume::LABEL).cloned();
    let bg = target.blue_green(&executor.docker);
    bg.ensure_network()?;
    let previous = bg.active()?;
    detail.previous_image = previous.as_ref().map(|r| r.image.clone());
    detail.previous_release_volume = previous.as_ref().and_then(|r| r.release_volume());
    // The snapshot holds production as the serving release left it: that release's commit,
    // not the one being deployed.
    let serving_commit = previous
        .as_ref()
        .and_then(|r| r.labels.get("odoo-ci.commit"))
        .filter(|c| !c.is_empty())
        .cloned();
    backup_before_update(
        &target,
        previous.as_ref(),
        serving_commit.clone(),
        runner,
        opts,
    )?;
    let (snapshot, maintenance) = pre_deploy_snapshot(&target, serving_commit, runner, detail)?;
    let sequence = release::Sequence {
        target: &target,
        executor: &executor,
        bg: &bg,
        previous: previous.as_ref(),
        hashes: hashes.as_ref(),
        maintenance: maintenance.as_ref(),
    };
    if let Err(e) = sequence.run(runner, detail) {
        let data = match maintenance {
            Some(_) => Data::Restore(&snapshot),
            None => Data::Untouched,
        };
        roll_back(runner, &target, &bg, previous.as_ref(), data, detail)?;
        drop(maintenance);
        return Err(rolled_back(e, data));
    }
    runner.step(|prune: &steps::Prune, _| {
        let keep = (prune.keep as usize).max(1);
        let files = target.snapshot_files()?;
        let dropped = snapshots::prune(&target.server, database, keep, files.as_ref())?;
        Ok(((), format!("dropped {}", dropped.len())))
    })
}

/// The pre-deploy snapshot, and — when the deploy updates modules — production read-only
/// from it on, so a rollback to it loses no accepted write (one that updates nothing
/// changes no data, and users keep writing).
fn pre_deploy_snapshot(
    target: &target::Target<'_>,
    serving_commit: Option<String>,
    runner: &mut Runner<'_>,
    detail: &mut ProductionDetail,
) -> anyhow::Result<(String, Option<maintenance::Maintenance>)> {
    let (snapshot, held) = runner.step(|planned: &steps::Snapshot, reporter| {
        let held = match planned.read_only {
            true => Some(maintenance::Maintenance::begin(
                &target.server,
                &target.database,
                &detail.id,
            )?),
            false => None,
        };
        let record = serde_json::to_value(&*detail).ok();
        let name = target.snapshot(record, serving_commit, "pre-deploy", reporter)?;
        let text = match held {
            Some(_) => format!(
                "snapshot {name}; production refuses writes until the new release has settled"
            ),
            None => format!("snapshot {name}"),
        };
        Ok(((name, held), text))
    })?;
    detail.snapshot = Some(snapshot.clone());
    Ok((snapshot, held))
}

/// The deploy's error once it was rolled back, saying what was put back.
fn rolled_back(e: anyhow::Error, data: Data<'_>) -> anyhow::Error {
    match data {
        Data::Restore(snapshot) => anyhow::anyhow!("{e:#} — rolled back to snapshot `{snapshot}`"),
        Data::Untouched => anyhow::anyhow!(
            "{e:#} — the previous release serves again; the database was not touched by this deploy, so it was not restored"
        ),
    }
}

/// The plan's `backup` step, when it has one: production backed up to the repository
/// before the deploy changes it (the serving release's commit and image recorded).
fn backup_before_update(
    target: &target::Target<'_>,
    serving: Option<&crate::executor::bluegreen::Release>,
    commit: Option<String>,
    runner: &mut Runner<'_>,
    opts: &DeployOptions,
) -> anyhow::Result<()> {
    if runner.peek::<steps::Backup>().is_none() {
        return Ok(());
    }
    runner.step(|_: &steps::Backup, _| {
        let backups = opts.backups.as_ref().ok_or_else(|| {
            anyhow::anyhow!("the plan backs up, but `production.backup` is not set")
        })?;
        let files = target.filestore_reader();
        let source = crate::backups::Source {
            files: &files,
            server: &target.server,
            filestore: target.filestore.as_deref(),
            commit,
            image: serving.map(|r| r.image.clone()),
            release_volume: serving.and_then(|r| r.release_volume()),
        };
        let taken = crate::backups::take(backups, &source, "pre-deploy")?;
        Ok(((), taken.describe()))
    })
}

/// Under the lock, before anything else: what a deploy that died left is settled (see
/// [`recovery`]); the text to add to the lock step's output.
fn settle_interrupted(target: &mut target::Target<'_>) -> anyhow::Result<String> {
    let docker = target.docker_engine.connect()?;
    let _shield = crate::cancel::shield();
    Ok(match recovery::settle_interrupted(target, &docker)? {
        Some(done) => format!("; {done}"),
        None => String::new(),
    })
}

/// Under the lock: the database still has what the plan read, so the plan's update list
/// still holds. Another deploy in between would make it stale.
fn confirm_plan(
    server: &PgServer,
    database: &str,
    project: &Project,
    plan: &Plan,
    hashes: Option<&std::collections::BTreeMap<String, String>>,
) -> anyhow::Result<()> {
    let mut conn = server.connect(database)?;
    let installed = db::installed_modules(&mut conn)?;
    let mut now = updates::changes(&project.addons, &installed, &plan.addons.selected);
    if let Some(hashes) = hashes {
        let stored = db::addon_hashes::stored(&mut conn, hashes.keys())?;
        updates::add_content_changes(&mut now, &installed, hashes, &stored);
    }
    updates::confirm(&plan.changes, &now, database).map_err(anyhow::Error::msg)
}

/// What a rollback does to production's data.
#[derive(Debug, Clone, Copy)]
enum Data<'a> {
    /// The deploy changed it (an update ran, in maintenance): the snapshot goes back.
    Restore(&'a str),
    /// The deploy changed no data (code only): users kept writing, and it stays as it is.
    Untouched,
}

/// The plan's failure step: the data back when the deploy changed it, and the previous
/// release serving again.
fn roll_back(
    runner: &mut Runner<'_>,
    target: &target::Target<'_>,
    bg: &crate::executor::bluegreen::BlueGreen<'_>,
    previous: Option<&crate::executor::bluegreen::Release>,
    data: Data<'_>,
    detail: &mut ProductionDetail,
) -> anyhow::Result<()> {
    // Runs to its end whatever the signal: a cancel that stopped the deploy must not stop
    // what puts production back.
    let _shield = crate::cancel::shield();
    runner.recover(|rollback: &steps::Rollback, _| {
        let check = &rollback.health;
        let mut out = match data {
            Data::Restore(snapshot) => {
                target.restore(snapshot)?;
                format!("restored `{}` from `{snapshot}`", target.database)
            }
            Data::Untouched => format!("`{}` left as users left it", target.database),
        };
        if let Some(old) = previous {
            // After a restore its database connections were ended: restart it. Give it the
            // alias back, and check it serves.
            if let Data::Restore(_) = data {
                bg.restart(&old.id)?;
            }
            if !bg.has_alias(&old.id)? {
                bg.set_alias(&old.id, true)?;
            }
            crate::health::wait_for_200(
                &mut || bg.http_status(&old.id, target::HTTP_PORT, &check.path),
                &check.path,
                std::time::Duration::from_secs(check.timeout_secs),
                &mut || None,
            )
            .map_err(|e| anyhow::anyhow!("the previous release did not come back: {e}"))?;
            detail.active_colour = Some(old.colour);
            out.push_str(&format!(
                "; {} ({}) serves again",
                old.name,
                old.colour.as_str()
            ));
        }
        Ok(((), out))
    })?;
    detail.rolled_back = true;
    Ok(())
}

/// `odoo-ci rollback --to KEY` / `--backup ID`: production's database and filestore back
/// to a snapshot (by name, or a deployment's pre-deploy snapshot) or to a backup (fetched
/// and kept as a snapshot first), served by the image that served then.
/// Itself a recorded deployment (trigger `rollback`) with its own pre-rollback snapshot, so
/// a rollback that fails is undone like any deploy.
pub fn rollback_to(
    project: &Project,
    plan: &Plan,
    production: &Production,
    opts: &DeployOptions,
    from: &RestoreSource,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<StageResult> {
    let message = match from {
        RestoreSource::Snapshot(key) => format!("rollback to {key}"),
        RestoreSource::Backup(id) => format!("rollback to backup {id}"),
    };
    run_recorded(
        (plan, production),
        Trigger::Rollback,
        reporter,
        |_, detail| detail.message = Some(message),
        |runner, detail| rollback_steps((project, production), opts, from, runner, detail),
    )
}

/// The snapshot a rollback puts back, and the image its record names (a backup's manifest
/// names one; a deployment's snapshot its previous image).
fn chosen_snapshot(
    target: &target::Target<'_>,
    runner: &mut Runner<'_>,
    from: &RestoreSource,
    backups: Option<&crate::backups::Backups>,
) -> anyhow::Result<(snapshots::Snapshot, Option<ReleaseRef>)> {
    let mut admin = target.server.connect("postgres")?;
    let id = match from {
        RestoreSource::Snapshot(key) => {
            return Ok((snapshots::find(&mut admin, &target.database, key)?, None))
        }
        RestoreSource::Backup(id) => id,
    };
    let backups = backups.ok_or_else(|| {
        anyhow::anyhow!("`production.backup` is not set: there are no backups to restore")
    })?;
    let (name, image) = runner.step(|_: &steps::Fetch, _| {
        let (name, manifest) = from_backup::fetch_as_snapshot(target, backups, id)?;
        let text = format!(
            "backup {id} checked (dump SHA-256, database fingerprint {}, filestore) and kept as {name}",
            manifest.database.fingerprint
        );
        Ok(((name, manifest.image.map(|i| (i, manifest.release_volume))), text))
    })?;
    Ok((snapshots::find(&mut admin, &target.database, &name)?, image))
}

/// The release a restored snapshot runs with: its image and release volume.
type ReleaseRef = (String, Option<String>);

/// The release that goes with the snapshot `name`: the one a backup records, the one that
/// served when a deployment took it, or (a manual snapshot) the one serving now.
fn release_of(
    name: &str,
    recorded: &Option<ProductionDetail>,
    from_backup: Option<ReleaseRef>,
    serving: Option<&crate::executor::bluegreen::Release>,
) -> anyhow::Result<ReleaseRef> {
    match (recorded, from_backup) {
        (_, Some(release)) => Ok(release),
        (Some(d), None) => match &d.previous_image {
            Some(image) => Ok((image.clone(), d.previous_release_volume.clone())),
            None => anyhow::bail!(
                "`{name}` was taken before odoo-ci's first release of `{}`: no image of that time is known, and today's would run old data on new code; nothing was touched",
                d.database
            ),
        },
        (None, None) => serving
            .map(|p| (p.image.clone(), p.release_volume()))
            .ok_or_else(|| {
                anyhow::anyhow!("no image to run: the snapshot records none and nothing is serving")
            }),
    }
}

fn rollback_steps(
    (project, production): (&Project, &Production),
    opts: &DeployOptions,
    from: &RestoreSource,
    runner: &mut Runner<'_>,
    detail: &mut ProductionDetail,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.output)?;
    let database = production.database.clone();
    let mut target = target::Target::resolve(project, production, opts)?;
    let _lock = runner.step(|_: &steps::Lock, reporter| {
        let lock = target::lock(&production.server, &database, opts.no_wait, reporter)?;
        let settled = settle_interrupted(&mut target)?;
        Ok((lock, format!("deploy lock on `{database}`{settled}")))
    })?;
    let (chosen, backup_image) = chosen_snapshot(&target, runner, from, opts.backups.as_ref())?;
    let recorded: Option<ProductionDetail> = chosen
        .record
        .deployment
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    let docker = target.docker_engine.connect()?;
    let bg = target.blue_green(&docker);
    let previous = bg.active()?;
    let (image, volume) = release_of(&chosen.name, &recorded, backup_image, previous.as_ref())?;
    target.engine = Some(engine_files(&docker, &image, &target.project.scope));
    detail.image = image.clone();
    detail.release_volume = volume.clone();
    detail.previous_image = previous.as_ref().map(|p| p.image.clone());
    detail.previous_release_volume = previous.as_ref().and_then(|r| r.release_volume());
    let mut executor = target.executor_for(&docker, &image);
    if let Some(volume) = &volume {
        let helper = release_volume::Helper {
            image: &image,
            labels: &executor.labels,
        };
        release_volume::check(&docker, &helper, volume)?;
        crate::stages::runtime::carry_release(&mut executor, volume);
    }
    // Read-only from the safety snapshot on, as a deploy that updates: a failed rollback
    // goes back to that snapshot and must lose no accepted write.
    let (safety, maintenance) = runner.step(|_: &steps::Snapshot, reporter| {
        let held = maintenance::Maintenance::begin(&target.server, &database, &detail.id)?;
        let record = serde_json::to_value(&*detail).ok();
        let name = target.snapshot(record, None, "pre-rollback", reporter)?;
        let text =
            format!("snapshot {name}; production refuses writes until the release has settled");
        Ok(((name, held), text))
    })?;
    detail.snapshot = Some(safety.clone());
    runner.step(|_: &steps::Restore, _| {
        target.restore(&chosen.name)?;
        maintenance.hold()?;
        Ok(((), format!("restored `{database}` from `{}`", chosen.name)))
    })?;
    let sequence = release::Sequence {
        target: &target,
        executor: &executor,
        bg: &bg,
        previous: previous.as_ref(),
        hashes: None,
        maintenance: Some(&maintenance),
    };
    if let Err(e) = sequence.run(runner, detail) {
        let why = format!("{e:#}");
        let data = Data::Restore(&safety);
        roll_back(runner, &target, &bg, previous.as_ref(), data, detail)?;
        anyhow::bail!("{why} — production put back as it was before the rollback");
    }
    Ok(())
}

/// Closes the record: it goes onto its snapshot (the history); the reporters write it out.
fn close(result: &mut StageResult, detail: ProductionDetail, server: &PgServer, started: Instant) {
    result.total_ms = started.elapsed().as_millis() as u64;
    let snapshot = detail.snapshot.clone();
    let database = detail.database.clone();
    result.detail = Detail::Production(detail);
    if let Some(snap) = snapshot {
        if let Ok(mut admin) = server.connect("postgres") {
            if let Ok(mut found) = snapshots::find(&mut admin, &database, &snap) {
                found.record.deployment = serde_json::to_value(&*result).ok();
                let _ = snapshots::save_record(&mut admin, &snap, &found.record);
            }
        }
    }
}

/// The deployment history, newest first: the results kept on the snapshots. A record
/// written before results named their stage is production's.
pub fn history(server: &PgServer, database: &str) -> anyhow::Result<Vec<StageResult>> {
    let mut admin = server.connect("postgres")?;
    let mut out: Vec<StageResult> = snapshots::list(&mut admin, database)?
        .into_iter()
        .filter_map(|s| s.record.deployment.map(|d| (d, s.record.created)))
        .filter_map(|(mut v, created)| {
            if let Some(map) = v.as_object_mut() {
                map.entry("stage").or_insert_with(|| "production".into());
            }
            serde_json::from_value(v.clone())
                .ok()
                .or_else(|| unfinished(v, created))
        })
        .filter(|r: &StageResult| matches!(r.detail, Detail::Production(_)))
        .collect();
    out.reverse();
    Ok(out)
}

/// A deployment whose record was never closed: odoo-ci died during it. Its snapshot holds
/// what it recorded when it began; it reads as red, and says who settles it.
fn unfinished(record: serde_json::Value, created: String) -> Option<StageResult> {
    let detail: ProductionDetail = serde_json::from_value(record).ok()?;
    let mut result = StageResult::begin("", None, Detail::Production(detail));
    result.started_at = created;
    result.reasons.push(
        "interrupted: odoo-ci stopped during this deployment and never closed its record; the next deploy or rollback settles what it left".into(),
    );
    Some(result)
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
    fn a_record_from_before_results_named_their_stage_reads_as_production() {
        let mut v = serde_json::json!({
            "id": "d-20260101-abcd", "trigger": "push", "database": "prod",
            "branch": "main", "colour": "green", "reasons": [], "steps": []
        });
        v.as_object_mut()
            .unwrap()
            .entry("stage")
            .or_insert_with(|| "production".into());
        let r: StageResult = serde_json::from_value(v).unwrap();
        assert!(matches!(r.detail, Detail::Production(ref d) if d.id == "d-20260101-abcd"));
    }
}
