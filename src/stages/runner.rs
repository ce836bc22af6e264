//! Walks a plan's steps: a stage asks to run (or skip) each step by its kind, and the
//! runner holds it to the plan — the step must be the plan's next one, and the stage gets
//! that step's parameters from the plan, never from the configuration — so what a stage
//! does, in what order and with which values, is what `odoo-ci plan` showed. Each step's
//! start and end go to the reporters as they happen; the records become the result's
//! `steps`.

use std::time::Instant;

use crate::clock::now_rfc3339;
use crate::plan::steps::Params;
use crate::plan::{Plan, Step, StepKind};
use crate::result::{Reporter, StageResult, StepRecord, StepStatus};

/// A stage ran a step its plan does not have next: a bug in odoo-ci, never the user's.
#[derive(Debug, thiserror::Error)]
#[error("odoo-ci bug: the {stage} stage ran `{ran}` where its plan has {expected} next")]
pub struct OffPlan {
    pub stage: crate::config::Stage,
    pub ran: StepKind,
    pub expected: String,
}

pub struct Runner<'r> {
    stage: crate::config::Stage,
    steps: Vec<Step>,
    on_failure: Vec<Step>,
    next: usize,
    records: Vec<StepRecord>,
    failed: Option<StepKind>,
    /// The stage asked for a step its plan does not have next: a bug.
    went_off_plan: bool,
    reporter: &'r mut dyn Reporter,
}

impl<'r> Runner<'r> {
    pub fn new(plan: &Plan, reporter: &'r mut dyn Reporter) -> Runner<'r> {
        Runner {
            stage: plan.stage,
            steps: plan.steps.clone(),
            on_failure: plan.on_failure.clone(),
            next: 0,
            records: Vec::new(),
            failed: None,
            went_off_plan: false,
            reporter,
        }
    }

    /// Runs the plan's next step, which must be a `P` step: `work` gets the plan's
    /// parameters for it and the reporter, and returns its value and what it did.
    pub fn step<P: Params, T>(
        &mut self,
        work: impl FnOnce(&P, &mut dyn Reporter) -> anyhow::Result<(T, String)>,
    ) -> anyhow::Result<T> {
        let step = self.take(P::KIND)?;
        let params = P::of(&step).ok_or_else(|| self.off_plan(P::KIND, &step))?;
        self.perform(&step, |reporter| work(params, reporter))
    }

    /// The parameters of the plan's next step, without running it, when it is a `P` step:
    /// what a stage needs to know before it starts the step (a key, a database name).
    pub fn peek<P: Params>(&self) -> Option<&P> {
        self.steps.get(self.next).and_then(P::of)
    }

    /// Records the plan's next step, which must be `kind`, as skipped, and why.
    pub fn skip(&mut self, kind: StepKind, why: &str) -> anyhow::Result<()> {
        self.take(kind)?;
        self.end(record(kind, StepStatus::Skipped, why.to_string(), None));
        Ok(())
    }

    /// Runs a step the plan keeps for failures (a rollback), with its parameters.
    pub fn recover<P: Params, T>(
        &mut self,
        work: impl FnOnce(&P, &mut dyn Reporter) -> anyhow::Result<(T, String)>,
    ) -> anyhow::Result<T> {
        let step = self
            .on_failure
            .iter()
            .find_map(|s| Some((s.clone(), P::of(s)?.clone())))
            .ok_or_else(|| OffPlan {
                stage: self.stage,
                ran: P::KIND,
                expected: "no such step for failures".into(),
            });
        let (step, params) = step.inspect_err(|_| self.went_off_plan = true)?;
        self.perform(&step, |reporter| work(&params, reporter))
    }

    /// Progress outside a step.
    pub fn progress(&mut self, line: &str) {
        self.reporter.progress(line);
    }

    /// Closes the records into `result`: steps never reached are skipped, and say why.
    pub fn finish(mut self, result: &mut StageResult) {
        let why = match self.failed {
            Some(kind) => format!("not reached: `{kind}` failed"),
            None if result.reasons.is_empty() => "not reached".to_string(),
            None => format!("not reached: {}", first_line(&result.reasons[0])),
        };
        for step in self.steps.split_off(self.next) {
            self.end(record(step.kind(), StepStatus::Skipped, why.clone(), None));
        }
        result.failed_step = self.failed.map(|k| k.to_string());
        result.odoo_ci_bug |= self.went_off_plan;
        result.steps = std::mem::take(&mut self.records);
    }

    fn off_plan(&mut self, ran: StepKind, planned: &Step) -> OffPlan {
        self.went_off_plan = true;
        OffPlan {
            stage: self.stage,
            ran,
            expected: format!("`{}`", planned.kind()),
        }
    }

    fn take(&mut self, kind: StepKind) -> Result<Step, OffPlan> {
        match self.steps.get(self.next) {
            Some(step) if step.kind() == kind => {
                self.next += 1;
                Ok(step.clone())
            }
            other => {
                let expected = other
                    .map(|s| format!("`{}`", s.kind()))
                    .unwrap_or_else(|| "nothing".into());
                self.went_off_plan = true;
                Err(OffPlan {
                    stage: self.stage,
                    ran: kind,
                    expected,
                })
            }
        }
    }

    fn perform<T>(
        &mut self,
        step: &Step,
        work: impl FnOnce(&mut dyn Reporter) -> anyhow::Result<(T, String)>,
    ) -> anyhow::Result<T> {
        let kind = step.kind();
        self.reporter.step_started(step);
        let started_at = now_rfc3339();
        let clock = Instant::now();
        let outcome = work(&mut *self.reporter);
        let ms = clock.elapsed().as_millis() as u64;
        let rec = |status, output| StepRecord {
            started_at: Some(started_at.clone()),
            duration_ms: ms,
            ..record(kind, status, output, Some(now_rfc3339()))
        };
        match outcome {
            Ok((value, output)) => {
                let r = rec(StepStatus::Completed, output);
                self.end(r);
                Ok(value)
            }
            Err(e) => {
                let r = rec(StepStatus::Failed, format!("{e:#}"));
                self.end(r);
                if self.failed.is_none() {
                    self.failed = Some(kind);
                }
                Err(e.context(format!("step `{kind}` failed")))
            }
        }
    }

    fn end(&mut self, record: StepRecord) {
        self.reporter.step_ended(&record);
        self.records.push(record);
    }
}

fn record(kind: StepKind, status: StepStatus, output: String, ended: Option<String>) -> StepRecord {
    StepRecord {
        name: kind.to_string(),
        status,
        output,
        duration_ms: 0,
        started_at: None,
        ended_at: ended,
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
