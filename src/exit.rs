//! Exit codes: part of the contract with CI systems. Changes here are breaking changes.

/// Green, or yellow when yellow is not asked to fail.
pub const OK: u8 = 0;
/// Red: a test failed, a step failed, or the plan has a blocking problem.
pub const RED: u8 = 1;
/// Bad input: usage, config, manifest or repository errors.
pub const BAD_INPUT: u8 = 2;
/// Yellow, when asked to tell it apart (GitLab `allow_failure: exit_codes`).
pub const YELLOW: u8 = 3;
/// A bug in odoo-ci (a stage ran off its plan), never the code under test's nor the
/// user's: sysexits' `EX_SOFTWARE`, so a CI can tell it from a red build.
pub const BUG: u8 = 70;

/// An error caused by what the user gave us (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BadInput {
    pub message: String,
    /// What to do about it, printed last.
    pub hint: Option<String>,
}

impl BadInput {
    pub fn new(message: impl Into<String>) -> Self {
        BadInput {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// `e` as bad input: as it is when it already says what to do (a [`BadInput`] or a located
/// diagnostic, whose hint then shows), else with `hint`. Its causes stay a chain, so the
/// top renders each once.
pub fn setup_error(e: anyhow::Error, hint: &str) -> anyhow::Error {
    if e.chain().any(|c| hint_of(c).is_some()) {
        return e;
    }
    let message = format!("{e:#}");
    anyhow::Error::new(BadInput::new(message).hint(hint))
}

/// An error that reached the top, as the user sees it: rendered once — `error:`, the
/// location when the error has one, each `caused by:`, then `hint:` — with its exit code.
/// Bad input (config, manifests, git, setup: PostgreSQL or Docker unreachable) is 2;
/// anything else, a plan with problems included, is 1.
pub struct TopError<'a>(pub &'a anyhow::Error);

impl TopError<'_> {
    pub fn code(&self) -> u8 {
        let bad_input = self.0.chain().any(|e| {
            e.is::<crate::diag::Diagnostic>()
                || e.is::<BadInput>()
                || e.is::<crate::repo::RepoError>()
        });
        if bad_input {
            BAD_INPUT
        } else {
            RED
        }
    }

    pub fn render(&self, s: crate::style::Style) -> String {
        let err = self.0;
        let mut text = format!("{} {err}", s.red("error:"));
        for cause in err.chain().skip(1) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
        let hint = err.chain().find_map(hint_of);
        if let Some(hint) = hint {
            text.push_str(&format!("\nhint: {hint}"));
        }
        text
    }
}

/// What to do about `err`, when one of its causes says.
pub fn hint(err: &anyhow::Error) -> Option<&str> {
    err.chain().find_map(hint_of)
}

/// What to do about `e`, when it says.
fn hint_of<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e str> {
    if let Some(b) = e.downcast_ref::<BadInput>() {
        return b.hint.as_deref();
    }
    e.downcast_ref::<crate::diag::Diagnostic>()
        .and_then(|d| d.hint.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setup_error_is_bad_input_with_its_hint_once() {
        let err =
            anyhow::Error::new(BadInput::new("no PostgreSQL server").hint("set postgres.url"))
                .context("odoo-ci test");
        let top = TopError(&err);
        assert_eq!(top.code(), BAD_INPUT);
        assert_eq!(
            top.render(crate::style::Style::plain()),
            "error: odoo-ci test\n  caused by: no PostgreSQL server\nhint: set postgres.url"
        );
    }

    #[test]
    fn a_wrapped_diagnostic_s_hint_comes_last_after_every_cause() {
        let diag = crate::diag::Diagnostic::new(crate::diag::DiagKind::Io, "cannot read x.yml")
            .hint("check the path");
        let err = anyhow::Error::new(diag)
            .context("loading the project")
            .context("odoo-ci plan");
        let top = TopError(&err);
        assert_eq!(top.code(), BAD_INPUT);
        assert_eq!(
            top.render(crate::style::Style::plain()),
            "error: odoo-ci plan\n  caused by: loading the project\n  caused by: cannot read x.yml\nhint: check the path"
        );
    }

    #[test]
    fn anything_else_is_red() {
        let err = anyhow::anyhow!("the plan has problems");
        assert_eq!(TopError(&err).code(), RED);
        assert!(!TopError(&err)
            .render(crate::style::Style::plain())
            .contains("hint"));
    }
}
