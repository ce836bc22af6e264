//! `odoo-ci plan`: the dry run.

use std::path::Path;

use crate::cli::{Format, PlanArgs};
use crate::config::Stage;
use crate::exit;
use crate::plan::{make_plan, make_plan_as, Choices, DatabaseFacts, Plan};
use crate::report::plan_text;
use crate::style::Style;

pub fn run(config: &Path, args: &PlanArgs) -> anyhow::Result<u8> {
    let project = crate::project::load(config, &args.target.overrides())?;
    let choices = Choices {
        push: args.push,
        update_mode: args.update_mode,
        ..super::test::choices(&args.choices)?
    };
    let plan = make_plan(&project.facts_with(choices.clone(), DatabaseFacts::NotRead))?;
    let plan = with_database(&project, plan, choices)?;
    let text = match args.format {
        Format::Json => super::to_json(&plan)?,
        Format::Text => plan_text::render(&plan, Style::for_stdout()),
    };
    super::print_stdout(&text)?;
    Ok(if plan.problems.is_empty() {
        exit::OK
    } else {
        exit::RED
    })
}

/// Staging and production decide their update list from what the database has installed:
/// read it when the variables it needs are set, so the dry run shows what the stage will
/// run. When it cannot be read, the list stays provisional and the plan says why.
fn with_database(
    project: &crate::project::Project,
    plan: Plan,
    choices: Choices,
) -> anyhow::Result<Plan> {
    let stage = plan.stage;
    if stage == Stage::Development {
        return Ok(plan);
    }
    let database = if project.config.file.production.database.is_none() {
        DatabaseFacts::Unavailable("`production.database` is not set".into())
    } else if let Some(u) = plan.unset_variables.first() {
        DatabaseFacts::Unavailable(format!("`{}` is not set", u.variable))
    } else {
        crate::targets::database_facts(project, stage, &choices)
    };
    Ok(make_plan_as(
        &project.facts_with(choices, database),
        Some(stage),
    )?)
}
