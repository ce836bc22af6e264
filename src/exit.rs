//! Exit codes: part of the contract with CI systems. Changes here are breaking changes.

use std::process::ExitCode;

/// Green, or yellow when yellow is not asked to fail.
pub const OK: u8 = 0;
/// Red: a test failed, a step failed, or the plan has a blocking problem.
pub const RED: u8 = 1;
/// Bad input: usage, config, manifest or repository errors.
pub const BAD_INPUT: u8 = 2;
/// Yellow, when asked to tell it apart (GitLab `allow_failure: exit_codes`).
pub const YELLOW: u8 = 3;

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

/// The hint of the first `BadInput` in the chain, if any.
pub fn hint_for(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .find_map(|e| e.downcast_ref::<BadInput>())
        .and_then(|b| b.hint.as_deref())
}

/// The exit code for an error that reached the top.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    let bad_input = err.chain().any(|e| {
        e.is::<crate::diag::Diagnostic>() || e.is::<BadInput>() || e.is::<crate::repo::RepoError>()
    });
    ExitCode::from(if bad_input { BAD_INPUT } else { RED })
}
