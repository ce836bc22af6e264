//! `odoo-ci plan`: the dry run.

use std::path::Path;

use crate::cli::{Format, PlanArgs};
use crate::context::Overrides;
use crate::exit;
use crate::plan::make_plan;
use crate::report::plan_text;
use crate::style::Style;

pub fn run(config: &Path, args: &PlanArgs) -> anyhow::Result<u8> {
    let overrides = Overrides {
        branch: args.target.branch.clone(),
        git_ref: args.target.git_ref.clone(),
        base: args.target.base.clone(),
    };
    let project = crate::project::load(config, &overrides)?;
    let plan = make_plan(&project.facts())?;
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
