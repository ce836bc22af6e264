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
    /// How the CI log folds the plan and Odoo's streamed log.
    fold: super::fold::Fold,
    /// The folded block of Odoo's log that is open, by the step it streams in.
    log_open: Option<String>,
    /// The step running now.
    step: String,
    /// Progress lines held while Odoo's log is open: printed after it, never inside it.
    held: Vec<String>,
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
            log_open: None,
            step: String::new(),
            held: Vec::new(),
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
        self.step = step.kind().to_string();
        let s = self.style;
        say!(
            self,
            "{} {}",
            s.bold(&format!("▸ {}:", step.kind())),
            s.dim(&step.to_string())
        );
    }

    fn step_ended(&mut self, r: &StepRecord) {
        self.close_log();
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
            // The first line of why: where the eye lands in a long log (the whole reason
            // follows at the end).
            StepStatus::Failed => say!(
                self,
                "  {} {} ({} ms) {first}",
                s.red("✗"),
                r.name,
                r.duration_ms
            ),
            StepStatus::Skipped => say!(self, "  {} {} skipped: {first}", s.dim("-"), r.name),
            StepStatus::Pending | StepStatus::Running => {}
        }
    }

    fn progress(&mut self, line: &str) {
        match self.log_open {
            Some(_) => self.held.push(line.to_string()),
            None => say!(self, "  {line}"),
        }
    }

    /// In a CI log, Odoo's own log streams inside a folded block (one per step); on a
    /// terminal it stays in the output folder.
    fn odoo_line(&mut self, line: &[u8]) {
        if self.fold == super::fold::Fold::Nothing {
            return;
        }
        if self.log_open.is_none() {
            let name = format!("odoo_log_{}", self.step.replace('-', "_"));
            let title = format!("Odoo's log ({})", self.step);
            if let Some(open) = self.fold.open(&name, &title) {
                say!(self, "{open}");
            }
            self.log_open = Some(name);
        }
        let _ = self.to.write_all(line);
        let _ = self.to.write_all(b"\n");
    }

    fn finished(&mut self, result: &StageResult) {
        self.close_log();
        let s = self.style;
        match &result.detail {
            Detail::Development(d) => match &d.log {
                // Failures and problems streamed as they came: only the verdict now.
                Some(log) => {
                    let _ = write!(self.to, "{}", super::log_text::verdict(log, s));
                    if let Some(p) = &d.preview {
                        say!(self, "preview: {} (`{}`)", p.url, p.database);
                        if let Some(mail) = &p.mail_url {
                            say!(self, "the mail it sends is read at {mail}");
                        }
                    }
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
                if let Some(mail) = &d.mail_url {
                    say!(self, "mail staging sent is read at {mail}");
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
    /// Closes Odoo's folded log, then prints what was held while it was open.
    fn close_log(&mut self) {
        if let Some(name) = self.log_open.take() {
            if let Some(close) = self.fold.close(&name) {
                say!(self, "{close}");
            }
        }
        for line in std::mem::take(&mut self.held) {
            say!(self, "  {line}");
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fold::Fold;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What one install-and-test step with two lines of Odoo's log and a failure shows.
    fn a_step_with_a_log(fold: Fold) -> String {
        let buffer = Buffer::default();
        let mut t = Terminal::writing_to(
            std::path::Path::new("out"),
            Box::new(buffer.clone()),
            Style::plain(),
        )
        .folding(fold);
        let step = crate::plan::Step::Database(crate::plan::steps::Database);
        t.step_started(&step);
        t.odoo_line(b"INFO db odoo.modules.loading: loading 1 modules...");
        t.progress("x acc_x TestX.test_qty: AssertionError");
        t.odoo_line(b"ERROR db odoo.tests.result: 1 failed");
        t.step_ended(&StepRecord {
            name: "database".into(),
            status: StepStatus::Failed,
            output: String::new(),
            duration_ms: 7,
            started_at: None,
            ended_at: None,
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn in_a_ci_log_odoo_s_log_streams_folded_and_failures_follow_it_outside() {
        let text = a_step_with_a_log(Fold::GithubGroup);
        let expected = "::group::Odoo's log (database)\nINFO db odoo.modules.loading: loading 1 modules...\nERROR db odoo.tests.result: 1 failed\n::endgroup::\n  x acc_x TestX.test_qty: AssertionError\n";
        assert!(text.contains(expected), "{text}");
    }

    #[test]
    fn on_a_terminal_odoo_s_log_stays_in_the_output_folder() {
        let text = a_step_with_a_log(Fold::Nothing);
        assert!(!text.contains("odoo.modules.loading"), "{text}");
        assert!(text.contains("  x acc_x TestX.test_qty"), "{text}");
    }
}
