//! How a CI log folds a block of lines: GitHub Actions' `::group::`/`::endgroup::`
//! (docs.github.com, "Workflow commands for GitHub Actions", grouping log lines), GitLab's
//! collapsible sections (docs.gitlab.com, "CI/CD job logs", custom collapsible sections),
//! or, on a terminal, not at all.

use crate::context::Provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fold {
    #[default]
    Nothing,
    GithubGroup,
    GitlabSection,
}

impl Fold {
    /// The folding of the CI the job runs on.
    pub fn for_provider(provider: Provider) -> Fold {
        match provider {
            Provider::Github => Fold::GithubGroup,
            Provider::Gitlab => Fold::GitlabSection,
            Provider::Local => Fold::Nothing,
        }
    }

    /// The line that opens a folded block `name` titled `title`, if the log folds.
    pub fn open(self, name: &str, title: &str) -> Option<String> {
        match self {
            Fold::Nothing => None,
            Fold::GithubGroup => Some(format!("::group::{title}")),
            Fold::GitlabSection => Some(section_start(name, title, true)),
        }
    }

    /// The line that closes the folded block `name`, if the log folds.
    pub fn close(self, name: &str) -> Option<String> {
        match self {
            Fold::Nothing => None,
            Fold::GithubGroup => Some("::endgroup::".to_string()),
            Fold::GitlabSection => Some(section_end(name)),
        }
    }
}

/// `\e[0Ksection_start:TS:NAME[collapsed=true]\r\e[0KHeader`.
fn section_start(name: &str, header: &str, collapsed: bool) -> String {
    format!(
        "\x1b[0Ksection_start:{}:{name}{}\r\x1b[0K{header}",
        unix_now(),
        if collapsed { "[collapsed=true]" } else { "" }
    )
}

/// `\e[0Ksection_end:TS:NAME\r\e[0K`.
fn section_end(name: &str) -> String {
    format!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", unix_now())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_sections_have_gitlab_s_markers() {
        let fold = Fold::GitlabSection;
        let s = fold.open("odoo_ci_plan", "odoo-ci plan").unwrap();
        assert!(s.starts_with("\x1b[0Ksection_start:"));
        assert!(s.ends_with(":odoo_ci_plan[collapsed=true]\r\x1b[0Kodoo-ci plan"));
        assert!(fold
            .close("odoo_ci_plan")
            .unwrap()
            .contains(":odoo_ci_plan\r"));
    }

    #[test]
    fn github_groups_are_workflow_commands_and_a_terminal_folds_nothing() {
        let fold = Fold::GithubGroup;
        assert_eq!(
            fold.open("x", "odoo-ci plan").unwrap(),
            "::group::odoo-ci plan"
        );
        assert_eq!(fold.close("x").unwrap(), "::endgroup::");
        assert_eq!(Fold::Nothing.open("x", "y"), None);
    }
}
