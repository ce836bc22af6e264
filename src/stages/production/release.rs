//! The blue/green sequence, as a state machine: each planned step moves a release from one
//! phase to the next, and a failure undoes exactly what its phase holds (see
//! `docs/production.md`). Restoring the snapshot and the previous release is the caller's
//! rollback step.

use std::time::Duration;

use crate::config::Stage;
use crate::executor::bluegreen::{self, BlueGreen, Colour, Reach};
use crate::executor::docker::DockerExecutor;
use crate::plan::odoo_command::OdooCommand;
use crate::plan::{steps, StepKind};
use crate::result::production::ProductionDetail;
use crate::stages::heartbeat::{waiting, Heartbeat, HEARTBEAT};
use crate::stages::invocation::invocation;
use crate::stages::runner::Runner;
use crate::stages::runtime::run_to_end;

use super::target::{Target, HTTP_PORT};

/// Where the new release stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Not running: nothing of it to remove.
    NotStarted,
    /// Running beside the old release, which still serves.
    Running { id: String },
    /// The alias points at it; the old release is idle.
    Serving { id: String },
    /// Serving, watched, and the old release is stopped.
    Done,
}

/// One release of production: the changes to make, the image to run, beside what serves.
pub struct Sequence<'a, 'd> {
    pub target: &'a Target<'a>,
    pub executor: &'a DockerExecutor,
    pub bg: &'a BlueGreen<'d>,
    pub previous: Option<&'a bluegreen::Release>,
    /// `update_mode: hash`: the content hashes to store once the release has settled.
    pub hashes: Option<&'a std::collections::BTreeMap<String, String>>,
    /// Production held read-only since the snapshot (a deploy that updates modules): the
    /// update writes through it, and it ends once the new release has settled.
    pub maintenance: Option<&'a super::maintenance::Maintenance>,
}

impl Sequence<'_, '_> {
    /// Runs update, start, health, switch, settle and stop-old; on failure, undoes what
    /// the phase reached holds and returns the error.
    pub fn run(
        &self,
        runner: &mut Runner<'_>,
        detail: &mut ProductionDetail,
    ) -> anyhow::Result<()> {
        let mut phase = Phase::NotStarted;
        let outcome = self.advance(runner, detail, &mut phase);
        if outcome.is_err() {
            self.undo(&phase, detail);
        }
        outcome
    }

    fn advance(
        &self,
        runner: &mut Runner<'_>,
        detail: &mut ProductionDetail,
        phase: &mut Phase,
    ) -> anyhow::Result<()> {
        self.update(runner)?;
        let colour = self
            .previous
            .map(|p| p.colour.other())
            .unwrap_or(Colour::Blue);
        let name = super::release_name(&self.target.project.scope, &self.target.database, colour);
        let id = runner.step(|_: &steps::Start, _| self.start(&name, colour, &detail.id))?;
        *phase = Phase::Running { id: id.clone() };
        let path =
            runner.step(|health: &steps::Health, reporter| self.health(&id, health, reporter))?;
        runner.step(|_: &steps::Switch, _| {
            self.bg.switch(self.previous.map(|p| p.id.as_str()), &id)?;
            Ok(((), format!("alias `{}` → {name}", self.bg.alias)))
        })?;
        *phase = Phase::Serving { id: id.clone() };
        detail.active_colour = Some(colour);
        runner.step(|settle: &steps::Settle, _| {
            let ((), text) = self.settle(&id, settle, &path)?;
            let text = match self.maintenance {
                Some(m) => {
                    m.end()?;
                    format!("{text}; production takes writes again")
                }
                None => text,
            };
            if let Some(hashes) = self.hashes {
                store_hashes(self.target, hashes)?;
            }
            Ok(((), text))
        })?;
        self.save_server_log(&id);
        match self.previous {
            Some(old) => runner.step(|_: &steps::StopOld, _| {
                self.bg.remove(&old.id)?;
                Ok((
                    (),
                    format!("removed {} ({})", old.name, old.colour.as_str()),
                ))
            })?,
            None => runner.skip(StepKind::StopOld, "no previous release")?,
        }
        *phase = Phase::Done;
        Ok(())
    }

    /// What a failure in `phase` leaves to clean: the new release, if it runs.
    fn undo(&self, phase: &Phase, detail: &mut ProductionDetail) {
        match phase {
            Phase::Running { id } | Phase::Serving { id } => {
                let _ = self.bg.remove(id);
                detail.active_colour = self.previous.map(|p| p.colour);
            }
            Phase::NotStarted | Phase::Done => {}
        }
    }

    fn update(&self, runner: &mut Runner<'_>) -> anyhow::Result<()> {
        let t = self.target;
        let planned = runner.peek::<steps::Update>().map(|u| u.command.is_some());
        if planned != Some(true) {
            runner.skip(StepKind::Update, "no addon to update or install")?;
        } else {
            runner.step(|update: &steps::Update, _| {
                let planned = update.command.clone();
                let planned = planned.ok_or_else(|| anyhow::anyhow!("no update command"))?;
                let mut command = planned.on_database(&t.database);
                if self.maintenance.is_some() {
                    let (key, value) = super::maintenance::WRITER_ENV;
                    command = command.with_env(key, value);
                }
                let log = run_to_end(
                    self.executor,
                    &t.odoo,
                    &t.container_server,
                    &command,
                    &t.output.join("update.log"),
                )?;
                Ok(((), log))
            })?;
        }
        Ok(())
    }

    fn start(
        &self,
        name: &str,
        colour: Colour,
        deployment: &str,
    ) -> anyhow::Result<(String, String)> {
        let t = self.target;
        let series = t.project.addons.series;
        let server = OdooCommand::on(Stage::Production, series, &t.database).serve_on(HTTP_PORT);
        let inv = invocation(&server, &t.odoo, &t.container_server, self.executor);
        let mut labels = std::collections::HashMap::from([
            (bluegreen::PRODUCTION_LABEL.to_string(), t.database.clone()),
            (
                bluegreen::COLOUR_LABEL.to_string(),
                colour.as_str().to_string(),
            ),
            ("odoo-ci.deployment".to_string(), deployment.to_string()),
            ("odoo-ci.database".to_string(), t.database.clone()),
            (
                crate::names::PROJECT_LABEL.to_string(),
                t.project.scope.clone(),
            ),
        ]);
        if let Some(identity) = &t.identity {
            labels.insert(bluegreen::IDENTITY_LABEL.to_string(), identity.clone());
        }
        let id = self.executor.start_server(name, &inv, &labels)?;
        Ok((id, format!("{name} ({})", colour.as_str())))
    }

    /// Waits for the health check to answer 200; returns its path, which the settle step
    /// checks again.
    fn health(
        &self,
        id: &str,
        check: &steps::Health,
        reporter: &mut dyn crate::result::Reporter,
    ) -> anyhow::Result<(String, String)> {
        let mut beat = Heartbeat::every(HEARTBEAT);
        let waited = crate::health::wait_for_200(
            &mut || self.bg.http_status(id, HTTP_PORT, &check.path),
            &check.path,
            Duration::from_secs(check.timeout_secs),
            &mut || {
                if let Some(secs) = beat.due() {
                    reporter.progress(&waiting(&check.path, secs, check.timeout_secs));
                }
                self.executor.never_healthy(id)
            },
        );
        match waited {
            Ok(t) => Ok((
                check.path.clone(),
                format!(
                    "{} answered 200 after {} ms ({})",
                    check.path,
                    t.as_millis(),
                    match self.bg.reach {
                        Reach::Direct => "from this machine",
                        Reach::ThroughEngine => "probed inside the container, through the engine",
                    }
                ),
            )),
            Err(reason) => {
                self.save_server_log(id);
                anyhow::bail!("the new release never became healthy: {reason}")
            }
        }
    }

    fn settle(&self, id: &str, settle: &steps::Settle, path: &str) -> anyhow::Result<((), String)> {
        std::thread::sleep(Duration::from_secs(settle.secs));
        if let Err(reason) = self.bg.stable(id)? {
            self.save_server_log(id);
            anyhow::bail!("after the switch: {reason}");
        }
        match self.bg.http_status(id, HTTP_PORT, path) {
            Ok(200) => Ok(((), format!("healthy {} s after the switch", settle.secs))),
            other => {
                self.save_server_log(id);
                anyhow::bail!("after the switch the health check answered {other:?}")
            }
        }
    }

    fn save_server_log(&self, id: &str) {
        let logs = self.executor.logs_tail(id, 2000);
        let _ = std::fs::write(self.target.output.join("server.log"), logs);
    }
}

/// `update_mode: hash`: what the next deploy compares with.
fn store_hashes(
    t: &Target<'_>,
    hashes: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let mut conn = t.server.connect(&t.database)?;
    crate::db::addon_hashes::store(&mut conn, hashes)?;
    Ok(())
}
