//! The one result contract: what every stage produces, what `odoo-ci-result.json` holds,
//! and what the reporters (terminal, output files, Git host) read — typed, never as loose
//! JSON. A stage emits events as its steps run; reporters consume them.

pub mod development;
pub mod production;
pub mod staging;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Stage;
use crate::odoo::Colour;
use crate::plan::Step;

/// Bumped when a field changes meaning or goes away (adding one does not).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Skipped,
}

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub status: StepStatus,
    /// What it did, why it was skipped, or why it failed.
    pub output: String,
    pub duration_ms: u64,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
}

/// What a stage did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageResult {
    /// 0 in files written before the contract had a version.
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub commit: Option<String>,
    pub colour: Colour,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The step that failed, if one did.
    #[serde(default)]
    pub failed_step: Option<String>,
    /// Every step of the plan, in its order, with what became of it.
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub total_ms: u64,
    /// A bug in odoo-ci stopped the stage (it ran off its plan): red, and exit code 70.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub odoo_ci_bug: bool,
    /// The stage (its `stage` field) and what only that stage has.
    #[serde(flatten)]
    pub detail: Detail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "lowercase")]
pub enum Detail {
    Development(development::DevDetail),
    Staging(staging::StagingDetail),
    Production(production::ProductionDetail),
}

impl StageResult {
    /// A result that says red until the stage proves otherwise.
    pub fn begin(branch: &str, commit: Option<String>, detail: Detail) -> StageResult {
        StageResult {
            schema_version: SCHEMA_VERSION,
            branch: branch.to_string(),
            commit,
            colour: Colour::Red,
            reasons: Vec::new(),
            failed_step: None,
            steps: Vec::new(),
            started_at: crate::clock::now_rfc3339(),
            total_ms: 0,
            odoo_ci_bug: false,
            detail,
        }
    }

    pub fn stage(&self) -> Stage {
        match self.detail {
            Detail::Development(_) => Stage::Development,
            Detail::Staging(_) => Stage::Staging,
            Detail::Production(_) => Stage::Production,
        }
    }

    /// Reads a stored `odoo-ci-result.json`.
    pub fn read(path: &Path) -> anyhow::Result<StageResult> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not an odoo-ci result: {e}", path.display()))
    }

    pub fn step(&self, name: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// What consumes a stage's events. Every method has a default: a reporter takes what it
/// needs.
pub trait Reporter {
    /// The plan, before anything runs.
    fn planned(&mut self, _plan: &crate::plan::Plan) {}
    /// A step is about to run.
    fn step_started(&mut self, _step: &Step) {}
    /// A step ended (completed, failed or skipped).
    fn step_ended(&mut self, _record: &StepRecord) {}
    /// A line of progress within a step (a failing test, a count).
    fn progress(&mut self, _line: &str) {}
    /// A line of Odoo's own log, as it streams (it is also saved in the output folder).
    fn odoo_line(&mut self, _line: &[u8]) {}
    /// The stage ended with this result.
    fn finished(&mut self, _result: &StageResult) {}
}

/// Several reporters, in order.
#[derive(Default)]
pub struct Reporters(pub Vec<Box<dyn Reporter>>);

impl Reporter for Reporters {
    fn planned(&mut self, plan: &crate::plan::Plan) {
        self.0.iter_mut().for_each(|r| r.planned(plan));
    }
    fn step_started(&mut self, step: &Step) {
        self.0.iter_mut().for_each(|r| r.step_started(step));
    }
    fn step_ended(&mut self, record: &StepRecord) {
        self.0.iter_mut().for_each(|r| r.step_ended(record));
    }
    fn progress(&mut self, line: &str) {
        self.0.iter_mut().for_each(|r| r.progress(line));
    }
    fn odoo_line(&mut self, line: &[u8]) {
        self.0.iter_mut().for_each(|r| r.odoo_line(line));
    }
    fn finished(&mut self, result: &StageResult) {
        self.0.iter_mut().for_each(|r| r.finished(result));
    }
}
