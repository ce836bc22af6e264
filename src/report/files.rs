//! The output folder as a reporter: `odoo-ci-result.json` (the result contract),
//! `summary.md`, and `junit.xml` when Odoo's tests ran.

use std::path::{Path, PathBuf};

use crate::result::{Detail, Reporter, StageResult};

pub struct Files {
    dir: PathBuf,
}

impl Files {
    pub fn new(dir: &Path) -> Files {
        Files {
            dir: dir.to_path_buf(),
        }
    }

    fn write(&self, result: &StageResult) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(
            self.dir.join("odoo-ci-result.json"),
            serde_json::to_string_pretty(result)? + "\n",
        )?;
        std::fs::write(
            self.dir.join("summary.md"),
            super::summary::render_result(result, super::summary::STEP_SUMMARY_LIMIT, None),
        )?;
        if let Detail::Development(d) = &result.detail {
            if let Some(log) = &d.log {
                std::fs::write(
                    self.dir.join("junit.xml"),
                    super::junit::render(log, &format!("odoo-ci {}", result.stage()))?,
                )?;
            }
            if let Some(preview) = &d.preview {
                std::fs::write(self.dir.join(DOTENV), dotenv(preview))?;
            }
        }
        Ok(())
    }
}

/// A kept preview's variables, in the dotenv format GitLab reads from a job's
/// `artifacts:reports:dotenv` (one `KEY=value` per line) — how its environment gets the
/// preview's URL: `environment:url: $ODOO_CI_PREVIEW_URL`.
pub const DOTENV: &str = "odoo-ci.env";

fn dotenv(preview: &crate::result::development::PreviewInfo) -> String {
    let line = |key: &str, value: &str| {
        // One value per line, as the format has it: nothing may break out of it.
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        format!("{key}={value}\n")
    };
    let mut text = line("ODOO_CI_PREVIEW_URL", &preview.url);
    text += &line("ODOO_CI_PREVIEW_DATABASE", &preview.database);
    if let Some(mail) = &preview.mail_url {
        text += &line("ODOO_CI_PREVIEW_MAIL_URL", mail);
    }
    text
}

impl Reporter for Files {
    fn finished(&mut self, result: &StageResult) {
        if let Err(e) = self.write(result) {
            eprintln!(
                "error: cannot write the results to {}: {e:#}",
                self.dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_s_dotenv_has_one_variable_per_line() {
        let preview = crate::result::development::PreviewInfo {
            database: "odoo_ci_prv_x".into(),
            url: "https://x.previews.test\nEVIL=1".into(),
            until: 0,
            mail_url: None,
            dropped: vec![],
            stopped: vec![],
        };
        assert_eq!(
            dotenv(&preview),
            "ODOO_CI_PREVIEW_URL=https://x.previews.testEVIL=1\nODOO_CI_PREVIEW_DATABASE=odoo_ci_prv_x\n"
        );
    }
}
