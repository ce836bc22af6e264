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
        }
        Ok(())
    }
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
