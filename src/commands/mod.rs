//! One module per command: each reads its inputs, calls the library and prints.

pub mod addons;
pub mod bump;
pub mod check_log;
pub mod deploy;
pub mod guard;
pub mod neutralize;
pub mod plan;
pub mod report;
pub mod run;
pub mod stage;
pub mod test;

use std::io::Write;

/// Writes the command's main output to stdout; a closed pipe is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The `--series` flag's value, parsed (a bad one is bad input).
pub fn series_flag(
    text: Option<&str>,
) -> Result<Option<crate::addons::Series>, crate::exit::BadInput> {
    text.map(|s| {
        s.parse()
            .map_err(|e| crate::exit::BadInput::new(format!("--series: {e}")))
    })
    .transpose()
}

pub fn to_json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

/// Reporting around a stage: started before, finished after (never changes the colour).
/// What it opened it always closes: dropped unfinished (an early error, a panic), it
/// completes the check run and the status as failed, so nothing stays "in progress".
pub struct StageReporting {
    host: crate::hosts::HostEnv,
    stage: crate::config::Stage,
    started: Option<crate::hosts::Started>,
}

impl Drop for StageReporting {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            crate::hosts::abandon(&self.host, started, self.stage);
        }
    }
}

impl StageReporting {
    pub fn start(project: &crate::project::Project, plan: &crate::plan::Plan) -> StageReporting {
        let host = crate::hosts::HostEnv::from_context(&project.context, plan.commit.as_deref());
        let started = crate::hosts::start(&host, plan.stage);
        StageReporting {
            host,
            stage: plan.stage,
            started: Some(started),
        }
    }

    /// Reports the stored result in `output`; returns the exit code for `colour`.
    pub fn finish(
        mut self,
        output: &std::path::Path,
        colour: crate::odoo::Colour,
        fail_on_warning: bool,
    ) -> u8 {
        match crate::hosts::StageReport::from_result_file(&output.join("odoo-ci-result.json")) {
            Ok(report) => {
                if let Some(started) = self.started.take() {
                    crate::hosts::finish(&self.host, started, &report, output);
                }
            }
            Err(e) => eprintln!("warning: nothing to report: {e:#}"),
        }
        // Whatever could not be reported above is closed as abandoned by `drop`.
        exit_code(colour, fail_on_warning, self.host.provider)
    }
}

/// The one colour → exit code rule, for every command and host: 0 green, 1 red; yellow is
/// 0, or 1 with `--fail-on-warning`, or 3 on GitLab (for `allow_failure: exit_codes: [3]`,
/// which shows the job as a warning).
pub fn exit_code(
    colour: crate::odoo::Colour,
    fail_on_warning: bool,
    provider: crate::context::Provider,
) -> u8 {
    use crate::odoo::Colour;
    match colour {
        Colour::Green => crate::exit::OK,
        Colour::Red => crate::exit::RED,
        Colour::Yellow if fail_on_warning => crate::exit::RED,
        Colour::Yellow if provider == crate::context::Provider::Gitlab => crate::exit::YELLOW,
        Colour::Yellow => crate::exit::OK,
    }
}

/// Prints the plan before a stage runs; on GitLab in a collapsed log section.
pub fn print_plan(project: &crate::project::Project, plan: &crate::plan::Plan) {
    let text = crate::report::plan_text::render(plan, crate::style::Style::for_stderr());
    if project.context.provider == crate::context::Provider::Gitlab {
        use crate::hosts::gitlab::{section_end, section_start};
        eprintln!("{}", section_start("odoo_ci_plan", "odoo-ci plan", true));
        eprint!("{text}");
        eprintln!("{}", section_end("odoo_ci_plan"));
    } else if project.context.provider == crate::context::Provider::Github {
        eprintln!("::group::odoo-ci plan");
        eprint!("{text}");
        eprintln!("::endgroup::");
    } else {
        eprint!("{text}");
    }
}
