//! The terminal (or CI log) as a reporter: each step as it starts and ends, progress
//! within steps, and what the result means at the end.

use std::io::Write;

use crate::odoo::Colour;
use crate::plan::Step;
use crate::result::{Detail, Reporter, StageResult, StepRecord, StepStatus};
use crate::style::Style;

pub struct Terminal {
    style: Style,
    output: std::path::PathBuf,
    to: Box<dyn Write>,
    /// How the CI log folds the plan.
    fold: super::fold::Fold,
}

impl Terminal {
    /// Writes to stderr (stdout is for machine-readable output); `output` is where the
    /// results are, to say so at the end.
    pub fn new(output: &std::path::Path) -> Terminal {
        Terminal::writing_to(output, Box::new(std::io::stderr()), Style::for_stderr())
    }

    /// The terminal outside a stage run (a command's own progress), on stderr.
    pub fn stderr() -> Terminal {
        Terminal::new(std::path::Path::new(""))
    }

    /// Writes to `to`, styled by `style` (a test reads what a user would).
    pub fn writing_to(output: &std::path::Path, to: Box<dyn Write>, style: Style) -> Terminal {
        Terminal {
            style,
            output: output.to_path_buf(),
            to,
            fold: super::fold::Fold::Nothing,
        }
    }

    /// Folds the plan as the CI log does (see [`super::fold`]).
    pub fn folding(self, fold: super::fold::Fold) -> Terminal {
        Terminal { fold, ..self }
    }
}

/// A line for the terminal; a closed terminal is no error of the stage's.
macro_rules! say {
    ($t:expr, $($arg:tt)*) => {{
        let _ = writeln!($t.to, $($arg)*);
    }};
}

impl Reporter for Terminal {
    fn planned(&mut self, plan: &crate::plan::Plan) {
        const NAME: &str = "odoo_ci_plan";
        if let Some(open) = self.fold.open(NAME, "odoo-ci plan") {
            say!(self, "{open}");
        }
        let text = super::plan_text::render(plan, self.style);
        let _ = write!(self.to, "{text}");
        if let Some(close) = self.fold.close(NAME) {
            say!(self, "{close}");
        }
    }

    fn step_started(&mut self, step: &Step) {
        let s = self.style;
        say!(
            self,
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
                say!(
                    self,
                    "  {} {} ({} ms) {first}",
                    s.green("✓"),
                    r.name,
                    r.duration_ms
                )
            }
            StepStatus::Failed => say!(self, "  {} {} ({} ms)", s.red("✗"), r.name, r.duration_ms),
            StepStatus::Skipped => say!(self, "  {} {} skipped: {first}", s.dim("-"), r.name),
            StepStatus::Pending | StepStatus::Running => {}
        }
    }

    fn progress(&mut self, line: &str) {
        say!(self, "  {line}");
    }

    fn finished(&mut self, result: &StageResult) {
        let s = self.style;
        match &result.detail {
            Detail::Development(d) => match &d.log {
                // Failures and problems streamed as they came: only the verdict now.
                Some(log) => {
                    let _ = write!(self.to, "{}", super::log_text::verdict(log, s));
                }
                None => self.reasons(result),
            },
            Detail::Staging(d) => {
                for c in &d.neutralization {
                    let mark = if c.ok { s.green("✓") } else { s.red("✗") };
                    say!(self, "{mark} {}: {}", c.name, c.detail);
                }
                self.reasons(result);
                if result.colour != Colour::Red {
                    say!(
                        self,
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
                    say!(
                        self,
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
                    say!(
                        self,
                        "{} deployment {} is live ({})",
                        s.green("green:"),
                        d.id,
                        d.active_colour.map(|c| c.as_str()).unwrap_or("?")
                    );
                }
            }
        }
        say!(self, "results in {}", self.output.display());
    }
}

impl Terminal {
    fn reasons(&mut self, result: &StageResult) {
        if result.colour == Colour::Red {
            for r in &result.reasons {
                let error = self.style.red("error:");
                say!(self, "{error} {r}");
            }
        } else {
            for r in &result.reasons {
                say!(self, "{r}");
            }
        }
    }
}
