//! `odoo-ci report --result F`: re-sends a stored result to the Git host.

use crate::cli::ReportArgs;
use crate::context::{detect, Overrides};
use crate::exit::BadInput;
use crate::hosts::{self, HostEnv, StageReport};

pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    let report = StageReport::from_result_file(&args.result).map_err(|e| {
        BadInput::new(format!("{e:#}"))
            .hint("pass --result PATH/odoo-ci-result.json of a stage run")
    })?;
    let env = |k: &str| std::env::var(k).ok();
    let read = |p: &str| std::fs::read_to_string(p);
    let ctx = detect(
        &env,
        &read,
        Some("report".into()),
        &Overrides {
            git_ref: args.sha.clone(),
            ..Overrides::default()
        },
    )?;
    let host = HostEnv::from_context(&ctx, args.sha.as_deref());
    if host.provider == crate::context::Provider::Local {
        eprintln!("not in GitHub Actions or GitLab CI: nothing to report to");
    }
    let output = args
        .result
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let started = hosts::start(&host, report.subject());
    hosts::finish(&host, started, &report, &output);
    eprintln!(
        "reported {} {} ({})",
        report.stage,
        report.colour.as_str(),
        report.title
    );
    Ok(crate::exit::OK)
}
