//! The terminal (or CI log) as a reporter: each step as it starts and ends, progress
//! within steps, and what the result means at the end.

use crate::odoo::Colour;
use crate::plan::Step;
use crate::result::{Detail, Reporter, StageResult, StepRecord, StepStatus};
use crate::style::Style;

pub struct Terminal {
    style: Style,
    output: std::path::PathBuf,
}

impl Terminal {
    /// Writes to stderr (stdout is for machine-readable output); `output` is where the
    /// results are, to say so at the end.
    pub fn new(output: &std::path::Path) -> Terminal {
        Terminal {
            style: Style::for_stderr(),
            output: output.to_path_buf(),
        }
    }
}

impl Reporter for Terminal {
    fn step_started(&mut self, step: &Step) {
        let s = self.style;
        eprintln!(
            "{} {}",
            s.bold(&format!("▸ {}:", step.kind())),
            s.dim(&step.to_string())
        );
    }

    fn step_ended(&mut self, r: &StepRecord) {
        let s = self.style;
        let first = r.output.lines().next().unwrap_or_default();
        match r.status {
            StepStatus::Completed => {
                eprintln!(
                    "  {} {} ({} ms) {first}",
                    s.green("✓"),
                    r.name,
                    r.duration_ms
                )
            }
            StepStatus::Failed => eprintln!("  {} {} ({} ms)", s.red("✗"), r.name, r.duration_ms),
            StepStatus::Skipped => eprintln!("  {} {} skipped: {first}", s.dim("-"), r.name),
            StepStatus::Pending | StepStatus::Running => {}
        }
    }

    fn progress(&mut self, line: &str) {
        eprintln!("  {line}");
    }

    fn finished(&mut self, result: &StageResult) {
        let s = self.style;
        match &result.detail {
            Detail::Development(d) => match &d.log {
                // Failures and problems streamed as they came: only the verdict now.
                Some(log) => eprint!("{}", super::log_text::verdict(log, s)),
                None => self.reasons(result),
            },
            Detail::Staging(d) => {
                for c in &d.neutralization {
                    let mark = if c.ok { s.green("✓") } else { s.red("✗") };
                    eprintln!("{mark} {}: {}", c.name, c.detail);
                }
                self.reasons(result);
                if result.colour != Colour::Red {
                    eprintln!(
                        "{} staging `{}` is up at {}",
                        s.green("green:"),
                        d.database.as_deref().unwrap_or_default(),
                        d.url.as_deref().unwrap_or_default()
                    );
                }
            }
            Detail::Production(d) => {
                self.reasons(result);
                if result.colour == Colour::Red {
                    eprintln!(
                        "{} deployment {} failed{}{}",
                        s.red("red:"),
                        d.id,
                        result
                            .failed_step
                            .as_deref()
                            .map(|f| format!(" at `{f}`"))
                            .unwrap_or_else(|| " before its first step".into()),
                        if d.rolled_back {
                            "; production was rolled back"
                        } else {
                            ""
                        }
                    );
                } else {
                    eprintln!(
                        "{} deployment {} is live ({})",
                        s.green("green:"),
                        d.id,
                        d.active_colour.map(|c| c.as_str()).unwrap_or("?")
                    );
                }
            }
        }
        eprintln!("results in {}", self.output.display());
    }
}

impl Terminal {
    fn reasons(&self, result: &StageResult) {
        if result.colour == Colour::Red {
            for r in &result.reasons {
                eprintln!("{} {r}", self.style.red("error:"));
            }
        } else {
            for r in &result.reasons {
                eprintln!("{r}");
            }
        }
    }
}
