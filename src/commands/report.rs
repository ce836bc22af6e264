//! `odoo-ci report --result F`: re-sends a stored result to the Git host.

use std::path::Path;

use crate::cli::ReportArgs;
use crate::config::schema::ReportSection;
use crate::config::Config;
use crate::context::{detect, Overrides};
use crate::exit::BadInput;
use crate::hosts::{self, HostEnv, StageReport};

pub fn run(config_path: &Path, args: &ReportArgs) -> anyhow::Result<u8> {
    let report = StageReport::from_result_file(&args.result).map_err(|e| {
        BadInput::new(format!("{e:#}"))
            .hint("pass --result PATH/odoo-ci-result.json of a stage run")
    })?;
    let env = |k: &str| std::env::var(k).ok();
    let read = |p: &str| std::fs::read_to_string(p);
    let ctx = detect(
        &env,
        &read,
        crate::context::Head::Branch("report".into()),
        &Overrides {
            git_ref: args.sha.clone(),
            ..Overrides::default()
        },
    )?;
    // The result says which commit it is about: a `workflow_run` job reporting a fork's
    // pull request runs on the default branch's commit, not on the one tested.
    let sha = args.sha.as_deref().or(report.commit());
    let host = HostEnv::from_context(&ctx, sha, &settings(config_path, args)?);
    if host.provider == crate::context::Provider::Local {
        eprintln!("not in GitHub Actions or GitLab CI: nothing to report to");
    }
    let output = args
        .result
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    // The result is finished: it is reported as it is, never first as running.
    hosts::finish(&host, hosts::Started::nothing(), &report, &output);
    eprintln!(
        "reported {} {} ({})",
        report.stage,
        report.colour.as_str(),
        report.title
    );
    Ok(crate::exit::OK)
}

/// `--channel`, else the checkout's `report.github`, else `auto`. A `workflow_run` job
/// often has no checkout (it must not run a fork's code), so the file is optional.
/// `report` of `.odoo-ci.yml` (defaults without one), `--channel` over its `github`.
fn settings(config_path: &Path, args: &ReportArgs) -> anyhow::Result<ReportSection> {
    let mut settings = match config_path.exists() {
        true => Config::load(config_path)?.file.report,
        false => ReportSection::default(),
    };
    if let Some(channel) = args.channel {
        settings.github = channel;
    }
    Ok(settings)
}
