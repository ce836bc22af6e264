//! `odoo-ci test`: the development stage.

use std::path::{Path, PathBuf};

use crate::cli::TestArgs;
use crate::config::Stage;
use crate::context::Overrides;
use crate::exit::BadInput;
use crate::plan::make_plan_as;
use crate::stages::development::{self, DevOptions};
use crate::stages::shard;
use crate::style::Style;

pub fn run(config: &Path, args: &TestArgs) -> anyhow::Result<u8> {
    crate::cancel::install();
    let shard = match &args.shard {
        Some(spec) => Some(shard::parse(spec).ok_or_else(|| {
            BadInput::new(format!("--shard `{spec}` is not K/N with 1 ≤ K ≤ N"))
                .hint("e.g. --shard 2/4")
        })?),
        None => None,
    };
    let overrides = Overrides {
        branch: args.target.branch.clone(),
        git_ref: args.target.git_ref.clone(),
        base: args.target.base.clone(),
    };
    let project = crate::project::load(config, &overrides)?;
    let plan = make_plan_as(&project.facts(), Some(Stage::Development))?;
    plan.ready()?;
    super::print_plan(&project, &plan);
    let opts = DevOptions {
        output: args.output.clone(),
        executor: args.executor,
        no_cache: args.no_cache,
        keep: args.keep,
        changed_only: args.changed_only,
        shard,
        durations: args.durations.clone(),
        cache_dir: cache_dir(),
    };
    let reporting = super::StageReporting::start(&project, &plan);
    let result = development::run(&project, &plan, &opts)?;
    let s = Style::for_stderr();
    if let Some(log) = &result.log {
        eprint!("{}", crate::report::log_text::render(log, s));
    } else {
        for r in &result.reasons {
            eprintln!("{} {r}", s.red("error:"));
        }
    }
    eprintln!("results in {}", args.output.display());
    Ok(reporting.finish(&args.output, result.colour, args.fail_on_warning))
}

/// `$ODOO_CI_CACHE_DIR`, else `$XDG_CACHE_HOME/odoo-ci`, else `~/.cache/odoo-ci`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ODOO_CI_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("odoo-ci");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/odoo-ci"))
        .unwrap_or_else(|| std::env::temp_dir().join("odoo-ci"))
}
