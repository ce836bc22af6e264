//! Static files' times made of their bytes, in CI. Odoo names an asset bundle's version
//! after its files' URLs and modification times (`AssetsBundle.get_checksum`), not their
//! bytes. A CI job clones afresh, so every file of the checkout and of `odoo.extra_addons_paths`
//! (Enterprise, cloned by the job too) has a new time in every job, and every bundle the
//! template made from those files (a preinstalled `web_enterprise` in `web.assets_backend`,
//! say) gets a new version: the tests of every job make it again, seconds each on a real
//! Odoo. Images and release volumes already give each file a time made of its bytes
//! ([`crate::image::content_time`]); a run that reads the files where they are (mounted, or
//! with the local executor) gives the addons' `static/` files the same times, so the same
//! bytes keep one version from job to job. Only in CI (or in odoo-ci's own tree of a named
//! commit): at a terminal the checkout is the user's, and its times do not move between
//! runs anyway.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::context::Provider;
use crate::plan::{steps, Plan};
use crate::project::{Project, Source};

/// What settling found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Files under the addons' `static/` folders.
    pub files: usize,
    /// Of them, those whose time changed.
    pub changed: usize,
}

/// Whether this run settles the times: the template holds asset bundles, and the files
/// are a CI job's clone or odoo-ci's own tree of a commit.
pub fn wanted(project: &Project, plan: &Plan) -> bool {
    let bundles = plan
        .first::<steps::Template>()
        .is_some_and(|t| t.assets.is_some());
    let ours =
        project.context.provider != Provider::Local || matches!(project.source, Source::Commit(_));
    bundles && ours
}

/// The `static/` folders of every addon the run reads, the repository's under `root` (the
/// stage's files root) and the extra paths' where they are.
pub fn static_dirs(project: &Project, root: &Path) -> Vec<PathBuf> {
    project
        .addons
        .addons
        .iter()
        .map(|a| match a.extra {
            Some(_) => a.dir.join("static"),
            None => root.join(&a.rel_dir).join("static"),
        })
        .collect()
}

/// [`settle`], said as the end of the executor step's text. Settling only saves time, so a
/// checkout it may not touch (a GitLab job in the official image runs as `odoo` on the
/// runner's files) is said and left as it is, never a failed run.
pub fn settle_and_say(dirs: &[PathBuf]) -> String {
    match settle(dirs) {
        Ok(settled) => {
            tracing::info!(
                files = settled.files,
                changed = settled.changed,
                "static files' times made of their bytes"
            );
            format!(
                "; {} static file(s) given times made of their bytes ({} changed), so Odoo's asset bundles keep their versions from one clone to the next",
                settled.files, settled.changed
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "static files' times left as they are");
            format!("; static files' times left as they are ({e}): the tests may make asset bundles the template holds again")
        }
    }
}

/// Gives every file under `dirs` (missing ones are skipped) the time its bytes make.
pub fn settle(dirs: &[PathBuf]) -> std::io::Result<Settled> {
    let mut settled = Settled::default();
    for dir in dirs {
        settle_tree(dir, &mut settled)?;
    }
    Ok(settled)
}

fn settle_tree(dir: &Path, settled: &mut Settled) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            settle_tree(&entry.path(), settled)?;
        } else if kind.is_file() {
            settled.files += 1;
            settled.changed += usize::from(settle_file(&entry.path())?);
        }
    }
    Ok(())
}

/// Sets the file's time to the one its bytes make; true when it changed.
fn settle_file(path: &Path) -> std::io::Result<bool> {
    let bytes = std::fs::read(path)?;
    let want = SystemTime::UNIX_EPOCH + Duration::from_secs(crate::image::content_time(&bytes));
    let file = std::fs::File::open(path)?;
    if file.metadata()?.modified()? == want {
        return Ok(false);
    }
    file.set_modified(want)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtime(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn the_same_bytes_get_the_same_time_in_two_clones_and_changed_bytes_another() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for (root, app) in [(&one, "a();\n"), (&two, "a();\n")] {
            let dir = root.path().join("static/src");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("app.js"), app).unwrap();
            std::fs::write(dir.join("style.scss"), "b {}\n").unwrap();
        }
        std::fs::write(two.path().join("static/src/style.scss"), "b { x: 1 }\n").unwrap();
        let dirs = |t: &tempfile::TempDir| vec![t.path().join("static"), t.path().join("none")];
        assert_eq!(
            settle(&dirs(&one)).unwrap(),
            Settled {
                files: 2,
                changed: 2
            }
        );
        settle(&dirs(&two)).unwrap();
        let at = |t: &tempfile::TempDir, f: &str| mtime(&t.path().join("static/src").join(f));
        assert_eq!(at(&one, "app.js"), at(&two, "app.js"));
        assert_ne!(at(&one, "style.scss"), at(&two, "style.scss"));
        assert_eq!(settle(&dirs(&one)).unwrap().changed, 0, "settled once");
        assert!(settle_and_say(&dirs(&one)).starts_with("; 2 static file(s) given times"));
    }

    #[test]
    fn files_it_cannot_settle_are_said_and_the_run_goes_on() {
        let t = tempfile::tempdir().unwrap();
        let not_a_folder = t.path().join("static");
        std::fs::write(&not_a_folder, "a file where a folder should be").unwrap();
        let said = settle_and_say(&[not_a_folder]);
        assert!(
            said.starts_with("; static files' times left as they are (")
                && said.ends_with("the tests may make asset bundles the template holds again"),
            "{said}"
        );
    }
}
